"""The run process's own CPU outside page cleaning, per scanned page: what orchestration, extraction, previews
and writing cost around the OCR workers, for one or more checkouts, alternating on the same pages.

    .venv/bin/python benchmarks/run_process_cost.py /tmp/ledgerlens-throughput/scanned-100 --limit 30
    .venv/bin/python benchmarks/run_process_cost.py DIR --checkouts /work/main . --rounds 2   # before / after

Each round runs `ingest_batch` (as `ledgerlens run` does: the same Prefect settings, a temporary server, the
default task runner) once per checkout in a fresh child process whose PYTHONPATH is that checkout. The child
measures the CPU (user + sys) of its own process across the flow call, apart from its children (OCR workers,
poppler), and, thread by thread, the CPU spent inside page cleaning (`preprocess_page`, others' work) and inside
each other stage (benchmarks/throughput.py's stage timers). What is left, the run's CPU outside every stage, is
orchestration: Prefect's task runs, events and state changes, the thread pool, logging. The Prefect server's CPU
(a child of the run) is given apart. On a shared machine wall times stretch with the load; these CPU figures
hold, though single rounds still vary by a few percent. Prints a table; --json writes the figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
RUN_STAGES = ("images", "extract", "validate", "previews", "write", "ocr", "rereads", "vendors", "identify", "compact")
# More of the run's own work, timed so that it is not taken for orchestration: the run-side image work of the
# re-reads (second look, party ink: decoding the cleaned page again, finding ink no word covers, cutting crops);
# the vendor memory's matching; hashing and describing the inputs; merging closed days' part files.
EXTRA_STAGES = {
    "rereads": {
        "pipeline.second_look": ("load_gray", "gap_regions", "crop_strip"),
        "pipeline.party_ink": ("load_gray", "unread_ink_beside"),
    },
    "vendors": {"pipeline.process": ("use_vendor_memory",)},
    "identify": {"flows.ingest": ("identify_objects",)},
    "compact": {"flows.ingest": ("compact",)},
}


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _server_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0.0


def run_child(inputs: Path, workers: int, result: Path) -> int:
    """One measured run in this process (the checkout on PYTHONPATH): figures to `result` as JSON."""
    from flows.runtime import configure_prefect_environment, keep_pandas_unloaded, long_lived_imports, use_prefect_api

    configure_prefect_environment()
    api = use_prefect_api()
    with long_lived_imports():
        keep_pandas_unloaded()
        from benchmarks.throughput import instrument
        from flows.ingest import run_ingest
        from pipeline.config import Settings

    clock = instrument()  # stage timers, preprocess included: thread CPU inside each stage
    for stage, modules in EXTRA_STAGES.items():
        for module_name, names in modules.items():
            module = importlib.import_module(module_name)
            for name in names:
                if callable(getattr(module, name, None)):
                    clock.wrap(module, name, stage)
    server = api.process.pid if api.process is not None else None
    out = Path(tempfile.mkdtemp(prefix="ll-run-cost-"))
    try:
        server_started, started, wall = _server_cpu(server), own_cpu_seconds(), time.perf_counter()
        summary = run_ingest([str(inputs)], str(out), Settings(workers=workers))
        figures = {
            "run_cpu_seconds": own_cpu_seconds() - started,
            "wall_seconds": time.perf_counter() - wall,
            "server_cpu_seconds": _server_cpu(server) - server_started,
            "pages": summary.pages,
            "documents": summary.processed,
            "counts": summary.counts,
            "stage_thread_cpu_seconds": dict(clock.thread_cpu),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result.write_text(json.dumps(figures))
    api.stop()
    return 0


def measure(checkout: Path, inputs: Path, workers: int) -> dict[str, Any]:
    """A fresh child process running the flow on `inputs` with `checkout` first on its path."""
    with tempfile.TemporaryDirectory(prefix="ll-run-cost-") as scratch:
        result = Path(scratch) / "child.json"
        command = [sys.executable, str(HERE), "--child", str(inputs), "--workers", str(workers)]
        command += ["--result", str(result)]
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        subprocess.run(command, cwd=checkout, env=env, check=True)
        figures: dict[str, Any] = json.loads(result.read_text())
    pages = figures["pages"]
    stages = figures["stage_thread_cpu_seconds"]
    outside = figures["run_cpu_seconds"] - stages.get("preprocess", 0.0)
    figures["per_page"] = {
        "run": figures["run_cpu_seconds"] / pages,
        "preprocess": stages.get("preprocess", 0.0) / pages,
        "outside_preprocess": outside / pages,
        **{stage: stages.get(stage, 0.0) / pages for stage in RUN_STAGES},
        "orchestration": (outside - sum(stages.get(stage, 0.0) for stage in RUN_STAGES)) / pages,
        "server": figures["server_cpu_seconds"] / pages,
    }
    return figures


def limited_inputs(folder: Path, limit: int | None, scratch: Path) -> Path:
    """The folder itself, or a scratch folder of links to its first `limit` files (sorted by name)."""
    if limit is None:
        return folder
    chosen = scratch / "inputs"
    chosen.mkdir()
    for path in sorted(p for p in folder.iterdir() if p.is_file())[:limit]:
        (chosen / path.name).symlink_to(path.resolve())
    return chosen


def print_table(checkouts: list[Path], runs: dict[str, list[dict[str, Any]]]) -> None:
    keys = list(next(iter(runs.values()))[0]["per_page"])
    names = [str(c) for c in checkouts]
    width = max(len(k) for k in keys) + 2
    print(f"CPU s/page (median of {len(next(iter(runs.values())))} rounds; each round's figures in brackets)")
    print(" " * width + " | ".join(f"{n[-28:]:>40}" for n in names))
    for key in keys:
        cells = []
        for name in names:
            values = [r["per_page"][key] for r in runs[name]]
            each = "/".join(f"{v:.3f}" for v in values)
            cells.append(f"{statistics.median(values):.3f} [{each}]"[:40].rjust(40))
        print(f"{key:<{width}}" + " | ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", type=Path, help="a folder of scanned PDFs")
    parser.add_argument("--checkouts", type=Path, nargs="+", default=[ROOT], help="checkouts to compare")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each checkout, alternating")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files of the folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write every round's figures here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args.inputs, args.workers, args.result)
    checkouts = [c.resolve() for c in args.checkouts]
    runs: dict[str, list[dict[str, Any]]] = {str(c): [] for c in checkouts}
    with tempfile.TemporaryDirectory(prefix="ll-run-cost-inputs-") as scratch:
        inputs = limited_inputs(args.inputs.resolve(), args.limit, Path(scratch))
        for _ in range(max(1, args.rounds)):
            for checkout in checkouts:
                runs[str(checkout)].append(measure(checkout, inputs, args.workers))
    print_table(checkouts, runs)
    if args.json is not None:
        args.json.write_text(json.dumps({"runs": runs, "load_average_1min": os.getloadavg()[0]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
