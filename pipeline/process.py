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
from pipeline.errors import DocumentError, DocumentTooLargeError, NoTextError
from pipeline.extract import extract_invoice
from pipeline.ocr import ocr_page
from pipeline.preprocess import PreprocessOptions, preprocess_page
from pipeline.previews import PREVIEWS_DIR, preview_relpath, write_page_previews
from pipeline.render import (
    check_document,
    check_pdf_complete,
    pdf_page_count,
    pdf_page_images,
    read_text_layer,
    render_image,
)
from pipeline.route import route_record
from pipeline.validate import validate_invoice
from pipeline.vlm.cascade import SecondReading, VlmSession, page_images, read_with_models, vlm_failure
from schemas import Document, ExtractionRecord, ExtractionResult, IssueCode, PageText, RecordStatus, ValidationIssue

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


def read_pages(document: Document, scratch: Path, settings: Settings) -> tuple[list[PageText], dict[int, Path]]:
    """Words of every page (the PDF's own text where it has enough, OCR of a cleaned image elsewhere) and
    the cleaned image each OCR'd page was read from."""
    path = Path(document.local_path)
    check_document(document, max_file_bytes=settings.max_file_bytes)
    text_pages: dict[int, PageText] = {}
    if document.media_type == "application/pdf":
        check_pdf_complete(path)
        page_count = pdf_page_count(path)
        if page_count > settings.max_pages:
            raise DocumentTooLargeError(
                f"The PDF has {page_count} pages, above the limit of {settings.max_pages}. "
                "Split it into single invoices or raise LEDGERLENS_MAX_PAGES."
            )
        if settings.use_text_layer:
            text_pages = {
                page.page_no: page
                for page in read_text_layer(path, page_count)
                if len(page.words) >= settings.min_text_layer_words
            }
        if len(text_pages) == page_count:
            return [text_pages[number] for number in range(1, page_count + 1)], {}
        missing = [number for number in range(1, page_count + 1) if number not in text_pages]
        images = pdf_page_images(path, scratch / "raw", settings.render_dpi, missing)
    else:
        rendered, _dpi = render_image(path, scratch / "raw", settings.max_pages)
        images = dict(enumerate(rendered, start=1))

    options = PreprocessOptions(
        min_short_side_px=settings.min_page_short_side_px,
        target_short_side_px=settings.ocr_target_short_side_px,
    )
    pages: list[PageText] = []
    cleaned_images: dict[int, Path] = {}
    for page_no in sorted({*images, *text_pages}):
        if page_no in text_pages:
            pages.append(text_pages[page_no])
            continue
        image = images[page_no]
        cleaned = preprocess_page(image, scratch / "clean" / f"page-{page_no:04d}.png", options)
        cleaned_images[page_no] = Path(cleaned.image_path)
        pages.append(
            ocr_page(
                Path(cleaned.image_path),
                page_no,
                lang=settings.tesseract_lang,
                timeout_s=settings.tesseract_timeout_s,
            )
        )
    return pages, cleaned_images


def keeps_previews(status: RecordStatus, policy: str) -> bool:
    return policy == "all" or (policy == "review" and status is RecordStatus.NEEDS_REVIEW)


def _routed(
    document: Document,
    page_count: int,
    extraction: ExtractionResult,
    extra_issues: list[ValidationIssue],
    settings: Settings,
) -> ExtractionRecord:
    issues = [*extraction.issues, *extra_issues, *validate_invoice(extraction.invoice)]
    record = ExtractionRecord(
        document_id=document.document_id,
        source=document.source,
        duplicate_sources=list(document.duplicate_sources),
        page_count=page_count,
        status=RecordStatus.NEEDS_REVIEW,
        invoice=extraction.invoice,
        fields=extraction.fields,
        issues=issues,
        extractor=extraction.extractor,
        text_source=extraction.text_source,
    )
    return route_record(record, settings.accept_threshold, load_calibration(settings.calibration_file))


def model_wanted(settings: Settings, routed: ExtractionRecord) -> bool:
    """Whether the vlm/hybrid extractor asks the model about this record (OCR's routing known)."""
    mode = settings.resolved_extractor()
    if mode == "ocr":
        return False
    return mode == "vlm" or settings.vlm_mode == "always" or routed.status is not RecordStatus.ACCEPTED


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
        pages, cleaned_images = read_pages(document, scratch, settings)
        page_reading = extract_invoice(pages)
        text_source = page_reading.text_source
        checks, issues = compare_with_page(reading, page_reading, pages)
    record = _routed(document, len(pages), einvoice_result(reading, checks, issues, text_source), [], settings)
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


def carries_einvoice(document: Document, settings: Settings) -> bool:
    """Whether the document will be read from usable e-invoice XML (not whether it has an unusable one)."""
    try:
        return read_einvoice(document, settings.einvoice_max_xml_bytes) is not None
    except DocumentError:
        return False


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


def first_reading(
    document: Document, scratch: Path, settings: Settings
) -> tuple[list[PageText], dict[int, Path], ExtractionRecord | None]:
    """Pages, cleaned images and OCR's routed record; the record is None when the document cannot go on
    (unreadable, no text), which process_document turns into a failed row, or when it will be read from its
    e-invoice XML (no model is asked about it). DocumentError escapes."""
    if settings.einvoice and carries_einvoice(document, settings):
        return [], {}, None
    pages, cleaned_images = read_pages(document, scratch, settings)
    if not any(page.words for page in pages):
        return pages, cleaned_images, None
    return pages, cleaned_images, _routed(document, len(pages), extract_invoice(pages), [], settings)


def process_document(
    document: Document, settings: Settings, out_dir: Path | None = None, vlm: VlmSession | None = None
) -> ExtractionRecord:
    """The record for one document; with out_dir, its page previews are kept there as settings say.

    With the hybrid or vlm extractor, `vlm` is the run's shared session (cache, budget, client); without
    one a session for this document alone is opened, its cache under out_dir.
    """
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
            record.processing_seconds = time.perf_counter() - started
            return record
        kept = vlm.take_reading(document.document_id) if vlm is not None else None
        try:
            pages, cleaned_images = kept if kept is not None else read_pages(document, scratch, settings)
        except DocumentError as exc:
            record = failed_record(document, exc)
            record.processing_seconds = time.perf_counter() - started
            return record
        if not any(page.words for page in pages):
            record = failed_record(document, NoTextError(NO_TEXT_MESSAGE), page_count=len(pages))
            record.processing_seconds = time.perf_counter() - started
            return record
        extraction = extract_invoice(pages)
        routed = _routed(document, len(pages), extraction, einvoice_issues, settings)
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
                issues = [*reading.issues, *einvoice_issues]
                routed = _routed(document, len(pages), reading.result or extraction, issues, settings)
                routed.vlm_models = reading.models
                routed.vlm_input_tokens = reading.input_tokens
                routed.vlm_output_tokens = reading.output_tokens
                routed.vlm_cost_usd = reading.cost_usd
            routed.extractor = mode
        keep_page_previews(routed, document, pages, cleaned_images, out_dir, settings)
        routed.processing_seconds = time.perf_counter() - started
        return routed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
