"""The issuer where the footer's legal line prints it, never its address; a tax spread over rows at two rates."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from pipeline.extract import extract_invoice
from schemas import ExtractionRecord, ExtractionResult, IssueCode, PageText, RecordStatus
from tests.conftest import page_from_lines, routed_from_lines


def _extract(lines: list[tuple[float, float, str]]) -> ExtractionResult:
    page = page_from_lines(lines)
    assert isinstance(page, PageText)
    return extract_invoice([page])


# A letterhead that prints the sender's address and no name (a logo would carry it), as the footerline family does.
ADDRESS_ONLY_HEADER = [
    (150, 200, "FACTUUR"),
    (150, 290, "Keizersgracht 8"),
    (150, 345, "1015 CJ Amsterdam"),
    (150, 400, "Netherlands"),
    (150, 455, "Tel. +31 20 699 7500"),
]
CUSTOMER = [(150, 590, "Factuur aan"), (150, 645, "Brightline Health Partners B.V."), (150, 700, "Keizersgracht 143")]
META = [
    (1500, 590, "Factuurnummer"),
    (1900, 590, "2023-T85320"),
    (1500, 645, "Factuurdatum"),
    (1900, 645, "17.03.2023"),
]
ITEMS = [
    (150, 1000, "Omschrijving"), (1500, 1000, "Aantal"), (1800, 1000, "Prijs"), (2150, 1000, "Bedrag"),
    (150, 1080, "Warehouse handling"), (1500, 1080, "4"), (1800, 1080, "45,00"), (2150, 1080, "180,00"),
    (150, 1140, "Express courier delivery"), (1500, 1140, "2"), (1800, 1140, "60,00"), (2150, 1140, "120,00"),
]  # fmt: skip
TOTALS = [
    (1500, 1300, "Subtotaal"), (2150, 1300, "EUR 300,00"),
    (1500, 1360, "BTW 21%"), (2150, 1360, "EUR 63,00"),
    (1500, 1420, "Totaal incl. BTW"), (2150, 1420, "EUR 363,00"),
]  # fmt: skip
FOOTER = [
    (150, 3200, "Betalingstermijn: 14 dagen"),
    (150, 3260, "Alder & Finch Couriers B.V. · KvK 405521 · VAT NL497847749B01"),
]


def test_the_footer_legal_line_names_the_issuer_when_the_letterhead_prints_only_its_address() -> None:
    # As Tesseract read the s61 clean scan: the legal form in small grey type at confidence 0.34.
    page = cast(PageText, page_from_lines([*ADDRESS_ONLY_HEADER, *CUSTOMER, *META, *ITEMS, *TOTALS, *FOOTER]))
    words = [word.model_copy(update={"confidence": 0.34}) if word.text == "B.V." else word for word in page.words]
    result = extract_invoice([page.model_copy(update={"words": words})])
    assert result.invoice.vendor_name == "Alder & Finch Couriers B.V."


def test_without_a_legal_line_the_address_read_as_the_vendor_is_vetoed() -> None:
    record = cast(ExtractionRecord, routed_from_lines([*ADDRESS_ONLY_HEADER, *CUSTOMER, *META, *ITEMS, *TOTALS]))
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any(i.field == "vendor_name" and i.code == IssueCode.UNCORROBORATED_FIELD for i in record.issues)
    assert any("address" in reason for reason in record.review_reasons), record.review_reasons


def test_a_name_over_its_street_stays_the_vendor() -> None:
    # Guard: the name opens its address block; only what follows the street is address.
    header = [(150, 200, "Ringweg Logistics"), (150, 290, "Keizersgracht 8"), (150, 345, "1015 CJ Amsterdam")]
    result = _extract([*header, *CUSTOMER, *META, *ITEMS, *TOTALS])
    assert result.invoice.vendor_name == "Ringweg Logistics"


def _totals(rows: list[tuple[str, str]]) -> list[tuple[float, float, str]]:
    lines: list[tuple[float, float, str]] = []
    for position, (label, amount) in enumerate(rows):
        lines += [(1500, 1300 + 60 * position, label), (2150, 1300 + 60 * position, amount)]
    return lines


ITEMS_4179 = [
    (150, 1000, "Omschrijving"), (1500, 1000, "Aantal"), (1800, 1000, "Prijs"), (2150, 1000, "Bedrag"),
    (150, 1080, "Graphic design revisions"), (1500, 1080, "1"), (1800, 1080, "1879,02"), (2150, 1080, "1879,02"),
    (150, 1140, "Copywriting, website pages"), (1500, 1140, "10"), (1800, 1140, "230,00"), (2150, 1140, "2300,00"),
]  # fmt: skip
NAMED = [(150, 200, "Northstar Marketing N.V."), *CUSTOMER, *META, *ITEMS_4179]


def test_tax_rows_at_two_rates_sum_to_the_tax_even_when_ocr_garbled_one_label() -> None:
    # "BIW 9%" is "BTW 9%" misread: the row still prints its rate, and 4179,02 - 417,90 + 94,96 + 253,04 = 4109,12.
    rows = [
        ("Totaal excl. BTW", "4179,02"),
        ("Korting 10%", "-417,90"),
        ("BTW 10%", "94,96"),
        ("BIW 9%", "253,04"),
        ("Totaal", "4109,12 €"),
    ]
    result = _extract([*NAMED, *_totals(rows)])
    assert result.invoice.tax == Decimal("348.00")
    assert result.invoice.total == Decimal("4109.12")


def test_an_unlabelled_rate_row_the_arithmetic_does_not_confirm_is_not_added_to_the_tax() -> None:
    # Guard: the same rows with a total the sum does not reach; the unlabelled row is left out of the tax.
    rows = [
        ("Totaal excl. BTW", "4179,02"),
        ("Korting 10%", "-417,90"),
        ("BTW 10%", "94,96"),
        ("BIW 9%", "253,04"),
        ("Totaal", "4200,00 €"),
    ]
    result = _extract([*NAMED, *_totals(rows)])
    assert result.invoice.tax != Decimal("348.00")


def test_a_rate_row_alone_is_no_tax() -> None:
    # Guard: without a labelled tax row, nothing names a tax in the block; a rated row alone is not summed.
    rows = [("Totaal excl. BTW", "4179,02"), ("Korting 10%", "-417,90"), ("BIW 9%", "253,04"), ("Totaal", "4014,16")]
    result = _extract([*NAMED, *_totals(rows)])
    assert result.invoice.tax is None


def test_a_rated_row_under_another_label_is_not_taken_for_a_second_tax() -> None:
    # Guard: a service charge at a rate, whose label is no tax label misread, stays out of the tax even where
    # 1000 + 200 + 100 = 1300 would let it in.
    rows = [("Zwischensumme", "1000,00"), ("MwSt. 20%", "200,00"), ("Bedienung 10%", "100,00"), ("Gesamt", "1300,00")]
    result = _extract([*NAMED, *_totals(rows)])
    assert result.invoice.tax == Decimal("200.00")


PARKVIEW = [
    (150, 150, "Parkview Traders"),
    (150, 400, "Bill to:"),
    (150, 460, "Globex Corporation"),
    (150, 520, "12 Parkview Road"),
    (1500, 400, "Invoice No:"),
    (1900, 400, "HS-1042"),
    (1500, 460, "Date:"),
    (1900, 460, "15.03.2024"),
    (150, 900, "Pallet rental"),
    (2150, 900, "100.00"),
    (1500, 1200, "Subtotal"),
    (2150, 1200, "100.00"),
    (1500, 1260, "VAT 19%"),
    (2150, 1260, "19.00"),
    (1500, 1320, "Total"),
    (2150, 1320, "119.00 EUR"),
    (150, 3200, "Questions? help@paymentsportal.com"),
]


def _vendor_doubts(lines: list[tuple[float, float, str]]) -> list[str]:
    vendor = _extract(lines).fields["vendor_name"]
    assert vendor.value == "Parkview Traders" and vendor.evidence is not None
    return vendor.evidence.doubts


def test_a_word_the_customers_address_shares_with_the_vendor_name_does_not_confirm_it() -> None:
    assert any("appears nowhere else" in doubt for doubt in _vendor_doubts(PARKVIEW))


def test_the_vendor_name_printed_again_outside_the_bill_to_block_still_confirms_it() -> None:
    # Guard: the footer prints the name again; that is the sender's own line.
    assert _vendor_doubts([*PARKVIEW, (150, 3260, "Parkview Traders, 4 Mill Lane, Leeds")]) == []


def test_a_country_under_the_senders_town_is_doubted_as_the_vendor() -> None:
    # A hard scan of the footerline family whose legal line OCR could not read: only the address is left.
    header = [(150, 200, "INVOICE"), (150, 290, "121 Main Street"), (150, 345, "Austin, TX 78750"), (150, 400, "USA")]
    record = cast(ExtractionRecord, routed_from_lines([*header, *CUSTOMER, *META, *ITEMS, *TOTALS]))
    assert record.invoice.vendor_name == "USA"
    assert any("line of an address" in reason for reason in record.review_reasons), record.review_reasons
