"""The one place a record's status is decided: failed, needs_review or accepted.

Confidence is a single number in 0..1 meant to be calibrated later against measured accuracy, so it
is kept simple and monotone: raising any field's confidence never lowers it, and every issue lowers it.
"""

from __future__ import annotations

import math

from pipeline.calibration import CalibrationTable
from pipeline.corroboration import VETO_CODES, corroboration_issues, field_amount, is_till_receipt, unheld_codes
from pipeline.money import totals_agree
from schemas import ExtractionRecord, FieldValue, IssueCode, RecordStatus, Severity, ValidationIssue

# How much each key header field matters; the total is what gets paid, date and number identify it.
KEY_FIELD_WEIGHTS: dict[str, float] = {
    "vendor_name": 1.0,
    "invoice_number": 1.5,
    "invoice_date": 1.5,
    "currency": 1.0,
    "total": 2.0,
}
# Counted only when extracted: many invoices print no separate subtotal or tax.
OPTIONAL_FIELD_WEIGHTS: dict[str, float] = {"subtotal": 1.0, "tax": 1.0}
AMOUNT_FIELDS = ("subtotal", "tax", "total")

WARNING_FACTOR = 0.9
BLOCKING_FACTOR = 0.7
# Share of an amount field's remaining doubt removed when the arithmetic independently confirms it.
ARITHMETIC_DOUBT_REDUCTION = 0.5
_ARITHMETIC_ISSUES = frozenset({IssueCode.TOTAL_MISMATCH, IssueCode.LINE_ITEMS_SUM_MISMATCH})


def arithmetic_agrees(fields: dict[str, FieldValue], issues: list[ValidationIssue]) -> bool:
    """Subtotal + tax = total as read, and validation found no sum that fails (items included)."""
    if any(issue.code in _ARITHMETIC_ISSUES for issue in issues):
        return False
    subtotal, tax, total = (field_amount(fields, name) for name in AMOUNT_FIELDS)
    return tax is not None and totals_agree(subtotal, tax, total, field_amount(fields, "adjustments"))


def record_confidence(
    fields: dict[str, FieldValue],
    issues: list[ValidationIssue],
    calibration: CalibrationTable | None = None,
    text_source: str | None = None,
) -> float:
    """How much to trust the record as a whole, 0..1.

    With a calibration table, each field's score is first replaced by the measured accuracy of fields
    like it (same field, text source and score bin; see pipeline/calibration.py).

    The square root of (weakest key field times weighted geometric mean of key fields): the weakest field
    dominates, because one wrong field makes the record wrong, while the mean still separates "all
    fields shaky" from "one field shaky". A missing key field counts as 0, so the record gets 0 (a till
    receipt needs no invoice number). Each warning multiplies by 0.9 and each blocking issue by 0.7.
    """
    weights = dict(KEY_FIELD_WEIGHTS)
    if fields.get("invoice_number") is None and is_till_receipt(fields):
        del weights["invoice_number"]  # a till receipt needs none (pipeline/corroboration.py)
    weights.update({name: w for name, w in OPTIONAL_FIELD_WEIGHTS.items() if name in fields})
    confidences: dict[str, float] = {}
    for name in weights:
        field = fields.get(name)
        raw = field.confidence if field is not None and field.value is not None else 0.0
        measured = calibration is not None and field is not None and field.extractor == calibration.extractor
        calibrated = calibration.probability(name, text_source, raw) if measured and calibration else raw
        confidences[name] = calibrated if raw > 0 else 0.0
    if arithmetic_agrees(fields, issues):
        # Three amounts read separately that satisfy subtotal + tax = total (and match the line items)
        # are very unlikely to be misread consistently, so each is more trustworthy than its reading
        # confidence alone says. It says nothing about vendor, number or date, which is why only the
        # amount fields are raised and the record as a whole stays bounded by its weakest other field.
        for name in AMOUNT_FIELDS:
            if name in confidences:
                doubt = 1.0 - confidences[name]
                confidences[name] = 1.0 - doubt * (1.0 - ARITHMETIC_DOUBT_REDUCTION)
    weakest = min(confidences.values())
    if weakest <= 0.0:
        return 0.0
    total_weight = sum(weights.values())
    geometric_mean = math.exp(sum(weights[n] * math.log(c) for n, c in confidences.items()) / total_weight)
    return _with_issue_factors(math.sqrt(weakest * geometric_mean), issues)


def _with_issue_factors(score: float, issues: list[ValidationIssue]) -> float:
    for issue in issues:
        score *= WARNING_FACTOR if issue.severity is Severity.WARNING else BLOCKING_FACTOR
    return round(min(max(score, 0.0), 1.0), 4)


def _pair(value: float, threshold: float) -> tuple[str, str]:
    """Both numbers with enough decimals that a value just under the threshold does not print equal."""
    for places in range(2, 7):
        shown, limit = f"{value:.{places}f}", f"{threshold:.{places}f}"
        if shown != limit:
            return shown, limit
    return f"{value:.6f}", f"{threshold:.6f}"


def route_record(
    record: ExtractionRecord, accept_threshold: float, calibration: CalibrationTable | None = None
) -> ExtractionRecord:
    """A copy of the record with confidence, status and review reasons set from its fields and issues.

    ``failed`` when extraction raised (the error is kept); ``needs_review`` when any blocking issue
    holds, a field lacks corroboration, or confidence is below the threshold; ``accepted`` otherwise.
    A record at exactly the threshold is accepted.
    """
    routed = record.model_copy(deep=True)
    if record.error is not None:
        routed.status = RecordStatus.FAILED
        routed.confidence = 0.0
        routed.review_reasons = []
        routed.blocking_codes = ["failed"]
        return routed
    # A record routed again (after the model's reading, say) gets its veto derived afresh, not stacked.
    dropped = set(VETO_CODES) | unheld_codes(record.fields)
    record = record.model_copy(update={"issues": [i for i in record.issues if i.code not in dropped]})
    source = record.text_source.value if record.text_source else None
    confidence = record_confidence(record.fields, record.issues, calibration, source)
    # The corroboration veto comes first: a field without independent evidence sends the record to
    # review whatever its calibrated confidence (pipeline/corroboration.py).
    vetoes = corroboration_issues(record)
    blocking = [issue for issue in [*record.issues, *vetoes] if issue.severity is Severity.BLOCKING]
    warnings = [issue for issue in record.issues if issue.severity is not Severity.BLOCKING]
    reasons = [issue.message for issue in blocking]
    if confidence < accept_threshold:
        shown, limit = _pair(confidence, accept_threshold)
        reasons.append(f"Confidence {shown} is below the auto-accept threshold {limit}")
    routed.confidence = confidence
    routed.issues = [*record.issues, *vetoes]
    routed.blocking_codes = list(dict.fromkeys(issue.code for issue in blocking))
    routed.warning_codes = [issue.code for issue in warnings]
    if reasons:
        # Warnings alone never send a record to review (they already lowered its confidence), but a
        # reviewer who opens it anyway should see them.
        reasons.extend(issue.message for issue in warnings)
        routed.status = RecordStatus.NEEDS_REVIEW
    else:
        routed.status = RecordStatus.ACCEPTED
    routed.review_reasons = reasons
    return routed
