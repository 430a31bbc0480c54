"""Light-on-dark bands are turned dark on light before OCR, so Tesseract reads them with its own
per-line inversion off (`tessedit_do_invert=0`, pipeline/engines/ocr.py): real Tesseract, real cleaning."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pipeline.engines.tesseract_lib import TesseractLibEngine
from pipeline.preprocess import PreprocessOptions, dark_bands, invert_dark_bands, preprocess_page

BAND_TEXT = "INVOICE 2207-A"


def _page(band: bool) -> np.ndarray:
    """A 2400 x 3000 page: a title line (white on a dark bar when `band`, else a bold black title), then
    dark text on paper."""
    image = np.full((3000, 2400), 245, dtype=np.uint8)
    if band:
        image[150:420, 100:2300] = 35
        cv2.putText(image, BAND_TEXT, (200, 330), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 235, 8, cv2.LINE_AA)
    else:
        cv2.putText(image, BAND_TEXT, (200, 330), cv2.FONT_HERSHEY_SIMPLEX, 5.0, 10, 40, cv2.LINE_AA)
    for row, line in enumerate(["Date 03/11/2026", "Subtotal 840.00", "Total 1,008.00 EUR"]):
        cv2.putText(image, line, (200, 700 + row * 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 20, 4, cv2.LINE_AA)
    return image


def _texts(image: np.ndarray, path: Path) -> list[str]:
    cv2.imwrite(str(path), image)
    return [word.text for word in TesseractLibEngine().read(path, 1).words]


def test_a_white_on_dark_band_is_read_once_inverted(tmp_path: Path) -> None:
    page = _page(band=True)
    assert "2207-A" not in _texts(page, tmp_path / "as-printed.pgm")  # Tesseract alone, inversion off
    inverted, count = invert_dark_bands(page)
    assert count == 1
    texts = _texts(inverted, tmp_path / "inverted.pgm")
    assert "2207-A" in texts and "1,008.00" in texts, texts


def test_the_cleaning_inverts_the_band_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "scan.png"
    cv2.imwrite(str(source), _page(band=True))
    report = preprocess_page(source, tmp_path / "clean.pgm", PreprocessOptions())
    assert "inverted 1 dark bands" in report.steps
    assert "2207-A" in [word.text for word in TesseractLibEngine().read(Path(report.image_path), 1).words]


def test_bold_black_print_and_paper_are_left_alone() -> None:
    page = _page(band=False)
    assert dark_bands(page) == []
    assert invert_dark_bands(page)[0] is page


def test_paper_beside_a_band_stays_paper() -> None:
    page = _page(band=True)
    inverted, _ = invert_dark_bands(page)
    assert (inverted[150:420, 100:2300] > 200).mean() > 0.8  # the bar is paper now, its letters ink
    assert (inverted[100:148, :] == 245).all() and (inverted[422:470, :] == 245).all()
    assert (inverted[:, :98] == 245).all() and (inverted[:, 2302:] == 245).all()


def test_block_means_are_opencvs_shrink_byte_for_byte() -> None:
    """Shrunk across then down (widths a whole number of blocks) or at once: OpenCV's INTER_AREA bytes."""
    from pipeline.preprocess import BAND_BLOCK, _block_means

    rng = np.random.default_rng(9)
    for _ in range(200):
        height, width = int(rng.integers(8, 700)), int(rng.integers(8, 700))
        width -= width % BAND_BLOCK if rng.random() < 0.7 else 0
        image = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
        if rng.random() < 0.5:  # pages are mostly paper and ink, with means near the rounding
            image = np.where(image < 128, 0, 255).astype(np.uint8)
        size = (width // BAND_BLOCK, height // BAND_BLOCK)
        assert np.array_equal(_block_means(image), cv2.resize(image, size, interpolation=cv2.INTER_AREA))
