"""Record confidence and the one routing decision: failed, needs_review or accepted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipeline.route import record_confidence, route_record
from pipeline.validate import validate_invoice
from schemas import (
    ExtractionRecord,
    FieldEvidence,
    FieldValue,
    Invoice,
    LineItem,
    RecordStatus,
    Severity,
    Support,
    ValidationIssue,
)

KEY_VALUES = {
    "vendor_name": "Acme Widgets Ltd",
    "invoice_number": "INV-1",
    "invoice_date": "2024-03-15",
    "currency": "USD",
    "total": "1476.00",
}


# Every field of these records is read beside its label, has its shape and its printed mark: the
# corroboration veto (pipeline/corroboration.py, tested in test_corroboration.py) has nothing to object to.
FULL_SUPPORT = FieldEvidence(support=[Support.LABEL, Support.SHAPE, Support.PRINTED_MARK])


def field(name: str, value: str | None, confidence: float) -> FieldValue:
    return FieldValue(name=name, value=value, confidence=confidence, extractor="test", evidence=FULL_SUPPORT)


def key_fields(confidence: float = 0.95, **overrides: float) -> dict[str, FieldValue]:
    return {name: field(name, value, overrides.get(name, confidence)) for name, value in KEY_VALUES.items()}


def with_amounts(
    fields: dict[str, FieldValue], subtotal: str = "1230.00", tax: str = "246.00", confidence: float = 0.95
) -> dict[str, FieldValue]:
    return {**fields, "subtotal": field("subtotal", subtotal, confidence), "tax": field("tax", tax, confidence)}


def warning(code: str = "non_positive_total") -> ValidationIssue:
    return ValidationIssue(code=code, message=f"{code} happened", severity=Severity.WARNING)


def blocking(code: str = "total_mismatch", message: str = "Subtotal and tax do not add up") -> ValidationIssue:
    return ValidationIssue(code=code, message=message, severity=Severity.BLOCKING)


def record(
    fields: dict[str, FieldValue], issues: list[ValidationIssue] | None = None, **extra: object
) -> ExtractionRecord:
    total = fields.get("total")
    # One line item adding up to the total: the arithmetic confirms the amounts.
    items = [LineItem(amount=Decimal(total.value))] if total is not None and total.value is not None else []
    extra.setdefault("invoice", Invoice(line_items=items))
    return ExtractionRecord(
        document_id="abc",
        source="in/a.pdf",
        status=RecordStatus.NEEDS_REVIEW,
        fields=fields,
        issues=issues or [],
        **extra,  # type: ignore[arg-type]
    )


# --- record_confidence ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95, 1.0])
def test_equal_field_confidences_give_that_confidence(level: float) -> None:
    assert record_confidence(key_fields(level), []) == pytest.approx(level, abs=1e-4)


def test_missing_key_field_gives_zero() -> None:
    fields = key_fields()
    del fields["invoice_number"]
    assert record_confidence(fields, []) == 0.0


def test_key_field_without_value_counts_as_missing() -> None:
    fields = key_fields()
    fields["total"] = field("total", None, 0.9)
    assert record_confidence(fields, []) == 0.0


def test_weakest_field_dominates() -> None:
    # four certain fields cannot carry a coin-flip total past a typical 0.8 threshold
    confidence = record_confidence(key_fields(1.0, total=0.5), [])
    assert 0.5 < confidence < 0.7


def test_more_important_field_weighs_more() -> None:
    weak_total = record_confidence(key_fields(0.95, total=0.7), [])
    weak_vendor = record_confidence(key_fields(0.95, vendor_name=0.7), [])
    assert weak_total < weak_vendor


@pytest.mark.parametrize("name", list(KEY_VALUES))
def test_confidence_is_monotone_in_each_key_field(name: str) -> None:
    values = [record_confidence(key_fields(0.9, **{name: level}), []) for level in (0.3, 0.5, 0.7, 0.9, 1.0)]
    assert values == sorted(values)
    assert values[0] < values[-1]


def test_each_warning_lowers_confidence() -> None:
    fields = key_fields(0.95)
    none, one, two = (record_confidence(fields, [warning()] * n) for n in (0, 1, 2))
    assert none > one > two
    assert one == pytest.approx(none * 0.9, abs=1e-4)


def test_blocking_issue_lowers_confidence_more_than_a_warning() -> None:
    fields = key_fields(0.95)
    assert record_confidence(fields, [blocking("missing_currency")]) < record_confidence(fields, [warning()])


def test_optional_amount_fields_count_only_when_present() -> None:
    without = record_confidence(key_fields(0.95), [])
    weak_tax = with_amounts(key_fields(0.95), confidence=0.95)
    weak_tax["tax"] = field("tax", "246.00", 0.4)
    weak_tax["subtotal"] = field("subtotal", "1000.00", 0.95)  # arithmetic fails: no boost hides the weak tax
    assert record_confidence(weak_tax, []) < without


def test_arithmetic_agreement_raises_confidence_modestly() -> None:
    agreeing = with_amounts(key_fields(0.8), confidence=0.8)
    disagreeing = with_amounts(key_fields(0.8), subtotal="1200.00", confidence=0.8)
    boosted = record_confidence(agreeing, [])
    plain = record_confidence(disagreeing, [])
    assert plain == pytest.approx(0.8, abs=1e-4)
    assert plain < boosted < 0.9


def test_arithmetic_agreement_does_not_vouch_for_other_fields() -> None:
    # a shaky vendor name stays the limit even when every amount adds up
    fields = with_amounts(key_fields(0.95, vendor_name=0.5))
    assert record_confidence(fields, []) < 0.75


def test_no_boost_when_validation_found_an_arithmetic_issue() -> None:
    fields = with_amounts(key_fields(0.8), confidence=0.8)
    items_wrong = blocking("line_items_sum_mismatch", "Line items add up to 1.00 but the subtotal says 2.00")
    assert record_confidence(fields, [items_wrong]) == pytest.approx(0.8 * 0.7, abs=1e-4)


def test_confidence_stays_in_unit_interval() -> None:
    assert record_confidence(with_amounts(key_fields(1.0), confidence=1.0), []) == 1.0
    assert record_confidence({}, []) == 0.0
    many = [warning()] * 50 + [blocking()] * 50
    assert 0.0 <= record_confidence(key_fields(0.99), many) < 0.01


# --- route_record --------------------------------------------------------------------------------


def test_error_means_failed_and_keeps_the_error() -> None:
    original = record(key_fields(0.99), [blocking()], error="Encrypted PDF: remove the password and resubmit")
    routed = route_record(original, 0.8)
    assert routed.status is RecordStatus.FAILED
    assert routed.error == "Encrypted PDF: remove the password and resubmit"
    assert routed.review_reasons == []
    assert routed.confidence == 0.0


def test_confident_clean_record_is_accepted() -> None:
    routed = route_record(record(key_fields(0.95)), 0.8)
    assert routed.status is RecordStatus.ACCEPTED
    assert routed.confidence == pytest.approx(0.95, abs=1e-4)
    assert routed.review_reasons == []


def test_low_confidence_goes_to_review_with_a_readable_reason() -> None:
    routed = route_record(record(key_fields(0.62)), 0.8)
    assert routed.status is RecordStatus.NEEDS_REVIEW
    assert routed.review_reasons == ["Confidence 0.62 is below the auto-accept threshold 0.80"]


@pytest.mark.parametrize(
    ("level", "threshold", "status"),
    [
        (0.8, 0.8, RecordStatus.ACCEPTED),  # at the threshold: accepted
        (0.7999, 0.8, RecordStatus.NEEDS_REVIEW),
        (0.8001, 0.8, RecordStatus.ACCEPTED),
        (0.95, 0.0, RecordStatus.ACCEPTED),
        (0.95, 1.0, RecordStatus.NEEDS_REVIEW),
    ],
)
def test_threshold_boundary(level: float, threshold: float, status: RecordStatus) -> None:
    assert route_record(record(key_fields(level)), threshold).status is status


def test_just_below_threshold_prints_distinguishable_numbers() -> None:
    routed = route_record(record(key_fields(0.7999)), 0.8)
    assert routed.review_reasons == ["Confidence 0.7999 is below the auto-accept threshold 0.8000"]


def test_blocking_issue_with_high_confidence_still_goes_to_review() -> None:
    issue = blocking("due_before_issue", "The due date 2024-03-01 is before the invoice date 2024-03-15")
    routed = route_record(record(key_fields(1.0), [issue]), 0.5)
    assert routed.confidence >= 0.5
    assert routed.status is RecordStatus.NEEDS_REVIEW
    assert routed.review_reasons == ["The due date 2024-03-01 is before the invoice date 2024-03-15"]


def test_blocking_issue_blocks_even_with_zero_threshold() -> None:
    routed = route_record(record(key_fields(1.0), [blocking()]), 0.0)
    assert routed.status is RecordStatus.NEEDS_REVIEW


def test_warning_alone_does_not_send_a_confident_record_to_review() -> None:
    routed = route_record(record(key_fields(0.99), [warning()]), 0.8)
    assert routed.status is RecordStatus.ACCEPTED
    assert routed.review_reasons == []


def test_reasons_list_blocking_then_confidence_then_warnings() -> None:
    # (a line_item_arithmetic warning would add its own veto reason: see test_corroboration.py)
    issues = [warning("non_positive_total"), blocking("total_mismatch", "Totals disagree")]
    routed = route_record(record(key_fields(0.9), issues), 0.8)
    assert routed.status is RecordStatus.NEEDS_REVIEW
    assert routed.review_reasons == [
        "Totals disagree",
        f"Confidence {routed.confidence:.2f} is below the auto-accept threshold 0.80",
        "non_positive_total happened",
    ]


def test_route_returns_a_copy_and_recomputes_confidence() -> None:
    original = record(key_fields(0.95), confidence=0.1)
    routed = route_record(original, 0.8)
    assert routed is not original
    assert original.status is RecordStatus.NEEDS_REVIEW
    assert original.confidence == 0.1
    assert original.review_reasons == []
    assert routed.confidence == record_confidence(original.fields, original.issues)


def test_validated_invoice_end_to_end() -> None:
    invoice = Invoice(
        vendor_name="Acme Widgets Ltd",
        invoice_number="INV-1",
        invoice_date=date(2024, 3, 15),
        currency="USD",
        subtotal=Decimal("100.00"),
        tax=Decimal("20.00"),
        total=Decimal("102.00"),
    )
    issues = validate_invoice(invoice, today=date(2024, 6, 1))
    fields = with_amounts(key_fields(0.99), subtotal="100.00", tax="20.00")
    fields["total"] = field("total", "102.00", 0.99)
    routed = route_record(record(fields, issues, invoice=invoice), 0.8)
    assert routed.status is RecordStatus.NEEDS_REVIEW
    assert routed.review_reasons[0] == "Subtotal 100.00 plus tax 20.00 is 120.00 but the total says 102.00"
