"""Header misreads of scans that the page's own arithmetic or date order settles: a date field split at a
monospace gap, a bracket read for a month's J, both dates garbled by a confusable digit, a tax OCR could
not read, a totals block of several tax rows whose sums a printed error breaks, and the bars a crop's edge
adds to a re-read word. Each rule has its positive case and the guards that keep it from firing elsewhere."""

from __future__ import annotations

from datetime import date
from typing import cast

import pytest

from pipeline.parsing import find_dates, find_dates_across_gaps, misread_month, misread_month_words
from pipeline.second_look import other_kind_at_slip, without_crop_edges
from schemas import ExtractionRecord, IssueCode, RecordStatus, Support, Word
from tests.conftest import routed_from_lines

Lines = list[tuple[float, float, str]]

HEADER: Lines = [
    (150, 150, "Brightline Digital Corp."),
    (150, 210, "billing@brightline.example"),
    (1500, 400, "Invoice #:"), (1900, 400, "INV494960"),
    (150, 600, "Bill To:"), (150, 660, "Lakeside Building Services Inc."),
    (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount"),
    (150, 980, "Cloud hosting, standard tier"), (1500, 980, "12"), (1800, 980, "105.00"), (2150, 980, "1,260.00"),
    (1500, 1200, "Subtotal:"), (2150, 1200, "1,260.00"),
    (1500, 1260, "Tax:"), (2150, 1260, "126.00"),
    (1500, 1320, "Balance Due:"), (2150, 1320, "$1,386.00"),
    (150, 1400, "Order placed 2023-10-25, thank you!"),
]  # fmt: skip


def _routed(lines: Lines) -> ExtractionRecord:
    return cast(ExtractionRecord, routed_from_lines(lines))


def _dates(issued: str, due: str) -> Lines:
    return [(1500, 460, "Date:"), (1900, 460, issued), (1500, 520, "Due Date:"), (1900, 520, due)]


# --- a date field split at a monospace gap ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2023-11-0 3", date(2023, 11, 3)), ("11/0 3/2023", date(2023, 11, 3)), ("2023-1 1-03", date(2023, 11, 3))],
)
def test_a_date_field_split_at_a_gap_is_read_whole(text: str, expected: date) -> None:
    assert find_dates(text) == []
    assert find_dates_across_gaps(text) == [(0, len(text), expected)]


@pytest.mark.parametrize("text", ["15 03 2024", "Qty 1 2.5", "Date 12 2023", "1 2 3"])
def test_digits_apart_from_a_date_separator_are_not_joined(text: str) -> None:
    assert find_dates_across_gaps(text, day_first=True) == []


def test_a_date_read_whole_is_left_as_read() -> None:
    assert find_dates_across_gaps("2023-11-03 1 2") == [(0, 10, date(2023, 11, 3))]


def test_labelled_dates_split_at_a_gap_are_the_invoice_dates() -> None:
    record = _routed([*HEADER, *_dates("2023-11-0 3", "2023-12-0 3")])
    assert record.invoice.invoice_date == date(2023, 11, 3)  # not the order date under the items
    assert record.invoice.due_date == date(2023, 12, 3)


# --- a bracket read for a month's J -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "month"),
    [
        ("17} an 2023", date(2023, 1, 17), "jan"),
        ("17 }an 2023", date(2023, 1, 17), "jan"),
        ("1 ]uni 2024", date(2024, 6, 1), "juni"),
    ],
)
def test_a_bracket_for_a_months_j_is_read_as_that_month(text: str, expected: date, month: str) -> None:
    assert [found for _, _, found in find_dates(text, day_first=True)] == [expected]
    assert [misread_month(word) for word in misread_month_words(text)] == [month]


@pytest.mark.parametrize("text", ["}ava 12 2023", "a}an 2023", "17 }ane 2023", "17 }x 2023"])
def test_a_bracket_before_letters_that_make_no_month_is_no_month(text: str) -> None:
    assert find_dates(text, day_first=True) == []
    assert misread_month_words(text) == []


def test_an_invoice_date_with_a_bracket_for_its_j_is_read_and_a_person_confirms_it() -> None:
    record = _routed([*HEADER, *_dates("17} an 2023", "1 Feb 2023")])
    assert record.invoice.invoice_date == date(2023, 1, 17)
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("'} an'" in doubt for doubt in record.fields["invoice_date"].evidence.doubts)


# --- both dates garbled by a confusable digit ---------------------------------------------------------


def test_both_dates_garbled_by_a_confusable_digit_take_the_dates_their_order_allows() -> None:
    record = _routed([*HEADER, *_dates("8 Jun 2623", "22 Jun 2823")])
    assert record.invoice.invoice_date == date(2023, 6, 8)
    assert record.invoice.due_date == date(2023, 6, 22)
    assert record.status is RecordStatus.NEEDS_REVIEW
    for name in ("invoice_date", "due_date"):
        assert any("is no date" in doubt for doubt in record.fields[name].evidence.doubts)


def test_garbled_dates_out_of_order_are_not_restored() -> None:
    record = _routed([*HEADER, *_dates("28 Jun 2623", "2 Jun 2823")])
    assert record.invoice.due_date is None
    assert record.invoice.invoice_date != date(2023, 6, 28)
    assert record.status is RecordStatus.NEEDS_REVIEW


def test_one_garbled_date_alone_is_not_restored() -> None:
    record = _routed([*HEADER, (1500, 460, "Date:"), (1900, 460, "8 Jun 2623")])
    assert record.invoice.invoice_date != date(2023, 6, 8)
    assert record.status is RecordStatus.NEEDS_REVIEW


# --- a tax OCR could not read -------------------------------------------------------------------------

AUD_INVOICE: Lines = [
    (150, 150, "Granite Peak Manufacturing Ltd"),
    (150, 210, "billing@granite.example"),
    (1500, 400, "Invoice No:"), (1900, 400, "2025/2622"),
    (1500, 460, "Date:"), (1900, 460, "20/04/2025"),
    (150, 600, "Bill To:"), (150, 660, "Blue Harbor Shipping Pty Ltd"),
    (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount"),
    (150, 980, "Machine calibration service"), (1500, 980, "1"), (1800, 980, "11,303.51"),
    (2150, 980, "11,303.51"),
    (1500, 1200, "Subtotal:"), (2150, 1200, "11,303.51"),
    (1500, 1320, "Total:"), (2150, 1320, "A$12,433.86"),
]  # fmt: skip


def test_an_unread_tax_is_restored_where_the_sum_and_its_printed_rate_agree() -> None:
    record = _routed([*AUD_INVOICE, (1500, 1260, "GST 10%:"), (2150, 1260, "1S O35")])
    assert str(record.invoice.tax) == "1130.35"  # 12,433.86 - 11,303.51, and 10% of 11,303.51
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any(issue.code is IssueCode.AMOUNT_REPAIRED and issue.field == "tax" for issue in record.issues)


@pytest.mark.parametrize(
    "row",
    [
        ("GST 15%:", "1S O35"),  # the printed rate does not give the sum's tax
        ("GST 10%:", "7S O99"),  # the digits read are not the sum's
        ("GST:", "1S O35"),  # no rate printed: the sum alone does not vouch for it
    ],
)
def test_an_unread_tax_the_rate_or_its_digits_do_not_confirm_stays_unread(row: tuple[str, str]) -> None:
    label, value = row
    record = _routed([*AUD_INVOICE, (1500, 1260, label), (2150, 1260, value)])
    assert record.invoice.tax is None
    assert record.status is RecordStatus.NEEDS_REVIEW


# --- several tax rows under a printed error -----------------------------------------------------------

DUTCH_INVOICE: Lines = [
    (150, 150, "Atlas Couriers B.V."),
    (150, 210, "Keizersgracht 32, 1015 CJ Amsterdam"),
    (1500, 400, "Factuurnummer"), (1900, 400, "AC-232136"),
    (1500, 460, "Datum"), (1900, 460, "07.02.2023"),
    (150, 600, "Klant"), (150, 660, "Pinecrest Outdoor Gear B.V."),
    (150, 900, "Omschrijving"), (1500, 900, "Aantal"), (1800, 900, "Prijs"), (2150, 900, "Bedrag"),
    (150, 980, "Full truckload"), (1500, 980, "1"), (1800, 980, "4 357,32"), (2150, 980, "4 357,32"),
    (1500, 1200, "Totaal excl. BTW"), (2150, 1200, "4 357,32"),
]  # fmt: skip


def test_the_tax_rows_of_a_totals_block_sum_to_the_tax_when_a_printed_error_breaks_the_sums() -> None:
    # 4,357.32 + 428.64 + 6.38 = 4,792.34, but the total prints 4,793.34.
    record = _routed([*DUTCH_INVOICE, (1500, 1260, "BTW 10%"), (2150, 1260, "428,64"), (1500, 1320, "BTW 9%"),
                      (2150, 1320, "6,38"), (1500, 1380, "Totaal"), (2150, 1380, "€4 793,34")])  # fmt: skip
    assert str(record.invoice.tax) == "435.02"
    assert record.status is RecordStatus.NEEDS_REVIEW


def test_one_tax_row_that_makes_the_sums_hold_beats_the_sum_of_the_rows() -> None:
    record = _routed([*DUTCH_INVOICE, (1500, 1260, "BTW 10%"), (2150, 1260, "428,64"), (1500, 1320, "BTW 9%"),
                      (2150, 1320, "6,38"), (1500, 1380, "Totaal"), (2150, 1380, "€4 785,96")])  # fmt: skip
    assert str(record.invoice.tax) == "428.64"  # 4,357.32 + 428.64 = 4,785.96


# --- the edges of a re-read crop ----------------------------------------------------------------------


def _word(text: str) -> Word:
    return Word(text=text, page_no=1, x0=0, y0=0, x1=10, y1=10, confidence=0.9, line_key=(1, 1, 1))


def test_bars_and_brackets_a_crop_edge_adds_are_taken_off_a_reread_word() -> None:
    reread = without_crop_edges([_word("18]"), _word("|"), _word("Jan"), _word("[2024")])
    assert [w.text for w in reread] == ["18", "Jan", "2024"]


# --- an invoice number's slip settled by a second read ------------------------------------------------


def test_a_reread_with_a_letter_where_ocr_read_a_digit_settles_the_slip() -> None:
    # "1S" opens letters with a digit: the enlarged crop reads "TS", a letter, though not the "I" 1 looks like.
    assert other_kind_at_slip("1S-19666-23", "1S-19666-23", "IS-19666-23", "TS-19666-23") == "TS-19666-23"
    assert other_kind_at_slip("#1S-19666", "1S-19666", "IS-19666", "#TS-19666") == "TS-19666"


@pytest.mark.parametrize(
    "read_again",
    [
        "1S-19666-23",  # read alike: the first reading stands
        "7S-19666-23",  # a digit again: nothing says which digit is printed
        "TS-19668-23",  # a second character changed too
        "-S-19666-23",  # no letter at the slip
        "TS-19666-2",  # not the same word
    ],
)
def test_a_reread_that_does_not_put_only_a_letter_at_the_slip_settles_nothing(read_again: str) -> None:
    assert other_kind_at_slip("1S-19666-23", "1S-19666-23", "IS-19666-23", read_again) is None


# --- an ordinal mark read as a 2 ----------------------------------------------------------------------

SPANISH_INVOICE: Lines = [
    (150, 150, "Granite Peak Office Supplies S.L."),
    (1500, 460, "Fecha de factura"), (1900, 460, "29/12/2023"),
    (150, 900, "Descripcion"), (1500, 900, "Cant."), (1800, 900, "Precio"), (2150, 900, "Importe"),
    (150, 980, "Printer toner cartridge"), (1500, 980, "3"), (1800, 980, "103,35"), (2150, 980, "310,05"),
    (1500, 1200, "Subtotal"), (2150, 1200, "310,05"),
    (1500, 1260, "IVA 21%"), (2150, 1260, "65,11"),
    (1500, 1320, "Importe total"), (2150, 1320, "375,16 EUR"),
]  # fmt: skip


def test_an_ordinal_mark_ocr_read_as_a_2_is_part_of_the_label() -> None:
    record = _routed([*SPANISH_INVOICE, (1500, 400, "Factura n.2"), (1900, 400, "53912")])
    assert record.invoice.invoice_number == "53912"


@pytest.mark.parametrize(("printed", "number"), [("Factura n.23", "23"), ("Factura n.º 2", "2")])
def test_a_number_after_the_label_is_still_the_number(printed: str, number: str) -> None:
    record = _routed([*SPANISH_INVOICE, (1500, 400, printed)])
    assert record.invoice.invoice_number == number


# --- a tax row whose label OCR could not read ---------------------------------------------------------

TYPEWRITER_INVOICE: Lines = [
    (150, 150, "Copperfield Provisions Inc."),
    (150, 210, "billing@copperfield.example"),
    (1500, 400, "Inv #:"), (1900, 400, "INV013654"),
    (1500, 460, "Date:"), (1900, 460, "02/11/2025"),
    (150, 600, "Bill To:"), (150, 660, "Riverstone Property Management Corp."),
    (150, 900, "Item"), (1500, 900, "Qty"), (1800, 900, "Unit Price"), (2150, 900, "Amount"),
    (150, 980, "Fresh fruit basket"), (1500, 980, "20"), (1800, 980, "38.52"), (2150, 980, "770.40"),
    (1500, 1200, "Subtotal:"), (2150, 1200, "770.40"),
    (1500, 1320, "Balance Due:"), (2150, 1320, "US$833.96"),
]  # fmt: skip


def test_a_tax_row_whose_label_ocr_garbled_is_found_by_the_sum_and_a_person_confirms_it() -> None:
    record = _routed([*TYPEWRITER_INVOICE, (1500, 1260, "Taxi-.:"), (2150, 1260, "63.56")])
    assert str(record.invoice.tax) == "63.56"  # 770.40 + 63.56 = 833.96
    evidence = record.fields["tax"].evidence
    assert Support.LABEL not in evidence.support and any("no label was read" in d for d in evidence.doubts)
    assert record.status is RecordStatus.NEEDS_REVIEW


@pytest.mark.parametrize(
    "row",
    [
        ("Taxi-.:", "64.56"),  # the sums do not hold with it
        ("Shipping:", "63.56"),  # a label claims the row: a charge, not the tax
        ("Taxi-.: 63.56", "1.00"),  # two amounts on the row: which one is meant is not for the sum to say
    ],
)
def test_an_unlabelled_row_the_sum_does_not_place_is_no_tax(row: tuple[str, str]) -> None:
    label, value = row
    record = _routed([*TYPEWRITER_INVOICE, (1500, 1260, label), (2150, 1260, value)])
    assert record.invoice.tax is None
