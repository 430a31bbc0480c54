"""Business rules an extracted invoice must satisfy before it can be accepted without a human.

Each rule yields a ``ValidationIssue`` with a stable snake_case code (for metrics and filtering) and a
message a reviewer can act on without opening the code. Blocking issues keep a record out of
``accepted``; warnings only lower its confidence.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipeline.money import agree, agrees_with_any, format_money, printed_line_tolerance, totals_agree
from schemas import DocumentType, Invoice, IssueCode, LineItem, Severity, ValidationIssue

EARLIEST_PLAUSIBLE_DATE = date(1990, 1, 1)

_REQUIRED_FIELDS: tuple[tuple[str, str, IssueCode], ...] = (
    ("vendor_name", "vendor name", IssueCode.MISSING_VENDOR_NAME),
    ("invoice_number", "invoice number", IssueCode.MISSING_INVOICE_NUMBER),
    ("invoice_date", "invoice date", IssueCode.MISSING_INVOICE_DATE),
    ("total", "total amount", IssueCode.MISSING_TOTAL),
)


def _issue(code: IssueCode, message: str, field: str | None, severity: Severity = Severity.BLOCKING) -> ValidationIssue:
    return ValidationIssue(code=code, message=message, field=field, severity=severity)


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _missing_fields(invoice: Invoice) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for name, words, code in _REQUIRED_FIELDS:
        value = getattr(invoice, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            issues.append(_issue(code, f"No {words} was found on the invoice", name))
    if invoice.currency is None:
        issues.append(_issue(IssueCode.MISSING_CURRENCY, "No currency was found on the invoice", "currency"))
    return issues


def _item_amount(item: LineItem) -> Decimal | None:
    if item.amount is not None:
        return item.amount
    if item.quantity is not None and item.unit_price is not None:
        return item.quantity * item.unit_price
    return None


def _line_item_label(position: int, item: LineItem) -> str:
    description = (item.description or "").strip()
    if len(description) > 40:
        description = description[:37] + "..."
    return f"Line {position} ({description})" if description else f"Line {position}"


def _line_item_arithmetic(invoice: Invoice) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for position, item in enumerate(invoice.line_items, start=1):
        if item.quantity is None or item.unit_price is None or item.amount is None:
            continue
        expected = item.quantity * item.unit_price
        if not agree(expected, item.amount, printed_line_tolerance(item.quantity, item.unit_price)):
            issues.append(
                _issue(
                    IssueCode.LINE_ITEM_ARITHMETIC,
                    f"{_line_item_label(position, item)}: {item.quantity} x {format_money(item.unit_price)} is "
                    f"{format_money(expected)} but the line amount says {format_money(item.amount)}",
                    "line_items",
                    Severity.WARNING,
                )
            )
    return issues


def _line_items_sum(invoice: Invoice) -> list[ValidationIssue]:
    amounts = [amount for item in invoice.line_items if (amount := _item_amount(item)) is not None]
    if not amounts:
        return []
    # Lines without any amount (notes, free items, wrapped text) count as zero.
    items_sum = sum(amounts, Decimal(0))
    if invoice.subtotal is not None:
        # Gross line prices ("Prijzen zijn inclusief BTW") add up to the total that subtotal + tax makes.
        gross_lines = invoice.tax is not None and totals_agree(invoice.subtotal, invoice.tax, invoice.total)
        if agree(items_sum, invoice.subtotal) or (gross_lines and agree(items_sum, invoice.total)):
            return []
        message = (
            f"Line items add up to {format_money(items_sum)} but the subtotal says {format_money(invoice.subtotal)}"
        )
        return [_issue(IssueCode.LINE_ITEMS_SUM_MISMATCH, message, "line_items")]
    if invoice.total is None:
        return []
    # Without a subtotal the items may be net (total - tax) or gross (total) prices; either agrees.
    targets = [invoice.total]
    if invoice.tax is not None:
        targets.insert(0, invoice.total - invoice.tax)
    if agrees_with_any(items_sum, targets):
        return []
    if invoice.tax is not None:
        message = (
            f"Line items add up to {format_money(items_sum)} but the total says {format_money(invoice.total)} "
            f"({format_money(invoice.total - invoice.tax)} before tax)"
        )
    else:
        message = f"Line items add up to {format_money(items_sum)} but the total says {format_money(invoice.total)}"
    return [_issue(IssueCode.LINE_ITEMS_SUM_MISMATCH, message, "line_items")]


def _totals(invoice: Invoice) -> list[ValidationIssue]:
    subtotal, tax, total = invoice.subtotal, invoice.tax, invoice.total
    if subtotal is None or total is None:
        return []
    if totals_agree(subtotal, tax, total, invoice.adjustments):
        return []
    if invoice.adjustments is not None:
        subtotal += invoice.adjustments  # the tax base: discounts and charges between subtotal and tax applied
    if tax is not None:
        message = (
            f"Subtotal {format_money(subtotal)}{' after discounts and charges' if invoice.adjustments else ''} "
            f"plus tax {format_money(tax)} is {format_money(subtotal + tax)} "
            f"but the total says {format_money(total)}"
        )
        return [_issue(IssueCode.TOTAL_MISMATCH, message, "total")]
    message = f"No tax was found and the subtotal {format_money(subtotal)} differs from the total {format_money(total)}"
    return [_issue(IssueCode.TOTAL_MISMATCH, message, "total")]


def _dates(invoice: Invoice, today: date) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    issued, due = invoice.invoice_date, invoice.due_date
    if issued is not None and due is not None and due < issued:
        issues.append(
            _issue(
                IssueCode.DUE_BEFORE_ISSUE,
                f"The due date {due.isoformat()} is before the invoice date {issued.isoformat()}",
                "due_date",
            )
        )
    if issued is not None:
        latest = _one_year_after(today)
        if issued > latest:
            issues.append(
                _issue(
                    IssueCode.IMPLAUSIBLE_DATE,
                    f"The invoice date {issued.isoformat()} is more than a year in the future",
                    "invoice_date",
                )
            )
        elif issued < EARLIEST_PLAUSIBLE_DATE:
            issues.append(
                _issue(
                    IssueCode.IMPLAUSIBLE_DATE,
                    f"The invoice date {issued.isoformat()} is before {EARLIEST_PLAUSIBLE_DATE.year}",
                    "invoice_date",
                )
            )
    return issues


def _plausibility(invoice: Invoice) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    # A document that titles itself a credit note owes the customer: a negative total is what it should print.
    declared_credit = invoice.document_type is DocumentType.CREDIT_NOTE
    if invoice.total is not None and (invoice.total == 0 or (invoice.total < 0 and not declared_credit)):
        issues.append(
            _issue(
                IssueCode.NON_POSITIVE_TOTAL,
                f"The total is {format_money(invoice.total)}; check whether this is a credit note",
                "total",
                Severity.WARNING,
            )
        )
    tax = invoice.tax
    if tax is None:
        return issues
    # A credit note prints subtotal, tax and total all negative; judge its tax by magnitude so that
    # only the sign mismatch or an oversized tax is flagged, as for an ordinary invoice.
    reference = invoice.subtotal if invoice.subtotal is not None else invoice.total
    credit_note = reference is not None and reference < 0
    signed_tax = -tax if credit_note else tax
    if signed_tax < 0:
        message = (
            f"The tax {format_money(tax)} has the opposite sign of the credit note's amounts"
            if credit_note
            else f"The tax amount {format_money(tax)} is negative"
        )
        issues.append(_issue(IssueCode.IMPLAUSIBLE_TAX, message, "tax"))
    elif invoice.subtotal is not None and abs(tax) > abs(invoice.subtotal):
        issues.append(
            _issue(
                IssueCode.IMPLAUSIBLE_TAX,
                f"The tax {format_money(tax)} is larger than the subtotal {format_money(invoice.subtotal)}",
                "tax",
            )
        )
    return issues


def validate_invoice(invoice: Invoice, *, today: date | None = None) -> list[ValidationIssue]:
    """All rule violations of one invoice, missing fields first, then arithmetic, dates and plausibility."""
    reference_day = today if today is not None else date.today()
    return [
        *_missing_fields(invoice),
        *_line_items_sum(invoice),
        *_line_item_arithmetic(invoice),
        *_totals(invoice),
        *_dates(invoice, reference_day),
        *_plausibility(invoice),
    ]
