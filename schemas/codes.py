"""Every stable code Ledgerlens writes: why a record needs review (issue codes) and why a row failed
(failure codes).

The values are the strings stored in Parquet, in the review queue and in metrics; they never change. Code
compares the members, never bare strings, so a typo fails at import instead of silently matching nothing.
"""

from __future__ import annotations

from enum import StrEnum


class IssueCode(StrEnum):
    """What a ``ValidationIssue`` says is wrong, and the review queue's reason filter."""

    # validation (pipeline/validate.py)
    MISSING_VENDOR_NAME = "missing_vendor_name"
    MISSING_INVOICE_NUMBER = "missing_invoice_number"
    MISSING_INVOICE_DATE = "missing_invoice_date"
    MISSING_TOTAL = "missing_total"
    MISSING_CURRENCY = "missing_currency"
    LINE_ITEMS_SUM_MISMATCH = "line_items_sum_mismatch"
    LINE_ITEM_ARITHMETIC = "line_item_arithmetic"
    TOTAL_MISMATCH = "total_mismatch"
    DUE_BEFORE_ISSUE = "due_before_issue"
    IMPLAUSIBLE_DATE = "implausible_date"
    NON_POSITIVE_TOTAL = "non_positive_total"
    IMPLAUSIBLE_TAX = "implausible_tax"
    # extraction (pipeline/extract/)
    NO_LINE_ITEMS = "no_line_items"
    AMOUNT_REPAIRED = "amount_repaired"
    UNREADABLE_VALUE = "unreadable_value"
    LINE_AMOUNT_REPAIRED = "line_amount_repaired"
    # fusion of OCR and the model (pipeline/vlm/fusion.py)
    POSSIBLE_HALLUCINATION = "possible_hallucination"
    EXTRACTORS_DISAGREE = "extractors_disagree"
    EXTRACTORS_DISAGREE_RESOLVED = "extractors_disagree_resolved"
    EXTRACTORS_DISAGREE_BY_LABEL = "extractors_disagree_by_label"
    # the model cascade (pipeline/vlm/cascade.py, pipeline/process.py)
    VLM_FAILED = "vlm_failed"
    VLM_SKIPPED = "vlm_skipped"
    VLM_BUDGET_SPENT = "vlm_budget_spent"
    # routing: a review reason no issue explains (confidence below the accept threshold)
    LOW_CONFIDENCE = "low_confidence"


class FailureCode(StrEnum):
    """Why a row is ``failed``: the ``error_code`` column of ``invoices/``."""

    DOCUMENT_ERROR = "document_error"
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_FORMAT = "unsupported_format"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    NO_TEXT = "no_text"
    PROCESSING_FAILED = "processing_failed"
