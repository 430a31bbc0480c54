"""The re-reads' crops (pipeline/second_look.py: second look, ID re-read, party ink) read as ONE strip, as
before, against strips of similar width (`strip_plan`, as shipped): the OCR worker's CPU and, crop by crop,
whether the words read are the same.

Every document under INPUT... is read as a run reads it (`read_document`, default settings and engine);
each time a re-read asks for its crops, they are read both ways, in alternating order (one way first on odd
calls, the other on even ones), and the shipped way's words go on. CPU is the OCR worker process's own
(user + sys from /proc): it holds on a loaded machine.

    .venv/bin/python benchmarks/crop_strips.py /tmp/acc5/s41/in ../shared/benchmarks/real-invoices
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tesseract_cost import SUFFIXES, worker_cpu
from pipeline import party_ink, second_look
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.errors import DocumentError
from pipeline.reading import read_document
from schemas import Word

ONE_STRIP = 10**18  # STRIP_RUN_PX that makes any second strip cost more than the widest single one


@dataclass
class Tally:
    calls: int = 0
    crops: int = 0
    same_crops: int = 0
    one_strip_cpu_s: float = 0.0
    strips_cpu_s: float = 0.0
    differences: list[str] = field(default_factory=list)


def read_timed(read: Callable[..., list[list[Word]]], run_px: int, args: tuple[object, ...]) -> tuple[list, float]:
    """The crops' words read with STRIP_RUN_PX at `run_px`, and the worker's CPU for it (a worker started on
    the way counts from its start)."""
    shipped = second_look.STRIP_RUN_PX
    second_look.STRIP_RUN_PX = run_px
    try:
        pid, before = worker_cpu()
        words = read(*args)
        after_pid, after = worker_cpu()
    finally:
        second_look.STRIP_RUN_PX = shipped
    return words, after - (before if after_pid == pid else 0.0)


def compare_reads(tally: Tally, document: str) -> Callable[..., list[list[Word]]]:
    """A stand-in for `read_crops` that reads both ways, counts, and returns the shipped way's words."""
    original = second_look.read_crops

    def both(*args: object) -> list[list[Word]]:
        tally.calls += 1
        ways = [ONE_STRIP, second_look.STRIP_RUN_PX]
        if tally.calls % 2 == 0:
            ways.reverse()
        found = {run_px: read_timed(original, run_px, args) for run_px in ways}
        one, one_cpu = found[ONE_STRIP]
        shipped, shipped_cpu = found[second_look.STRIP_RUN_PX]
        tally.one_strip_cpu_s += one_cpu
        tally.strips_cpu_s += shipped_cpu
        tally.crops += len(one)
        for number, (before, after) in enumerate(zip(one, shipped, strict=True)):
            texts = [w.text for w in before], [w.text for w in after]
            tally.same_crops += texts[0] == texts[1]
            if texts[0] != texts[1]:
                tally.differences.append(f"{document} call {tally.calls} crop {number}: {texts[0]} -> {texts[1]}")
        return shipped

    return both


def measure(files: list[Path]) -> Tally:
    tally = Tally()
    original = second_look.read_crops
    with tempfile.TemporaryDirectory() as folder:
        for path in files:
            stand_in = compare_reads(tally, path.name)
            second_look.read_crops = party_ink.read_crops = stand_in  # type: ignore[assignment]
            try:
                read_document(describe_file(path), Path(tempfile.mkdtemp(dir=folder)), Settings())
            except DocumentError as exc:
                print(f"skipped {path.name}: {exc}", file=sys.stderr)
            finally:
                second_look.read_crops = party_ink.read_crops = original
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", type=Path, nargs="+", help="folders (searched recursively) or files")
    args = parser.parse_args()
    files = [p for arg in args.inputs for p in (sorted(arg.rglob("*")) if arg.is_dir() else [arg])]
    files = [p for p in files if p.suffix.lower() in SUFFIXES and "born_digital" not in p.stem]
    tally = measure(files)
    ratio = tally.strips_cpu_s / max(tally.one_strip_cpu_s, 1e-9)
    print(f"{tally.calls} re-reads, {tally.crops} crops: worker CPU one strip {tally.one_strip_cpu_s:.2f} s, "
          f"strips by width {tally.strips_cpu_s:.2f} s (ratio {ratio:.2f}); "
          f"crops read the same: {tally.same_crops} of {tally.crops}")  # fmt: skip
    for line in tally.differences:
        print("  " + line)


if __name__ == "__main__":
    main()
