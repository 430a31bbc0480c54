"""Turn a document into page images on scratch disk, plus the PDF's own words where it has a text layer."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pdf2image import pdfinfo_from_path
from pdf2image.exceptions import PDFPageCountError, PDFPopplerTimeoutError, PDFSyntaxError
from PIL import Image, UnidentifiedImageError

from pipeline.errors import (
    CorruptDocumentError,
    DocumentTooLargeError,
    EmptyFileError,
    EncryptedDocumentError,
    TransientError,
    UnsupportedFormatError,
)
from pipeline.limits import bounded, check_pixels, hit_memory_limit, out_of_memory_error
from schemas import Document, PageText, TextSource, Word

_XHTML = "{http://www.w3.org/1999/xhtml}"
_POPPLER_TIMEOUT_S = 120
# Our own header check (pipeline/limits.py) enforces LEDGERLENS_MAX_IMAGE_PIXELS exactly; Pillow's guard, which
# raised only at twice its limit, would refuse a raised cap, so it is turned off.
Image.MAX_IMAGE_PIXELS = None


def check_document(document: Document, *, max_file_bytes: int) -> None:
    """Refuse inputs that cannot be a readable invoice before spending any time on them."""
    if document.size_bytes == 0:
        raise EmptyFileError("The file is empty (0 bytes). Re-export or re-scan it and run again.")
    if document.size_bytes > max_file_bytes:
        raise DocumentTooLargeError(
            f"The file is {document.size_bytes / 1e6:.1f} MB, above the {max_file_bytes / 1e6:.0f} MB limit. "
            "Split it, or raise LEDGERLENS_MAX_FILE_BYTES if it really is one invoice."
        )
    if document.media_type == "application/octet-stream":
        suffix = Path(document.source).suffix or "(no extension)"
        raise UnsupportedFormatError(
            f"The file is not a PDF, an image (PNG, JPEG, TIFF) or e-invoice XML, although its name ends in {suffix}. "
            "Check that it is an invoice and convert it to PDF."
        )


def pdf_page_count(path: Path) -> int:
    try:
        info = pdfinfo_from_path(str(path), timeout=_POPPLER_TIMEOUT_S)
    except PDFPopplerTimeoutError as exc:
        raise TransientError(f"poppler timed out reading {path.name}") from exc
    except (PDFPageCountError, PDFSyntaxError) as exc:
        detail = str(exc).lower()
        if "password" in detail or "encrypt" in detail:
            raise EncryptedDocumentError(
                "The PDF is password-protected. Ask the sender for an unprotected copy, or remove the "
                "password (e.g. qpdf --decrypt) and run again."
            ) from exc
        raise CorruptDocumentError(
            "The PDF is damaged and cannot be opened (poppler could not read its structure). "
            "Re-download or re-export the original."
        ) from exc
    pages = int(info.get("Pages", 0))
    if pages <= 0:
        raise CorruptDocumentError("The PDF has no pages. Re-export the original.")
    return pages


def check_pdf_complete(path: Path) -> None:
    """A PDF whose end-of-file marker is missing was cut off in transfer; poppler would guess at it."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 2048))
        tail = handle.read()
    if b"%%EOF" not in tail:
        raise CorruptDocumentError(
            "The PDF is truncated (it ends before its end-of-file marker), probably cut off during a "
            "download or copy. Fetch the file again."
        )


def read_text_layer(path: Path, page_count: int) -> list[PageText]:
    """Words and boxes (PDF points) from the PDF's own text, one PageText per page."""
    result = subprocess.run(
        ["pdftotext", "-bbox-layout", "-l", str(page_count), str(path), "-"],
        capture_output=True,
        timeout=_POPPLER_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        return []
    try:
        root = ET.fromstring(result.stdout)
    except ET.ParseError:
        return []
    pages: list[PageText] = []
    for page_no, page in enumerate(root.iter(f"{_XHTML}page"), start=1):
        words: list[Word] = []
        for block_no, block in enumerate(page.iter(f"{_XHTML}block")):
            for line_no, line in enumerate(block.iter(f"{_XHTML}line")):
                for word in line.iter(f"{_XHTML}word"):
                    text = (word.text or "").strip()
                    if not text:
                        continue
                    words.append(
                        Word(
                            text=text,
                            page_no=page_no,
                            x0=float(word.attrib["xMin"]),
                            y0=float(word.attrib["yMin"]),
                            x1=float(word.attrib["xMax"]),
                            y1=float(word.attrib["yMax"]),
                            confidence=1.0,
                            line_key=(block_no, 0, line_no),
                        )
                    )
        pages.append(
            PageText(
                page_no=page_no,
                width=float(page.attrib["width"]),
                height=float(page.attrib["height"]),
                source=TextSource.TEXT_LAYER,
                words=words,
            )
        )
    return pages


@dataclass(frozen=True)
class PageLimits:
    """What one page may cost before it is decoded: pixels per image (from headers) and memory per tool."""

    max_image_pixels: int = 180_000_000
    memory_limit_bytes: int | None = None


@dataclass(frozen=True)
class EmbeddedImage:
    page_no: int
    width: int
    height: int
    ppi: int


def list_page_images(path: Path, page_count: int) -> list[EmbeddedImage]:
    """Every image drawn on the PDF's pages with its pixel size, from `pdfimages -list` (nothing decoded)."""
    result = subprocess.run(
        ["pdfimages", "-list", "-l", str(page_count), str(path)],
        capture_output=True,
        text=True,
        timeout=_POPPLER_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        return []
    images: list[EmbeddedImage] = []
    for line in result.stdout.splitlines()[2:]:
        parts = line.split()
        if len(parts) < 14 or parts[2] not in ("image", "smask", "mask", "stencil"):
            continue
        try:
            images.append(EmbeddedImage(int(parts[0]), int(parts[3]), int(parts[4]), round(float(parts[12]))))
        except ValueError:
            continue
    return images


def scanned_page_images(images: list[EmbeddedImage]) -> dict[int, int]:
    """Pages that are one embedded raster image (a scan), with that image's resolution in dpi.

    Such a page is best read from the image itself: re-rendering it only resamples the scan, and
    poppler's renderer took 10 s for one 175-dpi JPEG page drawn at 300 dpi (pdfimages: 0.4 s).
    """
    per_page: dict[int, list[int]] = {}
    for image in images:
        per_page.setdefault(image.page_no, []).append(image.ppi)
    return {page: ppis[0] for page, ppis in per_page.items() if len(ppis) == 1 and ppis[0] >= 100}


def extract_page_image(path: Path, page_no: int, scratch: Path, limits: PageLimits) -> Path | None:
    """The page's scan as stored: a JPEG stays the JPEG it is (`-j`: no decode, no re-encode); other
    encodings come out as uncompressed PNM, which is quick to write and to read."""
    scratch.mkdir(parents=True, exist_ok=True)
    prefix = scratch / f"scan-{page_no:04d}"
    command = ["pdfimages", "-j", "-f", str(page_no), "-l", str(page_no), str(path), str(prefix)]
    result = subprocess.run(
        bounded(command, limits.memory_limit_bytes), capture_output=True, timeout=_POPPLER_TIMEOUT_S, check=False
    )
    found = sorted(scratch.glob(f"{prefix.name}-*"))
    return found[0] if result.returncode == 0 and len(found) == 1 else None


def render_pdf_page(path: Path, scratch: Path, dpi: int, page_no: int, limits: PageLimits) -> Path:
    """The page drawn by poppler (pdftocairo, grayscale) under the memory limit."""
    scratch.mkdir(parents=True, exist_ok=True)
    stem = scratch / f"page-{page_no:04d}"
    command = ["pdftocairo", "-png", "-gray", "-singlefile", "-r", str(dpi),
               "-f", str(page_no), "-l", str(page_no), str(path), str(stem)]  # fmt: skip
    try:
        result = subprocess.run(
            bounded(command, limits.memory_limit_bytes), capture_output=True, timeout=_POPPLER_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"poppler timed out rendering page {page_no} of {path.name}") from exc
    target = stem.with_suffix(".png")
    if result.returncode != 0 or not target.is_file():
        if limits.memory_limit_bytes and hit_memory_limit(result.returncode, result.stderr.decode("utf-8", "replace")):
            raise out_of_memory_error(f"Drawing page {page_no} of the PDF", limits.memory_limit_bytes)
        raise CorruptDocumentError(
            f"Page {page_no} of the PDF could not be drawn (poppler failed). Re-download or re-export the original."
        )
    return target


def check_page_sizes(path: Path, pages: list[int], dpi: int, limits: PageLimits) -> None:
    """Refuse a page whose drawing at `dpi` would exceed the pixel cap (a huge MediaBox), before drawing it."""
    if not pages:
        return
    info = pdfinfo_from_path(str(path), first_page=min(pages), last_page=max(pages), timeout=_POPPLER_TIMEOUT_S)
    for page_no in pages:
        size = str(info.get(f"Page {page_no:4d} size", "")).split()
        if len(size) >= 3 and size[1] == "x":
            width, height = (round(float(points) / 72 * dpi) for points in (size[0], size[2]))
            check_pixels(width, height, limits.max_image_pixels, f"Page {page_no} drawn at {dpi} dpi")


def pdf_page_images(path: Path, scratch: Path, dpi: int, pages: list[int], limits: PageLimits) -> dict[int, Path]:
    """An image per requested page: the scan itself where the page is one, a rendering otherwise. Every
    embedded image's pixel count is checked against the cap first, so nothing oversized is ever decoded."""
    embedded = list_page_images(path, max(pages)) if pages else []
    for image in embedded:
        check_pixels(image.width, image.height, limits.max_image_pixels, f"The image on page {image.page_no}")
    scans = scanned_page_images(embedded)
    check_page_sizes(path, [page for page in pages if page not in scans], dpi, limits)
    images: dict[int, Path] = {}
    for page_no in pages:
        extracted = extract_page_image(path, page_no, scratch, limits) if page_no in scans else None
        images[page_no] = extracted or render_pdf_page(path, scratch, dpi, page_no, limits)
    return images


# Formats OpenCV decodes as the scan is stored; a single-frame file of these kinds is OCR'd from the input itself.
_PASS_THROUGH = {"PNG", "JPEG", "PPM", "BMP"}


def render_image(path: Path, scratch: Path, max_pages: int, limits: PageLimits) -> tuple[list[Path], int]:
    """Page images of an image input and its dpi. The header is read first (nothing decoded) and refused above
    the pixel cap; a single-frame PNG/JPEG is used as it is, other images (TIFFs may hold several frames)
    become one uncompressed grayscale PNM per frame."""
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with Image.open(path) as image:
            check_pixels(image.width, image.height, limits.max_image_pixels, "The image")
            frames = getattr(image, "n_frames", 1)
            if frames > max_pages:
                raise DocumentTooLargeError(
                    f"The image has {frames} pages, above the limit of {max_pages}. Split it first."
                )
            dpi_info = image.info.get("dpi", (300, 300))
            dpi = round(float(dpi_info[0])) if dpi_info and float(dpi_info[0]) >= 50 else 300
            if frames == 1 and image.format in _PASS_THROUGH:
                return [path], dpi
            return _frames_to_pnm(image, frames, scratch, limits), dpi
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptDocumentError(
            "The image file is damaged or not a real image, so it cannot be read. Re-scan or re-export it."
        ) from exc


def _frames_to_pnm(image: Image.Image, frames: int, scratch: Path, limits: PageLimits) -> list[Path]:
    paths: list[Path] = []
    for index in range(frames):
        image.seek(index)
        check_pixels(image.width, image.height, limits.max_image_pixels, f"Frame {index + 1} of the image")
        target = scratch / f"page-{index + 1:04d}.pgm"
        image.convert("L").save(target, format="PPM")
        paths.append(target)
    return paths
