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
from schemas import Document, ExtractionRecord, ExtractionResult, PageText, RecordStatus, ValidationIssue

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


def first_reading(
    document: Document, scratch: Path, settings: Settings
) -> tuple[list[PageText], dict[int, Path], ExtractionRecord | None]:
    """Pages, cleaned images and OCR's routed record; the record is None when the document cannot go on
    (unreadable, no text), which process_document turns into a failed row. DocumentError escapes."""
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
        routed = _routed(document, len(pages), extraction, [], settings)
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
                routed = _routed(document, len(pages), reading.result or extraction, reading.issues, settings)
                routed.vlm_models = reading.models
                routed.vlm_input_tokens = reading.input_tokens
                routed.vlm_output_tokens = reading.output_tokens
                routed.vlm_cost_usd = reading.cost_usd
            routed.extractor = mode
        if out_dir is not None and keeps_previews(routed.status, settings.keep_page_images):
            numbers = [page.page_no for page in pages]
            write_page_previews(
                Path(document.local_path),
                numbers,
                cleaned_images,
                out_dir / PREVIEWS_DIR / document.document_id,
                settings.preview_long_edge_px,
            )
            routed.page_images = [preview_relpath(document.document_id, number) for number in numbers]
        routed.processing_seconds = time.perf_counter() - started
        return routed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
