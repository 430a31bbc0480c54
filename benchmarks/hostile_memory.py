"""Peak memory of a worker on small files that describe huge images (issue 15, findings 3 and 4).

    .venv/bin/python benchmarks/hostile_memory.py

Each file (all under 1 MB) is processed by a fresh worker process (pipeline.process.process_document, run
under a 3 GB address-space cap so a regression cannot take the machine down); the table gives its row's
status and error and the worker's peak RSS (largest of the Python process and the tools it ran). The target
is below 1.5 GB for every case. JSON goes to benchmarks/results/.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results_file import write_result  # noqa: E402
from tests.hostile_files import huge_image_pdf, huge_png, process_in_worker  # noqa: E402

CASES = [
    ("PDF, one 30000 x 30000 image", "pdf", 30000, 30000),
    ("PDF, one 20000 x 20000 image", "pdf", 20000, 20000),
    ("PNG, 17000 x 17000", "png", 17000, 17000),
    ("PNG, 13000 x 13000 (169 MP: under the cap, decoded)", "png", 13000, 13000),
]


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="ll-hostile-") as scratch:
        for label, kind, width, height in CASES:
            target = Path(scratch) / f"{width}x{height}.{kind}"
            path = huge_image_pdf(target, width, height) if kind == "pdf" else huge_png(target, width, height)
            started = time.perf_counter()
            result = process_in_worker(path, ROOT, memory_cap_bytes=3 * 2**30, timeout_s=1800)
            rows.append({"case": label, "file_bytes": path.stat().st_size, **result,
                         "seconds": round(time.perf_counter() - started, 1)})  # fmt: skip
            print(f"| {label} | {path.stat().st_size / 1024:.0f} KB | {result['status']} | "
                  f"{result['peak_rss_mb'] or 0:.0f} MB | {str(result['error'] or '')[:90]} |", flush=True)  # fmt: skip
    write_result("hostile-memory", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
