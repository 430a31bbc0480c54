"""A stream of invoices from recurring vendors, for the vendor-memory benchmark (issue 14).

Each vendor is drawn once from its own seed: one layout (family plus every drawn choice: labels, fonts,
positions, number and date styles), its name, address, customer, a stable VAT ID and a stable IBAN that
passes the mod-97 check. Each of its invoices then draws only what changes between invoices: line items,
date, the next invoice number and whether it arrives scanned. ``devtools/samples.py`` is used as is, so
existing seeds' output does not change.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from devtools.samples import (
    ALL_LAYOUTS,
    INDUSTRIES,
    InvoiceSpec,
    Kind,
    Layout,
    SamplePlan,
    _digits,
    _make_invoice,
    _make_lines,
    render_born_digital,
    render_scan,
    truth_record,
)

# Regions whose banks print an IBAN (the UK ones do too, next to the sort code).
IBAN_TEMPLATES: dict[str, str] = {
    "de": "DE## #### #### #### #### ##",
    "fr": "FR## #### #### #### #### #### ###",
    "nl": "NL## INGB 0### #### ##",
    "ch": "CH## 0076 2011 #### #### #",
    "uk": "GB## BARC 20## #### #### ##",
    "es": "ES## #### #### #### #### ####",
    "it": "IT## X### #### #### #### #### ###",
}
STREAM_START = date(2024, 1, 8)
CADENCE_DAYS = 14


@dataclass(frozen=True)
class StreamInvoice:
    """One invoice of the stream: which vendor, its rank among that vendor's invoices, and its file."""

    vendor: int
    rank: int  # 0: the vendor's first invoice
    invoice_date: date
    kind: Kind
    stem: str


def valid_iban(rng: random.Random, template: str) -> str:
    """Random digits in the template with the two check digits set so the IBAN passes mod-97."""
    filled = _digits(rng, template[:2] + "00" + template[4:])
    compact = filled.replace(" ", "")
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    check = 98 - int(digits) % 97
    return f"{filled[:2]}{check:02d}{filled[4:]}"


def _vendor_rng(seed: int, vendor: int, attempt: int) -> random.Random:
    return random.Random(f"ledgerlens-vendor-stream:{seed}:{vendor}:{attempt}")


def vendor_layout(vendor: int, layouts: Sequence[Layout] = ALL_LAYOUTS) -> Layout:
    """The vendor's layout family: the families taken in turn."""
    return layouts[vendor % len(layouts)]


def vendor_base(vendor: int, seed: int, layouts: Sequence[Layout] = ALL_LAYOUTS) -> InvoiceSpec:
    """The vendor's fixed look and identity: a generated invoice from an IBAN region, identifiers made stable."""
    layout = vendor_layout(vendor, layouts)
    plan = SamplePlan(vendor, seed, "born_digital", layout, multi_page=False, inconsistent=False)
    for attempt in range(200):
        rng = _vendor_rng(seed, vendor, attempt)
        spec = _make_invoice(rng, plan)
        if spec.region.key in IBAN_TEMPLATES:
            break
    else:  # pragma: no cover - every layout can draw an IBAN region within a few attempts
        raise RuntimeError(f"vendor {vendor}: no IBAN region drawn")
    vat = _digits(rng, spec.region.tax_id)
    iban = valid_iban(rng, IBAN_TEMPLATES[spec.region.key])
    prefix = spec.region.tax_id.split("#")[0]
    vendor_lines = [line for line in spec.vendor_lines if not line.startswith(prefix)] + [vat]
    banks = ("IBAN", "Sort code", "Account", "BSB", "Transit", "Routing")
    footer = [line for line in spec.footer if not any(word in line for word in banks)] + [f"IBAN {iban}"]
    return dataclasses.replace(spec, vendor_lines=vendor_lines, footer=footer)


def _next_number(number: str, rank: int) -> str:
    """The vendor's numbering continued: the last run of digits advanced by `rank`, width kept."""
    match = list(re.finditer(r"\d+", number))[-1]
    digits = match.group()
    advanced = str(int(digits) + rank * 7).zfill(len(digits))
    return number[: match.start()] + advanced + number[match.end() :]


def stream_plan(vendors: int, per_vendor: int, seed: int, scan_every: int) -> list[StreamInvoice]:
    """Every invoice of the stream in date order; each vendor starts on its own day and bills every ~2 weeks."""
    plan = []
    for vendor in range(vendors):
        offset = random.Random(f"ledgerlens-vendor-start:{seed}:{vendor}").randrange(CADENCE_DAYS * 3)
        for rank in range(per_vendor):
            day = STREAM_START + timedelta(days=offset + rank * CADENCE_DAYS + (vendor + rank) % 5)
            kind: Kind = (
                "clean_scan" if scan_every and (vendor + rank) % scan_every == scan_every - 1 else "born_digital"
            )
            stem = f"{day:%Y%m%d}-v{vendor:02d}-n{rank:02d}-{kind}"
            plan.append(StreamInvoice(vendor, rank, day, kind, stem))
    return sorted(plan, key=lambda item: (item.invoice_date, item.vendor))


def stream_spec(item: StreamInvoice, base: InvoiceSpec, seed: int) -> tuple[InvoiceSpec, random.Random]:
    rng = random.Random(f"ledgerlens-vendor-invoice:{seed}:{item.vendor}:{item.rank}")
    industry = INDUSTRIES[item.vendor % len(INDUSTRIES)]
    lines = _make_lines(rng, industry, base.region, multi_page=False)
    terms = base.due_date - base.invoice_date
    spec = dataclasses.replace(
        base,
        lines=lines,
        invoice_number=_next_number(base.invoice_number, item.rank),
        invoice_date=item.invoice_date,
        due_date=item.invoice_date + terms,
    )
    return spec, rng


def write_stream_invoice(out_dir: Path, item: StreamInvoice, base: InvoiceSpec, seed: int) -> dict[str, Any]:
    spec, rng = stream_spec(item, base, seed)
    pdf_bytes = render_born_digital(spec)
    if item.kind != "born_digital":
        pdf_bytes = render_scan(pdf_bytes, item.kind, rng, title=item.stem)
    (out_dir / f"{item.stem}.pdf").write_bytes(pdf_bytes)
    truth = truth_record(spec, f"{item.stem}.pdf", item.kind) | {"vendor": item.vendor, "rank": item.rank}
    (out_dir / f"{item.stem}.truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def generate_vendor_stream(
    out_dir: Path,
    vendors: int,
    per_vendor: int,
    seed: int = 0,
    scan_every: int = 8,
    layouts: Sequence[Layout] = ALL_LAYOUTS,
) -> list[StreamInvoice]:
    """Write the stream's PDFs and truth files into out_dir; returns the plan in date order. Vendor v keeps
    the layout family ``layouts[v % len(layouts)]`` (every family the generator draws, by default)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bases = {vendor: vendor_base(vendor, seed, layouts) for vendor in range(vendors)}
    plan = stream_plan(vendors, per_vendor, seed, scan_every)
    for item in plan:
        if not (out_dir / f"{item.stem}.pdf").exists():
            write_stream_invoice(out_dir, item, bases[item.vendor], seed)
    return plan
