"""Invoices drawn in layouts the sample generator never draws: a held-out check of trust, not a training set.

The content (parties, numbers, dates, lines, amounts, region) is the sample generator's (`sample_spec`); only the
drawing is new, with the traps real invoices set that the generator's families do not: several dates and numbers
beside the invoice's own (order, ship, customer, PO), a remit-to company that is not the vendor, a balance due
after a payment, captions under their values, a per-rate tax summary, a vendor named only in a "From" block.
Nothing in the product reads this module; fit nothing on it.

    .venv/bin/python -m devtools.novel_layouts OUT_DIR --count 32 --seed 7
"""

from __future__ import annotations

import argparse
import io
import json
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from reportlab.pdfgen import canvas

from devtools.samples import (
    KIND_CYCLE,
    InvoiceSpec,
    _money,
    _Page,
    format_date,
    format_number,
    render_scan,
    sample_spec,
    truth_record,
)

_Drawer = Callable[[_Page, InvoiceSpec, random.Random], None]
_MAX_LINES = 10  # one page: every family here draws a single page


def _amount(spec: InvoiceSpec, value: Decimal, mark: bool = False) -> str:
    return _money(spec, value, mark)


def _date(spec: InvoiceSpec, days: int = 0) -> str:
    from datetime import timedelta

    return format_date(spec.invoice_date + timedelta(days=days), spec.date_style)


def _items(page: _Page, spec: InvoiceSpec, top: float, x0: float, x1: float, vat_column: bool = False) -> float:
    """A plain item table: description, quantity, unit price, (VAT %,) amount. Returns the y below it."""
    size = 9.0
    heads = ["Description", "Qty", "Unit price", *(["VAT"] if vat_column else []), "Amount"]
    right_edges = [x1 - 200, x1 - 130, x1 - 60, x1] if vat_column else [x1 - 150, x1 - 70, x1]
    page.hline(x0, x1, top - 11, 0.8)
    page.text(x0, top, heads[0], size, bold=True)
    for head, right in zip(heads[1:], right_edges, strict=True):
        page.text(right, top, head, size, bold=True, align="right")
    y = top + 16
    for number, line in enumerate(spec.lines):
        reduced = spec.second_rate is not None and number >= len(spec.lines) - spec.second_lines
        rate = spec.second_rate if reduced else spec.tax_rate
        cells = [
            format_number(line.quantity, spec.number_style, 0 if line.quantity == line.quantity.to_integral() else 2),
            _amount(spec, line.unit_price),
        ]
        if vat_column:
            cells.append(f"{rate:g}%")
        cells.append(_amount(spec, line.amount))
        page.text(x0, y, line.description, size, max_width=right_edges[0] - x0 - 60)
        for cell, right in zip(cells, right_edges, strict=True):
            page.text(right, y, cell, size, align="right")
        y += 14
    page.hline(x0, x1, y - 8, 0.5)
    return y + 8


def _totals(
    page: _Page, spec: InvoiceSpec, y: float, x1: float, rows: list[tuple[str, str]], bold_last: bool = True
) -> float:
    for number, (label, value) in enumerate(rows):
        bold = bold_last and number == len(rows) - 1
        page.text(x1 - 110, y, label, 9.5, bold=bold, align="right")
        page.text(x1, y, value, 9.5, bold=bold, align="right")
        y += 15
    return y


def _tax_rows(spec: InvoiceSpec) -> list[tuple[str, str]]:
    rates = [spec.tax_rate] + ([spec.second_rate] if spec.second_rate is not None else [])
    return [(f"Tax {rate:g}%", _amount(spec, tax)) for rate, tax in zip(rates, spec.taxes, strict=True)]


def _remit(page: _Page, spec: InvoiceSpec, rng: random.Random) -> None:
    """US distributor style: order/ship dates and customer/PO numbers, ship-to, a remit-to factor, a balance due."""
    w = page.width
    page.text(40, 60, spec.vendor_name.upper(), 16, bold=True)
    for n, line in enumerate(spec.vendor_lines[:3]):
        page.text(40, 78 + 12 * n, line, 8.5)
    page.text(w - 40, 60, "INVOICE", 22, bold=True, align="right")
    meta = [
        ("Customer ID", f"C-{rng.randint(10000, 99999)}"),
        ("Order Date", _date(spec, -rng.randint(3, 20))),
        ("Invoice #", spec.invoice_number),
        ("PO Number", f"PO{rng.randint(100000, 999999)}"),
        ("Invoice Date", _date(spec)),
        ("Ship Date", _date(spec, -1)),
        ("Terms", f"Net {(spec.due_date - spec.invoice_date).days}"),
        ("Due Date", format_date(spec.due_date, spec.date_style)),
    ]
    for n, (label, value) in enumerate(meta):
        page.text(w - 150, 96 + 13 * n, label, 8.5, bold=True, align="right")
        page.text(w - 40, 96 + 13 * n, value, 8.5, align="right")
    for x, caption in ((40, "SOLD TO"), (300, "SHIP TO")):
        page.text(x, 220, caption, 8, bold=True)
        for n, line in enumerate([spec.customer_name, *spec.customer_lines[:2]]):
            page.text(x, 234 + 12 * n, line, 9)
    y = _items(page, spec, 300, 40, w - 40)
    paid = (spec.total * Decimal(rng.choice((0, 0, 25, 50))) / 100).quantize(Decimal("0.01"))
    rows = [("Subtotal", _amount(spec, spec.subtotal))]
    if spec.discount:
        rows.append(("Discount", "-" + _amount(spec, spec.discount)))
    if spec.shipping:
        rows.append(("Freight", _amount(spec, spec.shipping)))
    rows += [
        *_tax_rows(spec),
        ("Invoice Total", _amount(spec, spec.total, True)),
        ("Amount Paid", _amount(spec, paid)),
        ("Balance Due", _amount(spec, spec.total - paid, True)),
    ]
    y = _totals(page, spec, y + 6, w - 40, rows)
    page.text(40, y + 20, "REMIT PAYMENT TO:", 8, bold=True)
    factor = rng.choice(("Crestline Capital Funding LLC", "Summit Receivables Finance Inc.", "Bayport Factoring Corp."))
    for n, line in enumerate([factor, f"PO Box {rng.randint(1000, 99999)}", "Dallas, TX 75284"]):
        page.text(40, y + 34 + 12 * n, line, 9)


def _captions(page: _Page, spec: InvoiceSpec, rng: random.Random) -> None:
    """Values above small grey captions in a ruled strip; the vendor and customer as letter blocks."""
    w = page.width
    page.text(w / 2, 56, spec.vendor_name, 15, bold=True, align="center")
    page.text(w / 2, 72, " | ".join(spec.vendor_lines[:3]), 8, align="center", max_width=w - 80)
    for n, line in enumerate([spec.customer_name, *spec.customer_lines[:3]]):
        page.text(40, 120 + 12 * n, line, 9.5)
    cells = [
        (spec.invoice_number, "invoice no."),
        (_date(spec), "date of issue"),
        (f"{rng.randint(100000, 999999)}", "customer no."),
        (_date(spec, -rng.randint(2, 9)), "delivery date"),
        (format_date(spec.due_date, spec.date_style), "payable by"),
    ]
    step = (w - 80) / len(cells)
    page.hline(40, w - 40, 190, 0.6)
    for n, (value, caption) in enumerate(cells):
        x = 40 + n * step
        page.text(x + 4, 206, value, 10, bold=True)
        page.text(x + 4, 218, caption, 7, grey=0.4)
    page.hline(40, w - 40, 226, 0.6)
    page.text(40, 256, "Invoice", 14, bold=True)
    y = _items(page, spec, 284, 40, w - 40, vat_column=spec.second_rate is not None)
    rows = [
        ("Net amount", _amount(spec, spec.subtotal)),
        *_tax_rows(spec),
        ("Amount payable", _amount(spec, spec.total, True)),
    ]
    _totals(page, spec, y + 6, w - 40, rows)


def _summary(page: _Page, spec: InvoiceSpec, rng: random.Random) -> None:
    """A sender line, a per-rate tax summary (rate, net, tax, gross) under the items; no subtotal row."""
    w = page.width
    page.text(w - 40, 50, spec.vendor_name, 13, bold=True, align="right")
    for n, line in enumerate(spec.vendor_lines[:3]):
        page.text(w - 40, 64 + 11 * n, line, 8, align="right")
    page.text(40, 120, " · ".join([spec.vendor_name, *spec.vendor_lines[:2]]), 6.5, grey=0.3)
    page.hline(40, 260, 124, 0.4)
    for n, line in enumerate([spec.customer_name, *spec.customer_lines[:3]]):
        page.text(40, 138 + 12 * n, line, 9.5)
    meta = [
        ("Invoice number", spec.invoice_number),
        ("Invoice date", _date(spec)),
        ("Service period", f"{_date(spec, -30)} - {_date(spec, -1)}"),
        ("Your reference", f"{rng.randint(1000, 9999)}-{rng.randint(10, 99)}"),
    ]
    for n, (label, value) in enumerate(meta):
        page.text(340, 150 + 13 * n, label, 8.5)
        page.text(w - 40, 150 + 13 * n, value, 8.5, align="right")
    page.text(40, 230, f"Invoice {spec.invoice_number}", 13, bold=True)
    y = _items(page, spec, 260, 40, w - 40, vat_column=True)
    rates = [spec.tax_rate] + ([spec.second_rate] if spec.second_rate is not None else [])
    bases = [spec.net - spec.second_base, spec.second_base] if spec.second_rate is not None else [spec.net]
    heads, rights = ("Rate", "Net", "Tax", "Gross"), (w - 280, w - 200, w - 125, w - 40)
    for head, right in zip(heads, rights, strict=True):
        page.text(right, y + 6, head, 8.5, bold=True, align="right")
    y += 20
    for rate, base, tax in zip(rates, bases, spec.taxes, strict=True):
        for cell, right in zip(
            (f"{rate:g}%", _amount(spec, base), _amount(spec, tax), _amount(spec, base + tax)), rights, strict=True
        ):
            page.text(right, y, cell, 8.5, align="right")
        y += 13
    page.hline(w - 280, w - 40, y - 8, 0.5)
    for cell, right in zip(
        ("", _amount(spec, spec.net), _amount(spec, spec.tax), _amount(spec, spec.total, True)), rights, strict=True
    ):
        page.text(right, y + 4, cell, 9, bold=True, align="right")
    terms, due = (spec.due_date - spec.invoice_date).days, format_date(spec.due_date, spec.date_style)
    page.text(40, y + 40, f"Please pay within {terms} days, by {due}, quoting the invoice number.", 8.5)


def _from_to(page: _Page, spec: InvoiceSpec, rng: random.Random) -> None:
    """A big title, then "To" and "From" blocks side by side with the customer first; meta in one line."""
    w = page.width
    page.text(40, 70, "Tax Invoice", 24, bold=True)
    for x, caption, lines in (
        (40, "To", [spec.customer_name, *spec.customer_lines[:3]]),
        (320, "From", [spec.vendor_name, *spec.vendor_lines[:3]]),
    ):
        page.text(x, 110, caption, 8, bold=True, grey=0.35)
        for n, line in enumerate(lines):
            page.text(x, 124 + 12 * n, line, 9.5, bold=n == 0)
    line = (
        f"Invoice {spec.invoice_number}   ·   Issued {_date(spec)}   ·   "
        f"Due {format_date(spec.due_date, spec.date_style)}   ·   Account {rng.randint(10000000, 99999999)}"
    )
    page.text(40, 200, line, 9, max_width=w - 80)
    y = _items(page, spec, 236, 40, w - 40)
    rows = [("Subtotal", _amount(spec, spec.subtotal))]
    if spec.discount:
        rows.append(("Less discount", "-" + _amount(spec, spec.discount)))
    if spec.shipping:
        rows.append(("Delivery", _amount(spec, spec.shipping)))
    rows += [*_tax_rows(spec), ("Total due", _amount(spec, spec.total, True))]
    _totals(page, spec, y + 6, w - 40, rows)


FAMILIES: dict[str, _Drawer] = {"remit": _remit, "captions": _captions, "summary": _summary, "from_to": _from_to}


def _render(spec: InvoiceSpec, family: str, rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    width, height = spec.region.page_size
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    FAMILIES[family](_Page(pdf, spec.layout.font, width, height), spec, rng)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _spec(index: int, seed: int) -> InvoiceSpec:
    """The generator's content for this index; a credit note is passed over (every family here is an invoice)."""
    draw = 0
    while (spec := sample_spec(index + 1000 * draw, seed + 7919, "all")).credit:
        draw += 1
    return spec


def generate(out_dir: Path, count: int, seed: int) -> list[Path]:
    """`count` invoices cycling through FAMILIES and the scan kinds, each with its truth beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(FAMILIES)
    written: list[Path] = []
    for index in range(count):
        spec = _spec(index, seed)
        spec.lines = spec.lines[:_MAX_LINES]
        spec.page_break = None
        family = names[(index + index // len(names)) % len(names)]
        kind = KIND_CYCLE[index % len(KIND_CYCLE)]
        rng = random.Random(f"novel:{seed}:{index}")
        pdf = _render(spec, family, rng)
        stem = f"nov-{index + 1:04d}-{kind}-{family}"
        if kind != "born_digital":
            pdf = render_scan(pdf, kind, rng, title=stem)
        (out_dir / f"{stem}.pdf").write_bytes(pdf)
        truth = {**truth_record(spec, f"{stem}.pdf", kind), "layout": family}
        (out_dir / f"{stem}.truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
        written.append(out_dir / f"{stem}.pdf")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote {len(generate(args.out_dir, args.count, args.seed))} invoices to {args.out_dir}")


if __name__ == "__main__":
    main()
