"""How receipts print their total (pipeline/extract/till.py): the amount payable under a total it settles,
and a total OCR read without its decimals, which the cash paid restores. Each rule runs the real extractor
and router on a page of words, with the guard that keeps it from firing where it should not."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pytest

from pipeline.extract import extract_invoice
from pipeline.money import lost_decimal_point
from schemas import ExtractionRecord, IssueCode, PageText, RecordStatus
from tests.conftest import page_from_lines, routed_from_lines

Lines = list[tuple[float, float, str]]

HEAD: Lines = [
    (700, 200, "KEDAI RUNCIT MAJU SDN BHD"),
    (700, 260, "No 12, Jalan Mawar 3, Kajang"),
    (150, 500, "Receipt No:"),
    (700, 500, "CS00120345"),
    (150, 560, "Date: 14/06/2018 10:21"),
    (150, 700, "2 x Bread loaf"),
    (1500, 700, "5.00"),
]


def _routed(lines: Lines, source: str = "ocr") -> ExtractionRecord:
    return cast(ExtractionRecord, routed_from_lines([*HEAD, *lines], source))


def _codes(record: ExtractionRecord, field: str) -> set[str]:
    return {issue.code for issue in record.issues if issue.field == field}


# --- the amount payable under a total it settles ---------------------------------------------------------


def _faintly_read(lines: Lines, faint: str, head: Lines = HEAD) -> PageText:
    """The page with one word read at low OCR confidence (a faded or smudged print)."""
    page = cast(PageText, page_from_lines([*head, *lines]))
    words = [w.model_copy(update={"confidence": 0.3}) if w.text == faint else w for w in page.words]
    return page.model_copy(update={"words": words})


SETTLED = [(150, 900, "Total supplies:"), (1500, 900, "24.55"), (150, 960, "Returned goods:"), (1500, 960, "-1.53")]


def test_the_amount_payable_under_a_total_it_settles_is_the_total_even_read_faintly() -> None:
    page = _faintly_read([*SETTLED, (150, 1020, "Payable:"), (1500, 1020, "23.02")], faint="23.02")
    assert extract_invoice([page]).invoice.total == Decimal("23.02")


def test_a_faint_total_that_names_no_payable_amount_gets_no_preference() -> None:
    page = _faintly_read([*SETTLED, (150, 1020, "Total:"), (1500, 1020, "23.02")], faint="23.02")
    assert extract_invoice([page]).invoice.total == Decimal("24.55")


def test_payable_misread_with_an_i_for_its_l_still_names_the_amount_payable() -> None:
    record = _routed([(150, 900, "Total supplies:"), (1500, 900, "24.55"),
                      (150, 1020, "Payabie:"), (1500, 1020, "23.02")])  # fmt: skip
    assert record.invoice.total == Decimal("23.02")


def test_the_arithmetic_still_beats_a_payable_line_that_breaks_it() -> None:
    record = _routed([(150, 840, "Subtotal"), (1500, 840, "20.00"), (150, 900, "GST 6%"), (1500, 900, "1.20"),
                      (150, 960, "Total"), (1500, 960, "21.20"),
                      (150, 1020, "Payable"), (1500, 1020, "19.00")])  # fmt: skip
    assert record.invoice.total == Decimal("21.20")


# --- a total read without its decimals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "paid"),
    [("39", "39.70"), ("600,", "5.00"), ("500", "5.00")],
)
def test_a_total_read_without_its_decimals_takes_the_cash_paid_and_goes_to_review(read: str, paid: str) -> None:
    record = _routed([(150, 900, "Total Inclusive GST:"), (1500, 900, read), (150, 960, "CASH"), (1500, 960, paid)])
    assert record.invoice.total == Decimal(paid)
    assert IssueCode.AMOUNT_REPAIRED in _codes(record, "total")
    assert record.status is not RecordStatus.ACCEPTED


def test_cash_less_change_is_what_was_paid() -> None:
    record = _routed([(150, 900, "Total:"), (1500, 900, "33"), (150, 960, "Cash"), (1500, 960, "50.00"),
                      (150, 1020, "Change"), (1500, 1020, "16.10")])  # fmt: skip
    assert record.invoice.total == Decimal("33.90")


def test_a_total_printed_with_its_cents_is_never_replaced_by_the_cash() -> None:
    record = _routed([(150, 900, "Total:"), (1500, 900, "39.00"), (150, 960, "Cash"), (1500, 960, "39.70")])
    assert record.invoice.total == Decimal("39.00")
    assert IssueCode.AMOUNT_REPAIRED not in _codes(record, "total")


def test_an_unreadable_change_leaves_the_whole_number_total_alone() -> None:
    # The change is printed but unread: what was paid is unknown, so the cash proves nothing.
    record = _routed([(150, 900, "Total:"), (1500, 900, "39"), (150, 960, "Cash"), (1500, 960, "50.00"),
                      (150, 1020, "Change"), (1500, 1020, "~~")])  # fmt: skip
    assert record.invoice.total == Decimal("39")


def test_a_text_layer_prints_what_the_issuer_wrote_and_is_never_restored() -> None:
    record = _routed([(150, 900, "Total:"), (1500, 900, "39"), (150, 960, "Cash"), (1500, 960, "39.70")], "text_layer")
    assert record.invoice.total == Decimal("39")


def test_a_whole_number_total_equal_to_the_cash_is_no_repair() -> None:
    record = _routed([(150, 900, "Total:"), (1500, 900, "39"), (150, 960, "Cash"), (1500, 960, "39.00")])
    assert IssueCode.AMOUNT_REPAIRED not in _codes(record, "total")


def test_cash_that_is_another_number_restores_nothing() -> None:
    record = _routed([(150, 900, "Total:"), (1500, 900, "39"), (150, 960, "Cash"), (1500, 960, "50.00")])
    assert record.invoice.total == Decimal("39")


@pytest.mark.parametrize(
    ("read", "amount", "lost"),
    [("39", "39.70", True), ("600", "5.00", True), ("410", "4.10", True), ("39", "40.00", False),
     ("700", "5.00", False), ("3970", "39.70", True), ("12", "0.12", False)],
)  # fmt: skip
def test_lost_decimal_point(read: str, amount: str, lost: bool) -> None:
    assert lost_decimal_point(read, Decimal(amount)) is lost


# --- a tax OCR garbled to a fragment, restored by the arithmetic and its printed rate ------------------


def _vat_block(tax_row: str, tax: str) -> Lines:
    return [
        (150, 840, "Subtotal"), (1500, 840, "EUR 817,45"),
        (150, 900, "Discount 10%"), (1500, 900, "EUR -81,75"),
        (150, 960, "Shipping"), (1500, 960, "EUR 19,90"),
        (150, 1020, tax_row), (1500, 1020, tax),
        (150, 1080, "Total incl. VAT"), (1500, 1080, "EUR 906,72"),
    ]  # fmt: skip


def test_a_garbled_tax_is_what_the_sums_imply_at_its_printed_rate_and_goes_to_review() -> None:
    record = _routed(_vat_block("VAT 20%", "BUR doi) 12"))
    assert record.invoice.tax == Decimal("151.12")
    assert IssueCode.AMOUNT_REPAIRED in _codes(record, "tax")
    assert record.status is not RecordStatus.ACCEPTED


def test_a_whole_number_tax_that_closes_the_sums_is_no_repair() -> None:
    lines = [(150, 840, "Subtotal"), (1500, 840, "JPY 12000"), (150, 900, "Tax 10%"), (1500, 900, "JPY 1200"),
             (150, 960, "Total"), (1500, 960, "JPY 13200")]  # fmt: skip
    record = _routed(lines)
    assert record.invoice.tax == Decimal("1200")
    assert IssueCode.AMOUNT_REPAIRED not in _codes(record, "tax")


@pytest.mark.parametrize(
    ("tax_row", "tax"),
    [
        ("VAT", "BUR doi) 12"),  # no rate printed: the arithmetic alone is one reading, not two
        ("VAT 19%", "BUR doi) 12"),  # 151.12 is not 19% of the tax base
        ("VAT 20%", "BUR doi) 47"),  # what OCR kept is not in the implied amount
        ("VAT 20%", "EUR 150,12"),  # printed with its cents: a real figure (maybe a real error), kept
    ],
)
def test_a_tax_is_not_restored_without_both_readings_and_the_kept_digits(tax_row: str, tax: str) -> None:
    assert _routed(_vat_block(tax_row, tax)).invoice.tax != Decimal("151.12")


# --- cash and change are read beside their labels only ------------------------------------------------------


def test_a_change_amount_is_never_taken_from_the_line_below() -> None:
    # "CHANGE" with its amount unread, then a tax summary: 37.47 is the summary's, not the change given.
    record = _routed([(150, 900, "TOTAL"), (1500, 900, "39.70"), (150, 960, "CASH"), (1500, 960, "39.70"),
                      (150, 1020, "CHANGE"), (1500, 1020, "~~"),
                      (150, 1080, "GST Summary"), (700, 1080, "Amount"), (1500, 1080, "Tax"),
                      (150, 1140, "37.47"), (700, 1140, "SR"), (1500, 1140, "2.23")])  # fmt: skip
    assert "change" not in record.fields


def test_a_change_amount_beside_its_label_is_read() -> None:
    record = _routed([(150, 900, "TOTAL"), (1500, 900, "39.70"), (150, 960, "CASH"), (1500, 960, "50.00"),
                      (150, 1020, "CHANGE"), (1500, 1020, "10.30")])  # fmt: skip
    assert record.fields["change"].value == "10.30"


# --- the cash paid confirms a total ---------------------------------------------------------------------------


def test_the_total_the_cash_paid_confirms_wins_over_a_later_faint_reading() -> None:
    # A tax summary's garbled "Total 6" under the receipt's total: the cash paid confirms 5.00.
    lines = [(150, 900, "Total Inclusive GST:"), (1500, 900, "5.00"), (150, 960, "CASH"), (1500, 960, "5.00"),
             (150, 1080, "Total"), (1500, 1080, "6")]  # fmt: skip
    page = _faintly_read(lines, faint="5.00", head=HEAD[:-2])  # no items: only the payment speaks
    assert extract_invoice([page]).invoice.total == Decimal("5.00")


def test_without_a_readable_change_the_cash_confirms_nothing() -> None:
    lines = [(150, 900, "Total Inclusive GST:"), (1500, 900, "5.00"), (150, 960, "CASH"), (1500, 960, "5.00"),
             (150, 1020, "CHANGE"), (1500, 1020, "~~"), (150, 1080, "Total"), (1500, 1080, "6")]  # fmt: skip
    page = _faintly_read(lines, faint="5.00", head=HEAD[:-2])
    assert extract_invoice([page]).invoice.total == Decimal("6")
