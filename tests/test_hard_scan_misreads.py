"""Misreads of hard scans that the page itself settles: a total label OCR garbled by a letter, a month name
one letter off. Each rule has its positive case and the guards that keep it from firing elsewhere."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest

from pipeline.config import Settings
from pipeline.engines.ocr import OcrOptions, TesseractEngine
from pipeline.extract import extract_invoice
from pipeline.extract.labels import match_label
from pipeline.extract.misreads import confusable_id_slip
from pipeline.parsing import find_dates, misread_month
from pipeline.reading import second_look_options
from pipeline.second_look import ID_REREAD, PASSED, Look, settle_id_slip
from schemas import ExtractionRecord, PageText, RecordStatus
from tests.conftest import routed_from_lines

Lines = list[tuple[float, float, str]]

GERMAN_HEADER: Lines = [
    (150, 150, "Alder & Finch Traders GmbH"),
    (150, 200, "Hauptstraße 172, 10115 Berlin"),
    (1500, 400, "Rechnungsnummer"), (1900, 400, "RE-2023-82413"),
    (1500, 460, "Rechnungsdatum"), (1900, 460, "03.04.2023"),
    (150, 600, "Kunde"), (150, 660, "Riverstone Property KG"),
    (150, 900, "Bezeichnung"), (1500, 900, "Anzahl"), (1800, 900, "E-Preis"), (2150, 900, "Gesamt"),
    (150, 980, "Whiteboard markers"), (1500, 980, "50"), (1800, 980, "9,58"), (2150, 980, "479,00"),
    (150, 1040, "Printer toner"), (1500, 1040, "10"), (1800, 1040, "128,54"), (2150, 1040, "1.285,40"),
    (1500, 1200, "Nettobetrag"), (2150, 1200, "1.764,40"),
    (1500, 1260, "USt 19%"), (2150, 1260, "244,14"),
    (1500, 1320, "MwSt 7%"), (2150, 1320, "36,40"),
]  # fmt: skip


def _routed(lines: Lines) -> ExtractionRecord:
    return cast(ExtractionRecord, routed_from_lines(lines))


@pytest.mark.parametrize("label", ["Zu zahien", "Zu zahlen"])
def test_a_total_label_ocr_misread_by_a_letter_still_names_the_total(label: str) -> None:
    # 1,764.40 + 244.14 + 36.40 = 2,044.94: the two tax rows add up once the total is found.
    record = _routed([*GERMAN_HEADER, (1500, 1380, label), (2050, 1380, "EUR 2.044,94")])
    assert str(record.invoice.total) == "2044.94"
    assert str(record.invoice.tax) == "280.54"


@pytest.mark.parametrize(
    ("text", "field"),
    [("Zahibar bis", "due_date"), ("Te betaien", "total"), ("Nettobetnag", "subtotal"), ("Rechnungsbetnag", "total")],
)
def test_garbled_labels_in_other_languages_are_recognised_with_less_trust(text: str, field: str) -> None:
    found = match_label(text)
    assert found is not None and found.field == field and found.strength < 1.0


@pytest.mark.parametrize("text", ["Zahlung", "Betreff", "Ordernummer", "Bankverbindung"])
def test_words_near_no_label_stay_no_label(text: str) -> None:
    assert match_label(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Apnil 2, 2025", "2025-04-02"), ("2 Apnil 2025", "2025-04-02"), ("12 Octobar 2023", "2023-10-12")],
)
def test_a_month_name_one_letter_off_is_read_as_that_month(text: str, expected: str) -> None:
    assert [str(found) for _, _, found in find_dates(text)] == [expected]


@pytest.mark.parametrize("text", ["Junl 3, 2024", "Jume 3, 2024", "Totals 3, 2024", "Apnils 2, 2025"])
def test_a_short_month_or_a_word_near_none_is_not_read_as_a_month(text: str) -> None:
    # "Junl" is as near "June" as "July": which is printed is not for the reader to guess.
    assert find_dates(text) == []


def test_a_month_name_spelt_right_is_no_misread() -> None:
    assert misread_month("april") is None  # spelt right: no misread
    assert misread_month("marzo") is None  # a real month name (Spanish and Italian)


US_INVOICE: Lines = [
    (150, 150, "Juniper Analytics Inc."),
    (150, 210, "billing@juniper.example"),
    (1500, 400, "Invoice No."), (1900, 400, "JA-251230"),
    (1500, 520, "Due Date"), (1900, 520, "May 2, 2025"),
    (150, 600, "Bill To"), (150, 660, "Copperfield Hospitality"),
    (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Unit Price"), (2150, 900, "Amount"),
    (150, 980, "Software development"), (1500, 980, "24"), (1800, 980, "115.00"), (2150, 980, "2,760.00"),
    (1500, 1200, "Subtotal"), (2150, 1200, "2,760.00"),
    (1500, 1260, "Tax"), (2150, 1260, "0.00"),
    (1500, 1320, "Amount Due"), (2150, 1320, "US$2,760.00"),
    (150, 1400, "Order placed March 30, 2025, thank you!"),
]  # fmt: skip


def test_an_invoice_date_with_a_misread_month_is_read_and_a_person_confirms_it() -> None:
    record = _routed([*US_INVOICE, (1500, 460, "Invoice Date"), (1900, 460, "Apnil 2, 2025")])
    assert str(record.invoice.invoice_date) == "2025-04-02"  # not the order date below the totals
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("Apnil" in doubt for doubt in record.fields["invoice_date"].evidence.doubts)


def test_an_invoice_date_spelt_right_raises_no_month_doubt() -> None:
    record = _routed([*US_INVOICE, (1500, 460, "Invoice Date"), (1900, 460, "April 2, 2025")])
    assert str(record.invoice.invoice_date) == "2025-04-02"
    assert record.fields["invoice_date"].evidence.doubts == []
    assert record.status is RecordStatus.ACCEPTED


def _id_page(tmp_path: Path, printed: str) -> tuple[Path, PageText]:
    """A page printing an invoice number, read by real Tesseract."""
    image = np.full((700, 1800), 255, dtype=np.uint8)
    cv2.putText(image, "Invoice No:", (80, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    cv2.putText(image, printed, (800, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    cv2.putText(image, "Total 162.00", (80, 450), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    path = tmp_path / "page.pgm"
    cv2.imwrite(str(path), image)
    return path, TesseractEngine(OcrOptions()).read(path, 1)


def _as_read(page: PageText, printed: str, read: str) -> PageText:
    """The page with its invoice number read as a degraded scan reads it."""
    words = [w.model_copy(update={"text": read}) if w.text == printed else w for w in page.words]
    assert words != page.words
    return page.model_copy(update={"words": words})


def _settled(path: Path, page: PageText) -> tuple[Look, list[int]]:
    engine = TesseractEngine(second_look_options(Settings()))
    calls: list[int] = []

    class Counting:
        name = "counting"

        def read(self, image_path: Path, page_no: int) -> PageText:
            calls.append(page_no)
            return engine.read(image_path, page_no)

    first = Look([page], extract_invoice([page]), PASSED)
    return settle_id_slip(first, {1: path}, Counting()), calls


def test_an_invoice_number_with_a_confusable_character_is_read_again_and_a_person_confirms_it(
    tmp_path: Path,
) -> None:
    path, page = _id_page(tmp_path, "BC-249858")
    look, calls = _settled(path, _as_read(page, "BC-249858", "8C-249858"))
    assert calls == [1]
    assert look.extraction is not None and look.extraction.invoice.invoice_number == "BC-249858"
    assert look.outcome == f"{PASSED}+{ID_REREAD}"
    doubts = look.extraction.fields["invoice_number"].evidence.doubts
    assert any("'8C-249858' on the page and 'BC-249858' enlarged" in doubt for doubt in doubts)


def test_an_invoice_number_whose_letters_end_in_an_o_before_its_digits_is_doubted(tmp_path: Path) -> None:
    # Tesseract reads this font's "INV026608" as "INVO26608", enlarged too: the O may be the number's first
    # digit, and nothing on the page tells, so a person confirms it.
    path, page = _id_page(tmp_path, "INV026608")
    assert "INVO26608" in [word.text for word in page.words], "this font's 0 is no longer read as O"
    look, calls = _settled(path, page)
    assert calls == [1]
    assert look.extraction is not None and look.extraction.invoice.invoice_number == "INVO26608"
    assert any("may be 'INV026608'" in d for d in look.extraction.fields["invoice_number"].evidence.doubts)


def test_an_invoice_number_read_again_alike_stays_as_read(tmp_path: Path) -> None:
    path, page = _id_page(tmp_path, "8C-249858")  # printed with the digit: the re-read confirms it
    look, calls = _settled(path, page)
    assert calls == [1]
    assert look.extraction is not None and look.extraction.invoice.invoice_number == "8C-249858"
    assert look.outcome == PASSED
    assert any("may be 'BC-249858'" in d for d in look.extraction.fields["invoice_number"].evidence.doubts)


def test_an_invoice_number_without_a_confusable_character_is_not_read_again(tmp_path: Path) -> None:
    path, page = _id_page(tmp_path, "INV-249858")
    look, calls = _settled(path, page)
    assert calls == []
    assert look.extraction is not None and look.extraction.invoice.invoice_number == "INV-249858"


US_HEADER: Lines = [
    (150, 150, "Granite Peak Office Supplies Ltd."),
    (150, 210, "billing@granite.example"),
    (1500, 400, "Invoice #:"), (1900, 400, "GP-41939"),
    (150, 600, "Bill To:"), (150, 660, "Kestrel Retail Group Corp."),
    (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount"),
    (150, 980, "Ergonomic office chair"), (1500, 980, "2"), (1800, 980, "350.65"), (2150, 980, "701.30"),
    (1500, 1200, "Subtotal:"), (2150, 1200, "CA$701.30"),
]  # fmt: skip
DATES: Lines = [(1500, 460, "Date:"), (1900, 460, "05/15/2024"), (1500, 520, "Due Date:"), (1900, 520, "07/14/2024")]


@pytest.mark.parametrize(("printed", "read_as"), [("CASO .00", "0.00"), ("CA$O.00", "0.00")])
def test_a_zero_tax_ocr_garbled_around_its_zeros_is_implied_and_flagged(printed: str, read_as: str) -> None:
    record = _routed([*US_HEADER, *DATES, (1500, 1260, "Tax:"), (2150, 1260, printed), (1500, 1320, "Total:"),
                      (2150, 1320, "CA$701.30")])  # fmt: skip
    assert str(record.invoice.tax) == read_as
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any(issue.code == "amount_repaired" and issue.field == "tax" for issue in record.issues)


@pytest.mark.parametrize("printed", ["CASO .00", "CAS1 .00"])
def test_a_tax_the_totals_leave_no_room_for_is_not_implied_unless_only_zeros_were_read(printed: str) -> None:
    # Total 711.30: the tax would be 10.00, whose digits OCR did not read; and "1 .00" is no zero.
    record = _routed([*US_HEADER, *DATES, (1500, 1260, "Tax:"), (2150, 1260, printed), (1500, 1320, "Total:"),
                      (2150, 1320, "CA$711.30" if printed == "CASO .00" else "CA$701.30")])  # fmt: skip
    assert record.invoice.tax is None
    assert record.status is RecordStatus.NEEDS_REVIEW


TOTALS: Lines = [(1500, 1260, "Tax:"), (2150, 1260, "0.00"), (1500, 1320, "Total:"), (2150, 1320, "CA$701.30")]


def test_a_date_garbled_by_one_confusable_digit_takes_the_date_the_due_date_allows() -> None:
    # "62/11/2024" is no date; a 6 for a 0 gives 02/11/2024 (the page is month-first), before the due date.
    record = _routed([*US_HEADER, *TOTALS, (1500, 460, "Date:"), (1900, 460, "62/11/2024"), (1500, 520, "Due Date:"),
                      (1900, 520, "02/21/2024")])  # fmt: skip
    assert str(record.invoice.invoice_date) == "2024-02-11"
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("'62/11/2024' is no date" in d for d in record.fields["invoice_date"].evidence.doubts)


@pytest.mark.parametrize(
    "due",
    [
        "01/21/2024",  # 02/11/2024 would fall after the due date: the order rules it out
        None,  # no due date: nothing orders the repair
    ],
)
def test_a_garbled_date_no_date_order_settles_stays_unread(due: str | None) -> None:
    dates = [(1500, 460, "Date:"), (1900, 460, "62/11/2024")]
    if due is not None:
        dates += [(1500, 520, "Due Date:"), (1900, 520, due)]
    record = _routed([*US_HEADER, *TOTALS, *dates])
    assert record.invoice.invoice_date != date(2024, 2, 11)
    assert record.status is RecordStatus.NEEDS_REVIEW


def test_a_date_printed_right_is_not_doubted() -> None:
    record = _routed([*US_HEADER, *TOTALS, *DATES])
    assert str(record.invoice.invoice_date) == "2024-05-15"
    assert record.fields["invoice_date"].evidence.doubts == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8-41939", "B-41939"), ("5/2024-17", "S/2024-17"), ("2024-001", None), ("B-41939", None), ("18-4193", None)],
)
def test_a_lone_digit_opening_an_id_before_a_separator_is_a_confusable_slip(value: str, expected: str | None) -> None:
    assert confusable_id_slip(value) == expected
