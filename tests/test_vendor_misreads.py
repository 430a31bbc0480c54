"""Vendor memory and OCR misreads on a known vendor's scanned invoice (issue 14): what the page prints up to
a misread is read as the vendor's decisions gave it, and doubted wherever the reader would doubt it.

Pages are OCR words laid out as a vendor's invoice prints them; the first page is learned from a decision,
the second goes through the real extraction and the real profile match.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipeline.extract.rules import extract_invoice
from pipeline.parsing import find_dates, misread_month, misread_month_words, with_months_mended
from pipeline.vendors import learn_decision
from pipeline.vendors.memory import document_evidence, use_vendor_memory
from schemas import ExtractionResult, Invoice, PageText, TextSource, Word
from schemas.vendors import VendorProfile
from tests.page_words import row_of_words

IBAN = "IBAN GB26 BARC 2025 4633 3015 45"
VENDOR = "Beacon Catering Ltd"


def _row(y: float, *phrases: tuple[float, str]) -> list[Word]:
    return row_of_words(y, *phrases)


def _page(customer: str, dated: str, due: str, total_label: str = "Total due:") -> PageText:
    words = [
        *_row(40, (40, VENDOR)),
        *_row(60, (40, "235 Station Road, London")),
        *_row(110, (40, "Bill To:"), (330, "Invoice No.:"), (450, "2023/7078")),
        *_row(130, (40, customer), (330, "Date:"), (450, dated)),
        *_row(150, (40, "205 Victoria Road"), (330, "Due Date:"), (450, due)),
        *_row(300, (330, "Subtotal:"), (450, "GBP 354.30")),
        *_row(320, (330, "VAT 0%:"), (450, "GBP 0.00")),
        *_row(340, (330, total_label), (450, "GBP 354.30")),
        *_row(700, (40, IBAN)),
    ]
    return PageText(page_no=1, width=600, height=800, source=TextSource.OCR, words=words)


def _decided(customer: str) -> Invoice:
    return Invoice(
        vendor_name=VENDOR,
        customer_name=customer,
        invoice_number="2023/7078",
        invoice_date=date(2024, 5, 29),
        due_date=date(2024, 6, 12),
        currency="GBP",
        subtotal=Decimal("354.30"),
        tax=Decimal("0.00"),
        total=Decimal("354.30"),
    )


def _learned(page: PageText, customer: str) -> list[VendorProfile]:
    evidence, _ = document_evidence("first", [page])
    return learn_decision([], evidence, _decided(customer))


def _remembered(page: PageText, profiles: list[VendorProfile]) -> ExtractionResult:
    result, issues, _ = use_vendor_memory("next", [page], extract_invoice([page]), profiles, None)
    assert not issues
    return result


# --- dates: a month's J misread ------------------------------------------------------------------------


def test_a_months_capital_read_as_a_bracket_or_cut_off_by_a_gap_is_that_month_and_is_named() -> None:
    cases = (("2024-] un-13", "jun"), ("2024-J un-20", "jun"), ("13 } an 2024", "jan"), ("30-) UN-24", "jun"))
    for text, month in (*cases, ("2024-A pr-22", "apr")):
        assert [misread_month(word) for word in misread_month_words(text)] == [month], text
    assert with_months_mended("2024-] un-13") == "2024-jun-13"
    assert with_months_mended("2024-J un-20") == "2024-jun-20"
    assert [found for _, _, found in find_dates("13 J un 2024")] == [date(2024, 6, 13)]
    assert [found for _, _, found in find_dates("30-) UN-24", day_first=True)] == [date(2024, 6, 30)]
    assert find_dates("(see note 1) un exemplaire") == [] and misread_month_words("A Mar 2024, I an") == []
    assert misread_month("Jun") is None and misread_month_words("2024-Jun-13 J. Smith") == []


def test_a_date_in_the_vendors_format_with_a_misread_j_is_read_and_a_person_confirms_it() -> None:
    profiles = _learned(_page("Ironbridge Bakery Ltd", "2024-May-29", "2024-Jun-12"), "Ironbridge Bakery Ltd")
    assert profiles[0].hints["invoice_date"].date_format is not None  # a format the generic reader lacks
    result = _remembered(_page("Ironbridge Bakery Ltd", "2024-] un-13", "2024-J un-20"), profiles)
    assert result.invoice.invoice_date == date(2024, 6, 13)
    assert result.invoice.due_date == date(2024, 6, 20)
    assert any("'] un'" in doubt for doubt in result.fields["invoice_date"].evidence.doubts)  # type: ignore[union-attr]
    assert any("'J un'" in doubt for doubt in result.fields["due_date"].evidence.doubts)  # type: ignore[union-attr]
    clean = _remembered(_page("Ironbridge Bakery Ltd", "2024-Jun-13", "2024-Jun-20"), profiles)
    assert not clean.fields["invoice_date"].evidence.doubts  # type: ignore[union-attr]


# --- party names ---------------------------------------------------------------------------------------


def test_a_customer_read_at_its_learned_place_is_mended_as_the_reader_mends_any_name() -> None:
    profiles = _learned(_page("Ironbridge Bakery Ltd", "29 May 2024", "12 Jun 2024"), "Ironbridge Bakery Ltd")
    result = _remembered(_page("lronbridge Bakery Ltd", "13 Jun 2024", "20 Jun 2024"), profiles)
    field = result.fields["customer_name"]
    assert result.invoice.customer_name == "Ironbridge Bakery Ltd"
    assert not any("letter or two off" in doubt for doubt in field.evidence.doubts)  # type: ignore[union-attr]


def test_a_known_name_printed_only_up_to_ocr_confusions_carries_the_decided_spelling_and_stays_doubted() -> None:
    profiles = _learned(_page("Oakfield Bakery Ltd", "29 May 2024", "12 Jun 2024"), "Oakfield Bakery Ltd")
    result = _remembered(_page("0akfie1d Bakery Ltd", "13 Jun 2024", "20 Jun 2024"), profiles)
    field = result.fields["customer_name"]
    assert result.invoice.customer_name == "Oakfield Bakery Ltd"
    assert field.extractor == f"profile:{profiles[0].profile_id}" and field.raw_text == "0akfie1d Bakery Ltd"
    assert any("OCR confuses" in doubt for doubt in field.evidence.doubts)  # type: ignore[union-attr]
    # Another name, not a misread of the known one, is left as read.
    other = _remembered(_page("Oakwood Bakery Ltd", "13 Jun 2024", "20 Jun 2024"), profiles)
    assert other.invoice.customer_name == "Oakwood Bakery Ltd"


def test_a_known_name_ocr_split_at_a_wide_gap_on_its_row_is_found() -> None:
    profiles = _learned(_page("Bluebird Architects GmbH", "29 May 2024", "12 Jun 2024"), "Bluebird Architects GmbH")
    page = _page("Bluebird Architects", "13 Jun 2024", "20 Jun 2024")
    page.words.extend(_row(130, (220, "GmbH")))
    result = _remembered(page, profiles)
    assert result.invoice.customer_name == "Bluebird Architects GmbH"


# --- labels ----------------------------------------------------------------------------------------------


def test_a_label_ocr_printed_without_a_gap_is_the_learned_label() -> None:
    profiles = _learned(_page("Ironbridge Bakery Ltd", "29 May 2024", "12 Jun 2024", "Amount to remit:"), "X Ltd")
    assert profiles[0].hints["total"].label == "amount to remit"
    page = _page("X Ltd", "13 Jun 2024", "20 Jun 2024", "Amountto remit:")
    result = _remembered(page, profiles)
    assert result.fields["total"].extractor == f"profile:{profiles[0].profile_id}"


def test_a_value_printed_beside_another_value_learns_the_label_above_it_not_the_value() -> None:
    words = [
        *_row(40, (40, VENDOR)),
        *_row(110, (40, "Invoice #"), (200, "Invoice Date"), (360, "Due Date")),
        *_row(130, (40, "INV817119"), (200, "2024-Mar-10"), (360, "2024-Mar-31")),
        *_row(700, (40, IBAN)),
    ]
    page = PageText(page_no=1, width=600, height=800, source=TextSource.OCR, words=words)
    decided = _decided("X Ltd").model_copy(
        update={"invoice_number": "INV817119", "invoice_date": date(2024, 3, 10), "due_date": date(2024, 3, 31)}
    )
    hints = learn_decision([], document_evidence("first", [page])[0], decided)[0].hints
    assert hints["invoice_date"].label == "invoice date" and hints["invoice_date"].relation == "below"
    assert hints["due_date"].label == "due date"


# --- a tax printed one line per rate -----------------------------------------------------------------------


def _split_tax_page(subtotal: str, discount: str, full: str, reduced: str, total: str) -> PageText:
    """A totals block with a discount and a shipping charge, a tax line per rate, and the total under its
    label in a payment box: the generic reader takes the first tax line and finds no total."""
    words = [
        *_row(40, (40, VENDOR)),
        *_row(110, (40, "Bill To:"), (330, "Invoice No.:"), (450, "2023/7078")),
        *_row(130, (40, "X Ltd"), (330, "Date:"), (450, "29 May 2024")),
        *_row(300, (330, "Subtotal:"), (450, subtotal)),
        *_row(320, (330, "Discount 10%"), (450, discount)),
        *_row(340, (330, "Shipping"), (450, "9.50")),
        *_row(360, (330, "VAT 20%:"), (450, full)),
        *_row(380, (330, "VAT 5%:"), (450, reduced)),
        *_row(410, (330, "Your payment")),
        *_row(430, (450, total)),
        *_row(700, (40, IBAN)),
    ]
    return PageText(page_no=1, width=600, height=800, source=TextSource.OCR, words=words)


def test_a_tax_printed_one_line_per_rate_is_learned_and_summed_again_when_the_arithmetic_holds() -> None:
    decided = _decided("X Ltd").model_copy(
        update={"subtotal": Decimal("150.00"), "tax": Decimal("22.50"), "total": Decimal("167.00")}
    )
    evidence, _ = document_evidence("first", [_split_tax_page("150.00", "-15.00", "20.00", "2.50", "167.00")])
    profile = learn_decision([], evidence, decided)[0]
    assert sorted(profile.tax_parts) == ["vat 20%", "vat 5%"]
    result = _remembered(_split_tax_page("200.00", "-20.00", "30.00", "2.50", "222.00"), [profile])
    assert (result.invoice.tax, result.invoice.total) == (Decimal("32.50"), Decimal("222.00"))
    assert result.fields["tax"].extractor == f"profile:{profile.profile_id}"
    # Tax lines that do not add up with the page's subtotal, adjustments and total are not taken over.
    wrong = _remembered(_split_tax_page("200.00", "-20.00", "30.00", "2.50", "230.00"), [profile])
    assert wrong.invoice.tax != Decimal("32.50") and wrong.invoice.total != Decimal("230.00")
