"""The first reading of a document, before any model is asked: check, render, read text (the PDF's own
text layer or OCR of a cleaned image), extract by rules, validate and route.

Both the document composer (pipeline/process.py) and the Message Batches planner (pipeline/vlm/batches.py)
start here, so neither reaches into the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.calibration import load_calibration
from pipeline.config import Settings
from pipeline.einvoice import read_einvoice
from pipeline.engines.ocr import OcrOptions, ocr_engine
from pipeline.errors import DocumentError, DocumentTooLargeError
from pipeline.extract import extract_invoice
from pipeline.render import (
    PageLimits,
    check_document,
    check_pdf_complete,
    pdf_page_count,
    pdf_page_images,
    read_text_layer,
    render_image,
)
from pipeline.route import route_record
from pipeline.validate import validate_invoice
from schemas import Document, ExtractionRecord, ExtractionResult, PageText, RecordStatus, ValidationIssue


@dataclass(frozen=True)
class Reading:
    """A document's pages, the cleaned image each OCR'd page was read from, and the rules extraction of
    the pages when the second look already made one (extracted once: `extracted()` reuses it)."""

    pages: list[PageText]
    cleaned_images: dict[int, Path]
    extraction: ExtractionResult | None = None
    second_look: str | None = None  # how the second look ended (pipeline/second_look.py); None: not taken

    def extracted(self) -> ExtractionResult:
        return self.extraction if self.extraction is not None else extract_invoice(self.pages)


def read_pages(document: Document, scratch: Path, settings: Settings) -> tuple[list[PageText], dict[int, Path]]:
    """Words of every page (the PDF's own text where it has enough, OCR of a cleaned image elsewhere) and
    the cleaned image each OCR'd page was read from."""
    reading = read_document(document, scratch, settings)
    return reading.pages, reading.cleaned_images


def read_document(document: Document, scratch: Path, settings: Settings) -> Reading:
    """The document's pages as `read_pages` reads them, with the extraction the second look made."""
    path = Path(document.local_path)
    check_document(document, max_file_bytes=settings.max_file_bytes)
    text_pages: dict[int, PageText] = {}
    if document.media_type == "application/pdf":
        check_pdf_complete(path)
        page_count, layer = pdf_pages_and_text(path, settings)
        text_pages = {page.page_no: page for page in layer if len(page.words) >= settings.min_text_layer_words}
        if len(text_pages) == page_count:
            return Reading([text_pages[number] for number in range(1, page_count + 1)], {})
        missing = [number for number in range(1, page_count + 1) if number not in text_pages]
        images = pdf_page_images(path, scratch / "raw", settings.render_dpi, missing, page_limits(settings))
    else:
        rendered, _dpi = render_image(path, scratch / "raw", settings.max_pages, page_limits(settings))
        images = dict(enumerate(rendered, start=1))
    pages, cleaned_images = ocr_pages(images, text_pages, scratch, settings)
    if not settings.second_look:
        return Reading(pages, cleaned_images)
    from pipeline.party_ink import settle_party_ink  # OpenCV: loaded only when a page is read from an image
    from pipeline.second_look import DecodedImages, look_again

    engine = ocr_engine(settings.ocr_engine, second_look_options(settings))
    decoded = DecodedImages()  # each page decoded once for all its re-reads
    look = settle_party_ink(look_again(pages, cleaned_images, engine, decoded), cleaned_images, engine, decoded)
    return Reading(look.pages, cleaned_images, look.extraction, look.outcome)


def pdf_pages_and_text(path: Path, settings: Settings) -> tuple[int, list[PageText]]:
    """The PDF's page count and its own text, page by page (none with `use_text_layer` off). The text tool
    reads at most one page past the limit and its pages give the count: one poppler process per document,
    not two. When it cannot read the file (damaged, encrypted, no text allowed) `pdfinfo` counts the pages
    and says what is wrong. DocumentTooLargeError above `max_pages`."""
    layer = read_text_layer(path, settings.max_pages + 1) if settings.use_text_layer else []
    page_count = len(layer) if 0 < len(layer) <= settings.max_pages else pdf_page_count(path)
    if page_count > settings.max_pages:
        raise DocumentTooLargeError(
            f"The PDF has {page_count} pages, above the limit of {settings.max_pages}. "
            "Split it into single invoices or raise LEDGERLENS_MAX_PAGES."
        )
    return page_count, layer


def ocr_pages(
    images: dict[int, Path], text_pages: dict[int, PageText], scratch: Path, settings: Settings
) -> tuple[list[PageText], dict[int, Path]]:
    """Clean and OCR each page image (text-layer pages pass through). A page image made on scratch is
    deleted once cleaned; the cleaned one (uncompressed PGM: nothing to encode for Tesseract) is kept for
    previews and the model."""
    from pipeline.preprocess import PreprocessOptions, preprocess_page  # OpenCV: only when a page is read from an image

    options = PreprocessOptions(
        min_short_side_px=settings.min_page_short_side_px,
        target_short_side_px=settings.ocr_target_short_side_px,
    )
    engine = ocr_engine(settings.ocr_engine, ocr_options(settings))
    pages: list[PageText] = []
    cleaned_images: dict[int, Path] = {}
    for page_no in sorted({*images, *text_pages}):
        if page_no in text_pages:
            pages.append(text_pages[page_no])
            continue
        image = images[page_no]
        cleaned = preprocess_page(image, scratch / "clean" / f"page-{page_no:04d}.pgm", options)
        if image.is_relative_to(scratch):
            image.unlink(missing_ok=True)
        cleaned_images[page_no] = Path(cleaned.image_path)
        pages.append(engine.read(Path(cleaned.image_path), page_no))
    return pages, cleaned_images


def page_limits(settings: Settings) -> PageLimits:
    return PageLimits(max_image_pixels=settings.max_image_pixels, memory_limit_bytes=memory_limit_bytes(settings))


def memory_limit_bytes(settings: Settings) -> int | None:
    return settings.decode_memory_limit_mb * 2**20 if settings.decode_memory_limit_mb else None


def ocr_options(settings: Settings) -> OcrOptions:
    return OcrOptions(
        lang=settings.tesseract_lang,
        timeout_s=settings.tesseract_timeout_s,
        memory_limit_bytes=memory_limit_bytes(settings),
    )


def second_look_options(settings: Settings) -> OcrOptions:
    return replace(ocr_options(settings), psm=settings.second_look_psm)


def routed_record(
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


def first_reading(
    document: Document, scratch: Path, settings: Settings
) -> tuple[list[PageText], dict[int, Path], ExtractionRecord | None]:
    """Pages, cleaned images and OCR's routed record; the record is None when the document cannot go on
    (unreadable, no text), which process_document turns into a failed row, or when it will be read from its
    e-invoice XML (no model is asked about it). DocumentError escapes."""
    if settings.einvoice and carries_einvoice(document, settings):
        return [], {}, None
    reading = read_document(document, scratch, settings)
    pages, cleaned_images = reading.pages, reading.cleaned_images
    if not any(page.words for page in pages):
        return pages, cleaned_images, None
    return pages, cleaned_images, routed_record(document, len(pages), reading.extracted(), [], settings)


def carries_einvoice(document: Document, settings: Settings) -> bool:
    """Whether the document will be read from usable e-invoice XML (not whether it has an unusable one)."""
    try:
        return read_einvoice(document, settings.einvoice_max_xml_bytes) is not None
    except DocumentError:
        return False
