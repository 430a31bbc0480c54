"""Line items on the layouts that lost them: tables without a header row that run onto a second page,
descriptions wrapped onto a line of their own, headings with a currency or a sidebar beside them, and a
page's running head above a repeated header. Each kind has a guard that the rule does not overreach."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.extract import extract_invoice
from pipeline.extract.labels import column_kind
from pipeline.validate import validate_invoice
from schemas import ExtractionResult, IssueCode, PageText
from tests.conftest import page_from_lines

Lines = list[tuple[float, float, str]]


def _page(lines: Lines, page_no: int = 1) -> PageText:
    page = page_from_lines(lines, "text_layer")
    assert isinstance(page, PageText)
    words = [word.model_copy(update={"page_no": page_no}) for word in page.words]
    return page.model_copy(update={"page_no": page_no, "words": words})


def _extract(*pages: Lines) -> ExtractionResult:
    return extract_invoice([_page(lines, number) for number, lines in enumerate(pages, start=1)])


def _read(result: ExtractionResult) -> list[tuple[str | None, str]]:
    return [(item.description, str(item.amount)) for item in result.invoice.line_items]


HEADER = [
    (700, 150, "Maple Leaf Trading Inc."),
    (700, 210, "85 Granville Street, Toronto"),
    (300, 400, "Invoice No: 53771"),
    (300, 460, "Date: 2024-11-13"),
]
# Receipt-like rows: "2 x Widget ... 494.88" with the unit price on a line of its own, no column headings.
PAGE_ONE_ITEMS = [
    (300, 700, "2 x Laptop docking station"), (1900, 700, "494.88"), (340, 745, "@ 247.44 each"),
    (300, 800, "6 x Ergonomic office chair"), (1865, 800, "2,029.98"), (340, 845, "@ 338.33 each"),
]  # fmt: skip
PAGE_TWO_ITEMS = [
    (300, 400, "1 x Desk organiser, bamboo"), (1936, 400, "17.27"), (340, 445, "@ 17.27 each"),
]  # fmt: skip
TOTALS = [(300, 700, "Sub Total"), (1865, 700, "2,542.13"), (300, 760, "Tax"), (1936, 760, "0.00"),
          (300, 820, "Grand Total"), (1865, 820, "2,542.13")]  # fmt: skip
EXPECTED = [
    ("Laptop docking station", "494.88"),
    ("Ergonomic office chair", "2029.98"),
    ("Desk organiser, bamboo", "17.27"),
]


@pytest.mark.parametrize(
    ("page_one_foot", "page_two_head"),
    [
        ([(1100, 3300, "continued ...")], [(700, 150, "Maple Leaf Trading Inc.")]),
        ([(1100, 3400, "Page 1 of 2")], [(700, 150, "Maple Leaf Trading Inc."), (650, 210, "Invoice No: 53771")]),
        (
            [(300, 950, "Carried forward"), (1865, 950, "2,524.86"), (1100, 3400, "Page 1 of 2")],
            [(700, 150, "Maple Leaf Trading Inc."), (300, 300, "Brought forward"), (1865, 300, "2,524.86")],
        ),
    ],
    ids=["continued-note", "page-number-and-repeated-number", "carried-and-brought-forward"],
)
def test_a_table_without_headings_is_followed_onto_the_next_page(page_one_foot: Lines, page_two_head: Lines) -> None:
    result = _extract([*HEADER, *PAGE_ONE_ITEMS, *page_one_foot], [*page_two_head, *PAGE_TWO_ITEMS, *TOTALS])
    assert _read(result) == EXPECTED
    assert [str(item.unit_price) for item in result.invoice.line_items] == ["247.44", "338.33", "17.27"]
    assert sum(item.amount or 0 for item in result.invoice.line_items) == result.invoice.subtotal


def test_rows_on_a_page_that_does_not_say_the_table_goes_on_are_not_items() -> None:
    # Page 1 ends with amounts in the same column (a summary of earlier statements), but nothing says
    # the table continues: only page 2's rows are its items, and the missing sum is left for validation.
    summary = [(300, 700, "Previous balance"), (1865, 700, "2,524.86"), (300, 800, "Payment received"),
               (1865, 800, "2,524.86")]  # fmt: skip
    result = _extract([*HEADER, *summary], [(700, 150, "Maple Leaf Trading Inc."), *PAGE_TWO_ITEMS, *TOTALS])
    assert _read(result) == [("Desk organiser, bamboo", "17.27")]
    issues = validate_invoice(result.invoice)
    assert IssueCode.LINE_ITEMS_SUM_MISMATCH in {issue.code for issue in issues}


def test_a_description_wrapped_onto_a_reference_number_stays_with_its_item() -> None:
    rows = [
        (300, 700, "1.5 x Consulting services, senior consultant (delivery"), (1880, 700, "261.09"),
        (340, 745, "7583)"), (340, 790, "at 174.06"),
        (300, 850, "1 x Website maintenance, monthly retainer (delivery"), (1865, 850, "1,067.54"),
        (340, 895, "1936)"), (340, 940, "at 1,067.54"),
        (300, 1100, "Sub Total"), (1865, 1100, "1,328.63"), (300, 1160, "Amount Due"), (1865, 1160, "1,328.63"),
    ]  # fmt: skip
    result = _extract([*HEADER, *rows])
    assert _read(result) == [
        ("Consulting services, senior consultant (delivery 7583)", "261.09"),
        ("Website maintenance, monthly retainer (delivery 1936)", "1067.54"),
    ]
    assert [str(item.quantity) for item in result.invoice.line_items] == ["1.5", "1"]


def test_a_line_with_an_amount_in_the_amounts_column_is_an_item_not_a_wrapped_description() -> None:
    rows = [
        (300, 700, "2 x Cable ties (pack"), (1900, 700, "10.00"), (340, 745, "of 100)"),
        (300, 790, "Cable clips"), (1936, 790, "5.00"),
        (300, 1000, "Sub Total"), (1900, 1000, "15.00"), (300, 1060, "Amount Due"), (1900, 1060, "15.00"),
    ]  # fmt: skip
    result = _extract([*HEADER, *rows])
    assert _read(result) == [("Cable ties (pack of 100)", "10.00"), ("Cable clips", "5.00")]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("N°", "sku"), ("Montant HT (EUR)", "amount"), ("Amount (EUR) excl. VAT", "amount"), ("Notes", None)],
)
def test_column_headings_with_a_basis_before_the_currency(text: str, kind: str | None) -> None:
    assert column_kind(text) == kind


def test_a_header_row_sharing_its_line_with_a_sidebar_value_heads_the_table() -> None:
    sidebar_and_table = [
        (100, 200, "Facture N°"), (100, 260, "BS-256827"), (600, 200, "Bluebird Systems S.A."),
        (100, 500, "À payer avant le"),
        (100, 560, "27/02/2025"), (600, 560, "N°"), (700, 560, "Description"), (1400, 560, "Quantité"),
        (1650, 560, "Prix unitaire"), (1950, 560, "Montant HT (EUR)"),
        (100, 640, "Bon de commande"), (600, 640, "1"), (700, 640, "Consulting services, senior"),
        (1500, 640, "4,5"), (1750, 640, "210,00"), (2050, 640, "945,00"),
        (100, 700, "PO-19945"), (700, 700, "consultant"),
        (600, 780, "2"), (700, 780, "Project management"), (1530, 780, "40"), (1750, 780, "126,84"),
        (2000, 780, "5 073,60"),
        (1400, 1000, "Sous-total HT"), (2000, 1000, "6 018,60"), (1400, 1060, "TVA 20%"), (2000, 1060, "1 203,72"),
        (1400, 1120, "Net à payer"), (2000, 1120, "7 222,32 EUR"),
    ]  # fmt: skip
    result = _extract(sidebar_and_table)
    assert _read(result) == [("Consulting services, senior consultant", "945.00"), ("Project management", "5073.60")]
    # a price printed with cents stays the price, however round
    assert [(item.quantity, item.unit_price) for item in result.invoice.line_items] == [
        (Decimal("4.5"), Decimal("210.00")),
        (Decimal("40"), Decimal("126.84")),
    ]


def test_a_quantity_read_under_a_misread_price_heading_is_still_put_back() -> None:
    # guard: a bare whole number in the price column and cents in the quantity column are swapped back
    rows = [
        (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount"),
        (150, 980, "Pallet rental"), (1500, 980, "12.25"), (1800, 980, "8"), (2150, 980, "98.00"),
        (1500, 1200, "Subtotal"), (2150, 1200, "98.00"), (1500, 1320, "Total"), (2150, 1320, "98.00"),
    ]  # fmt: skip
    result = _extract([*HEADER, *rows])
    item = result.invoice.line_items[0]
    assert (item.quantity, item.unit_price, item.amount) == (Decimal("8"), Decimal("12.25"), Decimal("98.00"))


def test_a_running_head_naming_the_invoice_number_above_a_repeated_header_is_no_item() -> None:
    columns = [(150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount")]
    first = [
        *HEADER, *columns,
        (150, 980, "Pallet rental"), (1500, 980, "2"), (1800, 980, "50.00"), (2150, 980, "100.00"),
        (1100, 3400, "Page 1 of 2"),
    ]  # fmt: skip
    second = [
        (150, 150, "Ironbridge Communications AG"), (1900, 150, "Invoice No.: 17585"), *columns,
        (150, 980, "Invoice No. 4411 correction"), (1500, 980, "1"), (1800, 980, "20.00"), (2150, 980, "20.00"),
        (1500, 1200, "Subtotal"), (2150, 1200, "120.00"), (1500, 1320, "Total"), (2150, 1320, "120.00"),
    ]  # fmt: skip
    result = _extract(first, second)
    # the item naming another invoice's number prints its own amount: it stays an item
    assert _read(result) == [("Pallet rental", "100.00"), ("Invoice No. 4411 correction", "20.00")]


def test_a_bundles_part_lines_with_a_count_and_no_amount_are_neither_items_nor_descriptions() -> None:
    rows = [
        (300, 700, "Laptop bundle with mouse"), (1500, 700, "1"), (1900, 700, "2,321.00"),
        (360, 745, "Laptop 13 inch"), (1500, 745, "1"),
        (360, 790, "Wireless mouse"), (1500, 790, "1"),
        (300, 850, "Laptop sleeve"), (1500, 850, "2"), (1936, 850, "199.98"),
        (300, 1100, "Sub Total"), (1900, 1100, "2,520.98"), (300, 1160, "Amount Due"), (1900, 1160, "2,520.98"),
    ]  # fmt: skip
    result = _extract([*HEADER, *rows])
    assert _read(result) == [("Laptop bundle with mouse", "2321.00"), ("Laptop sleeve", "199.98")]


def test_a_footer_spread_under_the_last_item_is_not_its_description() -> None:
    columns = [(150, 900, "Pos."), (300, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"),
               (2150, 900, "Amount")]  # fmt: skip
    rows = [
        (160, 980, "1"), (300, 980, "Hosted Exchange mailbox"), (1500, 980, "1"), (1800, 980, "5.39"),
        (2150, 980, "5.39"), (300, 1025, "Service: mailbox office"),
        (160, 1070, "QualityHosting AG"), (800, 1070, "Board: Christian Heit"), (1500, 1070, "Bank details"),
        (1500, 1400, "Total"), (2150, 1400, "5.39"),
    ]  # fmt: skip
    result = _extract([*HEADER, *columns, *rows])
    assert _read(result) == [("Hosted Exchange mailbox Service: mailbox office", "5.39")]


def test_a_unit_price_line_with_a_currency_gives_the_price_and_is_no_description() -> None:
    rows = [
        (300, 700, "12 x Pallet storage, per pallet per week"), (1865, 700, "US$109.44"),
        (340, 745, "@ US$9.12 each"),
        (300, 800, "5 x Express courier delivery"), (1865, 800, "US$262.40"), (340, 845, "@ USD 52.48 each"),
        (300, 1000, "Net:"), (1865, 1000, "US$371.84"), (300, 1060, "Grand Total:"), (1865, 1060, "US$371.84"),
    ]  # fmt: skip
    result = _extract([*HEADER, *rows])
    assert _read(result) == [("Pallet storage, per pallet per week", "109.44"), ("Express courier delivery", "262.40")]
    assert [str(item.unit_price) for item in result.invoice.line_items] == ["9.12", "52.48"]


COLUMNS = [(400, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount")]


def test_a_page_number_in_a_sidebar_beside_an_item_does_not_hide_the_item() -> None:
    first = [*HEADER, *COLUMNS,
             (400, 980, "Pallet rental"), (1500, 980, "2"), (1800, 980, "50.00"), (2150, 980, "100.00"),
             (1800, 1100, "Continued overleaf")]  # fmt: skip
    second = [
        (50, 150, "Page 2 of 2"), (400, 150, "Forklift hire"), (1500, 150, "1"), (1800, 150, "20.00"),
        (2150, 150, "20.00"),
        (1500, 400, "Subtotal"), (2150, 400, "120.00"), (1500, 460, "Total"), (2150, 460, "120.00"),
    ]  # fmt: skip
    result = _extract(first, second)
    assert _read(result) == [("Pallet rental", "100.00"), ("Forklift hire", "20.00")]


@pytest.mark.parametrize(("repeated", "kept"), [("95.00", 2), ("75.00", 4)], ids=["brought-forward", "an-item"])
def test_a_running_sum_repeated_atop_the_next_page_is_dropped_with_the_one_it_repeats(repeated: str, kept: int) -> None:
    # "Transport" is the Dutch carried/brought-forward label, and also a word an item may use: only
    # the arithmetic says which, and an item that merely shares the word stays.
    first = [*HEADER, *COLUMNS,
             (400, 980, "Pallet rental"), (1500, 980, "2"), (1800, 980, "40.00"), (2150, 980, "80.00"),
             (400, 1040, "Forklift hire"), (1500, 1040, "1"), (1800, 1040, "15.00"), (2150, 1040, "15.00"),
             (400, 1100, "Transport"), (2150, 1100, "95.00")]  # fmt: skip
    second = [*COLUMNS, (400, 980, "Transport"), (2150, 980, repeated),
              (400, 1040, "Crane hire"), (1500, 1040, "1"), (1800, 1040, "30.00"), (2150, 1040, "30.00"),
              (1500, 1300, "Subtotal"), (2150, 1300, "125.00"),
              (1500, 1360, "Total"), (2150, 1360, "125.00")]  # fmt: skip
    result = _extract(first, second)
    assert len(result.invoice.line_items) == kept + 1
    assert result.invoice.line_items[-1].description == "Crane hire"


@pytest.mark.parametrize(
    "note", ["Continúa en la página 2", "Segue a pagina 2", "Vervolg op pagina 2", "Página 1 de 2"]
)
def test_a_continuation_note_in_the_amount_column_is_no_item(note: str) -> None:
    first = [*HEADER, *COLUMNS,
             (400, 980, "Pallet rental"), (1500, 980, "2"), (1800, 980, "50.00"), (2150, 980, "100.00"),
             (1900, 1100, note)]  # fmt: skip
    second = [(400, 150, "Forklift hire"), (1500, 150, "1"), (1800, 150, "20.00"), (2150, 150, "20.00"),
              (1500, 400, "Subtotal"), (2150, 400, "120.00"), (1500, 460, "Total"), (2150, 460, "120.00")]  # fmt: skip
    result = _extract(first, second)
    assert _read(result) == [("Pallet rental", "100.00"), ("Forklift hire", "20.00")]


def test_a_speck_beside_a_unit_price_line_does_not_end_the_table() -> None:
    rows = [
        (300, 700, "2,5 x Organic coffee beans"), (1880, 700, "65,93"), (340, 745, "@ 26,37 each"), (1990, 745, "3"),
        (300, 800, "20 x Catering, lunch buffet"), (1865, 800, "676,20"), (340, 845, "@ 33,81 each"),
        (300, 1000, "Sub Total"), (1865, 1000, "742,13"), (300, 1060, "Amount Due"), (1865, 1060, "742,13"),
    ]  # fmt: skip
    result = _extract([*HEADER, *rows])
    assert _read(result) == [("Organic coffee beans", "65.93"), ("Catering, lunch buffet", "676.20")]
    assert [str(item.unit_price) for item in result.invoice.line_items] == ["26.37", "33.81"]
