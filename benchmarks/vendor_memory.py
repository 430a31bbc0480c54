"""Vendor memory benchmark (issue 14): does each reviewer decision make the next invoice go straight through?

A generated stream (devtools/vendor_stream.py: >= 24 vendors, one layout, a stable VAT ID and IBAN each)
is processed in date order, in batches, with `ledgerlens run`. Between batches a simulated reviewer
approves every queued record with its truth values (`ledgerlens review approve ID --set field=value ...`),
so the next run learns from those decisions. Per batch it reports straight-through rate, auto-accept
error (accepted records with any header field wrong), the same split by the vendor's 1st / 2nd / 3rd+
invoice, and header corrections per 100 documents. With --arms memory,baseline the same stream runs a second time with
LEDGERLENS_VENDOR_MEMORY=false, for the "first invoice no worse than without profiles" comparison.

    .venv/bin/python benchmarks/vendor_memory.py --vendors 24 --per-vendor 10 --batches 8 --arms memory,baseline
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.evaluate import values_match
from devtools.vendor_stream import StreamInvoice, generate_vendor_stream
from flows.cli import main as ledgerlens
from pipeline.review import SQLiteReviewStore, review_db_path
from schemas import HEADER_FIELDS, OPEN_STATES

BUCKETS = ("1st", "2nd", "3rd+")


@dataclass
class Tally:
    documents: int = 0
    accepted: int = 0
    accepted_wrong: int = 0
    corrections: int = 0

    def add(self, other: Tally) -> None:
        self.documents += other.documents
        self.accepted += other.accepted
        self.accepted_wrong += other.accepted_wrong
        self.corrections += other.corrections

    def cells(self) -> list[str]:
        if not self.documents:
            return ["-", "-"]
        straight = f"{self.accepted / self.documents:.0%} ({self.accepted}/{self.documents})"
        error = f"{self.accepted_wrong / self.accepted:.1%}" if self.accepted else "-"
        return [straight, error]


@dataclass
class BatchResult:
    number: int
    all: Tally = field(default_factory=Tally)
    by_rank: dict[str, Tally] = field(default_factory=lambda: {bucket: Tally() for bucket in BUCKETS})
    seconds: float = 0.0
    profiles_used: int = 0


def bucket(rank: int) -> str:
    return BUCKETS[min(rank, 2)]


def read_rows(out: Path) -> dict[str, dict[str, Any]]:
    """invoices/ rows by source file stem."""
    table = pq.read_table(out / "invoices")
    return {Path(row["source"]).stem: row for row in table.to_pylist()}


def truth_of(inputs: Path, stem: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((inputs / f"{stem}.truth.json").read_text(encoding="utf-8"))
    return loaded


def wrong_fields(row: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    return [name for name in HEADER_FIELDS if not values_match(name, row.get(name), truth.get(name))]


def review_queue(out: Path, inputs: Path) -> int:
    """Approve every open item with its truth values through the CLI; returns the header fields corrected."""
    store = SQLiteReviewStore(review_db_path(str(out), None))
    corrected = 0
    for item in store.list_items(OPEN_STATES):
        truth = truth_of(inputs, Path(item.source).stem)
        sets = [arg for name in HEADER_FIELDS for arg in ("--set", f"{name}={truth[name]}")]
        code = ledgerlens(["review", "approve", item.document_id, "--out", str(out), "--reviewer", "bench", *sets])
        if code != 0:
            raise SystemExit(f"review approve failed for {item.source}")
        decided = store.get(item.document_id)
        corrected += sum(1 for change in decided.changes if change.field in HEADER_FIELDS)
    return corrected


def score_batch(number: int, items: list[StreamInvoice], inputs: Path, out: Path) -> BatchResult:
    rows = read_rows(out)
    result = BatchResult(number)
    for item in items:
        row = rows[item.stem]
        wrong = wrong_fields(row, truth_of(inputs, item.stem))
        tally = Tally(documents=1)
        if row["status"] == "accepted":
            tally.accepted = 1
            tally.accepted_wrong = int(bool(wrong))
        result.all.add(tally)
        result.by_rank[bucket(item.rank)].add(tally)
    return result


def run_stream(plan: list[StreamInvoice], inputs: Path, work: Path, batches: int, memory: bool) -> list[BatchResult]:
    os.environ["LEDGERLENS_VENDOR_MEMORY"] = "true" if memory else "false"
    out = work / ("out-memory" if memory else "out-baseline")
    shutil.rmtree(out, ignore_errors=True)
    size = -(-len(plan) // batches)
    results = []
    for number in range(batches):
        items = plan[number * size : (number + 1) * size]
        folder = work / f"batch-{number + 1:02d}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for item in items:
            (folder / f"{item.stem}.pdf").symlink_to(inputs / f"{item.stem}.pdf")
        started = time.perf_counter()
        if ledgerlens(["run", str(folder), "--out", str(out)]) != 0:
            raise SystemExit(f"ledgerlens run failed on batch {number + 1}")
        result = score_batch(number + 1, items, inputs, out)
        result.seconds = time.perf_counter() - started
        result.all.corrections = review_queue(out, inputs)
        results.append(result)
        print(f"batch {number + 1}: {result.all.accepted}/{result.all.documents} accepted", file=sys.stderr)
    return results


def rescore(work: Path, memory: bool) -> list[BatchResult]:
    """The table of a finished or interrupted run from its output: batches found, corrections from reviews/."""
    out = work / ("out-memory" if memory else "out-baseline")
    reviews = pq.read_table(out / "reviews").to_pylist() if (out / "reviews").is_dir() else []
    rows = read_rows(out)
    corrections: dict[str, int] = {}
    for review in reviews:
        if review["field"] in HEADER_FIELDS:
            corrections[review["document_id"]] = corrections.get(review["document_id"], 0) + 1
    results = []
    for folder in sorted(work.glob("batch-*")):
        stems = sorted(path.stem for path in folder.glob("*.pdf"))
        if not stems or any(stem not in rows for stem in stems):
            break
        items = [item_of(stem) for stem in stems]
        result = score_batch(int(folder.name.split("-")[1]), items, work / "stream", out)
        result.all.corrections = sum(corrections.get(rows[stem]["document_id"], 0) for stem in stems)
        results.append(result)
    return results


def item_of(stem: str) -> StreamInvoice:
    day, vendor, rank, kind = stem.split("-", 3)
    return StreamInvoice(
        int(vendor[1:]), int(rank[1:]), date.fromisoformat(f"{day[:4]}-{day[4:6]}-{day[6:]}"), kind, stem
    )  # type: ignore[arg-type]


def print_table(title: str, results: list[BatchResult]) -> None:
    print(f"\n### {title}\n")
    header = ["batch", "docs", "straight-through", "auto-accept error"]
    for name in BUCKETS:
        header += [f"{name}: straight-through", f"{name}: error"]
    header.append("corrections / 100 docs")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    total = BatchResult(0)
    for result in results:
        cells = [str(result.number), str(result.all.documents), *result.all.cells()]
        for name in BUCKETS:
            cells += result.by_rank[name].cells()
            total.by_rank[name].add(result.by_rank[name])
        total.all.add(result.all)
        cells.append(f"{100 * result.all.corrections / result.all.documents:.1f}")
        print("| " + " | ".join(cells) + " |")
    cells = ["all", str(total.all.documents), *total.all.cells()]
    for name in BUCKETS:
        cells += total.by_rank[name].cells()
    cells.append(f"{100 * total.all.corrections / max(total.all.documents, 1):.1f}")
    print("| " + " | ".join(cells) + " |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vendors", type=int, default=24)
    parser.add_argument("--per-vendor", type=int, default=10)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--scan-every", type=int, default=8, help="every Nth invoice of a vendor arrives scanned")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temp dir, removed)")
    parser.add_argument("--rescore", action="store_true", help="only print the tables of the runs under --work")
    parser.add_argument(
        "--arms",
        default="memory",
        help="comma-separated: memory (profiles on), baseline (LEDGERLENS_VENDOR_MEMORY=false); default memory",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ll-vendor-bench-"))
    titles = {"memory": ("with vendor memory", True), "baseline": ("without vendor memory (baseline)", False)}
    if args.rescore:
        for arm in args.arms.split(","):
            title, memory = titles[arm.strip()]
            print_table(title, rescore(work, memory))
        return 0
    inputs = work / "stream"
    plan = generate_vendor_stream(inputs, args.vendors, args.per_vendor, args.seed, args.scan_every)
    scans = sum(item.kind != "born_digital" for item in plan)
    print(f"Stream: {len(plan)} invoices from {args.vendors} vendors ({scans} scanned), {args.batches} batches")
    started = time.perf_counter()
    for arm in args.arms.split(","):
        title, memory = titles[arm.strip()]
        print_table(title, run_stream(plan, inputs, work, args.batches, memory))
    print(f"\nWall time {time.perf_counter() - started:.0f} s (2 shared cores: noisy)")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
