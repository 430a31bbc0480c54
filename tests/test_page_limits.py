"""Issue 15, findings 3 and 4: a small file describing a huge image is refused from its header, before any
decode, with the cap and how to raise it; every decoding tool runs under a hard memory limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.engines.ocr import OcrOptions, TesseractEngine
from pipeline.errors import DecodeMemoryError, TooManyPixelsError
from pipeline.limits import hit_memory_limit
from pipeline.process import process_document
from pipeline.render import PageLimits, pdf_page_images, render_image
from tests.hostile_files import huge_image_pdf, huge_png, process_in_worker

ROOT = Path(__file__).resolve().parents[1]
WORKER_BUDGET = int(1.5 * 2**30)


@pytest.mark.parametrize("side", [30000, 20000])
def test_small_pdf_with_a_huge_image_fails_its_row_without_decoding(tmp_path: Path, side: int) -> None:
    pdf = huge_image_pdf(tmp_path / f"page-{side}.pdf", side, side)
    assert pdf.stat().st_size < 1_000_000
    result = process_in_worker(pdf, ROOT, memory_cap_bytes=2 * WORKER_BUDGET, timeout_s=300)
    assert result["status"] == "failed", result
    error = str(result["error"])
    assert f"{side} x {side} pixels" in error and "limit of 180 megapixels" in error
    assert "LEDGERLENS_MAX_IMAGE_PIXELS" in error
    assert isinstance(result["peak_rss_mb"], float) and result["peak_rss_mb"] < WORKER_BUDGET / 2**20


def test_image_file_above_the_cap_is_refused_even_below_pillows_own_limit(tmp_path: Path) -> None:
    """17000^2 = 289 MP: above the 180 MP cap, below twice Pillow's limit, where Pillow used to let it through."""
    png = huge_png(tmp_path / "big.png", 17000, 17000)
    assert png.stat().st_size < 1_000_000
    result = process_in_worker(png, ROOT, memory_cap_bytes=2 * WORKER_BUDGET, timeout_s=300)
    assert result["status"] == "failed", result
    assert "17000 x 17000 pixels" in str(result["error"]) and "LEDGERLENS_MAX_IMAGE_PIXELS" in str(result["error"])
    assert isinstance(result["peak_rss_mb"], float) and result["peak_rss_mb"] < WORKER_BUDGET / 2**20


def test_the_cap_is_exact_and_raising_it_lets_the_page_through(tmp_path: Path) -> None:
    png = huge_png(tmp_path / "edge.png", 1000, 1000)
    with pytest.raises(TooManyPixelsError) as refused:
        render_image(png, tmp_path / "a", 5, PageLimits(max_image_pixels=999_999))
    assert refused.value.code == "too_many_pixels"
    paths, _dpi = render_image(png, tmp_path / "b", 5, PageLimits(max_image_pixels=1_000_000))
    assert paths == [png]  # a single-frame PNG is read as it is: no re-encode
    pdf = huge_image_pdf(tmp_path / "edge.pdf", 1000, 1000)
    with pytest.raises(TooManyPixelsError):
        pdf_page_images(pdf, tmp_path / "c", 300, [1], PageLimits(max_image_pixels=999_999))
    assert pdf_page_images(pdf, tmp_path / "d", 300, [1], PageLimits(max_image_pixels=1_000_000))[1].is_file()


def test_tesseract_runs_under_the_memory_limit(tmp_path: Path) -> None:
    png = huge_png(tmp_path / "page.png", 800, 600)
    with pytest.raises(DecodeMemoryError) as refused:
        TesseractEngine(OcrOptions(memory_limit_bytes=64 * 2**20)).read(png, 1)
    assert "64 MiB" in str(refused.value) and "LEDGERLENS_DECODE_MEMORY_LIMIT_MB" in str(refused.value)
    assert TesseractEngine(OcrOptions(memory_limit_bytes=1024 * 2**20)).read(png, 1).width == 800


def test_memory_limit_setting_reaches_the_tools_of_a_document(tmp_path: Path, simple_invoice_pdf: Path) -> None:
    settings = Settings(decode_memory_limit_mb=64, use_text_layer=False)
    record = process_document(describe_file(simple_invoice_pdf), settings, tmp_path)
    assert record.status.value == "failed"
    assert "LEDGERLENS_DECODE_MEMORY_LIMIT_MB" in (record.error or "")


@pytest.mark.parametrize(
    ("sent", "is_memory"),
    [("TERM", False), ("INT", False), ("HUP", False), ("ABRT", True), ("SEGV", True), ("KILL", True)],
)
def test_only_the_signals_a_failed_allocation_raises_count_as_the_memory_limit(sent: str, is_memory: bool) -> None:
    """A tool someone stopped (SIGTERM at shutdown, Ctrl-C) must not be reported as a page too big to decode."""
    # The signal's default action restored first: a shell started in the background ignores SIGINT.
    reset = "" if sent == "KILL" else "signal.signal(s, signal.SIG_DFL); "  # SIGKILL cannot be caught or ignored
    die = f"import os, signal; s = signal.SIG{sent}; {reset}os.kill(os.getpid(), s)"
    stopped = subprocess.run([sys.executable, "-c", die], capture_output=True, check=False)
    assert stopped.returncode < 0
    assert hit_memory_limit(stopped.returncode, stopped.stderr.decode()) is is_memory
    assert hit_memory_limit(1, "std::bad_alloc") and not hit_memory_limit(1, "Error in pixReadStream")
