"""Process one document end to end: check, render, read text, extract, validate, route.

Every outcome is a record: a document that cannot continue becomes a failed record with a message a
person can act on. Only TransientError escapes, so the orchestrator can retry it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from pipeline.config import Settings
from pipeline.errors import DocumentError, NoTextError
from pipeline.extract import extract_invoice
from pipeline.previews import PREVIEWS_DIR, preview_relpath, write_page_previews
from pipeline.reading import first_reading, read_pages, routed_record
from pipeline.vlm.cascade import (
    SecondReading,
    VlmSession,
    model_wanted,
    page_images,
    read_with_models,
    vlm_failure,
)
from schemas import Document, ExtractionRecord, ExtractionResult, PageText, RecordStatus

__all__ = ["failed_record", "first_reading", "keeps_previews", "process_document", "read_pages"]

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


def _make_scratch(document: Document, settings: Settings) -> Path:
    base = settings.scratch_dir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"ll-{document.document_id[:12]}-", dir=base))


def _second_reading(
    document: Document,
    pages: list[PageText],
    cleaned_images: dict[int, Path],
    extraction: ExtractionResult,
    session: VlmSession,
    scratch: Path,
) -> SecondReading:
    """The model tiers' reading, or the reason the pages could not be sent."""
    settings = session.settings
    try:
        images = page_images(Path(document.local_path), pages, cleaned_images, scratch, settings)
        prefer_vlm = settings.resolved_extractor() == "vlm"
        return read_with_models(session, extraction, pages, images, prefer_vlm=prefer_vlm)
    except DocumentError as exc:
        return SecondReading(issues=[vlm_failure(f"The pages could not be prepared for the model: {exc}")])


def _with_models(
    routed: ExtractionRecord,
    document: Document,
    pages: list[PageText],
    cleaned_images: dict[int, Path],
    extraction: ExtractionResult,
    context: tuple[Settings, Path | None, VlmSession | None, Path],
) -> ExtractionRecord:
    """With the hybrid or vlm extractor: ask the models when wanted and route again on the fused reading."""
    settings, out_dir, vlm, scratch = context
    mode = settings.resolved_extractor()
    if mode == "ocr":
        return routed
    if model_wanted(settings, routed):
        session = vlm or VlmSession(settings, out_dir if out_dir is not None else scratch)
        reading = _second_reading(document, pages, cleaned_images, extraction, session, scratch)
        routed = routed_record(document, len(pages), reading.result or extraction, reading.issues, settings)
        routed.vlm_models = reading.models
        routed.vlm_input_tokens = reading.input_tokens
        routed.vlm_output_tokens = reading.output_tokens
        routed.vlm_cost_usd = reading.cost_usd
    routed.extractor = mode
    return routed


def _keep_previews(
    record: ExtractionRecord,
    document: Document,
    pages: list[PageText],
    cleaned_images: dict[int, Path],
    out_dir: Path,
    settings: Settings,
) -> None:
    if not keeps_previews(record.status, settings.keep_page_images):
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


def _record(
    document: Document, settings: Settings, out_dir: Path | None, vlm: VlmSession | None, scratch: Path
) -> ExtractionRecord:
    kept = vlm.take_reading(document.document_id) if vlm is not None else None
    try:
        pages, cleaned_images = kept if kept is not None else read_pages(document, scratch, settings)
    except DocumentError as exc:
        return failed_record(document, exc)
    if not any(page.words for page in pages):
        return failed_record(document, NoTextError(NO_TEXT_MESSAGE), page_count=len(pages))
    extraction = extract_invoice(pages)
    routed = routed_record(document, len(pages), extraction, [], settings)
    context = (settings, out_dir, vlm, scratch)
    routed = _with_models(routed, document, pages, cleaned_images, extraction, context)
    if out_dir is not None:
        _keep_previews(routed, document, pages, cleaned_images, out_dir, settings)
    return routed


def process_document(
    document: Document, settings: Settings, out_dir: Path | None = None, vlm: VlmSession | None = None
) -> ExtractionRecord:
    """The record for one document; with out_dir, its page previews are kept there as settings say.

    With the hybrid or vlm extractor, `vlm` is the run's shared session (cache, budget, client); without
    one a session for this document alone is opened, its cache under out_dir.
    """
    started = time.perf_counter()
    scratch = _make_scratch(document, settings)
    try:
        record = _record(document, settings, out_dir, vlm, scratch)
        record.processing_seconds = time.perf_counter() - started
        return record
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
