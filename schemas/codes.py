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
    # vendor memory (pipeline/vendors/)
    VENDOR_PROFILE_CONFLICT = "vendor_profile_conflict"  # two profiles claim one identifier
    VENDOR_LAYOUT_MISMATCH = "vendor_layout_mismatch"  # identifier matches, layout does not
    VENDOR_NAME_CONTRADICTS_PROFILE = "vendor_name_contradicts_profile"  # the page names another vendor
    # e-invoices (pipeline/einvoice/, pipeline/process.py)
    EINVOICE_PAGE_MISMATCH = "einvoice_page_mismatch"  # the XML says one value, the page shows another
    EINVOICE_NOT_ON_PAGE = "einvoice_not_on_page"  # the XML's number or total is printed nowhere on the page
    EINVOICE_SCHEMA_INVALID = "einvoice_schema_invalid"  # read all the same (a warning)
    EINVOICE_UNUSABLE = "einvoice_unusable"  # embedded XML that cannot be used: the page was read instead
    # routing: the corroboration veto (pipeline/corroboration.py)
    UNCORROBORATED_FIELD = "uncorroborated_field"
    LINE_ITEMS_UNEXPLAINED = "line_items_unexplained"
    # routing: a review reason no issue explains (confidence below the accept threshold)
    LOW_CONFIDENCE = "low_confidence"


class OutputCode(StrEnum):
    """Why OUT could not be written or tidied (an ``OutputError``'s code; the run summary names it)."""

    OUTPUT_ERROR = "output_error"  # OUT cannot be written or read (permissions, network, a missing bucket)
    CORRUPT_PART = "corrupt_part"  # a Parquet part file in OUT that Parquet cannot read (truncated, not Parquet)
    PARTITION_CHANGED = "partition_changed"  # a partition changed while being compacted (another writer)


class FailureCode(StrEnum):
    """Why a row is ``failed``: the ``error_code`` column of ``invoices/``."""

    DOCUMENT_ERROR = "document_error"
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_FORMAT = "unsupported_format"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    TOO_MANY_PIXELS = "too_many_pixels"  # an image header declares more pixels than LEDGERLENS_MAX_IMAGE_PIXELS
    DECODE_MEMORY_LIMIT = "decode_memory_limit"  # a page tool hit LEDGERLENS_DECODE_MEMORY_LIMIT_MB
    NO_TEXT = "no_text"
    PROCESSING_FAILED = "processing_failed"
    OCR_CRASHED = "ocr_crashed"  # Tesseract's worker process died on a page, and the command failed on it too
    EINVOICE_UNREADABLE = "einvoice_unreadable"  # malformed XML, or values that are not numbers or dates
    EINVOICE_HOSTILE_XML = "einvoice_hostile_xml"  # a DTD or entities (XXE, entity expansion)
    EINVOICE_TOO_LARGE = "einvoice_too_large"
    EINVOICE_NOT_AN_INVOICE = "einvoice_not_an_invoice"  # XML, but neither a CII nor a UBL invoice
