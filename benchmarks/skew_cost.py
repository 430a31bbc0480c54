"""What the deskew costs and how right it is: this checkout's skew estimate against another revision's.

Every scanned page under INPUT... (found as `preprocess_steps.py` finds them) is cleaned as a run does; at
the deskew, its skew is estimated by this checkout's `estimate_skew` and by `--baseline REV`'s (that
revision's pipeline/preprocess.py), alternating which goes first, each timed in thread CPU, and the page
is rotated once (this checkout's `_rotate`, timed apart from the rotations inside an estimate). Reported:
CPU per page of each estimate and of the rotation, and on how many pages the two angles differ. With
`--truth N`, the first page of the first N born-digital PDFs under INPUT is rendered at 290 dpi and
rotated by known angles, as the sample generator's scans are: one within 0.5 degree, one within 1, and one
1.5-3 degrees blurred and noisy; each estimate's error from the true angle is reported. The JSON goes to
benchmarks/results/.

    .venv/bin/python benchmarks/skew_cost.py /tmp/ledgerlens-throughput/scanned-100 /tmp/acc5/s41/in \\
        /tmp/acc5/s61/in /tmp/s113 --baseline defc64a --truth 12
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline.preprocess as preprocess  # noqa: E402
from benchmarks.preprocess_steps import page_images  # noqa: E402
from benchmarks.results_file import write_result  # noqa: E402
from pipeline.config import Settings  # noqa: E402

Estimate = Callable[[Any, float], float]


def baseline_module(revision: str, scratch: Path) -> ModuleType:
    """pipeline/preprocess.py as it was at `revision`, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:pipeline/preprocess.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = scratch / "baseline_preprocess.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_preprocess", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scanned_pages(inputs: list[Path], baseline: Estimate, scratch: Path) -> dict[str, Any]:
    """Both estimates and the rotation on every scanned page, timed where a run calls them."""
    current, rotate = preprocess.estimate_skew, preprocess._rotate
    cpu = {"current": 0.0, "baseline": 0.0, "rotate": 0.0}
    angles: list[tuple[str, float, float]] = []

    estimates: dict[str, Estimate] = {"current": current, "baseline": baseline}
    estimating = [False]  # the estimate's own rotations count as the estimate's

    def both(image: Any, max_degrees: float = 5.0) -> float:
        found: dict[str, float] = {}
        for name in ("current", "baseline") if len(angles) % 2 == 0 else ("baseline", "current"):
            started, estimating[0] = time.thread_time(), True
            found[name] = estimates[name](image, max_degrees)
            cpu[name], estimating[0] = cpu[name] + time.thread_time() - started, False
        angles.append((page, found["current"], found["baseline"]))
        return found["current"]

    def rotate_timed(image: Any, degrees: float, border: int) -> Any:
        started = time.thread_time()
        rotated = rotate(image, degrees, border)
        if not estimating[0]:
            cpu["rotate"] += time.thread_time() - started
        return rotated

    preprocess.estimate_skew, preprocess._rotate = both, rotate_timed  # type: ignore[assignment]
    settings = Settings()
    options = preprocess.PreprocessOptions(target_short_side_px=settings.ocr_target_short_side_px)
    try:
        for image in page_images(inputs, scratch, settings):
            page = image.relative_to(scratch).as_posix()
            preprocess.preprocess_page(image, scratch / "clean.pgm", options)
    finally:
        preprocess.estimate_skew, preprocess._rotate = current, rotate
    count = max(1, len(angles))
    differ = [(page, new, old) for page, new, old in angles if abs(new - old) > 1e-9]
    return {
        "pages": len(angles),
        "cpu_ms_per_page": {name: round(1000 * seconds / count, 1) for name, seconds in cpu.items()},
        "angles_differ": len(differ),
        "differences": [{"page": page, "current": new, "baseline": old} for page, new, old in differ],
    }


def rotated_truths(inputs: list[Path], count: int, scratch: Path) -> list[tuple[str, Any, float]]:
    """(kind, page image, true correction in degrees) for `count` born-digital pages, three angles each."""
    pdfs = sorted(p for folder in inputs for p in folder.rglob("*born_digital*.pdf"))[:count]
    rng = np.random.default_rng(7)
    cases: list[tuple[str, Any, float]] = []
    for number, pdf in enumerate(pdfs):
        stem = scratch / f"truth-{number}"
        subprocess.run(
            ["pdftoppm", "-gray", "-r", "290", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)], check=True
        )
        page = cv2.imread(f"{stem}.pgm", cv2.IMREAD_GRAYSCALE)
        height, width = page.shape
        for kind, degrees in (
            ("within 0.5", rng.uniform(-0.5, 0.5)),
            ("within 1", rng.uniform(-1.0, 1.0)),
            ("1.5-3, noisy", rng.choice((-1, 1)) * rng.uniform(1.5, 3.0)),
        ):
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), float(degrees), 1.0)
            image = cv2.warpAffine(page, matrix, (width, height), borderValue=255)
            if kind.endswith("noisy"):
                noise = rng.normal(0, 10, image.shape)
                image = np.clip(cv2.GaussianBlur(image, (3, 3), 0.8) * 0.8 + 30 + noise, 0, 255).astype(np.uint8)
            cases.append((kind, image, -float(degrees)))
    return cases


def truth_errors(cases: list[tuple[str, Any, float]], estimates: dict[str, Estimate]) -> dict[str, Any]:
    errors: dict[str, list[float]] = {name: [] for name in estimates}
    for _, image, truth in cases:
        for name, estimate in estimates.items():
            errors[name].append(abs(estimate(image, 5.0) - truth))
    return {
        name: {
            "pages": len(found),
            "mean_abs_error_deg": round(float(np.mean(found)), 4),
            "max_abs_error_deg": round(float(np.max(found)), 3),
            "over_0.1_deg": int(np.sum(np.array(found) > 0.1)),
        }
        for name, found in errors.items()
        if found
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--baseline", default="HEAD", help="the revision whose estimate_skew is compared")
    parser.add_argument("--truth", type=int, default=0, help="born-digital pages rotated by known angles")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as a run sets it (flows/runtime.py)
    with tempfile.TemporaryDirectory(prefix="ll-skew-cost-") as folder:
        scratch = Path(folder)
        baseline = baseline_module(args.baseline, scratch).estimate_skew
        figures: dict[str, Any] = {"baseline": args.baseline, "scanned": scanned_pages(args.inputs, baseline, scratch)}
        if args.truth:
            cases = rotated_truths(args.inputs, args.truth, scratch)
            figures["truth"] = truth_errors(cases, {"current": preprocess.estimate_skew, "baseline": baseline})
    scanned = figures["scanned"]
    print(f"{scanned['pages']} scanned pages, thread CPU per page (ms): {scanned['cpu_ms_per_page']}")
    print(f"angles differ from {args.baseline}'s on {scanned['angles_differ']} pages")
    for row in scanned["differences"]:
        print(f"  {row['page']}: {row['baseline']} -> {row['current']}")
    for name, row in figures.get("truth", {}).items():
        print(f"known angles, {name}: {row}")
    write_result("skew-cost", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
