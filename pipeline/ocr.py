"""The OCR stage: the words of one cleaned page image, read by the run's OcrEngine (pipeline/engines/ocr.py)."""

from __future__ import annotations

from pathlib import Path

from pipeline.engines.ocr import OcrEngine, OcrOptions, ocr_engine
from schemas import PageText


def ocr_page(
    image_path: Path, page_no: int, *, lang: str = "eng", timeout_s: int = 120, engine: OcrEngine | None = None
) -> PageText:
    """Words with boxes and confidences; `engine` defaults to Tesseract with `lang` and `timeout_s`."""
    reader = engine or ocr_engine("tesseract", OcrOptions(lang=lang, timeout_s=timeout_s))
    return reader.read(image_path, page_no)
