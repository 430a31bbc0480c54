"""Where page cleaning (pipeline/preprocess.py) spends its CPU, step by step, and what it writes.

Every scanned page under INPUT... (image-only PDF pages as `pdfimages` gives them, and PNG/JPEG/TIFF scans;
pages with a text layer are skipped) is cleaned `--repeat` times with the default options. Each step's
thread CPU is counted exclusive of the steps it calls, per page, apart for each kind of scan the file name
names (`clean_scan`, `hard_scan`; else `other`). With `--digests FILE` the sha256 of every cleaned page is
written there; with `--compare FILE` (written by another checkout) it says on how many pages the bytes
differ, which is how a speed-up shows it changed nothing OCR reads.

    .venv/bin/python benchmarks/preprocess_steps.py /tmp/acc5/s41/in /tmp/acc5/s61/in --digests /tmp/a.json
    .venv/bin/python benchmarks/preprocess_steps.py /tmp/acc5/s41/in /tmp/acc5/s61/in --compare /tmp/a.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

import pipeline.preprocess as preprocess  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.reading import page_limits  # noqa: E402
from pipeline.render import pdf_page_count, pdf_page_images, read_text_layer, render_image  # noqa: E402

STEPS = ("load_gray", "estimate_noise_sigma", "contrast_range", "resize", "enhance", "normalise_background",
         "remove_dot_leaders", "erase_dot_leaders", "estimate_skew", "_rotate", "remove_rules", "_line_runs",
         "paper_level", "gray_histogram", "invert_dark_bands", "dark_bands", "write_page")  # fmt: skip
KINDS = ("clean_scan", "hard_scan")


class StepClock:
    """Thread CPU per step, exclusive of the wrapped steps it calls, per kind of page."""

    def __init__(self) -> None:
        self.kind = "other"
        self.cpu: dict[str, Counter[str]] = {}
        self._stack: list[float] = []

    def wrap(self, name: str) -> None:
        original: Callable[..., Any] = getattr(preprocess, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                inner = self._stack.pop()
                if self._stack:
                    self._stack[-1] += spent
                self.cpu.setdefault(self.kind, Counter())[name] += spent - inner

        setattr(preprocess, name, timed)


def page_images(inputs: list[Path], scratch: Path, settings: Settings) -> list[Path]:
    """The scanned page images of every input, as the pipeline gets them."""
    found: list[Path] = []
    files = sorted(p for folder in inputs for p in (folder.rglob("*") if folder.is_dir() else [folder]))
    for number, path in enumerate(f for f in files if f.suffix.lower() in (".pdf", ".png", ".jpg", ".jpeg", ".tif")):
        target = scratch / f"{number:04d}-{path.stem}"
        if path.suffix.lower() != ".pdf":
            found += render_image(path, target, settings.max_pages, page_limits(settings))[0]
            continue
        count = pdf_page_count(path)
        text = {
            page.page_no for page in read_text_layer(path, count) if len(page.words) >= settings.min_text_layer_words
        }
        missing = [page for page in range(1, count + 1) if page not in text]
        if missing:
            found += pdf_page_images(path, target, settings.render_dpi, missing, page_limits(settings)).values()
    return found


def kind_of(image: Path) -> str:
    return next((kind for kind in KINDS if kind in str(image)), "other")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--digests", type=Path, help="write each cleaned page's sha256 here")
    parser.add_argument("--compare", type=Path, help="compare the cleaned pages' sha256 with this file")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as a run sets it (flows/runtime.py): the workers fill the cores
    settings, clock = Settings(), StepClock()
    for name in STEPS:
        if hasattr(preprocess, name):
            clock.wrap(name)
    digests: dict[str, str] = {}
    pages: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="ll-preprocess-steps-") as scratch:
        images = page_images(args.inputs, Path(scratch), settings)
        options = preprocess.PreprocessOptions(target_short_side_px=settings.ocr_target_short_side_px)
        for _ in range(args.repeat):
            for image in images:
                clock.kind = kind_of(image)
                target = Path(scratch) / "clean.pgm"
                started = time.thread_time()
                preprocess.preprocess_page(image, target, options)
                totals[clock.kind] += time.thread_time() - started
                pages[clock.kind] += 1
                page = image.relative_to(scratch) if image.is_relative_to(scratch) else image  # read in place
                digests[page.as_posix()] = hashlib.sha256(target.read_bytes()).hexdigest()
    for kind, count in sorted(pages.items()):
        steps = clock.cpu.get(kind, Counter())
        print(f"{kind}: {count // args.repeat} pages, {1000 * totals[kind] / count:.0f} ms CPU per page")
        for name, seconds in [*steps.most_common(), ("(writing, report)", totals[kind] - sum(steps.values()))]:
            print(f"  {name:<24} {1000 * seconds / count:7.1f} ms  {seconds / totals[kind]:6.1%}")
    if args.digests:
        args.digests.write_text(json.dumps(digests, indent=1, sort_keys=True))
    if args.compare:
        other = json.loads(args.compare.read_text())
        differ = sorted(key for key in digests.keys() & other.keys() if digests[key] != other[key])
        print(f"cleaned pages compared: {len(digests.keys() & other.keys())}, bytes differ on {len(differ)}")
        for key in differ:
            print(f"  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
