"""A stream of invoices from recurring vendors, for the vendor-memory benchmark (issue 14).

Each vendor is drawn once from its own seed: one layout (family plus every drawn choice: labels, fonts,
positions, number and date styles), its name, address, customer, a stable VAT ID and a stable IBAN that
passes the mod-97 check. Each of its invoices then draws only what changes between invoices: line items,
date, the next invoice number and whether it arrives scanned. ``devtools/samples.py`` draws the look, so
existing seeds' output does not change.

Each vendor also has quirks of its own (``Quirks``), drawn once from its seed, of the kinds real recurring
suppliers have and a reader of one page cannot resolve: its own wording for a field's label, its name only
as a wordmark in the header (the legal name in a small legal line), a house date format, and the total's
amount below its label in a payment box. Truth is what is printed.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from devtools.samples import (
    ALL_LAYOUTS,
    INDUSTRIES,
    DateStyle,
    InvoiceSpec,
    Kind,
    Language,
    Layout,
    LineSpec,
    SamplePlan,
    _digits,
    _make_invoice,
    _make_lines,
    format_date,
    render_born_digital,
    render_scan,
    truth_record,
)
from pipeline.money import issuer_round

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

# A vendor's own wording for a field's label, per language: house terms for what to pay, the vendor's
# reference, when the invoice was raised and by when to pay, as suppliers print them.
HOUSE_LABELS: dict[str, dict[Language, tuple[str, ...]]] = {
    "total": {
        "en": ("Amount to remit", "Please remit", "Settlement amount", "Your payment", "Sum owing"),
        "de": ("Überweisungsbetrag", "Bitte überweisen", "Ihre Zahlung", "Ausgleichsbetrag"),
        "fr": ("Somme à régler", "Montant à virer", "Votre règlement", "Reste dû"),
        "nl": ("Over te maken", "Uw betaling", "Openstaand bedrag", "Verschuldigd"),
        "es": ("A abonar", "Su pago", "Importe a transferir", "Liquidación"),
        "it": ("Da versare", "Vostro pagamento", "Importo da bonificare", "Saldo dovuto"),
    },
    "invoice_number": {
        "en": ("Our ref.", "Voucher", "Billing ref.", "Folio", "Serial"),
        "de": ("Unser Zeichen", "Vorgang", "Buchungs-Nr.", "Referenz"),
        "fr": ("Notre réf.", "Pièce", "Dossier"),
        "nl": ("Ons kenmerk", "Boekstuk", "Dossier"),
        "es": ("Nuestra ref.", "Folio", "Expediente"),
        "it": ("Ns. rif.", "Protocollo", "Pratica"),
    },
    "invoice_date": {
        "en": ("Billed on", "Raised", "Posted"),
        "de": ("Erstellt am", "Ausgestellt"),
        "fr": ("Émise le", "Établie le"),
        "nl": ("Opgemaakt op", "Uitgegeven"),
        "es": ("Emitida el", "Expedida"),
        "it": ("Emessa il", "Redatta il"),
    },
    "due_date": {
        "en": ("Remit by", "Settle by", "Clear by"),
        "de": ("Ausgleich bis", "Bitte bis"),
        "fr": ("Réglable le", "Régler avant"),
        "nl": ("Voldoen voor", "Uiterlijk"),
        "es": ("Abonar antes", "Pagadera el"),
        "it": ("Saldare entro", "Pagabile il"),
    },
}
HOUSE_DATE_STYLES: tuple[DateStyle, ...] = ("ymd_compact", "ymd_mon", "day_mon_short", "dmy_short", "dmy_dash")
QUIRK_SHARE = 0.5  # each kind a vendor can have, it has with this probability (and at least one)


@dataclass(frozen=True)
class Quirks:
    """What one vendor does its own way, drawn once from its seed and kept on every invoice."""

    labels: tuple[tuple[str, str], ...] = ()  # (field, the vendor's wording of its label)
    wordmark: str = ""  # the header shows only this; the legal name is in a small legal line
    date_style: DateStyle | None = None
    total_stacked: bool = False

    @property
    def kinds(self) -> list[str]:
        drawn = {"labels": bool(self.labels), "wordmark": bool(self.wordmark)}
        drawn |= {"date_format": self.date_style is not None, "total_below_label": self.total_stacked}
        return [kind for kind, present in drawn.items() if present]


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


def _house_wordmark(rng: random.Random, name: str) -> str:
    """A logo-like form of the name: its first word letter-spaced, in capitals, lower case with a dot, or the
    initials of its words."""
    words = [word.strip("&,.") for word in name.split() if word.strip("&,.")]
    first = words[0]
    forms = (" ".join(first.upper()), first.upper(), f"{first.lower()}.", "".join(w[0] for w in words[:3]).upper())
    return rng.choice(forms)


def _can_wordmark(layout: Layout) -> bool:
    """The family prints the name in a left or right header block that a wordmark can replace."""
    return layout.frame == "page" and layout.vendor_block != "center" and layout.vendor_mark == "name"


def draw_quirks(vendor: int, seed: int, spec: InvoiceSpec) -> Quirks:
    """The vendor's quirks, from its own random stream (the base invoice's draws are untouched): each kind
    the layout allows with probability QUIRK_SHARE, and at least one."""
    rng = random.Random(f"ledgerlens-vendor-quirks:{seed}:{vendor}")
    kinds = ["labels", "date_format"]
    kinds += ["wordmark"] if _can_wordmark(spec.layout) else []
    kinds += ["total_below_label"] if spec.layout.frame == "page" else []
    chosen = [kind for kind in kinds if rng.random() < QUIRK_SHARE] or [rng.choice(kinds)]
    labels: tuple[tuple[str, str], ...] = ()
    if "labels" in chosen:
        fields = rng.sample(sorted(HOUSE_LABELS), rng.randint(1, 2))
        labels = tuple((field, rng.choice(HOUSE_LABELS[field][spec.language])) for field in sorted(fields))
    return Quirks(
        labels=labels,
        wordmark=_house_wordmark(rng, spec.vendor_name) if "wordmark" in chosen else "",
        date_style=rng.choice(HOUSE_DATE_STYLES) if "date_format" in chosen else None,
        total_stacked="total_below_label" in chosen,
    )


def _legal_footer(spec: InvoiceSpec, vat: str, rng: random.Random) -> list[str]:
    """The footer with a legal line naming the vendor (added when the family prints none)."""
    if any(spec.vendor_name in line for line in spec.footer):
        return spec.footer
    city = spec.vendor_lines[1] if len(spec.vendor_lines) > 1 else spec.region.country
    legal = spec.phrases.legal.format(name=spec.vendor_name, city=city, reg=_digits(rng, "######"), tax_id=vat)
    return [*spec.footer, legal]


def apply_quirks(spec: InvoiceSpec, quirks: Quirks, vat: str, rng: random.Random) -> InvoiceSpec:
    colon = ":" if spec.labels.invoice_number.endswith(":") else ""
    labels = dataclasses.replace(spec.labels, **{field: wording + colon for field, wording in quirks.labels})
    spec = dataclasses.replace(spec, labels=labels, total_stacked=quirks.total_stacked)
    if quirks.date_style is not None:
        spec = dataclasses.replace(spec, date_style=quirks.date_style)
    if quirks.wordmark:
        spec = dataclasses.replace(spec, wordmark=quirks.wordmark, footer=_legal_footer(spec, vat, rng))
    return spec


def vendor_base(vendor: int, seed: int, layouts: Sequence[Layout] = ALL_LAYOUTS) -> InvoiceSpec:
    """The vendor's fixed look, identity and quirks: a generated invoice from an IBAN region, identifiers made
    stable, the vendor's quirks applied."""
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
    spec = dataclasses.replace(spec, vendor_lines=vendor_lines, footer=footer)
    return apply_quirks(spec, draw_quirks(vendor, seed, spec), vat, rng)


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


def _dated_notes(spec: InvoiceSpec, rng: random.Random) -> list[str]:
    """The vendor's notes with a dated one (a delivery, an order) dated a few days before this invoice, in
    the vendor's date style, as each of its invoices prints it."""
    notes = []
    for note in spec.notes:
        for template in spec.phrases.notes:
            head, _, tail = template.partition("{date}")
            if note.startswith(head) and note.endswith(tail) and len(note) > len(head) + len(tail):
                day = spec.invoice_date - timedelta(days=rng.randint(1, 12))
                note = template.format(date=format_date(day, spec.date_style))
                break
        notes.append(note)
    return notes


def _fresh_lines(base: InvoiceSpec, lines: list[LineSpec]) -> list[LineSpec]:
    """This invoice's lines as the vendor prints them: negative unit prices on a credit note."""
    if not base.credit:
        return lines
    return [dataclasses.replace(line, unit_price=-line.unit_price) for line in lines]


def _fresh_adjustments(base: InvoiceSpec, spec: InvoiceSpec) -> InvoiceSpec:
    """The vendor's discount is a percentage ("Discount 10%"), taken of each invoice's own subtotal, and
    reduced-rate lines are some of this invoice's lines: the base invoice's amounts are not carried over."""
    second_lines = min(base.second_lines, len(spec.lines) - 1) if base.second_rate is not None else 0
    spec = dataclasses.replace(spec, second_lines=max(second_lines, 0))
    if not base.discount:
        return spec
    base_subtotal = base.subtotal
    percent = (100 * base.discount / base_subtotal).quantize(Decimal(1)) if base_subtotal else Decimal(0)
    spec = dataclasses.replace(spec, discount=issuer_round(spec.subtotal * percent / 100, spec.quantum))
    if spec.net - spec.second_base < 0:  # as the generator does: no discount the reduced-rate lines exceed
        spec = dataclasses.replace(spec, discount=Decimal(0), labels=dataclasses.replace(spec.labels, discount=""))
    return spec


def stream_spec(item: StreamInvoice, base: InvoiceSpec, seed: int) -> tuple[InvoiceSpec, random.Random]:
    rng = random.Random(f"ledgerlens-vendor-invoice:{seed}:{item.vendor}:{item.rank}")
    industry = INDUSTRIES[item.vendor % len(INDUSTRIES)]
    lines = _fresh_lines(base, _make_lines(rng, industry, base.region, multi_page=False))
    terms = base.due_date - base.invoice_date
    spec = dataclasses.replace(
        base,
        lines=lines,
        invoice_number=_next_number(base.invoice_number, item.rank),
        invoice_date=item.invoice_date,
        due_date=item.invoice_date + terms,
    )
    spec = _fresh_adjustments(base, spec)
    return dataclasses.replace(spec, notes=_dated_notes(spec, rng)), rng


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
