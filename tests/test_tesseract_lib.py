"""The 'tesseract-lib' engine (Tesseract's library, one handle per worker thread): the command line's words
in every segmentation mode from one handle, and the command line's limits (memory, unreadable file)."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.engines.ocr import OcrOptions, TesseractEngine
from pipeline.engines.tesseract_lib import TesseractLibEngine
from pipeline.errors import ConfigError, CorruptDocumentError, DecodeMemoryError
from tests.hostile_files import huge_png


def _page(path: Path) -> Path:
    image = np.full((1100, 1500), 255, dtype=np.uint8)
    lines = ["INVOICE 2207-A", "Date 03/11/2026", "Subtotal 840.00", "VAT 20% 168.00", "Total 1,008.00 EUR"]
    for row, line in enumerate(lines):
        cv2.putText(image, line, (70, 150 + row * 190), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4, cv2.LINE_AA)
    cv2.imwrite(str(path), image)
    return path


def _words(engine: TesseractEngine | TesseractLibEngine, path: Path) -> list[tuple[str, float, float, float]]:
    return [(word.text, word.x0, word.y0, word.confidence) for word in engine.read(path, 1).words]


@pytest.mark.parametrize("psm", [3, 11, 6])
def test_the_library_reads_what_the_command_line_reads_in_each_mode(tmp_path: Path, psm: int) -> None:
    page = _page(tmp_path / "page.pgm")
    options = OcrOptions(psm=psm)
    expected = _words(TesseractEngine(options), page)
    assert any(text == "1,008.00" for text, *_ in expected), expected
    library = TesseractLibEngine(options)
    assert _words(library, page) == expected
    assert _words(library, page) == expected  # the same handle again, after another mode's page


def test_a_colour_image_is_read_as_the_command_line_reads_it(tmp_path: Path) -> None:
    grey = cv2.imread(str(_page(tmp_path / "page.pgm")), cv2.IMREAD_GRAYSCALE)
    colour = tmp_path / "page.png"
    cv2.imwrite(str(colour), cv2.merge([grey, np.full_like(grey, 255), grey]))  # green ink on white
    expected = _words(TesseractEngine(), colour)
    assert any(text == "1,008.00" for text, *_ in expected), expected
    assert _words(TesseractLibEngine(), colour) == expected


def test_each_thread_reads_with_its_own_handle(tmp_path: Path) -> None:
    page = _page(tmp_path / "page.pgm")
    expected = _words(TesseractEngine(), page)
    readings: list[list[tuple[str, float, float, float]]] = []
    threads = [threading.Thread(target=lambda: readings.append(_words(TesseractLibEngine(), page))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert readings == [expected, expected]


def test_a_page_that_could_pass_the_memory_limit_is_read_under_it_by_the_command_line(tmp_path: Path) -> None:
    png = huge_png(tmp_path / "page.png", 800, 600)
    with pytest.raises(DecodeMemoryError) as refused:
        TesseractLibEngine(OcrOptions(memory_limit_bytes=64 * 2**20)).read(png, 1)
    assert "64 MiB" in str(refused.value) and "LEDGERLENS_DECODE_MEMORY_LIMIT_MB" in str(refused.value)
    assert TesseractLibEngine(OcrOptions(memory_limit_bytes=1024 * 2**20)).read(png, 1).width == 800


def test_an_unreadable_image_fails_the_page_with_a_reason(tmp_path: Path) -> None:
    broken = tmp_path / "page.pgm"
    broken.write_bytes(b"P5\n1500 1100\n255\n" + b"\x00" * 10)
    with pytest.raises(CorruptDocumentError, match="page 2"):
        TesseractLibEngine().read(broken, 2)


def test_missing_language_data_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tesseract-ocr-xyz"):
        TesseractLibEngine(OcrOptions(lang="xyz")).read(_page(tmp_path / "page.pgm"), 1)
