"""Single source of truth for Ledgerlens data shapes."""

from schemas.models import (
    HEADER_FIELDS,
    BoundingBox,
    CurrencyCode,
    Document,
    ExtractionRecord,
    ExtractionResult,
    FieldValue,
    Invoice,
    LineItem,
    Page,
    PageText,
    RecordStatus,
    Severity,
    TextSource,
    ValidationIssue,
    Word,
)

__all__ = [
    "HEADER_FIELDS",
    "BoundingBox",
    "CurrencyCode",
    "Document",
    "ExtractionRecord",
    "ExtractionResult",
    "FieldValue",
    "Invoice",
    "LineItem",
    "Page",
    "PageText",
    "RecordStatus",
    "Severity",
    "TextSource",
    "ValidationIssue",
    "Word",
]
