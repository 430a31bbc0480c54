"""The OCR seam's contract: every registered engine reads the same page into the same words."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.engines.ocr import OCR_ENGINES, OcrOptions, ocr_engine
from pipeline.errors import ConfigError


def _page(tmp_path: Path) -> Path:
    image = np.full((900, 1400), 255, dtype=np.uint8)
    for row, line in enumerate(["INVOICE NO 4471", "Total due 1,250.00 EUR", "Thank you for your order"]):
        cv2.putText(image, line, (60, 160 + row * 180), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4, cv2.LINE_AA)
    path = tmp_path / "page.pgm"
    cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize("name", sorted(OCR_ENGINES))
def test_every_engine_reads_the_page_words_with_boxes(name: str, tmp_path: Path) -> None:
    page = ocr_engine(name, OcrOptions()).read(_page(tmp_path), 1)
    texts = [word.text for word in page.words]
    assert {"INVOICE", "4471", "1,250.00", "EUR"} <= set(texts), texts
    assert (page.width, page.height) == (1400, 900)
    assert all(0 <= word.x0 < word.x1 <= 1400 and 0 <= word.y0 < word.y1 <= 900 for word in page.words)
    assert all(0 < word.confidence <= 1 for word in page.words)


def test_engines_agree_word_for_word(tmp_path: Path) -> None:
    path = _page(tmp_path)
    readings = {name: [(w.text, round(w.x0), round(w.y0)) for w in ocr_engine(name).read(path, 1).words]
                for name in OCR_ENGINES}  # fmt: skip
    first, *others = readings.values()
    assert all(other == first for other in others), readings


def test_an_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="pytesseract, tesseract"):
        ocr_engine("abbyy")
