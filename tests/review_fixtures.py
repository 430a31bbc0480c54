"""Records and queues for the review tests (plain helpers, imported by the review test modules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from schemas import (
    BoundingBox,
    ExtractionRecord,
    FieldValue,
    Invoice,
    LineItem,
    RecordStatus,
    ValidationIssue,
)


def review_record(
    document_id: str,
    total: str = "1583.55",
    vendor: str = "Acme Widgets Ltd",
    status: RecordStatus = RecordStatus.NEEDS_REVIEW,
    reasons: list[str] | None = None,
    page_images: list[str] | None = None,
) -> ExtractionRecord:
    """A needs_review record whose total disagrees with subtotal + tax by 10.00 (unless other reasons are given)."""
    mismatch = ValidationIssue(
        code="total_mismatch",
        message="Subtotal 1,430.50 plus tax 143.05 is 1,573.55 but the total says 1,583.55",
        field="total",
    )
    reasons = reasons if reasons is not None else [mismatch.message]
    return ExtractionRecord(
        document_id=document_id,
        source=f"/in/{document_id[:8]}.pdf",
        page_count=1,
        status=status,
        confidence=0.55,
        review_reasons=reasons,
        issues=[mismatch] if mismatch.message in reasons else [],
        invoice=Invoice(
            vendor_name=vendor,
            invoice_number="INV-2024-0042",
            invoice_date=date(2024, 3, 15),
            currency="USD",
            subtotal=Decimal("1430.50"),
            tax=Decimal("143.05"),
            total=Decimal(total),
            line_items=[
                LineItem(description="Consulting", quantity=Decimal(10), unit_price=Decimal(120), amount=Decimal(1200)),
                LineItem(
                    description="Travel", quantity=Decimal(1), unit_price=Decimal("230.50"), amount=Decimal("230.50")
                ),
            ],
        ),
        fields={
            "vendor_name": FieldValue(
                name="vendor_name",
                value=vendor,
                confidence=0.97,
                extractor="rules",
                page=1,
                bbox=BoundingBox(x0=0.08, y0=0.06, x1=0.35, y1=0.08),
                raw_text=vendor,
            ),
            "total": FieldValue(
                name="total",
                value=total,
                confidence=0.42,
                extractor="rules",
                page=1,
                bbox=BoundingBox(x0=0.78, y0=0.37, x1=0.9, y1=0.39),
                raw_text=f"${total}",
            ),
        },
        extractor="rules",
        page_images=page_images if page_images is not None else [],
    )


def doc_id(n: int) -> str:
    return f"{n:064x}"


LOW_CONFIDENCE_REASON = "Confidence 0.55 is below the auto-accept threshold 0.80"
