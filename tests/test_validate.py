"""Each validation rule on a known-good invoice with exactly one thing broken, and the same rule not firing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from pipeline.money import format_money as money
from pipeline.validate import validate_invoice
from schemas import Invoice, IssueCode, LineItem, Severity, ValidationIssue

TODAY = date(2024, 6, 1)


def good_invoice(**changes: Any) -> Invoice:
    base: dict[str, Any] = {
        "vendor_name": "Acme Widgets Ltd",
        "customer_name": "Globex Corporation",
        "invoice_number": "INV-2024-0042",
        "invoice_date": date(2024, 3, 15),
        "due_date": date(2024, 4, 14),
        "currency": "USD",
        "subtotal": Decimal("1230.00"),
        "tax": Decimal("246.00"),
        "total": Decimal("1476.00"),
        "line_items": [
            LineItem(
                description="Consulting",
                quantity=Decimal("10"),
                unit_price=Decimal("100.00"),
                amount=Decimal("1000.00"),
            ),
            LineItem(
                description="Travel", quantity=Decimal("2"), unit_price=Decimal("115.00"), amount=Decimal("230.00")
            ),
        ],
    }
    base.update(changes)
    return Invoice(**base)


def codes(issues: list[ValidationIssue]) -> list[str]:
    return [issue.code for issue in issues]


def only(issues: list[ValidationIssue], code: str) -> ValidationIssue:
    matching = [issue for issue in issues if issue.code == code]
    assert len(matching) == 1, issues
    return matching[0]


def test_good_invoice_has_no_issues() -> None:
    assert validate_invoice(good_invoice(), today=TODAY) == []


def test_minimal_invoice_without_items_subtotal_or_tax_is_fine() -> None:
    invoice = good_invoice(subtotal=None, tax=None, line_items=[], due_date=None)
    assert validate_invoice(invoice, today=TODAY) == []


@pytest.mark.parametrize(
    ("field", "empty"),
    [
        ("vendor_name", None),
        ("vendor_name", "   "),
        ("invoice_number", None),
        ("invoice_number", ""),
        ("invoice_date", None),
        ("total", None),
        ("currency", None),
    ],
)
def test_missing_required_field_is_blocking(field: str, empty: object) -> None:
    changes: dict[str, Any] = {field: empty}
    if field == "total":
        changes["tax"] = None  # keep the remaining arithmetic consistent: only the missing total is wrong
        changes["subtotal"] = Decimal("1230.00")
    if field == "invoice_date":
        changes["due_date"] = None
    issues = validate_invoice(good_invoice(**changes), today=TODAY)
    issue = only(issues, f"missing_{field}")
    assert issue.severity is Severity.BLOCKING
    assert issue.field == field
    assert codes(issues) == [f"missing_{field}"]


def test_optional_fields_missing_is_not_an_issue() -> None:
    invoice = good_invoice(customer_name=None, due_date=None)
    assert validate_invoice(invoice, today=TODAY) == []


def test_line_items_not_matching_subtotal() -> None:
    invoice = good_invoice(subtotal=Decimal("1320.00"), total=Decimal("1566.00"))
    issue = only(validate_invoice(invoice, today=TODAY), "line_items_sum_mismatch")
    assert issue.severity is Severity.BLOCKING
    assert issue.message == "Line items add up to 1,230.00 but the subtotal says 1,320.00"


@pytest.mark.parametrize("subtotal", ["1230.01", "1229.99"])
def test_line_items_within_a_cent_of_subtotal_pass(subtotal: str) -> None:
    sub = Decimal(subtotal)
    invoice = good_invoice(subtotal=sub, total=sub + Decimal("246.00"))
    assert "line_items_sum_mismatch" not in codes(validate_invoice(invoice, today=TODAY))


def test_line_items_two_cents_off_subtotal_fail() -> None:
    invoice = good_invoice(subtotal=Decimal("1230.02"), total=Decimal("1476.02"))
    assert codes(validate_invoice(invoice, today=TODAY)) == ["line_items_sum_mismatch"]


@pytest.mark.parametrize(
    ("tax", "total", "ok"),
    [
        (Decimal("246.00"), Decimal("1476.00"), True),  # items are net: total - tax
        (Decimal("205.00"), Decimal("1230.00"), True),  # items are gross (tax-inclusive prices)
        (None, Decimal("1230.00"), True),
        (None, Decimal("1476.00"), False),
        (Decimal("246.00"), Decimal("1500.00"), False),
    ],
)
def test_line_items_without_subtotal_compare_with_total(tax: Decimal | None, total: Decimal, ok: bool) -> None:
    invoice = good_invoice(subtotal=None, tax=tax, total=total)
    issues = validate_invoice(invoice, today=TODAY)
    assert ("line_items_sum_mismatch" in codes(issues)) is not ok


def test_line_items_sum_message_without_subtotal_mentions_net() -> None:
    invoice = good_invoice(subtotal=None, tax=Decimal("246.00"), total=Decimal("1500.00"))
    issue = only(validate_invoice(invoice, today=TODAY), "line_items_sum_mismatch")
    assert issue.message == "Line items add up to 1,230.00 but the total says 1,500.00 (1,254.00 before tax)"


def test_line_item_without_amount_uses_quantity_times_price() -> None:
    items = [
        LineItem(description="Consulting", quantity=Decimal("10"), unit_price=Decimal("100.00")),
        LineItem(description="Travel", amount=Decimal("230.00")),
        LineItem(description="Note: thank you"),
    ]
    assert validate_invoice(good_invoice(line_items=items), today=TODAY) == []
    items[0] = LineItem(description="Consulting", quantity=Decimal("9"), unit_price=Decimal("100.00"))
    assert codes(validate_invoice(good_invoice(line_items=items), today=TODAY)) == ["line_items_sum_mismatch"]


def test_line_items_without_any_amount_are_not_summed() -> None:
    items = [LineItem(description="Consulting"), LineItem(description="Travel")]
    assert validate_invoice(good_invoice(line_items=items), today=TODAY) == []


def test_line_item_arithmetic_warning() -> None:
    items = [
        LineItem(
            description="Consulting", quantity=Decimal("10"), unit_price=Decimal("100.00"), amount=Decimal("1000.00")
        ),
        LineItem(description="Travel", quantity=Decimal("3"), unit_price=Decimal("115.00"), amount=Decimal("230.00")),
    ]
    issues = validate_invoice(good_invoice(line_items=items), today=TODAY)
    issue = only(issues, "line_item_arithmetic")
    assert issue.severity is Severity.WARNING
    assert issue.message == "Line 2 (Travel): 3 x 115.00 is 345.00 but the line amount says 230.00"
    assert codes(issues) == ["line_item_arithmetic"]


@pytest.mark.parametrize(
    ("quantity", "unit_price", "amount", "warns"),
    [
        ("3", "33.33", "99.99", False),
        ("3", "33.33", "100.00", False),  # within a cent
        ("3", "33.33", "100.01", True),
        ("1.5", "33.33", "50.00", False),  # 49.995 rounded
        # unit price with more decimals: half a cent per unit on top of the cent
        ("1000", "0.0125", "12.50", False),
        ("1000", "0.01249", "12.50", False),  # 12.49 + 0.01
        ("1000", "0.01244", "12.50", False),  # 12.44; allowed 0.01 + 5.00
        ("1000", "0.0125", "18.00", True),  # off by 5.50 > 5.01
        ("2", "10.00", "20.00", False),
        ("2", "10.00", "20.02", True),
    ],
)
def test_line_item_arithmetic_tolerance(quantity: str, unit_price: str, amount: str, warns: bool) -> None:
    item = LineItem(description="x", quantity=Decimal(quantity), unit_price=Decimal(unit_price), amount=Decimal(amount))
    total = Decimal(amount)
    invoice = good_invoice(line_items=[item], subtotal=total, tax=None, total=total)
    assert ("line_item_arithmetic" in codes(validate_invoice(invoice, today=TODAY))) is warns


def test_subtotal_plus_tax_not_total() -> None:
    invoice = good_invoice(total=Decimal("1467.00"))
    issues = validate_invoice(invoice, today=TODAY)
    issue = only(issues, "total_mismatch")
    assert issue.severity is Severity.BLOCKING
    assert issue.message == "Subtotal 1,230.00 plus tax 246.00 is 1,476.00 but the total says 1,467.00"
    assert codes(issues) == ["total_mismatch"]


@pytest.mark.parametrize(("total", "mismatch"), [("1476.01", False), ("1475.99", False), ("1476.02", True)])
def test_total_tolerance_is_one_cent(total: str, mismatch: bool) -> None:
    issues = validate_invoice(good_invoice(total=Decimal(total)), today=TODAY)
    assert ("total_mismatch" in codes(issues)) is mismatch


def test_missing_tax_with_subtotal_equal_to_total_is_fine() -> None:
    invoice = good_invoice(tax=None, total=Decimal("1230.00"))
    assert validate_invoice(invoice, today=TODAY) == []


def test_missing_tax_with_subtotal_different_from_total() -> None:
    invoice = good_invoice(tax=None)
    issue = only(validate_invoice(invoice, today=TODAY), "total_mismatch")
    assert issue.severity is Severity.BLOCKING
    assert issue.message == "No tax was found and the subtotal 1,230.00 differs from the total 1,476.00"


def test_tax_without_subtotal_is_not_checked_against_total() -> None:
    invoice = good_invoice(subtotal=None, line_items=[])
    assert validate_invoice(invoice, today=TODAY) == []


def test_due_date_before_invoice_date() -> None:
    invoice = good_invoice(due_date=date(2024, 3, 14))
    issue = only(validate_invoice(invoice, today=TODAY), "due_before_issue")
    assert issue.severity is Severity.BLOCKING
    assert issue.field == "due_date"
    assert "2024-03-14" in issue.message and "2024-03-15" in issue.message


def test_due_date_on_invoice_date_is_fine() -> None:
    assert validate_invoice(good_invoice(due_date=date(2024, 3, 15)), today=TODAY) == []


@pytest.mark.parametrize(
    ("invoice_date", "implausible"),
    [
        (date(2025, 6, 1), False),  # exactly one year ahead
        (date(2025, 6, 2), True),
        (date(2031, 1, 1), True),
        (date(1990, 1, 1), False),
        (date(1989, 12, 31), True),
        (date(2024, 6, 1), False),
    ],
)
def test_implausible_invoice_date(invoice_date: date, implausible: bool) -> None:
    invoice = good_invoice(invoice_date=invoice_date, due_date=None)
    issues = validate_invoice(invoice, today=TODAY)
    assert ("implausible_date" in codes(issues)) is implausible
    if implausible:
        assert only(issues, "implausible_date").severity is Severity.BLOCKING


def test_implausible_date_uses_today_by_default() -> None:
    far_future = date(date.today().year + 3, 1, 1)
    issues = validate_invoice(good_invoice(invoice_date=far_future, due_date=None))
    assert codes(issues) == ["implausible_date"]


def test_one_year_ahead_of_leap_day() -> None:
    invoice = good_invoice(invoice_date=date(2025, 3, 1), due_date=None)
    assert codes(validate_invoice(invoice, today=date(2024, 2, 29))) == ["implausible_date"]
    invoice = good_invoice(invoice_date=date(2025, 2, 28), due_date=None)
    assert validate_invoice(invoice, today=date(2024, 2, 29)) == []


@pytest.mark.parametrize("total", ["0.00", "-10.00"])
def test_non_positive_total_is_a_warning(total: str) -> None:
    value = Decimal(total)
    invoice = good_invoice(subtotal=None, tax=None, line_items=[], total=value)
    issues = validate_invoice(invoice, today=TODAY)
    issue = only(issues, "non_positive_total")
    assert issue.severity is Severity.WARNING
    assert codes(issues) == ["non_positive_total"]


def test_credit_note_with_negative_amounts_only_warns() -> None:
    invoice = good_invoice(
        subtotal=Decimal("-100.00"),
        tax=Decimal("-20.00"),
        total=Decimal("-120.00"),
        line_items=[LineItem(description="Refund", amount=Decimal("-100.00"))],
    )
    assert codes(validate_invoice(invoice, today=TODAY)) == ["non_positive_total"]


def test_negative_tax_is_blocking() -> None:
    invoice = good_invoice(tax=Decimal("-10.00"), total=Decimal("1220.00"))
    issues = validate_invoice(invoice, today=TODAY)
    issue = only(issues, "implausible_tax")
    assert issue.severity is Severity.BLOCKING
    assert issue.message == "The tax amount -10.00 is negative"
    assert codes(issues) == ["implausible_tax"]


def test_positive_tax_on_credit_note_is_blocking() -> None:
    invoice = good_invoice(subtotal=Decimal("-100.00"), tax=Decimal("20.00"), total=Decimal("-80.00"), line_items=[])
    assert "implausible_tax" in codes(validate_invoice(invoice, today=TODAY))


def test_tax_larger_than_subtotal_is_blocking() -> None:
    invoice = good_invoice(subtotal=Decimal("100.00"), tax=Decimal("150.00"), total=Decimal("250.00"), line_items=[])
    issues = validate_invoice(invoice, today=TODAY)
    issue = only(issues, "implausible_tax")
    assert issue.message == "The tax 150.00 is larger than the subtotal 100.00"
    assert codes(issues) == ["implausible_tax"]


def test_tax_equal_to_subtotal_and_zero_tax_are_plausible() -> None:
    same = good_invoice(subtotal=Decimal("100.00"), tax=Decimal("100.00"), total=Decimal("200.00"), line_items=[])
    zero = good_invoice(subtotal=Decimal("100.00"), tax=Decimal("0.00"), total=Decimal("100.00"), line_items=[])
    assert validate_invoice(same, today=TODAY) == []
    assert validate_invoice(zero, today=TODAY) == []


def test_several_problems_are_all_reported_in_a_stable_order() -> None:
    invoice = good_invoice(
        vendor_name=None,
        currency=None,
        subtotal=Decimal("1320.00"),
        total=Decimal("1.00"),
        due_date=date(2024, 1, 1),
    )
    assert codes(validate_invoice(invoice, today=TODAY)) == [
        "missing_vendor_name",
        "missing_currency",
        "line_items_sum_mismatch",
        "total_mismatch",
        "due_before_issue",
    ]


def test_empty_invoice_reports_every_required_field() -> None:
    issues = validate_invoice(Invoice(), today=TODAY)
    assert codes(issues) == [
        "missing_vendor_name",
        "missing_invoice_number",
        "missing_invoice_date",
        "missing_total",
        "missing_currency",
    ]
    assert all(issue.severity is Severity.BLOCKING for issue in issues)
    assert all(issue.message for issue in issues)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1230", "1,230.00"),
        ("1230.5", "1,230.50"),
        ("0.125", "0.125"),
        ("-7", "-7.00"),
        ("1234567.891", "1,234,567.891"),
    ],
)
def test_money_formatting(value: str, text: str) -> None:
    assert money(Decimal(value)) == text


def test_an_unknown_issue_code_is_refused() -> None:
    # Codes are an enum: a typo fails where the issue is made instead of silently matching no filter.
    with pytest.raises(ValueError, match="total_mismatch"):
        ValidationIssue(code="total_missmatch", message="typo")
    assert ValidationIssue(code="total_mismatch", message="ok").code is IssueCode.TOTAL_MISMATCH
