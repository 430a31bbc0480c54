"""Evidence real invoices and till receipts carry: cash tendered less change, a tax at its printed rate,
a receipt's only date, a name closed by its legal form, receipt-style number labels and a bare "$"."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pytest

from pipeline.extract.rules import extract_invoice
from pipeline.money import tax_fits_rate
from schemas import ExtractionRecord, ExtractionResult, PageText, Support, Word
from tests.conftest import page_from_lines, routed_from_lines

Lines = list[tuple[float, float, str]]

RECEIPT_HEAD: Lines = [
    (700, 200, "BENS GROCER SDN BHD"),
    (700, 260, "No 5, Jalan Kenari 2, Puchong"),
    (700, 320, "GST REG NO 000243941376"),
    (150, 500, "Invoice No:"),
    (700, 500, "BAT01201803090220"),
    (150, 560, "09/03/2018 18:08:53"),
]


def _receipt(total: str, cash: str, change: str, tax_line: str = "GST @6%: RM7.57") -> Lines:
    return [
        *RECEIPT_HEAD,
        (150, 900, "Total Sales Inclusive GST"),
        (1500, 900, f"RM{total}"),
        (150, 960, tax_line),
        (150, 1020, "Cash"),
        (1500, 1020, cash),
        (150, 1080, "Change"),
        (1500, 1080, change),
    ]


def _extract(lines: Lines, source: str = "ocr") -> ExtractionResult:
    return extract_invoice([cast(PageText, page_from_lines(lines, source))])


def _routed(lines: Lines, source: str = "ocr") -> ExtractionRecord:
    return cast(ExtractionRecord, routed_from_lines(lines, source))


def _vetoed(record: ExtractionRecord) -> set[str | None]:
    return {issue.field for issue in record.issues if issue.code == "uncorroborated_field"}


def test_cash_tendered_less_change_corroborates_the_total() -> None:
    record = _routed(_receipt("133.70", "140.00", "6.30"))
    assert record.invoice.total == Decimal("133.70")
    assert record.fields["tendered"].value == "140.00" and record.fields["change"].value == "6.30"
    assert "total" not in _vetoed(record), record.review_reasons


def test_cash_and_change_that_do_not_make_the_total_leave_it_uncorroborated() -> None:
    record = _routed(_receipt("133.70", "150.00", "6.30"))
    assert record.invoice.total == Decimal("133.70")
    assert "total" in _vetoed(record)


def test_a_tax_that_is_the_printed_rate_of_the_total_it_is_included_in_is_corroborated() -> None:
    record = _routed(_receipt("133.70", "140.00", "6.30"))
    assert record.invoice.tax == Decimal("7.57")  # 133.70 x 6 / 106
    tax = record.fields["tax"].evidence
    assert tax is not None and Support.RATE in tax.support
    assert "tax" not in _vetoed(record)


def test_a_tax_that_fits_no_rate_gets_no_rate_support() -> None:
    result = _extract(_receipt("133.70", "140.00", "6.30", tax_line="GST @6%: RM9.57"))
    tax = result.fields.get("tax")
    assert tax is None or tax.evidence is None or Support.RATE not in tax.evidence.support


def test_a_tax_summary_line_prints_its_own_taxable_amount() -> None:
    # 26.70 of the 133.70 is zero-rated: the tax is 6% of the 100.94 printed beside it, not of the total.
    lines = [line for line in _receipt("133.70", "140.00", "6.30") if not line[2].startswith("GST @")]
    record = _routed([*lines, (150, 1200, "GST"), (900, 1200, "S = 6% 100.94 6.06")])
    assert record.invoice.tax == Decimal("6.06")
    assert "tax" not in _vetoed(record), record.review_reasons


@pytest.mark.parametrize(
    ("tax", "rate", "gross", "net", "fits"),
    [
        ("0.46", "6", "8.20", None, True),  # included: 8.20 x 6 / 106 = 0.464
        ("19.00", "19", None, "100.00", True),  # added: 19% of 100.00
        ("0.50", "6", "8.20", None, False),
        ("0.00", "6", "8.20", None, False),
        ("0.00", "0", "66.17", None, True),  # zero-rated
        ("0.00", "6", None, "0.00", True),  # nothing at this rate
    ],
)
def test_tax_fits_rate(tax: str, rate: str, gross: str | None, net: str | None, fits: bool) -> None:
    as_amount = lambda value: None if value is None else Decimal(value)  # noqa: E731
    assert tax_fits_rate(Decimal(tax), Decimal(rate), as_amount(gross), as_amount(net)) is fits


def test_a_receipts_only_date_needs_no_label() -> None:
    record = _routed(_receipt("133.70", "140.00", "6.30"))
    date = record.fields["invoice_date"]
    assert date.value == "2018-03-09"
    assert date.evidence is not None and Support.SOLE_DATE in date.evidence.support
    assert "invoice_date" not in _vetoed(record)


def test_an_unlabelled_date_among_other_dates_stays_uncorroborated() -> None:
    lines = [*_receipt("133.70", "140.00", "6.30"), (150, 1300, "Valid until 30/04/2018")]
    record = _routed(lines)
    assert record.fields["invoice_date"].value == "2018-03-09"
    assert "invoice_date" in _vetoed(record)


def test_tax_invoice_colon_labels_a_number_and_dollar_signs_read_as_s() -> None:
    lines = [(line[0], line[1], "Tax Invoice:") if line[2] == "Invoice No:" else line for line in RECEIPT_HEAD]
    assert _extract(lines).invoice.invoice_number == "BAT01201803090220"
    lines = [(x, y, "$$3-154439") if text == "BAT01201803090220" else (x, y, text) for x, y, text in RECEIPT_HEAD]
    assert _extract(lines).invoice.invoice_number == "SS3-154439"


def test_a_bare_dollar_from_an_issuer_in_another_dollar_country_is_doubted() -> None:
    lines = [(x, y, text.replace("RM", "$")) for x, y, text in _receipt("133.70", "140.00", "6.30")]
    moved = {
        "BENS GROCER SDN BHD": "BENS GROCER PTY LTD",
        "No 5, Jalan Kenari 2, Puchong": "12 King St, Sydney, Australia",
    }
    lines = [(x, y, moved.get(text, text)) for x, y, text in lines]
    record = _routed(lines)
    assert record.invoice.currency == "USD"
    assert "currency" in _vetoed(record)
    spelled_out = [(x, y, text.replace("$", "US$")) for x, y, text in lines]
    assert "currency" not in _vetoed(_routed(spelled_out))
    assert "currency" not in _vetoed(_routed(_receipt("133.70", "140.00", "6.30")))


VENDOR_TOP: Lines = [
    (150, 150, "Northwind Cloud EMEA Limited"),
    (150, 200, "Velasco"),
    (150, 250, "Clanwilliam Place, Dublin 2"),
    (1500, 400, "Invoice number: 4836212534"),
    (1500, 460, "Invoice date: Oct 31, 2023"),
    (1500, 800, "Total in EUR"),
    (2000, 800, "€83.20"),
    (150, 3100, "Northwind Cloud EMEA Limited, registered in Ireland"),
]


def _vendor_doubts(lines: Lines) -> list[str]:
    evidence = _extract(lines, "text_layer").fields["vendor_name"].evidence
    assert evidence is not None
    return evidence.doubts


def test_a_name_closed_by_its_legal_form_does_not_run_on_below() -> None:
    assert not any("two lines" in doubt for doubt in _vendor_doubts(VENDOR_TOP))


def test_a_name_without_legal_form_may_still_run_on_below() -> None:
    lines = [(x, y, "Northwind Cloud" if y == 150 else text) for x, y, text in VENDOR_TOP[:-1]]
    assert any("two lines" in doubt for doubt in _vendor_doubts(lines))


def test_a_sentence_beside_a_name_is_no_continuation_of_it() -> None:
    lines = [(x, y, "Northwind Cloud" if y == 150 else text) for x, y, text in VENDOR_TOP[:-1]]
    lines = [(x, y, "All charges are in euros" if text == "Velasco" else text) for x, y, text in lines]
    assert not any("two lines" in doubt for doubt in _vendor_doubts(lines))


def test_a_receipts_paid_amount_names_its_total_when_no_total_label_is_read() -> None:
    lines = [
        *RECEIPT_HEAD,
        (150, 900, "Sub-Total :"),
        (1500, 900, "10.00"),
        (150, 960, "Net Total :"),
        (1500, 960, "10.00"),
        (150, 1020, "Cash Received :"),
        (1500, 1020, "10.00"),
        (150, 1080, "Change :"),
        (1500, 1080, "0.00"),
    ]
    record = _routed(lines)
    assert record.invoice.total == Decimal("10.00")
    assert "total" not in _vetoed(record)
    unpaid = [line for line in lines if line[2] not in ("Cash Received :", "Change :")]
    assert _extract([line for line in unpaid if line[2] != "0.00"]).invoice.total is None


@pytest.mark.parametrize(
    ("printed", "read"),
    [
        ("AMANO MALAYSIA SON BHD", "AMANO MALAYSIA SDN BHD"),
        ("PERNIAGAAN ZHENG HU] SDN BHD", "PERNIAGAAN ZHENG HUI SDN BHD"),
        # a legal form OCR split at a gap (a held-out hard scan accepted "Kestrel Transport SA" for "... SARL")
        ("KESTREL TRANSPORT SA RL", "KESTREL TRANSPORT SARL"),
        ("KESTREL TRANSPORT Gmb H", "KESTREL TRANSPORT GmbH"),
        ("KESTREL TRANSPORT SA", "KESTREL TRANSPORT SA"),
        ("KESTREL & CO KG", "KESTREL & CO KG"),
    ],
)
def test_legal_forms_and_capitals_ocr_garbled_are_read_as_printed(printed: str, read: str) -> None:
    lines = [(x, y, printed if text == "BENS GROCER SDN BHD" else text) for x, y, text in _receipt("8.20", "8.20", "0")]
    assert _extract(lines).invoice.vendor_name == read


def test_a_legal_form_centred_under_a_heading_name_completes_it() -> None:
    page = cast(PageText, page_from_lines([(150, 1000, "Invoice No: 4711"), (150, 1060, "Date: 2024-03-01")], "ocr"))
    heading = [("PHILIP", 600, 200, 900, 290), ("MORRIS", 940, 200, 1240, 290), ("INCORPORATED", 800, 300, 1040, 318)]
    words = [
        Word(text=text, page_no=1, x0=x0, y0=y0, x1=x1, y1=y1, confidence=0.9, line_key=(90 + n, 0, 0))
        for n, (text, x0, y0, x1, y1) in enumerate(heading)
    ]
    result = extract_invoice([page.model_copy(update={"words": [*words, *page.words]})])
    assert result.invoice.vendor_name == "PHILIP MORRIS INCORPORATED"


def test_dot_leaders_laid_under_a_label_and_its_value_do_not_glue_them() -> None:
    page = cast(PageText, page_from_lines([(150, 150, "Northwind Ltd"), (150, 400, "Invoice number")], "text_layer"))
    leader = Word(text="." * 40, page_no=1, x0=150, y0=400, x1=1400, y1=432, confidence=1.0, line_key=(7, 0, 0))
    value = Word(text="4836212534", page_no=1, x0=1100, y0=400, x1=1380, y1=432, confidence=1.0, line_key=(7, 0, 0))
    result = extract_invoice([page.model_copy(update={"words": [*page.words, leader, value]})])
    assert result.invoice.invoice_number == "4836212534"


def test_a_letters_place_and_date_give_its_issue_date() -> None:
    lines = [
        (150, 150, "Medienpilot GmbH • Am Saueracker 23 • 91244 Reichenschwand"),
        (1500, 150, "Reichenschwand"),
        (1900, 150, "04.07.2023"),
        (1500, 250, "Rechnungs-Nr"),
        (1900, 250, "02581"),
        (1500, 300, "Lieferdatum,"),
        (1900, 300, "30.06.2023"),
    ]
    result = _extract(lines, "text_layer")
    assert result.invoice.invoice_date is not None and result.invoice.invoice_date.isoformat() == "2023-07-04"
    date = result.fields["invoice_date"].evidence
    assert date is not None and Support.LABEL in date.support
    stray = [(x, y, "Gutschrift" if text == "Reichenschwand" else text) for x, y, text in lines]
    date = _extract(stray, "text_layer").fields["invoice_date"].evidence
    assert date is not None and Support.LABEL not in date.support  # no town printed after a postcode


def test_a_fragment_is_no_vendor_name() -> None:
    lines = [(700, 120, ",com"), *[(x, y, text) for x, y, text in RECEIPT_HEAD if text != "BENS GROCER SDN BHD"]]
    assert _extract(lines).invoice.vendor_name != ",com"


def test_a_till_receipt_whose_payment_confirms_its_total_needs_no_invoice_number() -> None:
    no_number = [line for line in _receipt("133.70", "140.00", "6.30") if line not in RECEIPT_HEAD[3:5]]
    record = _routed(no_number)
    assert record.invoice.invoice_number is None
    assert "missing_invoice_number" not in record.blocking_codes, record.review_reasons
    assert record.confidence > 0
    unpaid = _routed([line for line in no_number if line[2] not in ("Cash", "140.00", "Change", "6.30")])
    assert "missing_invoice_number" in unpaid.blocking_codes and unpaid.confidence == 0
    wrong_change = _routed([(x, y, "16.30" if text == "6.30" else text) for x, y, text in no_number])
    assert "missing_invoice_number" in wrong_change.blocking_codes and wrong_change.confidence == 0


@pytest.mark.parametrize("label", ["VAT Invoice no.", "Tax Invoice No:", "GST Invoice #"])
def test_an_invoice_number_label_may_name_the_tax(label: str) -> None:
    lines = [(x, y, label) if text == "Invoice No:" else (x, y, text) for x, y, text in RECEIPT_HEAD]
    assert _extract(lines).invoice.invoice_number == "BAT01201803090220"


def test_a_label_glued_to_its_value_by_its_mark_is_split_from_it() -> None:
    lines = [
        (150, 150, "Free SAS"),
        (150, 400, "Facture n°562044387 du 02 Juillet 2015"),
        (150, 460, "Date limite de paiement le 05 Juillet 2015"),
        (150, 800, "TOTAL INCL. BSTR6"),
        (1500, 800, "59.20 EUR"),
    ]
    result = _extract(lines, "text_layer")
    assert result.invoice.invoice_number == "562044387"
    assert result.invoice.due_date is not None and result.invoice.due_date.isoformat() == "2015-07-05"
    assert result.invoice.total == Decimal("59.20")  # a label ending inside a word keeps that word whole


def test_a_bare_dollar_on_a_till_receipt_from_a_country_paying_in_another_currency_is_doubted() -> None:
    lines = [(x, y, text.replace("RM", "$")) for x, y, text in _receipt("133.70", "140.00", "6.30")]
    record = _routed(lines)  # an SDN BHD pays in ringgit; a "$" at its till is no proof of US dollars
    assert record.invoice.currency == "USD"
    assert "currency" in _vetoed(record)
    invoice = [line for line in lines if line[2] not in ("Cash", "140.00", "Change", "6.30")]
    assert "currency" not in _vetoed(_routed(invoice))  # an invoice may well bill in US dollars


def _dollar_invoice(vendor_line: str, extra: Lines = ()) -> Lines:
    """An invoice in bare dollars from NORTHWIND SUPPLY LTD, the line under its name replaced."""
    lines = [(x, y, text.replace("RM", "$")) for x, y, text in _receipt("133.70", "140.00", "6.30")]
    lines = [line for line in lines if line[2] not in ("Cash", "140.00", "Change", "6.30")]
    moved = {"BENS GROCER SDN BHD": "NORTHWIND SUPPLY LTD", "No 5, Jalan Kenari 2, Puchong": vendor_line}
    return [(x, y, moved.get(text, text)) for x, y, text in lines] + list(extra)


@pytest.mark.parametrize(
    "vendor_line",
    [
        "120 King Street West, Toronto, ON M5V 2T6",
        "GST/HST No. 123456789RT0001",
        "Level 3, 88 Pitt Street, Sydney NSW 2000",
        "ABN 51 824 753 556",
        "A member of Northwind Holdings Pte. Ltd.",  # a legal form only Singapore uses
    ],
)
def test_a_bare_dollar_beside_a_mark_only_another_dollar_country_prints_is_doubted(vendor_line: str) -> None:
    # A domestic invoice seldom names its own country: the address or tax number says it instead.
    record = _routed(_dollar_invoice(vendor_line))
    assert record.invoice.currency == "USD"
    assert "currency" in _vetoed(record), record.review_reasons


def test_a_us_address_or_a_customers_mark_leaves_a_bare_dollar_undoubted() -> None:
    assert "currency" not in _vetoed(_routed(_dollar_invoice("500 Congress Ave, Austin, TX 78701")))
    assert "currency" not in _vetoed(_routed(_dollar_invoice("Lot 12, ACT 40 Road")))  # "ACT" and no postcode
    customer = [(150, 700, "Bill to:"), (150, 760, "Maple Leaf Foods"), (150, 820, "Toronto, ON M5V 2T6")]
    assert "currency" not in _vetoed(_routed(_dollar_invoice("500 Congress Ave, Austin, TX 78701", customer)))


@pytest.mark.parametrize("label", ["Subscription total (due at renewal):", "Order total:", "Statement total"])
def test_a_total_named_for_what_it_sums_is_the_total(label: str) -> None:
    lines = [(150, 150, "Northwind Ltd"), (150, 400, "Invoice number: 4711"), (150, 800, label), (1500, 800, "$48.00")]
    assert _extract(lines, "text_layer").invoice.total == Decimal("48.00")
