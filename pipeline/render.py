"""Turn a document into page images on scratch disk, plus the PDF's own words where it has a text layer."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from pdf2image import convert_from_path, pdfinfo_from_path
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
from schemas import Document, PageText, TextSource, Word

_XHTML = "{http://www.w3.org/1999/xhtml}"
_POPPLER_TIMEOUT_S = 120
# Pillow refuses images above this many pixels as a decompression-bomb guard; keep that behaviour explicit.
_MAX_IMAGE_PIXELS = 180_000_000


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


def scanned_page_images(path: Path, page_count: int) -> dict[int, int]:
    """Pages that are one embedded raster image (a scan), with that image's resolution in dpi.

    Such a page is best read from the image itself: re-rendering it only resamples the scan, and
    poppler's renderer took 10 s for one 175-dpi JPEG page drawn at 300 dpi (pdfimages: 0.4 s).
    """
    result = subprocess.run(
        ["pdfimages", "-list", "-l", str(page_count), str(path)],
        capture_output=True,
        text=True,
        timeout=_POPPLER_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        return {}
    images: dict[int, list[int]] = {}
    for line in result.stdout.splitlines()[2:]:
        parts = line.split()
        if len(parts) < 14 or parts[2] != "image":
            continue
        try:
            images.setdefault(int(parts[0]), []).append(round(float(parts[12])))
        except ValueError:
            continue
    return {page: ppis[0] for page, ppis in images.items() if len(ppis) == 1 and ppis[0] >= 100}


def extract_page_image(path: Path, page_no: int, scratch: Path) -> Path | None:
    scratch.mkdir(parents=True, exist_ok=True)
    prefix = scratch / f"scan-{page_no:04d}"
    result = subprocess.run(
        ["pdfimages", "-png", "-f", str(page_no), "-l", str(page_no), str(path), str(prefix)],
        capture_output=True,
        timeout=_POPPLER_TIMEOUT_S,
        check=False,
    )
    found = sorted(scratch.glob(f"{prefix.name}-*.png"))
    return found[0] if result.returncode == 0 and len(found) == 1 else None


def render_pdf_page(path: Path, scratch: Path, dpi: int, page_no: int) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        rendered = convert_from_path(
            str(path),
            dpi=dpi,
            output_folder=str(scratch),
            fmt="png",
            paths_only=True,
            output_file=f"page-{page_no:04d}",
            thread_count=1,
            first_page=page_no,
            last_page=page_no,
            grayscale=True,
            use_pdftocairo=True,  # 3-4x faster than pdftoppm on scanned pages, same output for OCR
            timeout=_POPPLER_TIMEOUT_S,
        )
    except PDFPopplerTimeoutError as exc:
        raise TransientError(f"poppler timed out rendering {path.name}") from exc
    except (PDFPageCountError, PDFSyntaxError) as exc:
        raise CorruptDocumentError(
            "The PDF is damaged and its pages cannot be drawn. Re-download or re-export the original."
        ) from exc
    if len(rendered) != 1:
        raise CorruptDocumentError(f"Page {page_no} of the PDF could not be drawn. Re-download or re-export it.")
    return Path(str(rendered[0]))  # paths_only=True: pdf2image returns paths, typed as images


def pdf_page_images(path: Path, scratch: Path, dpi: int, pages: list[int]) -> dict[int, Path]:
    """An image per requested page: the scan itself where the page is one, a rendering otherwise."""
    scans = scanned_page_images(path, max(pages)) if pages else {}
    images: dict[int, Path] = {}
    for page_no in pages:
        extracted = extract_page_image(path, page_no, scratch) if page_no in scans else None
        images[page_no] = extracted or render_pdf_page(path, scratch, dpi, page_no)
    return images


def render_image(path: Path, scratch: Path, max_pages: int) -> tuple[list[Path], int]:
    """Each frame of an image (TIFFs may hold several) becomes a PNG page; returns paths and the dpi."""
    scratch.mkdir(parents=True, exist_ok=True)
    Image.MAX_IMAGE_PIXELS = _MAX_IMAGE_PIXELS
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > max_pages:
                raise DocumentTooLargeError(
                    f"The image has {frames} pages, above the limit of {max_pages}. Split it first."
                )
            dpi_info = image.info.get("dpi", (300, 300))
            dpi = round(float(dpi_info[0])) if dpi_info and float(dpi_info[0]) >= 50 else 300
            paths: list[Path] = []
            for index in range(frames):
                image.seek(index)
                target = scratch / f"page-{index + 1:04d}.png"
                image.convert("L").save(target)
                paths.append(target)
    except Image.DecompressionBombError as exc:
        raise DocumentTooLargeError(
            "The image is too large to process safely (over 180 megapixels). Downscale it to 300 dpi."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptDocumentError(
            "The image file is damaged or not a real image, so it cannot be read. Re-scan or re-export it."
        ) from exc
    return paths, dpi
