"""Vendor memory and a vendor's amounts (issue 14): discounts and charges between subtotal and total, a total
equal to its subtotal, an amount printed apart from its currency mark, and the stream's own arithmetic.

Invoices come from the vendor stream generator (born-digital, real text layer) and go through the real
pipeline; decisions are the truth values, as a reviewer would enter them. Vendors are picked by what their
drawn look has (a shipping charge, no tax), never by number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from devtools.samples import InvoiceSpec
from devtools.vendor_stream import StreamInvoice, stream_spec, vendor_base, write_stream_invoice
from pipeline.extract.layout import build_layout
from pipeline.money import issuer_round
from pipeline.vendors import learn_decision
from pipeline.vendors.memory import place_evidence
from pipeline.vendors.places import Found, PageStyle, find_at_place, learn_place
from schemas import PageText, TextSource, Word
from tests.page_words import row_of_words
from tests.test_vendors import evidence_of, process, truth_of

SEED = 2027
VENDORS = 48
HEADER = ("vendor_name", "customer_name", "invoice_number", "invoice_date", "due_date", "currency")


def first_vendor(wanted: Callable[[InvoiceSpec], bool]) -> tuple[int, InvoiceSpec]:
    for vendor in range(VENDORS):
        base = vendor_base(vendor, SEED)
        if wanted(base):
            return vendor, base
    pytest.skip("no vendor of the stream has the look this test needs")


def write(folder: Path, vendor: int, base: InvoiceSpec, rank: int) -> Path:
    day = date(2024, 1, 8) + timedelta(days=14 * rank)
    item = StreamInvoice(vendor, rank, day, "born_digital", f"v{vendor}-n{rank}")
    write_stream_invoice(folder, item, base, SEED)
    return folder / f"{item.stem}.pdf"


def test_the_streams_discount_is_a_percentage_of_each_invoice_and_credit_notes_stay_negative() -> None:
    with_discount = [b for b in (vendor_base(v, SEED) for v in range(VENDORS)) if b.discount]
    credit = [b for b in (vendor_base(v, SEED) for v in range(VENDORS)) if b.credit]
    assert with_discount and credit
    for vendor in range(VENDORS):
        base = vendor_base(vendor, SEED)
        percent = (100 * base.discount / base.subtotal).quantize(Decimal(1)) if base.discount else Decimal(0)
        for rank in range(6):
            item = StreamInvoice(vendor, rank, date(2024, 2, 1 + rank), "born_digital", "x")
            spec, _ = stream_spec(item, base, SEED)
            if spec.discount:
                assert spec.discount == issuer_round(spec.subtotal * percent / 100, spec.quantum)
            if base.credit:
                assert spec.total < 0 and all(line.unit_price < 0 for line in spec.lines)
            else:  # no tax base below zero, no negative invoice
                assert spec.net - spec.second_base >= 0 and spec.total > 0 and spec.tax >= 0, (vendor, rank)


def test_a_shipping_charge_is_learned_so_the_next_total_read_at_its_place_still_adds_up(tmp_path: Path) -> None:
    vendor, base = first_vendor(lambda b: b.shipping > 0 and not b.discount and b.total_stacked)
    first, second = write(tmp_path, vendor, base, 0), write(tmp_path, vendor, base, 1)
    profiles = learn_decision([], evidence_of(process(first)), truth_of(first))
    charges = [hint for hint in profiles[0].adjustments.values() if hint.field == "charge"]
    assert len(charges) == 1
    record = process(second, profiles)
    truth = truth_of(second)
    profile_id = profiles[0].profile_id
    assert record.invoice.total == truth.total
    assert record.fields["total"].extractor == f"profile:{profile_id}"
    assert record.invoice.adjustments == base.shipping
    assert record.fields["adjustments"].extractor == f"profile:{profile_id}"
    # A charge the page does not print explains nothing: the arithmetic fails and no amount is taken over.
    unknown = {"porto": charges[0].model_copy(update={"label": "porto"})}
    lying = profiles[0].model_copy(update={"adjustments": unknown})
    plain = process(second, [lying])
    assert plain.invoice.total != truth.total and "adjustments" not in plain.fields


def test_a_total_equal_to_its_subtotal_is_learned_at_its_own_label(tmp_path: Path) -> None:
    vendor, base = first_vendor(lambda b: b.tax_rate == 0 and not b.shipping and not b.discount)
    first = write(tmp_path, vendor, base, 0)
    truth = truth_of(first)
    assert truth.subtotal == truth.total
    hints = learn_decision([], evidence_of(process(first)), truth)[0].hints
    assert hints["total"].label != hints["subtotal"].label
    assert hints["subtotal"].label == base.labels.subtotal.rstrip(":").lower()


def _row(y: float, *phrases: tuple[float, str]) -> list[Word]:
    return row_of_words(y, *phrases, char_width=8, height=12)


def test_an_amount_printed_apart_from_its_currency_mark_keeps_the_label_left_of_the_mark() -> None:
    def page(amount: str) -> list:  # type: ignore[type-arg]
        words = [
            *_row(500, (100, "Subtotal"), (432, amount)),
            *_row(530, (100, "Your payment"), (400, "GBP"), (432, amount)),
        ]
        return [build_layout(PageText(page_no=1, width=600, height=800, source=TextSource.OCR, words=words))]

    style = PageStyle(decimal_sep=".", day_first=None)
    spot = learn_place("total", Decimal("2582.71"), page("2,582.71"), style)
    assert spot is not None and spot.hint.label == "your payment"
    found = find_at_place(spot.hint, page("147.29"), style)
    assert found is not None and found.value == "147.29"


def test_the_vendors_currency_printed_on_the_page_gains_the_decisions_trust(tmp_path: Path) -> None:
    vendor, base = first_vendor(lambda b: not b.credit)
    first, second = write(tmp_path, vendor, base, 0), write(tmp_path, vendor, base, 1)
    profiles = learn_decision([], evidence_of(process(first)), truth_of(first))
    assert profiles[0].currency == base.currency
    plain, remembered = process(second), process(second, profiles)
    assert remembered.fields["currency"].extractor == f"profile:{profiles[0].profile_id}"
    assert remembered.fields["currency"].confidence > plain.fields["currency"].confidence
    # A profile that knows another currency adds nothing to the one the page prints.
    other = profiles[0].model_copy(update={"currency": "JPY" if base.currency != "JPY" else "EUR"})
    kept = process(second, [other]).fields["currency"]
    assert kept.extractor == plain.fields["currency"].extractor and kept.value == base.currency


def test_an_invoice_number_ocr_read_at_its_learned_place_keeps_extractions_doubts_about_misreads() -> None:
    def found(text: str, confidence: float) -> Found:
        words = [
            Word(text=part, page_no=1, x0=10.0 * i, y0=0, x1=10.0 * i + 8, y1=10, confidence=confidence)
            for i, part in enumerate(text.split())
        ]
        layout = build_layout(PageText(page_no=1, width=600, height=800, source=TextSource.OCR, words=words))
        return Found(text, words, layout.rows[0].phrases[0])

    style = PageStyle(decimal_sep=".", day_first=None)
    for misread in ("FRO88835", "INV 561758"):
        assert place_evidence("invoice_number", found(misread, 0.9), None, False, style).doubts, misread
        assert not place_evidence("invoice_number", found(misread, 1.0), None, False, style).doubts  # text layer
    assert not place_evidence("invoice_number", found("FR-088835", 0.9), None, False, style).doubts
