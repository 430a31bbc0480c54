"""Measure the offline pipeline: accuracy, throughput and peak memory on a generated batch.

    .venv/bin/python benchmarks/pipeline_benchmark.py --count 48 --seed 2026 --workers 2

A benchmark, not a test: it prints figures (and --json writes them) for the closing notes and release
comparisons. The batch uses a seed other than the demo's, so it measures layouts the rules were not
tuned on. Pass --inputs to measure any folder instead (e.g. ../shared/benchmarks/real-invoices).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.runtime import configure_prefect_environment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--inputs", type=Path, help="measure this folder instead of generated samples")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    configure_prefect_environment()
    from devtools.evaluate import evaluate_output
    from devtools.samples import generate_samples
    from flows.ingest import run_ingest
    from pipeline.config import Settings

    work = Path(tempfile.mkdtemp(prefix="ledgerlens-bench-"))
    try:
        inputs = args.inputs
        if inputs is None:
            inputs = work / "samples"
            generate_samples(inputs, args.count, args.seed)
        started = time.perf_counter()
        summary = run_ingest([str(inputs)], str(work / "out"), Settings(workers=args.workers))
        wall = time.perf_counter() - started
        report = evaluate_output(work / "out")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures = {
            "documents": summary.processed,
            "pages": summary.pages,
            "workers": args.workers,
            "status_counts": summary.counts,
            "processing_seconds": round(summary.seconds, 1),
            "wall_seconds_including_prefect_startup": round(wall, 1),
            "pages_per_minute": round(summary.pages_per_minute, 1),
            "documents_per_minute": round(60 * summary.processed / summary.seconds, 1) if summary.seconds else 0,
            "peak_rss_mb_main_process": round(own, 1),
            "peak_rss_mb_largest_child_process": round(children, 1),  # Prefect's temporary server or Tesseract
            "straight_through_rate": round(report.straight_through_rate, 4),
            "auto_accept_error_rate": round(report.auto_accept_error_rate, 4),
            "header_accuracy": {name: round(group.header_accuracy, 4) for name, group in report.groups.items()},
            "field_accuracy": {
                name: {field: round(score.accuracy, 4) for field, score in group.fields.items()}
                for name, group in report.groups.items()
            },
            "mismatches": report.mismatches,
        }
        printable = {key: value for key, value in figures.items() if key != "mismatches"}
        print(json.dumps(printable, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
