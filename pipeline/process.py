"""Process one document end to end: check, render, read text, extract, validate, route.

Every outcome is a record: a document that cannot continue becomes a failed record with a message a
person can act on. Only TransientError escapes, so the orchestrator can retry it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from pipeline.calibration import load_calibration
from pipeline.config import Settings
from pipeline.einvoice import (
    XML_MEDIA_TYPE,
    EInvoiceError,
    EInvoiceReading,
    compare_with_page,
    describe_checks,
    einvoice_result,
    read_einvoice,
    without_page,
)
from pipeline.errors import DocumentError, NoTextError
from pipeline.previews import PREVIEWS_DIR, preview_relpath, write_page_previews
from pipeline.reading import Reading, carries_einvoice, first_reading, read_document, read_pages, routed_record
from pipeline.render import check_document
from pipeline.vendors.memory import use_vendor_memory
from pipeline.vlm.cascade import (
    SecondReading,
    VlmSession,
    model_wanted,
    page_images,
    read_with_models,
    vlm_failure,
)
from schemas import Document, ExtractionRecord, ExtractionResult, IssueCode, PageText, RecordStatus, ValidationIssue
from schemas.vendors import VendorProfile

__all__ = ["carries_einvoice", "failed_record", "first_reading", "keeps_previews", "process_document", "read_pages"]

NO_TEXT_MESSAGE = "No text could be read on any page (blank or unreadable scan). Check the scan and re-scan at 300 dpi."


def failed_record(document: Document, error: DocumentError, page_count: int = 0) -> ExtractionRecord:
    """The one row of a document that cannot be processed: the error's message and its code."""
    return ExtractionRecord(
        document_id=document.document_id,
        source=document.source,
        duplicate_sources=list(document.duplicate_sources),
        page_count=page_count,
        status=RecordStatus.FAILED,
        error=str(error),
        error_code=error.code,
    )


def keeps_previews(status: RecordStatus, policy: str) -> bool:
    return policy == "all" or (policy == "review" and status is RecordStatus.NEEDS_REVIEW)


def einvoice_record(
    document: Document, reading: EInvoiceReading, scratch: Path, settings: Settings
) -> tuple[ExtractionRecord, list[PageText], dict[int, Path]]:
    """The record of an e-invoice: the XML's values, checked against the page. A text layer is read as is
    (no OCR); a scanned page is OCR'd only to be compared. A standalone XML file has no page."""
    pages: list[PageText] = []
    cleaned_images: dict[int, Path] = {}
    issues: list[ValidationIssue] = []
    if document.media_type == XML_MEDIA_TYPE:
        checks, text_source = without_page(reading), None
    else:
        looked = read_document(document, scratch, settings)
        pages, cleaned_images = looked.pages, looked.cleaned_images
        page_reading = looked.extracted()
        text_source = page_reading.text_source
        checks, issues = compare_with_page(reading, page_reading, pages)
    record = routed_record(document, len(pages), einvoice_result(reading, checks, issues, text_source), [], settings)
    record.text_source = text_source
    record.einvoice = reading.data.model_copy(update={"check": describe_checks(reading, checks, text_source)})
    return record, pages, cleaned_images


def einvoice_path(
    document: Document, scratch: Path, settings: Settings
) -> tuple[tuple[ExtractionRecord, list[PageText], dict[int, Path]] | None, list[ValidationIssue]]:
    """The e-invoice record with its pages, or None for the visual path plus the issues it must carry (an
    e-invoice attachment that could not be used). A standalone XML that cannot be used is a failed row."""
    standalone = document.media_type == XML_MEDIA_TYPE
    if not (settings.einvoice or standalone):
        return None, []
    try:
        if standalone and not settings.einvoice:
            raise EInvoiceError("XML inputs are read as e-invoices only, and LEDGERLENS_EINVOICE is off. Turn it on.")
        check_document(document, max_file_bytes=settings.max_file_bytes)
        reading = read_einvoice(document, settings.einvoice_max_xml_bytes)
        if reading is None:
            return None, []
        return einvoice_record(document, reading, scratch, settings), []
    except EInvoiceError as exc:
        if standalone:
            return (failed_record(document, exc), [], {}), []
        issue = ValidationIssue(code=IssueCode.EINVOICE_UNUSABLE, message=f"{exc} The page was read instead.")
        return None, [issue]
    except DocumentError as exc:  # a PDF's own problems are reported by the visual path
        if standalone:
            return (failed_record(document, exc), [], {}), []
        return None, []


def keep_page_previews(
    record: ExtractionRecord,
    document: Document,
    pages: list[PageText],
    cleaned_images: dict[int, Path],
    out_dir: Path | None,
    settings: Settings,
) -> None:
    """Write the page previews reviewers see, when the settings keep them for this record's status."""
    if out_dir is None or not pages or not keeps_previews(record.status, settings.keep_page_images):
        return
    numbers = [page.page_no for page in pages]
    write_page_previews(
        Path(document.local_path),
        numbers,
        cleaned_images,
        out_dir / PREVIEWS_DIR / document.document_id,
        settings.preview_long_edge_px,
    )
    record.page_images = [preview_relpath(document.document_id, number) for number in numbers]


def remembered_reading(
    document: Document,
    pages: list[PageText],
    issues: list[ValidationIssue],
    settings: Settings,
    profiles: list[VendorProfile],
    plain: ExtractionResult,
) -> tuple[ExtractionResult, list[ValidationIssue], ExtractionRecord]:
    """Rules extraction with the vendor memory applied (pipeline/vendors/), routed; returns the extraction,
    the issues to carry on (the vendor memory's added) and the record, which carries the vendor evidence.
    With the model in play, the evidence notes whether the profile made the model call unnecessary.
    `plain`: the rules extraction of `pages`."""
    calibration = load_calibration(settings.calibration_file)
    extraction, found, evidence = use_vendor_memory(document.document_id, pages, plain, profiles, calibration)
    issues = [*issues, *found]
    routed = routed_record(document, len(pages), extraction, issues, settings)
    if evidence.profile_id is not None and settings.resolved_extractor() != "ocr":
        without = routed_record(document, len(pages), plain, issues, settings)
        evidence.model_call_saved = model_wanted(settings, without) and not model_wanted(settings, routed)
    routed.vendor_evidence = evidence
    return extraction, issues, routed


def process_document(
    document: Document,
    settings: Settings,
    out_dir: Path | None = None,
    vlm: VlmSession | None = None,
    vendors: list[VendorProfile] | None = None,
) -> ExtractionRecord:
    """The record for one document; with out_dir, its page previews are kept there as settings say.
    `vlm`: the run's shared session (hybrid/vlm extractor; else one for this document, cached under out_dir);
    `vendors`: the run's vendor profiles."""
    started = time.perf_counter()
    base = settings.scratch_dir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"ll-{document.document_id[:12]}-", dir=base))
    try:
        einvoice, einvoice_issues = einvoice_path(document, scratch, settings)
        if einvoice is not None:
            record, pages, cleaned_images = einvoice
            keep_page_previews(record, document, pages, cleaned_images, out_dir, settings)
            return _timed(record, started)
        kept = vlm.take_reading(document.document_id) if vlm is not None else None
        try:
            looked = Reading(*kept) if kept is not None else read_document(document, scratch, settings)
        except DocumentError as exc:
            return _timed(failed_record(document, exc), started)
        pages, cleaned_images = looked.pages, looked.cleaned_images
        if not any(page.words for page in pages):
            return _timed(failed_record(document, NoTextError(NO_TEXT_MESSAGE), page_count=len(pages)), started)
        extraction, kept_issues, routed = remembered_reading(
            document, pages, einvoice_issues, settings, vendors or [], looked.extracted()
        )
        evidence = routed.vendor_evidence
        mode = settings.resolved_extractor()
        if mode != "ocr":
            if model_wanted(settings, routed):
                session = vlm or VlmSession(settings, out_dir if out_dir is not None else scratch)
                try:
                    images = page_images(Path(document.local_path), pages, cleaned_images, scratch, settings)
                    reading = read_with_models(session, extraction, pages, images, prefer_vlm=mode == "vlm")
                except DocumentError as exc:
                    reading = SecondReading(
                        issues=[vlm_failure(f"The pages could not be prepared for the model: {exc}")]
                    )
                issues = [*reading.issues, *kept_issues]
                routed = routed_record(document, len(pages), reading.result or extraction, issues, settings)
                routed.vlm_models = reading.models
                routed.vlm_input_tokens = reading.input_tokens
                routed.vlm_output_tokens = reading.output_tokens
                routed.vlm_cost_usd = reading.cost_usd
            routed.extractor = mode
        routed.vendor_evidence = evidence
        keep_page_previews(routed, document, pages, cleaned_images, out_dir, settings)
        return _timed(routed, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _timed(record: ExtractionRecord, started: float) -> ExtractionRecord:
    """The record with its processing time since `started` (perf_counter), whichever way it ended."""
    record.processing_seconds = time.perf_counter() - started
    return record
