"""Line-item precision, recall and F1 per table kind, on born-digital PDFs read from their text layer.

    .venv/bin/python benchmarks/line_item_kinds.py /tmp/samples-171 [MORE_DIRS...] [--show-misses]

A benchmark, not a test: it reads every PDF under the folders that has a `<stem>.truth.json` listing line
items and whose every page carries a text layer (scans need OCR: score those with `ledgerlens eval` on a
run's output), extracts the invoice as a run does, and matches its items to the truth the way
`ledgerlens eval` does (same amount, description alike). Documents are grouped by what the page shows,
not by generator family: one page or several, and whether a row of column headings opens the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.evaluate import line_items_match, match_line_items
from pipeline.config import Settings
from pipeline.extract import extract_invoice
from pipeline.extract.fields import PageIndex
from pipeline.extract.layout import build_layout
from pipeline.extract.tables import header_columns
from pipeline.render import pdf_page_count, read_text_layer
from schemas import PageText


@dataclass
class KindScore:
    documents: int = 0
    truth: int = 0
    found: int = 0
    matched: int = 0

    def add(self, truth: int, found: int, matched: int) -> None:
        self.documents += 1
        self.truth, self.found, self.matched = self.truth + truth, self.found + found, self.matched + matched

    def row(self, name: str) -> str:
        precision = self.matched / self.found if self.found else 0.0
        recall = self.matched / self.truth if self.truth else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return (
            f"{name:32s} {self.documents:5d} {self.truth:6d} {self.found:6d} {self.matched:8d}"
            f" {precision:10.3f} {recall:7.3f} {f1:6.3f}"
        )


def _text_pages(path: Path, min_words: int) -> list[PageText] | None:
    count = pdf_page_count(path)
    pages = [page for page in read_text_layer(path, count) if len(page.words) >= min_words]
    return pages if len(pages) == count else None


def _kind(pages: list[PageText]) -> str:
    index = PageIndex([build_layout(page) for page in pages])
    headed = any(header_columns(row) is not None for row in index.rows)
    return f"{'one page' if len(pages) == 1 else 'several pages'}, {'headings' if headed else 'no headings'}"


def _misses(path: Path, predicted: list[dict[str, Any]], truth: list[dict[str, Any]]) -> None:
    print(f"--- {path}")
    for item in truth:
        if not any(line_items_match(found, item) for found in predicted):
            print(f"  missed {item.get('amount')} | {item.get('description')}")
    for found in predicted:
        if not any(line_items_match(found, item) for item in truth):
            print(f"  extra  {found.get('amount')} | {found.get('description')}")


def score(folders: list[Path], show_misses: bool) -> dict[str, KindScore]:
    min_words = Settings().min_text_layer_words
    kinds: dict[str, KindScore] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.pdf")):
            truth_file = path.with_name(path.stem + ".truth.json")
            truth = json.loads(truth_file.read_text()).get("line_items") if truth_file.exists() else None
            pages = _text_pages(path, min_words) if isinstance(truth, list) else None
            if pages is None or not isinstance(truth, list):
                continue
            predicted = [item.model_dump(mode="json") for item in extract_invoice(pages).invoice.line_items]
            matched = match_line_items(predicted, truth)
            for name in ("all", _kind(pages)):
                kinds.setdefault(name, KindScore()).add(len(truth), len(predicted), matched)
            if show_misses and not matched == len(truth) == len(predicted):
                _misses(path, predicted, truth)
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--show-misses", action="store_true", help="list each document's missed and extra items")
    args = parser.parse_args()
    kinds = score(args.folders, args.show_misses)
    headings = ("docs", 5), ("truth", 6), ("found", 6), ("matched", 8), ("precision", 10), ("recall", 7), ("F1", 6)
    print(f"{'kind':32s} " + " ".join(f"{name:>{width}s}" for name, width in headings))
    for name in ["all", *sorted(name for name in kinds if name != "all")]:
        print(kinds[name].row(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
