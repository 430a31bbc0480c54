"""Vendor memory benchmark (issue 14): does each reviewer decision make the next invoice go straight through?

A generated stream (devtools/vendor_stream.py: >= 24 vendors, one layout, a stable VAT ID and IBAN each,
and quirks of their own: house label wording, a wordmark header, a house date format, the total below its
label) is processed in date order, in batches, with `ledgerlens run`. Between batches a simulated reviewer
approves every queued record with its truth values (`ledgerlens review approve ID --set field=value ...`),
so the next run learns from those decisions. Per batch it reports straight-through rate, auto-accept
error (accepted records with any header field wrong), the same split by the vendor's 1st / 2nd / 3rd+
invoice, and header corrections per 100 documents. With --arms memory,baseline the same stream runs a second time with
LEDGERLENS_VENDOR_MEMORY=false, for the "first invoice no worse than without profiles" comparison.

Vendors take the generator's 16 layout families in turn. Half of the families are held out of calibration
(by default every other one, 4 classic and 4 wide: 12 of the 24 vendors): before the stream, the benchmark
fits a calibration table (devtools/calibrate.py) on generated invoices of the other families only, and both
arms route with it. The tables also split the figures into held-out and calibrated families.

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

from devtools.calibrate import calibrate
from devtools.evaluate import values_match
from devtools.samples import ALL_LAYOUTS, generate_samples, layouts_for
from devtools.vendor_stream import StreamInvoice, generate_vendor_stream, vendor_layout
from flows.cli import main as ledgerlens
from pipeline.review import SQLiteReviewStore, review_db_path
from schemas import HEADER_FIELDS, OPEN_STATES

BUCKETS = ("1st", "2nd", "3rd+")
KINDS = ("born-digital", "scanned")
GROUPS = ("held-out families", "calibrated families")


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
    by_kind: dict[str, Tally] = field(default_factory=lambda: {kind: Tally() for kind in KINDS})
    by_group: dict[str, Tally] = field(default_factory=lambda: {group: Tally() for group in GROUPS})
    by_group_later: dict[str, Tally] = field(default_factory=lambda: {group: Tally() for group in GROUPS})
    seconds: float = 0.0
    profiles_used: int = 0


def bucket(rank: int) -> str:
    return BUCKETS[min(rank, 2)]


def kind_of(item: StreamInvoice) -> str:
    return KINDS[0] if item.kind == "born_digital" else KINDS[1]


def read_rows(out: Path) -> dict[str, dict[str, Any]]:
    """invoices/ rows by source file stem."""
    table = pq.read_table(out / "invoices")
    return {Path(row["source"]).stem: row for row in table.to_pylist()}


def truth_of(inputs: Path, stem: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((inputs / f"{stem}.truth.json").read_text(encoding="utf-8"))
    return loaded


def wrong_fields(row: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    return [name for name in HEADER_FIELDS if not values_match(name, row.get(name), truth.get(name))]


def review_queue(out: Path, inputs: Path) -> None:
    """Approve every open item with its truth values through the CLI."""
    store = SQLiteReviewStore(review_db_path(str(out), None))
    for item in store.list_items(OPEN_STATES):
        truth = truth_of(inputs, Path(item.source).stem)
        sets = [arg for name in HEADER_FIELDS for arg in ("--set", f"{name}={truth[name]}")]
        code = ledgerlens(["review", "approve", item.document_id, "--out", str(out), "--reviewer", "bench", *sets])
        if code != 0:
            raise SystemExit(f"review approve failed for {item.source}")


def corrections_of(out: Path) -> dict[str, int]:
    """Header fields the reviewer changed, per document_id (from reviews/)."""
    reviews = pq.read_table(out / "reviews").to_pylist() if (out / "reviews").is_dir() else []
    corrections: dict[str, int] = {}
    for review in reviews:
        if review["field"] in HEADER_FIELDS:
            corrections[review["document_id"]] = corrections.get(review["document_id"], 0) + 1
    return corrections


def add_corrections(result: BatchResult, items: list[StreamInvoice], out: Path) -> None:
    rows, corrections = read_rows(out), corrections_of(out)
    for item in items:
        count = corrections.get(rows[item.stem]["document_id"], 0)
        result.all.corrections += count
        result.by_rank[bucket(item.rank)].corrections += count
        result.by_kind[kind_of(item)].corrections += count


def score_batch(number: int, items: list[StreamInvoice], inputs: Path, out: Path, held_out: set[str]) -> BatchResult:
    rows = read_rows(out)
    result = BatchResult(number)
    for item in items:
        row = rows[item.stem]
        truth = truth_of(inputs, item.stem)
        wrong = wrong_fields(row, truth)
        tally = Tally(documents=1)
        if row["status"] == "accepted":
            tally.accepted = 1
            tally.accepted_wrong = int(bool(wrong))
        result.all.add(tally)
        result.by_rank[bucket(item.rank)].add(tally)
        result.by_kind[kind_of(item)].add(tally)
        group = GROUPS[0] if truth["layout"] in held_out else GROUPS[1]
        result.by_group[group].add(tally)
        if item.rank >= 2:
            result.by_group_later[group].add(tally)
    return result


def fit_calibration(work: Path, held_out: set[str], count: int, seed: int) -> Path:
    """A calibration table fitted on generated invoices of every family except the held-out ones."""
    families = [layout.name for layout in ALL_LAYOUTS if layout.name not in held_out]
    samples, out, table_file = work / "calibration-in", work / "calibration-out", work / "calibration.json"
    if not table_file.exists():
        generate_samples(samples, count, seed, families)
        if ledgerlens(["run", str(samples), "--out", str(out)]) != 0:
            raise SystemExit("ledgerlens run failed on the calibration samples")
        fitted_on = f"benchmarks/vendor_memory.py: {count} invoices of {', '.join(families)}, seed {seed}"
        calibrate(samples, out, fitted_on=fitted_on).write(table_file)
    return table_file


def run_stream(
    plan: list[StreamInvoice], inputs: Path, work: Path, batches: int, memory: bool, held_out: set[str]
) -> list[BatchResult]:
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
        result = score_batch(number + 1, items, inputs, out, held_out)
        result.seconds = time.perf_counter() - started
        review_queue(out, inputs)
        add_corrections(result, items, out)
        results.append(result)
        print(f"batch {number + 1}: {result.all.accepted}/{result.all.documents} accepted", file=sys.stderr)
    return results


def rescore(work: Path, memory: bool, held_out: set[str]) -> list[BatchResult]:
    """The table of a finished or interrupted run from its output: batches found, corrections from reviews/."""
    out = work / ("out-memory" if memory else "out-baseline")
    rows = read_rows(out)
    results = []
    for folder in sorted(work.glob("batch-*")):
        stems = sorted(path.stem for path in folder.glob("*.pdf"))
        if not stems or any(stem not in rows for stem in stems):
            break
        items = [item_of(stem) for stem in stems]
        result = score_batch(int(folder.name.split("-")[1]), items, work / "stream", out, held_out)
        add_corrections(result, items, out)
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
    header += ["corrections / 100 docs", "of them on 3rd+ invoices / 100 3rd+ docs"]
    header += [f"{kind}: corrections / 100 (docs)" for kind in KINDS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    total = BatchResult(0)
    for result in results:
        print("| " + " | ".join([str(result.number), *table_cells(result)]) + " |")
        total.all.add(result.all)
        for name in BUCKETS:
            total.by_rank[name].add(result.by_rank[name])
        for kind in KINDS:
            total.by_kind[kind].add(result.by_kind[kind])
    print("| " + " | ".join(["all", *table_cells(total)]) + " |")
    print_groups(results)


def table_cells(result: BatchResult) -> list[str]:
    cells = [str(result.all.documents), *result.all.cells()]
    for name in BUCKETS:
        cells += result.by_rank[name].cells()
    cells += [per_hundred(result.all), per_hundred(result.by_rank[BUCKETS[2]])]
    cells += [f"{per_hundred(result.by_kind[kind])} ({result.by_kind[kind].documents})" for kind in KINDS]
    return cells


def per_hundred(tally: Tally) -> str:
    return f"{100 * tally.corrections / tally.documents:.1f}" if tally.documents else "-"


def print_groups(results: list[BatchResult]) -> None:
    """The whole stream split into held-out and calibrated families, by the vendor's invoice rank."""
    print("\n| families | docs | straight-through | auto-accept error | 3rd+: straight-through | 3rd+: error |")
    print("|---|---|---|---|---|---|")
    for group in GROUPS:
        total, later = Tally(), Tally()
        for result in results:
            total.add(result.by_group[group])
            later.add(result.by_group_later[group])
        print(f"| {group} | {total.documents} | " + " | ".join([*total.cells(), *later.cells()]) + " |")


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
        "--held-out",
        default=",".join(layout.name for layout in ALL_LAYOUTS[::2]),
        help="comma-separated layout families left out of the calibration the stream is routed with "
        "(default: every other family)",
    )
    parser.add_argument("--calibration-count", type=int, default=48, help="invoices the calibration is fitted on")
    parser.add_argument(
        "--arms",
        default="memory",
        help="comma-separated: memory (profiles on), baseline (LEDGERLENS_VENDOR_MEMORY=false); default memory",
    )
    return parser.parse_args()


def describe_families(vendors: int, held_out: set[str]) -> str:
    names = [vendor_layout(vendor).name for vendor in range(vendors)]
    out_of = sum(name in held_out for name in names)
    return (
        f"Held out of calibration: {', '.join(sorted(held_out))} ({out_of} of {vendors} vendors' layouts); "
        f"calibration fitted on the other families only"
    )


def main() -> int:
    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ll-vendor-bench-"))
    held_out = {layout.name for layout in layouts_for(args.held_out)}
    titles = {"memory": ("with vendor memory", True), "baseline": ("without vendor memory (baseline)", False)}
    if args.rescore:
        for arm in args.arms.split(","):
            title, memory = titles[arm.strip()]
            print_table(title, rescore(work, memory, held_out))
        return 0
    inputs = work / "stream"
    plan = generate_vendor_stream(inputs, args.vendors, args.per_vendor, args.seed, args.scan_every)
    scans = sum(item.kind != "born_digital" for item in plan)
    print(f"Stream: {len(plan)} invoices from {args.vendors} vendors ({scans} scanned), {args.batches} batches")
    print(describe_families(args.vendors, held_out))
    started = time.perf_counter()
    table_file = fit_calibration(work, held_out, args.calibration_count, args.seed + 1)
    os.environ["LEDGERLENS_CALIBRATION_FILE"] = str(table_file)
    for arm in args.arms.split(","):
        title, memory = titles[arm.strip()]
        print_table(title, run_stream(plan, inputs, work, args.batches, memory, held_out))
    print(f"\nWall time {time.perf_counter() - started:.0f} s (2 shared cores: noisy)")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
