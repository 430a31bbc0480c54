"""What the OCR worker processes cost: CPU per page and peak RSS of Tesseract's library read in this process
(what the 'tesseract-lib' engine did before: the same ctypes calls, tesseract_worker.Worker) against the same
pages read through the engine's worker process (pipeline/engines/tesseract_lib.py), with the words compared.

The cleaned pages of the scanned PDFs under --inputs are made first (untimed); then the two arms read every
page in turn, alternating for --rounds rounds, each round from a fresh start (a new handle, or a new worker
thread and process: model load included), so neighbours' load on a shared machine falls on both arms alike.
CPU is user + sys of this process and of the child processes it has waited for (each round's worker ends
with its thread). RSS: the process tree's, sampled every 50 ms.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ocr_isolation_cost.py --inputs /tmp/ledgerlens-throughput/scanned-12
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from pipeline.config import Settings
from pipeline.engines import tesseract_worker
from pipeline.engines.ocr import OcrOptions, TesseractEngine
from pipeline.engines.tesseract_lib import TSV_COLUMNS, TesseractLibEngine
from pipeline.preprocess import PreprocessOptions, preprocess_page
from pipeline.reading import ocr_options, page_limits
from pipeline.render import pdf_page_count, pdf_page_images

Words = list[tuple[str, float, float, float]]


def cleaned_pages(pdfs: list[Path], scratch: Path, settings: Settings) -> list[Path]:
    """Every page of the PDFs, rendered and cleaned as a run does it (untimed)."""
    options = PreprocessOptions(
        min_short_side_px=settings.min_page_short_side_px, target_short_side_px=settings.ocr_target_short_side_px
    )
    pages: list[Path] = []
    for pdf in pdfs:
        numbers = list(range(1, pdf_page_count(pdf) + 1))
        images = pdf_page_images(pdf, scratch / "raw" / pdf.stem, settings.render_dpi, numbers, page_limits(settings))
        for number, image in sorted(images.items()):
            target = scratch / "clean" / f"{pdf.stem}-{number:04d}.pgm"
            pages.append(Path(preprocess_page(image, target, options).image_path))
    return pages


def _words(tsv: str) -> Words:
    rows = list(csv.DictReader(tsv.splitlines(), fieldnames=TSV_COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(w.text, w.x0, w.y0, w.confidence) for w in TesseractEngine.page_from_rows(rows, 1).words]


def in_process(pages: list[Path], options: OcrOptions) -> list[Words]:
    """The library in this process, one handle (the engine as it was)."""
    worker = tesseract_worker.Worker()
    request: dict[str, Any] = {"lang": options.lang, "psm": options.psm, "timeout_ms": options.timeout_s * 1000,
                               "memory_limit": options.memory_limit_bytes}  # fmt: skip
    return [_words(worker.read({**request, "image": str(page)})) for page in pages]


def in_worker(pages: list[Path], options: OcrOptions) -> list[Words]:
    """The engine: a new thread, so a new worker process, ended (and waited for) with the thread."""
    found: list[Words] = []
    engine = TesseractLibEngine(options)

    def read() -> None:
        found.extend([(w.text, w.x0, w.y0, w.confidence) for w in engine.read(page, 1).words] for page in pages)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return found


ARMS = {"in_process": in_process, "worker": in_worker}


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def peak_tree_rss_mb(command: list[str]) -> float:
    """Peak summed RSS of `command`'s process and its children, sampled every 50 ms."""
    process = subprocess.Popen(command)
    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        total = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                total += member.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    return peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=Path, required=True, help="folder of scanned PDFs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # one arm on cleaned pages (--inputs)
    args = parser.parse_args()
    settings = Settings()
    options = ocr_options(settings)
    if args.arm:
        ARMS[args.arm](sorted(args.inputs.glob("*.pgm")), options)
        return 0
    with tempfile.TemporaryDirectory(prefix="ll-isolation-") as scratch:
        pages = cleaned_pages(sorted(args.inputs.glob("*.pdf")), Path(scratch), settings)
        cpu: dict[str, list[float]] = {"in_process": [], "worker": []}
        readings: dict[str, list[Words]] = {}
        for _ in range(args.rounds):
            for arm, read in ARMS.items():
                started = cpu_seconds()
                readings[arm] = read(pages, options)
                cpu[arm].append((cpu_seconds() - started) / len(pages))
        clean = str(Path(scratch) / "clean")
        peaks = {arm: peak_tree_rss_mb([sys.executable, __file__, "--inputs", clean, "--arm", arm]) for arm in ARMS}
    figures = {
        "pages": len(pages),
        "rounds": args.rounds,
        "cpu_seconds_per_page": cpu,
        "cpu_ratio_worker_to_in_process": sum(cpu["worker"]) / sum(cpu["in_process"]),
        "same_words": readings["worker"] == readings["in_process"],
        "peak_tree_rss_mb": peaks,
    }
    print(json.dumps(figures, indent=2))
    return 0 if figures["same_words"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
