"""Real totals and issuers (session 5): net | tax | gross rows, group sums, an unprinted subtotal, column
headings that look like labels, trade names beside legal names, and attention lines before a party name.

Each rule runs the real extractor and router on a page of words, and each has a guard that keeps it from
firing where it should not.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.extract import extract_invoice
from pipeline.extract.evidence import party_doubts
from schemas import ExtractionRecord, IssueCode, PageText, RecordStatus, Support, TextSource, Word
from tests.conftest import routed_from_lines

HEADER = [
    (150, 150, "Harbour Lights Telecom SAS"),
    (150, 210, "12 Quai des Brumes, 13002 Marseille"),
    (1500, 400, "Invoice No:"), (1900, 400, "HL-20931"),
    (1500, 460, "Invoice Date:"), (1900, 460, "02.07.2024"),
    (150, 400, "Bill to:"), (150, 460, "Globex Corporation"), (150, 520, "12 Elm Street"),
]  # fmt: skip


def _route(lines: list[tuple[float, float, str]], source: str = "text_layer") -> ExtractionRecord:
    record = routed_from_lines(lines, source)
    assert isinstance(record, ExtractionRecord)
    return record


def _value(record: ExtractionRecord, name: str) -> str | None:
    field = record.fields.get(name)
    return None if field is None else field.value


NET_TAX_GROSS_TABLE = [
    (150, 900, "Service"), (1300, 900, "Net"), (1700, 900, "VAT"), (2100, 900, "Gross"),
    (150, 980, "Fibre subscription"), (1300, 980, "24.99"), (1700, 980, "5.00"), (2100, 980, "29.99"),
    (150, 1040, "Calls"), (1300, 1040, "0.00"), (1700, 1040, "0.00"), (2100, 1040, "0.00"),
]  # fmt: skip


def test_a_totals_row_of_net_tax_and_gross_gives_subtotal_and_tax() -> None:
    record = _route([*HEADER, *NET_TAX_GROSS_TABLE, (150, 1200, "Total invoice"), (1300, 1200, "24.99"),
                     (1700, 1200, "5.00"), (2100, 1200, "29.99")])  # fmt: skip
    assert (_value(record, "subtotal"), _value(record, "tax"), _value(record, "total")) == ("24.99", "5.00", "29.99")


def test_three_amounts_that_do_not_add_up_are_no_breakdown() -> None:
    record = _route([*HEADER, *NET_TAX_GROSS_TABLE, (150, 1200, "Total invoice"), (1300, 1200, "24.99"),
                     (1700, 1200, "4.00"), (2100, 1200, "29.99")])  # fmt: skip
    assert _value(record, "total") == "29.99"
    assert _value(record, "tax") != "4.00"


def test_line_rows_of_net_tax_and_gross_carry_their_net_and_pass_the_line_check() -> None:
    record = _route([*HEADER, *NET_TAX_GROSS_TABLE, (150, 1200, "Total invoice"), (1300, 1200, "24.99"),
                     (1700, 1200, "5.00"), (2100, 1200, "29.99")])  # fmt: skip
    items = record.invoice.line_items
    assert [item.amount for item in items] == [Decimal("24.99"), Decimal("0.00")]
    assert all(item.quantity is None and item.unit_price is None for item in items)
    codes = {issue.code for issue in record.issues}
    assert IssueCode.LINE_ITEM_ARITHMETIC not in codes and IssueCode.LINE_ITEMS_UNEXPLAINED not in codes


def test_a_quantity_times_price_row_is_not_read_as_net_tax_gross() -> None:
    table = [
        (150, 900, "Description"), (1300, 900, "Qty"), (1700, 900, "Price"), (2100, 900, "Amount"),
        (150, 980, "Cable ties"), (1300, 980, "4"), (1700, 980, "2.50"), (2100, 980, "10.00"),
        (1500, 1200, "Subtotal"), (2100, 1200, "10.00"), (1500, 1260, "VAT 20%"), (2100, 1260, "2.00"),
        (1500, 1320, "Total"), (2100, 1320, "12.00"),
    ]  # fmt: skip
    item = _route([*HEADER, *table]).invoice.line_items[0]
    assert (item.quantity, item.unit_price, item.amount) == (Decimal("4"), Decimal("2.50"), Decimal("10.00"))


SUMMARY_WITH_GROUP_SUM = [
    (150, 900, "Cloud Service Charges"), (2100, 900, "$4.11"),
    (150, 960, "Charges"), (2100, 960, "$4.11"),
    (150, 1020, "Credits"), (2100, 1020, "$0.00"),
    (150, 1080, "Tax"), (2100, 1080, "$0.00"),
    (150, 1140, "Total for this invoice"), (2100, 1140, "$4.11"),
]  # fmt: skip


def test_a_row_that_sums_the_rows_above_it_is_no_item_and_the_subtotal_is_the_items_sum() -> None:
    record = _route([*HEADER, *SUMMARY_WITH_GROUP_SUM])
    assert sum(item.amount or 0 for item in record.invoice.line_items) == Decimal("4.11")
    subtotal = record.fields["subtotal"]
    assert subtotal.value == "4.11"
    assert subtotal.evidence is not None and Support.ITEMS_SUM in subtotal.evidence.support
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons


def test_equal_lines_that_already_add_up_are_all_kept() -> None:
    lines = [
        (150, 900, "Description"), (2100, 900, "Amount"),
        (150, 980, "Hosting March"), (2100, 980, "2.00"),
        (150, 1040, "Hosting April"), (2100, 1040, "2.00"),
        (1500, 1200, "Subtotal"), (2100, 1200, "4.00"), (1500, 1260, "VAT 0%"), (2100, 1260, "0.00"),
        (1500, 1320, "Total"), (2100, 1320, "4.00"),
    ]  # fmt: skip
    assert [item.amount for item in _route([*HEADER, *lines]).invoice.line_items] == [Decimal("2.00")] * 2


def test_no_subtotal_is_made_up_when_the_items_do_not_confirm_it() -> None:
    lines = [
        (150, 900, "Description"), (2100, 900, "Amount"),
        (150, 980, "Hosting March"), (2100, 980, "3.00"),
        (1500, 1260, "VAT"), (2100, 1260, "1.00"),
        (1500, 1320, "Total"), (2100, 1320, "5.00"),
    ]  # fmt: skip
    record = _route([*HEADER, *lines])
    assert "subtotal" not in record.fields
    assert record.status is RecordStatus.NEEDS_REVIEW


def test_a_tax_word_in_a_column_heading_is_no_unread_tax_label() -> None:
    table = [
        (150, 900, "Pos."), (300, 900, "Menge Beschreibung"), (1700, 900, "VK-Preis"), (2100, 900, "Zeilenbetrag"),
        (1700, 950, "ohne MwSt."),
        (150, 1010, "1"), (300, 1010, "1 Exchange mailbox"), (1700, 1010, "3,89"), (2100, 1010, "3,89"),
        (150, 1070, "2"), (300, 1070, "1 Exchange archive"), (1700, 1070, "5,39"), (2100, 1070, "5,39"),
        (1500, 1300, "Total EUR"), (2100, 1300, "9,28"),
    ]  # fmt: skip
    record = _route([*HEADER, *table])
    assert not [i for i in record.issues if i.code is IssueCode.UNREADABLE_VALUE and i.field == "tax"]
    assert _value(record, "subtotal") == "9.28"  # no tax printed: the lines are the net


def test_a_tax_label_beside_an_unreadable_value_still_asks_a_person() -> None:
    lines = [(1500, 1200, "Netto"), (2100, 1200, "100.00"), (1500, 1260, "MwSt."), (2100, 1260, "1g,O7"),
             (1500, 1320, "Total"), (2100, 1320, "119.00")]  # fmt: skip
    record = _route([*HEADER, *lines], source="ocr")
    assert [i for i in record.issues if i.code is IssueCode.UNREADABLE_VALUE and i.field == "tax"]


SIMPLE_TOTALS = [
    (150, 900, "Description"), (1500, 900, "Qty"), (1800, 900, "Price"), (2150, 900, "Amount"),
    (150, 980, "Annual plan"), (1500, 980, "1"), (1800, 980, "19.00"), (2150, 980, "19.00"),
    (1500, 1200, "Subtotal"), (2150, 1200, "19.00"), (1500, 1260, "VAT 0%"), (2150, 1260, "0.00"),
    (1500, 1320, "Total"), (2150, 1320, "19.00 USD"),
]  # fmt: skip


def _vendor_doubts(lines: list[tuple[float, float, str]]) -> list[str]:
    vendor = _route(lines).fields["vendor_name"]
    assert vendor.evidence is not None
    return vendor.evidence.doubts


def _issuer(name: str, *extra: tuple[float, float, str]) -> list[tuple[float, float, str]]:
    return [(150, 150, name), (150, 210, "935 Harbour Road, Richmond"), *extra, *HEADER[2:], *SIMPLE_TOTALS]


def test_a_legal_name_sharing_its_domains_stem_is_corroborated() -> None:
    vendor = _route(_issuer("Naturalsoft Limited", (150, 270, "sales@naturalreaders.com"))).fields["vendor_name"]
    assert vendor.evidence is not None and Support.DOMAIN in vendor.evidence.support
    assert not vendor.evidence.doubts


def test_a_short_shared_stem_is_no_match() -> None:
    doubts = _vendor_doubts(_issuer("Nordwind Limited", (150, 270, "sales@nordstrom.com")))
    assert any("appears nowhere else" in doubt for doubt in doubts)


def test_a_trade_name_printed_beside_the_legal_seller_is_doubted() -> None:
    doubts = _vendor_doubts(
        _issuer(
            "WS Retail Services Ltd",
            (150, 3000, "Ordered through: Customer Care www.shopmart.com/support"),
            (150, 3060, "At Shopmart we try to deliver perfectly each and every time."),
        )
    )
    assert any("also names 'shopmart'" in doubt for doubt in doubts)


def test_the_vendors_own_footer_domain_and_a_software_credit_raise_no_doubt() -> None:
    doubts = _vendor_doubts(
        _issuer(
            "Papoo Software Limited",
            (150, 3000, "CCM19 Cookie Consent Management"),
            (150, 3060, "Papoo Software Limited, Auguststr. 4, 53229 Bonn"),
            (150, 3120, "Web: www.ccm19.de"),
            (150, 3300, "Powered by TCPDF (www.tcpdf.org)"),
        )
    )
    assert doubts == []


def test_an_attention_line_names_the_customer_after_its_marker() -> None:
    lines = [line for line in HEADER if line[2] not in ("Bill to:", "Globex Corporation")]
    record = _route([*lines, (150, 400, "Bill to Address:"), (150, 460, "ATTN: Globex Corporation"), *SIMPLE_TOTALS])
    assert _value(record, "customer_name") == "Globex Corporation"


def _receipt_page(lines: list[tuple[float, str, float]]) -> PageText:
    """A till receipt's words, each line with its own OCR confidence (display type often reads poorly)."""
    words = []
    for line_no, (y, text, confidence) in enumerate(lines):
        cursor = 300.0
        for token in text.split():
            width = 18.0 * len(token)
            words.append(Word(text=token, page_no=1, x0=cursor, y0=y, x1=cursor + width, y1=y + 32,
                              confidence=confidence, line_key=(line_no, 0, 0)))  # fmt: skip
            cursor += width + 14
    return PageText(page_no=1, width=1200, height=3000, source=TextSource.OCR, words=words)


RECEIPT_TAIL = [
    (160, "Lot 6, Jalan Batai,", 0.95),
    (210, "Bandar Baru Permas Jaya", 0.95),
    (260, "50490 Kuala Lumpur", 0.95),
    (400, "Tax Invoice: CS00082258 09/03/18", 0.9),
    (900, "Total 133.70", 0.9),
    (960, "Cash 140.00", 0.9),
    (1020, "Change 6.30", 0.9),
]


@pytest.mark.parametrize("registration", ["(913144-A)", "JM0325955-V", "Company No.: 441970-H"])
def test_the_line_over_a_registration_number_names_the_issuer(registration: str) -> None:
    page = _receipt_page([(50, "Perniagaan Zheng Hui", 0.45), (100, registration, 0.9), *RECEIPT_TAIL])
    assert extract_invoice([page]).invoice.vendor_name == "Perniagaan Zheng Hui"


def test_a_line_over_an_address_gets_no_registration_weight() -> None:
    page = _receipt_page([(50, "Perniagaan Zheng Hui", 0.45), (100, "Jalan Permas 9/5", 0.9), *RECEIPT_TAIL])
    assert extract_invoice([page]).invoice.vendor_name != "Perniagaan Zheng Hui"


def test_cents_split_off_by_an_ocr_gap_are_read_with_their_amount() -> None:
    lines = [(1500, 1200, "GROSS AMOUNT"), (2000, 1200, "4,759 .20")]
    assert _value(_route([*HEADER, *lines], source="ocr"), "total") == "4759.20"


def test_a_number_and_a_separate_two_digit_count_stay_apart() -> None:
    lines = [(1500, 1200, "Total"), (2000, 1200, "12.00"), (1500, 1260, "Items"), (2000, 1260, "3 50")]
    assert _value(_route([*HEADER, *lines], source="ocr"), "total") == "12.00"


DUTCH_HEAD = [
    (150, 150, "Factuuradres"), (1300, 150, "Afleveradres"),
    (150, 210, "Strategic Corp"), (1300, 210, "Fakestreet 46"),
    (150, 270, "Fakestreet 46"), (1300, 270, "3500 MJ Utrecht"),
    (150, 500, "Kopie factuur"),
    (150, 600, "Klant"), (700, 600, "Order"), (1100, 600, "Factuur datum"), (1600, 600, "Factuur"),
    (2000, 600, "Vervaldatum"),
    (150, 660, "SC0303006"), (700, 660, "SC000444"), (1100, 660, "8-9-2022"), (1600, 660, "VF1005193039"),
    (2000, 660, "22-9-2022"),
]  # fmt: skip
DUTCH_ITEMS = [
    (150, 900, "Artikel"), (500, 900, "Omschrijving"), (1600, 900, "Prijs"), (2100, 900, "Bedrag"),
    (150, 960, "E103184"), (500, 960, "Onderhoudsset"), (1600, 960, "49,99"), (2100, 960, "49,99"),
    (1300, 1100, "Factuur totaal EUR"), (2100, 1100, "49,99"),
]  # fmt: skip
VAT_BREAKDOWN = [
    (150, 1200, "BTW %"), (700, 1200, "Grondslag"), (1300, 1200, "BTW bedrag"), (2100, 1200, "Totaal"),
    (150, 1260, "21 %"), (700, 1260, "41,31"), (1300, 1260, "8,68"), (2100, 1260, "49,99"),
]  # fmt: skip


def test_a_vat_breakdown_row_gives_net_and_tax_and_gross_lines_add_up_to_the_total() -> None:
    record = _route([*DUTCH_HEAD, *DUTCH_ITEMS, *VAT_BREAKDOWN])
    assert (_value(record, "subtotal"), _value(record, "tax"), _value(record, "total")) == ("41.31", "8.68", "49.99")
    assert IssueCode.LINE_ITEMS_SUM_MISMATCH not in {issue.code for issue in record.issues}


def test_a_breakdown_whose_tax_is_not_its_rate_is_not_read() -> None:
    wrong_rate = [line if line[2] != "21 %" else (150, 1260, "9 %") for line in VAT_BREAKDOWN]
    record = _route([*DUTCH_HEAD, *DUTCH_ITEMS, *wrong_rate])
    assert _value(record, "tax") != "8.68"
    assert "subtotal" not in record.fields  # a tax is named but unread: the gross lines make no subtotal


def test_lines_equal_to_the_total_still_mismatch_a_subtotal_the_tax_does_not_close() -> None:
    lines = [
        (150, 900, "Description"), (2100, 900, "Amount"), (150, 960, "Maintenance kit"), (2100, 960, "49.99"),
        (1500, 1100, "Subtotal"), (2100, 1100, "41.31"), (1500, 1160, "VAT"), (2100, 1160, "7.00"),
        (1500, 1220, "Total"), (2100, 1220, "49.99"),
    ]  # fmt: skip
    assert IssueCode.LINE_ITEMS_SUM_MISMATCH in {issue.code for issue in _route([*HEADER, *lines]).issues}


def test_a_title_heading_a_column_of_labels_labels_the_invoice_number() -> None:
    assert _value(_route([*DUTCH_HEAD, *DUTCH_ITEMS, *VAT_BREAKDOWN]), "invoice_number") == "VF1005193039"


def test_a_title_alone_on_its_row_labels_nothing() -> None:
    lines = [(150, 600, "Factuur"), (150, 660, "VF1005193039"), *DUTCH_ITEMS, *VAT_BREAKDOWN]
    assert _value(_route([(150, 150, "Harbour Lights Telecom B.V."), *lines]), "invoice_number") is None


def test_the_billing_address_heads_the_customer_and_an_address_heading_is_no_vendor() -> None:
    record = _route([*DUTCH_HEAD, *DUTCH_ITEMS, *VAT_BREAKDOWN])
    assert record.invoice.vendor_name != "Factuuradres Strategic Corp"
    assert record.status is RecordStatus.NEEDS_REVIEW  # the only name left is a heading: a person reads it


@pytest.mark.parametrize("value", ["Kopie", "Copie", "Ship to", "Afleveradres", "Lieferadresse"])
def test_copy_marks_and_address_headings_are_doubted_as_names(value: str) -> None:
    assert any("reads as a label or title" in doubt for doubt in party_doubts("vendor_name", value, None))


def test_a_column_heading_over_three_lines_is_no_tax_label() -> None:
    table = [
        (150, 900, "Pos."), (300, 900, "Menge Beschreibung"), (1700, 900, "VK-Preis"), (2100, 900, "Zeilenbetrag"),
        (1700, 950, "ohne"), (2100, 950, "ohne MwSt."),
        (1700, 1000, "MwSt."),
        (150, 1060, "1"), (300, 1060, "1 Exchange mailbox"), (1700, 1060, "3,89"), (2100, 1060, "3,89"),
        (150, 1120, "2"), (300, 1120, "1 Exchange archive"), (1700, 1120, "5,39"), (2100, 1120, "5,39"),
        (1500, 1300, "Total EUR"), (2100, 1300, "9,28"),
    ]  # fmt: skip
    record = _route([*HEADER, *table])
    assert not [i for i in record.issues if i.code is IssueCode.UNREADABLE_VALUE and i.field == "tax"]
    assert _value(record, "subtotal") == "9.28"


@pytest.mark.parametrize("label", ["Totaf Sales Inclusive GST", "TOTAI", "TotaI"])
def test_total_with_its_last_letter_misread_still_labels_the_total(label: str) -> None:
    lines = [(1500, 1200, label), (2100, 1200, "160.00")]
    assert _value(_route([*HEADER, *lines], source="ocr"), "total") == "160.00"


def test_a_misread_total_of_savings_is_still_no_total() -> None:
    lines = [(1500, 1200, "Totai Saving"), (2100, 1200, "0.00"), (1500, 1260, "Total"), (2100, 1260, "66.15")]
    assert _value(_route([*HEADER, *lines], source="ocr"), "total") == "66.15"


def _browser_page(first_row: str, last_row: str) -> list[tuple[float, float, str]]:
    return [
        (60, 40, first_row),
        (150, 300, "11/5/23"),
        (150, 400, "Invoice ID #4hrb48vz"),
        (150, 600, "Managers 2 @ $24.00"), (2000, 600, "$48.00"),
        (150, 700, "Subscription total:"), (2000, 700, "$48.00"),
        (150, 900, "Questions? billing@ganttly.com"),
        (60, 3400, last_row),
    ]  # fmt: skip


def test_a_browsers_print_time_is_not_the_invoice_date() -> None:
    lines = _browser_page("23.06.23, 11:09 Invoice | Ganttly", "https://app.ganttly.com/invoices/4hrb48vz 1/1")
    assert _value(_route(lines), "invoice_date") == "2023-05-11"


def test_a_date_and_time_on_a_page_without_browser_chrome_is_still_read() -> None:
    lines = _browser_page("23.06.23, 11:09 Invoice | Ganttly", "Thank you for your business")
    assert _value(_route(lines), "invoice_date") == "2023-06-23"


def test_a_sum_of_the_priced_items_closes_the_table_and_the_priceless_row_under_it_is_no_item() -> None:
    # A skewed scan lost the "Subtotal:" and "Tax:" labels: their amounts sit beside a note instead. The
    # first sums every priced item above it; the row under it prints no quantity or price, so it is the
    # tax beside the note, not an item that makes the items add up to the total with no tax at all (which
    # was accepted as a zero-tax invoice). With neither label read, a person checks the totals.
    lines = [
        (150, 900, "Description"), (1300, 900, "Qty"), (1700, 900, "Rate"), (2100, 900, "Amount"),
        (150, 980, "Security audit"), (1300, 980, "1"), (1700, 980, "3,914.70"), (2100, 980, "3,914.70"),
        (150, 1040, "Software development"), (1300, 1040, "40"), (1700, 1040, "105.00"), (2100, 1040, "4,200.00"),
        (150, 1160, "Notes:"), (2100, 1160, "8,114.70"),
        (150, 1220, "Order placed February 20, 2025, thank you!"), (2100, 1220, "669.46"),
        (1500, 1320, "Total Due:"), (2100, 1320, "$8,784.16"),
    ]  # fmt: skip
    record = _route([*HEADER, *lines], "ocr")
    assert [item.amount for item in record.invoice.line_items] == [Decimal("3914.70"), Decimal("4200.00")]
    assert record.invoice.subtotal != record.invoice.total
    assert record.status is RecordStatus.NEEDS_REVIEW
