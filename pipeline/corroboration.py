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
* currency: printed on the page as a code or symbol.

Line items whose arithmetic fails after reconciliation (3 x 10.00 = 99.00) block acceptance too. Each
gap becomes one blocking issue naming the field, so the reviewer knows what to check.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from schemas import ExtractionRecord, FieldEvidence, FieldValue, Severity, Support, ValidationIssue

UNCORROBORATED = "uncorroborated_field"
LINE_ITEMS_UNEXPLAINED = "line_items_unexplained"
_CENT = Decimal("0.01")
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
_AMOUNTS = ("subtotal", "tax", "total")


def _amount(fields: dict[str, FieldValue], name: str) -> Decimal | None:
    field = fields.get(name)
    if field is None or field.value is None:
        return None
    try:
        return Decimal(field.value)
    except InvalidOperation:
        return None


def _items_sum(record: ExtractionRecord) -> Decimal | None:
    amounts = [item.amount for item in record.invoice.line_items]
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum((amount for amount in amounts if amount is not None), Decimal(0))


def arithmetic_confirms(record: ExtractionRecord) -> set[str]:
    """The amount fields the record's own arithmetic confirms."""
    subtotal, tax, total = (_amount(record.fields, name) for name in _AMOUNTS)
    items = _items_sum(record)
    confirmed: set[str] = set()
    if subtotal is not None and tax is not None and total is not None and abs(subtotal + tax - total) <= _CENT:
        confirmed.update(_AMOUNTS)
    if items is not None and subtotal is not None and abs(items - subtotal) <= _CENT:
        confirmed.add("subtotal")
        if total is not None and (tax is None and abs(subtotal - total) <= _CENT):
            confirmed.add("total")
    if (
        items is not None
        and subtotal is None
        and total is not None
        and (abs(items - total) <= _CENT or (tax is not None and abs(items - (total - tax)) <= _CENT))
    ):
        confirmed.add("total")
    return confirmed


def _issue(field: str, message: str) -> ValidationIssue:
    return ValidationIssue(code=UNCORROBORATED, field=field, message=message, severity=Severity.BLOCKING)


def _field_gap(name: str, field: FieldValue, evidence: FieldEvidence | None, confirmed: set[str]) -> str | None:
    """Why the field cannot be accepted as read, or None when its evidence suffices."""
    if evidence is None:
        return "no evidence was gathered for it"
    if evidence.doubts:
        return evidence.doubts[0]
    missing = _NEEDS.get(name, frozenset()) - set(evidence.support)
    if missing:
        return _WORDS[min(missing)]
    if name in _AMOUNTS and name not in confirmed:
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
    broken_lines = [issue for issue in record.issues if issue.code == "line_item_arithmetic"]
    if broken_lines:
        issues.append(
            ValidationIssue(
                code=LINE_ITEMS_UNEXPLAINED,
                field="line_items",
                message=f"{broken_lines[0].message}, and reconciliation cannot explain it; correct the line items.",
                severity=Severity.BLOCKING,
            )
        )
    return issues
