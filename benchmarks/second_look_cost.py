"""What the second look (pipeline/second_look.py) costs and buys, per OCR'd document.

Every document under INPUT... with an OCR'd page (generated scans, image-only PDFs and photos of the real
corpus; born-digital PDFs with a text layer are skipped) is read once without the second look (render,
clean, OCR: the first reading), then given the second look on that reading. CPU time (user + sys of this
process and of the tools it ran: Tesseract, poppler) is counted apart for the two, per OCR'd page: CPU,
not wall time, holds on a shared machine. It reports how often the second look fires (the first reading
fails the invoice's own cross-checks), how each look ended (the first reading kept, or which candidate
won), and, where a `<stem>.truth.json` lies beside the input, the header fields right before and after and
the fields each winner fixed or broke.

    .venv/bin/python benchmarks/second_look_cost.py /tmp/samples/s13   # from `ledgerlens samples ... --families all`
    .venv/bin/python benchmarks/second_look_cost.py ../shared/benchmarks/real-invoices --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.evaluate import SCORED_HEADER_FIELDS, values_match
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.engines.ocr import ocr_engine
from pipeline.errors import DocumentError
from pipeline.extract import extract_invoice
from pipeline.reading import read_document, second_look_options
from pipeline.second_look import NOT_TAKEN, PASSED, look_again
from schemas import ExtractionResult

SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass
class Tally:
    documents: int = 0
    ocr_pages: int = 0
    fired: int = 0
    fired_pages: int = 0
    first_cpu_s: float = 0.0
    look_cpu_s: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    fields_scored: int = 0
    right_before: int = 0
    right_after: int = 0
    fixed: Counter[str] = field(default_factory=Counter)
    broken: Counter[str] = field(default_factory=Counter)


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _right(result: ExtractionResult, truth: dict[str, object]) -> set[str]:
    scored = [name for name in SCORED_HEADER_FIELDS if name in truth]
    return {name for name in scored if values_match(name, getattr(result.invoice, name), truth[name])}


def _measure_one(path: Path, tally: Tally, scratch: Path) -> None:
    started = _cpu_s()
    try:
        first = read_document(describe_file(path), Path(tempfile.mkdtemp(dir=scratch)), Settings(second_look=False))
    except DocumentError:
        return
    if not first.cleaned_images or not any(page.words for page in first.pages):
        return
    read_at = _cpu_s()
    settings = Settings()  # the engine the settings name (LEDGERLENS_OCR_ENGINE), as read_document uses it
    look = look_again(first.pages, first.cleaned_images, ocr_engine(settings.ocr_engine, second_look_options(settings)))
    tally.look_cpu_s += _cpu_s() - read_at
    tally.first_cpu_s += read_at - started
    tally.documents += 1
    tally.ocr_pages += len(first.cleaned_images)
    if look.outcome in (NOT_TAKEN, PASSED):
        return
    tally.fired += 1
    tally.fired_pages += len(first.cleaned_images)
    tally.outcomes[look.outcome] += 1
    truth_file = path.with_name(f"{path.stem}.truth.json")
    if look.extraction is not None and truth_file.exists():
        truth = json.loads(truth_file.read_text())
        before, after = _right(extract_invoice(first.pages), truth), _right(look.extraction, truth)
        tally.fields_scored += sum(1 for name in SCORED_HEADER_FIELDS if name in truth)
        tally.right_before += len(before)
        tally.right_after += len(after)
        tally.fixed.update(f"{look.outcome}:{name}" for name in after - before)
        tally.broken.update(f"{look.outcome}:{name}" for name in before - after)


def measure(inputs: list[Path]) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        for path in inputs:
            _measure_one(path, tally, Path(folder))
    return tally


def report(tally: Tally) -> None:
    pages = max(tally.ocr_pages, 1)
    print(f"{tally.documents} documents with {tally.ocr_pages} OCR'd pages; the second look fired on {tally.fired} "
          f"({tally.fired_pages} pages)")  # fmt: skip
    first, look = tally.first_cpu_s / pages, tally.look_cpu_s / pages
    print(f"CPU s per OCR'd page: first reading {first:.2f}, second look {look:.2f} "
          f"(per page it fired on: {tally.look_cpu_s / max(tally.fired_pages, 1):.2f})")  # fmt: skip
    print(f"how each look ended: {dict(tally.outcomes)}")
    if tally.fields_scored:
        print(f"header fields right on the documents it fired on: {tally.right_before} -> {tally.right_after} "
              f"of {tally.fields_scored}; fixed {dict(tally.fixed)}; broken {dict(tally.broken)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", type=Path, nargs="+", help="folders (searched recursively) or files")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    files = [p for arg in args.inputs for p in (sorted(arg.rglob("*")) if arg.is_dir() else [arg])]
    tally = measure([p for p in files if p.suffix.lower() in SUFFIXES and "born_digital" not in p.stem])
    report(tally)
    if args.json:
        figures = {name: dict(value) if isinstance(value, Counter) else value for name, value in vars(tally).items()}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
