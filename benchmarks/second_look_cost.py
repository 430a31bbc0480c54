"""What the second look (pipeline/second_look.py) costs: CPU per scanned page with it off and on.

Every scanned sample under INPUT is read twice with `read_pages` (render, clean, OCR, and with the second
look on, the re-read of pages whose first reading fails the cross-checks), and the CPU time of the process
and its children (Tesseract, poppler) is summed per arm. CPU time, not wall time: it holds on a shared
machine. Also counts the documents whose reading the second look changed, and
scores header fields against the `<stem>.truth.json` beside each PDF when there is one.

    .venv/bin/python benchmarks/second_look_cost.py /tmp/samples/s13   # from `ledgerlens samples ... --families all`
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.evaluate import SCORED_HEADER_FIELDS, values_match
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.extract import extract_invoice
from pipeline.reading import read_pages
from schemas import PageText


@dataclass
class Arm:
    cpu_s: float = 0.0
    pages: int = 0
    fields_right: int = 0
    fields_scored: int = 0


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _read(pdf: Path, settings: Settings, scratch: Path) -> tuple[list[PageText], float]:
    started = _cpu_s()
    pages, _ = read_pages(describe_file(pdf), Path(tempfile.mkdtemp(dir=scratch)), settings)
    return pages, _cpu_s() - started


def _score(arm: Arm, pages: list[PageText], truth: dict[str, object] | None) -> None:
    if truth is None:
        return
    invoice = extract_invoice(pages).invoice
    for name in SCORED_HEADER_FIELDS:
        arm.fields_scored += 1
        arm.fields_right += values_match(name, getattr(invoice, name), truth.get(name))


def measure(inputs: list[Path]) -> tuple[dict[str, Arm], int]:
    """Both arms over the PDFs, and how many documents the second look gave another reading."""
    arms = {"off": Arm(), "on": Arm()}
    changed = 0
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        for pdf in inputs:
            truth_file = pdf.with_name(f"{pdf.stem}.truth.json")
            truth = json.loads(truth_file.read_text()) if truth_file.exists() else None
            readings: dict[str, list[PageText]] = {}
            for name, arm in arms.items():
                pages, cpu = _read(pdf, Settings(second_look=name == "on"), scratch)
                arm.cpu_s += cpu
                arm.pages += len(pages)
                readings[name] = pages
                _score(arm, pages, truth)
            changed += readings["on"] != readings["off"]
    return arms, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="folder of sample PDFs; only the scanned ones are read")
    args = parser.parse_args()
    inputs = sorted(path for path in args.input.glob("*.pdf") if "scan" in path.stem)
    arms, changed = measure(inputs)
    print(f"{len(inputs)} scanned documents; the second look changed the reading of {changed}")
    print(f"{'arm':5} {'pages':>6} {'CPU s':>8} {'CPU s/page':>11} {'header fields right':>20}")
    for name, arm in arms.items():
        right = f"{arm.fields_right}/{arm.fields_scored}" if arm.fields_scored else "-"
        print(f"{name:5} {arm.pages:6d} {arm.cpu_s:8.1f} {arm.cpu_s / max(arm.pages, 1):11.2f} {right:>20}")
    off, on = arms["off"], arms["on"]
    print(f"CPU on / off: {on.cpu_s / max(off.cpu_s, 1e-9):.3f} (+{on.cpu_s - off.cpu_s:.1f} s)")


if __name__ == "__main__":
    main()
