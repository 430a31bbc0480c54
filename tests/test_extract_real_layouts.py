"""Real layouts: the issuer named in its sender line, legal lines and footer; receipts; currency by country."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipeline.extract import extract_invoice
from pipeline.extract.vendor import legal_names
from pipeline.parsing import find_currencies, find_dates
from schemas import ExtractionResult, PageText
from tests.conftest import page_from_lines


def _extract(lines: list[tuple[float, float, str]], source: str = "ocr") -> ExtractionResult:
    page = page_from_lines(lines, source)
    assert isinstance(page, PageText)
    return extract_invoice([page])


NUMBER_AND_DATE = [(1500, 400, "Invoice No:"), (1900, 400, "HS-1042"), (1500, 460, "Date:"), (1900, 460, "15.03.2024")]
ITEMS = [
    (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount"),
    (150, 980, "Pallet rental"), (1500, 980, "2"), (1800, 980, "50.00"), (2150, 980, "100.00"),
    (1500, 1200, "Subtotal"), (2150, 1200, "100.00"),
    (1500, 1260, "VAT 19%"), (2150, 1260, "19.00"),
    (1500, 1320, "Total"), (2150, 1320, "119.00 EUR"),
]  # fmt: skip
CUSTOMER = [(150, 400, "Bill to:"), (150, 460, "Globex Corporation"), (150, 520, "12 Elm Street")]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("All AWS Services are sold by Amazon Web Services, Inc.", ["Amazon Web Services, Inc."]),
        ("Free SAS au capital de 3.441.812 Euros", ["Free SAS"]),
        ("Im Falle der QualityHosting AG berechnen wir", ["QualityHosting AG"]),
        ("MR. D.I.Y. (M) SDN BHD", ["MR. D.I.Y. (M) SDN BHD"]),
        ("JAMBU BATU (GUAVA SEEDLESS) KG", []),  # kilograms on a receipt, not a legal form
        ("Thank you for your order", []),
    ],
)
def test_company_names_are_read_up_to_their_legal_form(text: str, names: list[str]) -> None:
    assert legal_names(text) == names


def test_the_footer_names_the_issuer_when_the_top_carries_a_slogan() -> None:
    result = _extract(
        [
            (150, 150, "Simply the best for your home."),
            *CUSTOMER,
            *NUMBER_AND_DATE,
            *ITEMS,
            (150, 3100, "Northwind Traders GmbH"),
            (150, 3160, "Hauptstrasse 1, 10115 Berlin"),
            (150, 3220, "IBAN DE12 5001 0517 0648 4898 90  USt-IdNr. DE123456789"),
        ]
    )
    assert result.invoice.vendor_name == "Northwind Traders GmbH"


def test_the_sender_line_above_the_address_window_names_the_issuer_not_the_customer() -> None:
    result = _extract(
        [
            (150, 340, "Acme Widgets GmbH - Hauptstr. 1 - 10115 Berlin"),
            (150, 400, "Globex Analytics GmbH"),
            (150, 460, "Elm Street 12"),
            *NUMBER_AND_DATE,
            *ITEMS,
        ]
    )
    assert result.invoice.vendor_name == "Acme Widgets GmbH"


def test_the_address_under_a_sender_line_is_the_customers_when_no_label_names_it() -> None:
    # A letter's address window (DIN 5008): the sender in small type, the recipient's address under it, no
    # "Bill to". Found on layouts the sample generator does not draw: the customer was left empty.
    lines = [
        (150, 340, "Acme Widgets GmbH · Hauptstr. 1 · 10115 Berlin"),
        (150, 400, "Globex Analytics GmbH"),
        (150, 460, "Elm Street 12"),
        (150, 520, "20095 Hamburg"),
        *NUMBER_AND_DATE,
        *ITEMS,
    ]
    page = page_from_lines(lines)
    assert isinstance(page, PageText)
    small = [word.model_copy(update={"y1": word.y0 + 22}) if word.y0 == 340 else word for word in page.words]
    result = extract_invoice([page.model_copy(update={"words": small})])
    assert result.invoice.customer_name == "Globex Analytics GmbH"
    assert result.invoice.vendor_name == "Acme Widgets GmbH"
    # In the body's own type the line is no sender line over a window: nothing says whose the block is.
    assert extract_invoice([page]).invoice.customer_name is None
    # A letterhead: the issuer's identity line over its own wordmark is no address window.
    wordmark = page_from_lines(
        [(150, 400, "ACME WIDGETS") if line[1] == 400 and line[0] == 150 else line for line in lines]
    )
    assert isinstance(wordmark, PageText)
    small = [word.model_copy(update={"y1": word.y0 + 22}) if word.y0 == 340 else word for word in wordmark.words]
    assert extract_invoice([wordmark.model_copy(update={"words": small})]).invoice.customer_name is None


def test_the_second_line_of_a_name_printed_over_two_is_no_name_of_its_own() -> None:
    # Found on a fresh seed's hard scan: "Copperfield Office / Supplies S.A." gave the vendor "Supplies S.A.",
    # its second line proposed again on its own once a dotted legal form counted as a company word.
    lines = [(150, 150, "Copperfield Office"), (150, 215, "Supplies S.A."), (150, 300, "Calle de Alcala 154"),
             (150, 350, "08007 Barcelona"), *CUSTOMER, *NUMBER_AND_DATE, *ITEMS]  # fmt: skip
    page = page_from_lines(lines)
    assert isinstance(page, PageText)
    # display type, its first line read unsure (as on the scan: OCR doubts large letters)
    heading = [w.model_copy(update={"y1": w.y0 + 52, "x1": w.x0 + 1.6 * (w.x1 - w.x0),
                                    "confidence": 0.2 if w.y0 == 150 else 0.9}) if w.y0 in (150, 215) else w
               for w in page.words]  # fmt: skip
    assert extract_invoice([page.model_copy(update={"words": heading})]).invoice.vendor_name == (
        "Copperfield Office Supplies S.A."
    )


def test_a_company_in_the_customer_block_is_never_the_vendor() -> None:
    result = _extract(
        [
            (150, 150, "INVOICE"),
            (150, 400, "Bill to:"),
            (150, 460, "Globex Analytics GmbH"),
            *NUMBER_AND_DATE,
            *ITEMS,
            (150, 3100, "Payable to: Initech Consulting Ltd"),
        ]
    )
    assert result.invoice.vendor_name == "Initech Consulting Ltd"


RECEIPT = [
    (150, 100, "STAR GROCER SDN BHD (1171881-W)"),
    (150, 160, "No 4, Desa Pandan, 55100 Kuala Lumpur"),
    (150, 300, "Receipt No: CS-0014464"),
    (150, 360, "25/03/201813:43"),
    (150, 500, "CARROT 500G"), (1800, 500, "12.50"),
    (150, 560, "Total Qty: 2"),
    (150, 620, "Total"), (1800, 620, "12.50"),
    (150, 680, "Cash"), (1800, 680, "20.00"),
    (150, 740, "Change"), (1800, 740, "7.50"),
]  # fmt: skip


def test_a_receipt_total_is_the_amount_payable_not_a_count_cash_or_change() -> None:
    result = _extract(RECEIPT)
    assert result.invoice.total == Decimal("12.50")
    assert result.invoice.vendor_name == "STAR GROCER SDN BHD"  # the registration number is not the name
    assert result.invoice.invoice_date == date(2018, 3, 25)  # the time is glued to the date


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("15/12/201718:01", date(2017, 12, 15)),
        ("15/12/2017,18:01", date(2017, 12, 15)),
        ("10-01-16 14:01", date(2016, 1, 10)),
    ],
)
def test_dates_glued_to_times_are_read(text: str, day: date) -> None:
    assert [found for _, _, found in find_dates(text, day_first=True)] == [day]


def test_rupees_are_read_from_rs() -> None:
    assert find_currencies("Room charges Rs 1939") == ["INR"]
    assert find_currencies("Mrs Smith") == []


def test_without_a_printed_currency_the_issuers_country_decides_and_the_customers_does_not() -> None:
    lines = [
        (150, 150, "Harbor Supplies Pvt. Ltd."),
        (150, 210, "Bangalore 560067, India"),
        (150, 400, "Bill to:"),
        (150, 460, "Globex Analytics GmbH"),
        (150, 520, "Halle, Germany"),
        *NUMBER_AND_DATE[:2],
        *[line for line in ITEMS if "EUR" not in line[2]],
        (1500, 1320, "Total"),
        (2150, 1320, "119.00"),
    ]
    result = _extract(lines)
    assert result.invoice.currency == "INR"
    assert result.fields["currency"].confidence < 0.8  # inferred, not printed: never enough alone


def test_a_totals_row_of_net_tax_and_gross_gives_the_gross_and_a_date_in_the_label_is_no_amount() -> None:
    result = _extract(
        [
            (150, 150, "Harbor Supplies Ltd"),
            *NUMBER_AND_DATE,
            (150, 600, "Total amount due on August 3, 2014"),
            (150, 900, "Description"), (1500, 900, "Net"), (1800, 900, "VAT"), (2150, 900, "Gross"),
            (150, 980, "Pallet rental"), (1500, 980, "100.00"), (1800, 980, "19.00"), (2150, 980, "119.00"),
            (150, 1100, "Total"), (1500, 1100, "100.00"), (1800, 1100, "19.00"), (2150, 1100, "119.00 EUR"),
        ]
    )  # fmt: skip
    assert result.invoice.total == Decimal("119.00")


def test_a_total_column_heading_is_not_the_invoice_total_and_a_rate_may_precede_the_tax() -> None:
    result = _extract(
        [
            (150, 150, "Harbor Supplies Ltd"),
            *NUMBER_AND_DATE,
            (150, 900, "Qty"), (400, 900, "Product"), (1800, 900, "Unit Price"), (2150, 900, "Total"),
            (150, 980, "1"), (400, 980, "Pallet rental"), (1800, 980, "USD 40.25"), (2150, 980, "USD 40.25"),
            (1500, 1200, "Total Ex. Tax"), (2150, 1200, "USD 40.25"),
            (1500, 1260, "19.01% VAT"), (2150, 1260, "USD 7.65"),
            (1500, 1320, "Total Amount Paid"), (2150, 1320, "USD 47.90"),
        ]
    )  # fmt: skip
    assert (result.invoice.subtotal, result.invoice.tax, result.invoice.total) == (
        Decimal("40.25"),
        Decimal("7.65"),
        Decimal("47.90"),
    )


def test_a_vendor_the_pages_domain_does_not_name_is_trusted_less() -> None:
    def vendor_confidence(footer: str) -> float:
        result = _extract([(150, 150, "Sold by: Initech Retail Ltd"), *NUMBER_AND_DATE, *ITEMS, (150, 3100, footer)])
        assert result.invoice.vendor_name == "Initech Retail Ltd"
        return result.fields["vendor_name"].confidence

    assert vendor_confidence("Questions? www.shopmart.com") < vendor_confidence("Questions? www.initech.com")
    # a PDF tool's credit names no one
    assert vendor_confidence("Powered by www.pdfmaker.org") == vendor_confidence("Thank you")


def test_a_table_header_may_hold_headings_of_no_known_kind() -> None:
    result = _extract(
        [
            (150, 150, "Harbor Supplies Ltd"),
            *NUMBER_AND_DATE,
            (150, 900, "Subscription"), (700, 900, "Description"), (1300, 900, "Interval"),
            (1700, 900, "Quantity"), (2150, 900, "Amount"),
            (150, 980, "Workspace"), (700, 980, "Business Standard"), (1300, 980, "Oct 1 - Oct 31"),
            (1700, 980, "8"), (2150, 980, "83.20"),
            (1500, 1200, "Subtotal"), (2150, 1200, "83.20"),
            (1500, 1320, "Total"), (2150, 1320, "83.20 EUR"),
        ]
    )  # fmt: skip
    assert [(item.quantity, item.amount) for item in result.invoice.line_items] == [(Decimal(8), Decimal("83.20"))]


def test_a_description_over_several_lines_stays_with_its_item_and_a_two_line_header_is_no_totals_row() -> None:
    result = _extract(
        [
            (150, 150, "Harbor Supplies Ltd"),
            *NUMBER_AND_DATE,
            (150, 900, "Pos."), (400, 900, "Menge Beschreibung"), (1800, 900, "VK-Preis"), (2150, 900, "Zeilenbetrag"),
            (1800, 950, "Ohne MwSt."),
            (150, 1020, "1"), (400, 1020, "1 Small Business Exchange"), (1800, 1020, "3,89"), (2150, 1020, "3,89"),
            (400, 1070, "Grundgebühr pro Einheit"),
            (400, 1120, "01.05.14-31.05.14"),
            (1500, 1300, "Total EUR"), (2150, 1300, "3,89"),
            (150, 3100, "Harbor Supplies Ltd, Vorstand: A. Person"),
            (150, 3150, "IBAN DE30507500940000048567"),
        ]
    )  # fmt: skip
    [item] = result.invoice.line_items
    assert item.amount == Decimal("3.89")
    assert item.description == "Small Business Exchange Grundgebühr pro Einheit 01.05.14-31.05.14"
    assert "tax" not in result.fields  # "Ohne MwSt." heads a column


@pytest.mark.parametrize(("text", "day"), [("29 maart 2014", date(2014, 3, 29)), ("3 luglio 2023", date(2023, 7, 3))])
def test_dutch_and_italian_month_names(text: str, day: date) -> None:
    assert [found for _, _, found in find_dates(text, day_first=True)] == [day]


def test_a_malaysian_company_form_is_no_bahraini_dinar_and_says_ringgit() -> None:
    assert find_currencies("GOGIANT ENGINEERING (M) SDN BHD") == []
    result = _extract([line for line in RECEIPT if "Kuala" not in line[2]])
    assert result.invoice.currency == "MYR"
