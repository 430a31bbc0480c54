"""Fusion of OCR's reading with the model's on pages OCR misread: what the model may repair, and what it may not.

Pages are built word by word (as OCR or a text layer would deliver them) and read by the real rule extractor;
the model's answer is the tool input the Messages API would return. Fast: no rendering, no OCR, no server.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.extract import extract_invoice
from pipeline.validate import validate_invoice
from pipeline.vlm.fusion import Fusion, fuse
from schemas import PageText, Severity, TextSource, ValidationIssue
from schemas.vlm import VlmInvoice
from tests.conftest import page_from_lines
from tests.fake_anthropic import invoice_answer

MODEL = "claude-haiku-4-5"

TRUTH: dict[str, Any] = {
    "vendor_name": "Acme Widgets Ltd",
    "customer_name": "Globex Corporation",
    "invoice_number": "INV-2024-0042",
    "invoice_date": "2024-03-15",
    "currency": "USD",
    "subtotal": "1430.50",
    "tax": "143.05",
    "total": "1573.55",
    "line_items": [
        {"description": "Consulting services", "amount": "1200.00"},
        {"description": "Travel expenses", "amount": "230.50"},
    ],
}


def page(
    first: str = "$1,200.00",
    second: str = "$230.50",
    *,
    date: str = "03/15/2024",
    total: str = "$1,573.55",
    source: TextSource = TextSource.OCR,
) -> PageText:
    """The invoice of TRUTH as read: the two line amounts, the date and the total as given."""
    lines = [
        (150, 150, "Acme Widgets Ltd"),
        (150, 400, "Invoice No:"), (600, 400, "INV-2024-0042"),
        (150, 460, "Invoice Date:"), (600, 460, date),
        (150, 520, "Bill To:"), (600, 520, "Globex Corporation"),
        (150, 900, "Description"), (2150, 900, "Amount"),
        (150, 980, "Consulting services"), (2150, 980, first),
        (150, 1040, "Travel expenses"), (2150, 1040, second),
        (1500, 1200, "Subtotal"), (2150, 1200, "$1,430.50"),
        (1500, 1260, "Tax"), (2150, 1260, "$143.05"),
        (1500, 1320, "Total"), (2150, 1320, total),
    ]  # fmt: skip
    page = page_from_lines(lines, source.value)
    assert isinstance(page, PageText)
    return page


def fused(pages: list[PageText], **overrides: Any) -> tuple[Fusion, list[ValidationIssue]]:
    """The fusion of the rule reading with the model's answer, and every issue the record then carries."""
    ocr = extract_invoice(pages)
    result = fuse(ocr, VlmInvoice.model_validate(invoice_answer(TRUTH, **overrides)), pages, MODEL)
    issues = [*result.result.issues, *result.issues, *validate_invoice(result.result.invoice)]
    return result, issues


def items(*lines: tuple[str, str]) -> list[dict[str, str | None]]:
    """Line items as the model answers them (no quantity or unit price printed)."""
    return [
        {"description": description, "quantity": None, "unit_price": None, "amount": amount}
        for description, amount in lines
    ]


def codes(issues: list[ValidationIssue], severity: Severity | None = None) -> set[str]:
    return {issue.code for issue in issues if severity is None or issue.severity is severity}


def amounts(fusion: Fusion) -> list[Decimal | None]:
    return [item.amount for item in fusion.result.invoice.line_items]


def test_model_items_rescue_line_amounts_ocr_misread() -> None:
    # "1,200.00" read as "1,290.00" and "230.50" as "280.50": OCR's repair guesses 1150.00 for line 1.
    pages = [page("$1,290.00", "$280.50")]
    ocr = extract_invoice(pages)
    assert [item.amount for item in ocr.invoice.line_items] != [Decimal("1200.00"), Decimal("230.50")]
    assert "line_amount_repaired" in codes(ocr.issues, Severity.BLOCKING)

    fusion, issues = fused(pages)
    assert amounts(fusion) == [Decimal("1200.00"), Decimal("230.50")]
    assert fusion.result.fields["line_items"].extractor == f"vlm:{MODEL}"
    assert not codes(issues, Severity.BLOCKING)
    assert "line_amount_repaired" not in codes(issues)


def test_model_items_with_a_line_not_on_the_page_are_refused() -> None:
    # The model's lines add up to the subtotal, but "Gold bars" stands nowhere on the page.
    invented = items(("Consulting services", "1000.00"), ("Travel expenses", "230.50"), ("Gold bars", "200.00"))
    fusion, issues = fused([page("$1,290.00", "$280.50")], line_items=invented)
    assert Decimal("200.00") not in amounts(fusion)
    assert fusion.result.fields["line_items"].extractor == "rules"
    assert codes(issues, Severity.BLOCKING)


def test_model_items_that_do_not_add_up_are_refused() -> None:
    wrong = items(("Consulting services", "1290.00"), ("Travel expenses", "280.50"))
    fusion, issues = fused([page("$1,290.00", "$280.50")], line_items=wrong)
    assert fusion.result.fields["line_items"].extractor == "rules"
    assert codes(issues, Severity.BLOCKING)


def test_text_layer_line_amounts_are_never_overridden() -> None:
    # The issuer printed 1,290.00 and 280.50: what the model "reads" instead is not used.
    fusion, issues = fused([page("$1,290.00", "$280.50", source=TextSource.TEXT_LAYER)])
    assert amounts(fusion) == [Decimal("1290.00"), Decimal("280.50")]
    assert fusion.result.fields["line_items"].extractor == "rules"
    assert "line_items_sum_mismatch" in codes(issues, Severity.BLOCKING)


def test_resolved_ocr_issue_is_dropped_and_an_unresolved_one_stays() -> None:
    # OCR slipped on line 1 (a blocking repair) and could not read the date; the model reads the items
    # right (they add up) but gives no date.
    pages = [page("$1,290.00", date="O3/1S/2O2A")]
    ocr = extract_invoice(pages)
    assert {"line_amount_repaired", "unreadable_value"} <= codes(ocr.issues, Severity.BLOCKING)

    fusion, issues = fused(pages, invoice_date=None)
    assert amounts(fusion) == [Decimal("1200.00"), Decimal("230.50")]
    assert "line_amount_repaired" not in codes(issues)
    assert [issue.field for issue in issues if issue.code == "unreadable_value"] == ["invoice_date"]


def test_inconsistent_printed_total_both_readers_agree_on_still_blocks() -> None:
    fusion, issues = fused([page(total="$1,583.55")], total="1583.55")
    assert fusion.result.invoice.total == Decimal("1583.55")
    assert "total_mismatch" in codes(issues, Severity.BLOCKING)
