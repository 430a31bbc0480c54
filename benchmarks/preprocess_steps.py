"""Where page cleaning (pipeline/preprocess.py) spends its CPU, step by step, and what it writes.

Every scanned page under INPUT... (image-only PDF pages as `pdfimages` gives them, and PNG/JPEG/TIFF scans;
pages with a text layer are skipped) is cleaned `--repeat` times with the default options. Each step's
thread CPU is counted exclusive of the steps it calls, per page, apart for each kind of scan the file name
names (`clean_scan`, `hard_scan`; else `other`). With `--digests FILE` the sha256 of every cleaned page is
written there; with `--compare FILE` (written by another checkout) it says on how many pages the bytes
differ, which is how a speed-up shows it changed nothing OCR reads. With `--against REV` each page is also
cleaned by pipeline/preprocess.py as it is at git revision REV, in the same process, the two taking turns to
go first: both tables, this checkout's CPU as a share of REV's per kind of scan, and on how many pages the
bytes differ (on a shared machine the share holds better than either figure).

    .venv/bin/python benchmarks/preprocess_steps.py /tmp/acc5/s41/in /tmp/acc5/s61/in --digests /tmp/a.json
    .venv/bin/python benchmarks/preprocess_steps.py /tmp/acc5/s41/in /tmp/acc5/s61/in --compare /tmp/a.json
    .venv/bin/python benchmarks/preprocess_steps.py /tmp/acc5/s41/in /tmp/acc5/s61/in --against defc64a
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

import pipeline.preprocess as preprocess  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.reading import page_limits  # noqa: E402
from pipeline.render import pdf_page_count, pdf_page_images, read_text_layer, render_image  # noqa: E402

STEPS = ("load_gray", "estimate_noise_sigma", "contrast_range", "resize", "enhance", "normalise_background",
         "lift_background", "remove_dot_leaders", "erase_dot_leaders", "_small_blobs", "estimate_skew", "_rotate",
         "remove_rules", "_line_runs", "_add_line_runs", "paper_level", "gray_histogram", "invert_dark_bands",
         "dark_bands", "write_page")  # fmt: skip
KINDS = ("clean_scan", "hard_scan")


class StepClock:
    """Thread CPU per step, exclusive of the wrapped steps it calls, per kind of page; also the whole
    cleaning's CPU and each cleaned page's sha256, for one implementation of the cleaning (`module`)."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.kind = "other"
        self.cpu: dict[str, Counter[str]] = {}
        self.totals: Counter[str] = Counter()
        self.pages: Counter[str] = Counter()
        self.digests: dict[str, str] = {}
        self._stack: list[float] = []
        for name in STEPS:
            if hasattr(module, name):
                self.wrap(name)

    def wrap(self, name: str) -> None:
        original: Callable[..., Any] = getattr(self.module, name)

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

        setattr(self.module, name, timed)

    def clean(self, image: Path, key: str, target: Path, options: Any) -> None:
        self.kind = kind_of(image)
        started = time.thread_time()
        self.module.preprocess_page(image, target, self.module.PreprocessOptions(**options.model_dump()))
        self.totals[self.kind] += time.thread_time() - started
        self.pages[self.kind] += 1
        self.digests[key] = hashlib.sha256(target.read_bytes()).hexdigest()

    def report(self, repeat: int) -> None:
        for kind, count in sorted(self.pages.items()):
            steps, total = self.cpu.get(kind, Counter()), self.totals[kind]
            print(f"{kind}: {count // repeat} pages, {1000 * total / count:.0f} ms CPU per page")
            for name, seconds in [*steps.most_common(), ("(writing, report)", total - sum(steps.values()))]:
                print(f"  {name:<24} {1000 * seconds / count:7.1f} ms  {seconds / total:6.1%}")


def reference_module(revision: str) -> ModuleType:
    """pipeline/preprocess.py as it is at a git revision, loaded beside this checkout's."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:pipeline/preprocess.py"], check=True, capture_output=True
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="ll-preprocess-reference-")) / "preprocess_reference.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("preprocess_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for pydantic to resolve the models' annotations
    spec.loader.exec_module(module)
    return module


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
    parser.add_argument("--against", metavar="REV", help="also clean each page with pipeline/preprocess.py at REV")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as a run sets it (flows/runtime.py): the workers fill the cores
    settings, clock = Settings(), StepClock(preprocess)
    clocks = [clock] if args.against is None else [StepClock(reference_module(args.against)), clock]
    with tempfile.TemporaryDirectory(prefix="ll-preprocess-steps-") as scratch:
        images = page_images(args.inputs, Path(scratch), settings)
        options = preprocess.PreprocessOptions(target_short_side_px=settings.ocr_target_short_side_px)
        for round_number in range(args.repeat):
            for number, image in enumerate(images):
                key = image.relative_to(scratch).as_posix() if image.is_relative_to(scratch) else str(image)
                turn = clocks if (number + round_number) % 2 == 0 else clocks[::-1]  # alternating who goes first
                for index, cleaner in enumerate(turn):
                    cleaner.clean(image, key, Path(scratch) / f"clean-{index}.pgm", options)
    for cleaner in clocks:
        print(f"== {cleaner.module.__name__}")
        cleaner.report(args.repeat)
    if args.against:
        reference = clocks[0]
        for kind, total in sorted(clock.totals.items()):
            print(f"{kind}: {total / reference.totals[kind]:.2f} of {args.against}'s CPU")
        compare(clock.digests, reference.digests, args.against)
    if args.digests:
        args.digests.write_text(json.dumps(clock.digests, indent=1, sort_keys=True))
    if args.compare:
        compare(clock.digests, json.loads(args.compare.read_text()), str(args.compare))
    return 0


def compare(digests: dict[str, str], other: dict[str, str], name: str) -> None:
    differ = sorted(key for key in digests.keys() & other.keys() if digests[key] != other[key])
    print(f"cleaned pages compared with {name}: {len(digests.keys() & other.keys())}, bytes differ on {len(differ)}")
    for key in differ:
        print(f"  {key}")


if __name__ == "__main__":
    raise SystemExit(main())
