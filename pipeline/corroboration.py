"""Auto-accept needs corroboration, not only a score: the veto routing applies before calibration.

Every header field a record would be accepted with must be backed by independent evidence, carried by
the field itself (``FieldValue.evidence``, gathered by extraction) or found in the record's own values:

* invoice number and dates: read beside their label, with the right shape, and nothing against them
  (the number printed differently elsewhere, a date whose day/month order the document leaves open,
  a due date before the issue date);
* amounts: label and shape, and the arithmetic confirms them (subtotal + tax = total, or the line
  items add up to the subtotal, or to the total less its tax);
* vendor and customer: a plausible name (not a bare legal form, an address, a label, a logo, the other
  party) and, where the page prints a sender line, footer or e-mail/web domain, consistent with it;
* currency: printed on the page as a code or symbol;
* anything OCR read: no sign of a misread the page would only seem to confirm (a name word one letter
  from a business word, an ID character OCR confuses among the other kind: pipeline/extract/misreads.py).

Line items whose arithmetic fails after reconciliation (3 x 10.00 = 99.00) block acceptance too. Each
gap becomes one blocking issue naming the field, so the reviewer knows what to check.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from pipeline.money import agree, net_of_tax, sum_amounts, totals_agree
from schemas import ExtractionRecord, FieldEvidence, FieldValue, IssueCode, Severity, Support, ValidationIssue

_NEEDS: dict[str, frozenset[Support]] = {
    "invoice_number": frozenset({Support.LABEL, Support.SHAPE}),
    "invoice_date": frozenset({Support.LABEL, Support.SHAPE}),
    "due_date": frozenset({Support.LABEL, Support.SHAPE}),
    "subtotal": frozenset({Support.LABEL, Support.SHAPE}),
    "tax": frozenset({Support.LABEL, Support.SHAPE}),
    "total": frozenset({Support.LABEL, Support.SHAPE}),
    "currency": frozenset({Support.PRINTED_MARK}),
    "vendor_name": frozenset({Support.SHAPE}),
    "customer_name": frozenset({Support.SHAPE}),
}
_WORDS: dict[Support, str] = {
    Support.LABEL: "no label names it",
    Support.SHAPE: "it does not have the shape of its field",
    Support.PRINTED_MARK: "no currency code or symbol is printed",
}
# Evidence that stands in for a label: a document that prints one date only cannot mean another by it.
# The line items' own sum, confirmed by the total less its tax, is the subtotal a page does not print.
_STANDS_IN: dict[Support, Support] = {Support.SOLE_DATE: Support.LABEL, Support.ITEMS_SUM: Support.LABEL}
_AMOUNTS = ("subtotal", "tax", "total")
# The codes of the veto's own issues: derived from a record's fields at each routing, never carried over.
VETO_CODES = frozenset({IssueCode.UNCORROBORATED_FIELD, IssueCode.LINE_ITEMS_UNEXPLAINED})


def field_amount(fields: dict[str, FieldValue], name: str) -> Decimal | None:
    """The field's value as an amount; None when it is missing or no number."""
    field = fields.get(name)
    if field is None or field.value is None:
        return None
    try:
        return Decimal(field.value)
    except InvalidOperation:
        return None


def arithmetic_confirms(record: ExtractionRecord) -> set[str]:
    """The amount fields the record's own arithmetic confirms (pipeline/money.py holds the tolerances)."""
    subtotal, tax, total = (field_amount(record.fields, name) for name in _AMOUNTS)
    items = sum_amounts(item.amount for item in record.invoice.line_items)
    confirmed: set[str] = set()
    adjustments = field_amount(record.fields, "adjustments")
    if subtotal is not None and tax is not None and totals_agree(subtotal, tax, total, adjustments):
        confirmed.update(_AMOUNTS)
    if items is not None and subtotal is not None and agree(items, subtotal):
        confirmed.add("subtotal")
        if tax is None and agree(subtotal, total):
            confirmed.add("total")
    if items is not None and subtotal is None and total is not None and agree(items, net_of_tax(total, tax)):
        confirmed.add("total")  # the items are the net amount (or, without a tax, the total)
    if items is not None and subtotal is None and agree(items, total):
        confirmed.add("total")  # gross line prices
    if payment_confirms_total(record.fields):
        confirmed.add("total")
    return confirmed


def unheld_codes(fields: dict[str, FieldValue]) -> frozenset[IssueCode]:
    """Issues routing does not hold against a record with these fields: a till receipt's missing invoice
    number (see `is_till_receipt`). The second look does not read a page again for them either."""
    return frozenset({IssueCode.MISSING_INVOICE_NUMBER}) if is_till_receipt(fields) else frozenset()


def is_till_receipt(fields: dict[str, FieldValue]) -> bool:
    """A till receipt: it prints the cash tendered, and tendered less change is its total.

    Many receipts print no invoice number; one is identified by its vendor, date and total, so it may be
    accepted without a number, but only when the money handed over confirms the total and every field
    it does print (vendor, date, total, currency, tax) is corroborated like any invoice's.
    """
    return payment_confirms_total(fields)


def payment_confirms_total(fields: dict[str, FieldValue]) -> bool:
    """A till receipt's cash tendered less the change given back is its total (read from other lines)."""
    total, tendered, change = (field_amount(fields, name) for name in ("total", "tendered", "change"))
    if total is None or tendered is None:
        return False
    places = {(fields[name].page, fields[name].bbox) for name in ("total", "tendered", "change") if name in fields}
    if len(places) < len([name for name in ("total", "tendered", "change") if name in fields]):
        return False  # one printed number read under two labels proves nothing
    return agree(tendered - (change or Decimal(0)), total)


def _issue(field: str, message: str) -> ValidationIssue:
    return ValidationIssue(
        code=IssueCode.UNCORROBORATED_FIELD, field=field, message=message, severity=Severity.BLOCKING
    )


def _field_gap(name: str, field: FieldValue, evidence: FieldEvidence | None, confirmed: set[str]) -> str | None:
    """Why the field cannot be accepted as read, or None when its evidence suffices."""
    if evidence is None:
        return "no evidence was gathered for it"
    if evidence.doubts:
        return evidence.doubts[0]
    present = set(evidence.support) | {_STANDS_IN[kind] for kind in evidence.support if kind in _STANDS_IN}
    missing = _NEEDS.get(name, frozenset()) - present
    if missing:
        return _WORDS[min(missing)]
    if name in _AMOUNTS and name not in confirmed and Support.RATE not in evidence.support:
        return "the arithmetic (subtotal + tax = total, line items) does not confirm it"
    return None


def corroboration_issues(record: ExtractionRecord) -> list[ValidationIssue]:
    """One blocking issue per field that lacks corroboration, plus one for unexplained line arithmetic."""
    confirmed = arithmetic_confirms(record)
    issues: list[ValidationIssue] = []
    for name, field in record.fields.items():
        if name not in _NEEDS or field.value is None:
            continue
        gap = _field_gap(name, field, field.evidence, confirmed)
        if gap is not None:
            label = name.replace("_", " ")
            issues.append(
                _issue(name, f"The {label} {field.value!r} is not corroborated: {gap}. Check it on the page.")
            )
    broken_lines = [issue for issue in record.issues if issue.code == IssueCode.LINE_ITEM_ARITHMETIC]
    if broken_lines:
        issues.append(
            ValidationIssue(
                code=IssueCode.LINE_ITEMS_UNEXPLAINED,
                field="line_items",
                message=f"{broken_lines[0].message}, and reconciliation cannot explain it; correct the line items.",
                severity=Severity.BLOCKING,
            )
        )
    return issues
