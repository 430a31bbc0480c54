"""Misreads of hard scans that the page itself settles: a total label OCR garbled by a letter, a month name
one letter off. Each rule has its positive case and the guards that keep it from firing elsewhere."""

from __future__ import annotations

from typing import cast

import pytest

from pipeline.extract.labels import match_label
from pipeline.parsing import find_dates, misread_month
from schemas import ExtractionRecord, RecordStatus
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
