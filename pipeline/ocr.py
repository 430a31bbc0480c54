"""Tesseract OCR: words with boxes and confidences from pytesseract's image_to_data."""

from __future__ import annotations

import os
from pathlib import Path

import pytesseract
from pytesseract import Output

from pipeline.errors import CorruptDocumentError, TransientError
from schemas import PageText, TextSource, Word

# Without this each Tesseract process spins up OpenMP threads that fight the other workers: measured
# 4.6-7.6 s per page instead of ~1 s on two cores.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def ocr_page(image_path: Path, page_no: int, *, lang: str = "eng", timeout_s: int = 120, psm: int = 3) -> PageText:
    from PIL import Image

    try:
        with Image.open(image_path) as image:
            width, height = image.size
            data = pytesseract.image_to_data(
                image, lang=lang, config=f"--oem 1 --psm {psm}", output_type=Output.DICT, timeout=timeout_s
            )
    except RuntimeError as exc:  # pytesseract raises RuntimeError on its timeout
        raise TransientError(f"Tesseract timed out on page {page_no}") from exc
    except pytesseract.TesseractError as exc:
        raise CorruptDocumentError(f"Tesseract could not read page {page_no}: {exc.message}") from exc

    words: list[Word] = []
    for index, text in enumerate(data["text"]):
        text = (text or "").strip()
        confidence = float(data["conf"][index])
        if not text or confidence < 0:
            continue
        left, top = float(data["left"][index]), float(data["top"][index])
        words.append(
            Word(
                text=text,
                page_no=page_no,
                x0=left,
                y0=top,
                x1=left + float(data["width"][index]),
                y1=top + float(data["height"][index]),
                confidence=min(confidence / 100.0, 1.0),
                line_key=(int(data["block_num"][index]), int(data["par_num"][index]), int(data["line_num"][index])),
            )
        )
    return PageText(page_no=page_no, width=float(width), height=float(height), source=TextSource.OCR, words=words)
