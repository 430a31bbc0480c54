"""Compare a backfill's VLM cost with direct calls and with --vlm-batch, on generated samples, against the
loopback stand-in (tests/fake_anthropic.py: usage computed from each real request, answers from the truth).

    .venv/bin/python benchmarks/vlm_batch.py --count 12 --seed 7

Three passes, each into its own output folder except the last: direct calls; --vlm-batch; --vlm-batch again
after deleting the rows but keeping the answer cache (must send nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.samples import generate_samples
from flows.backfill import backfill
from pipeline.config import Settings
from pipeline.vlm.cache import CACHE_DIR
from tests.fake_anthropic import FakeAnthropic, serve, truth_responder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ll-vlm-batch-"))
    inbox = work / "inbox"
    generate_samples(inbox, args.count, args.seed)
    truths = [json.loads(path.read_text()) for path in sorted(inbox.glob("*.truth.json"))]
    for path in inbox.glob("*.truth.json"):
        path.unlink()
    results: list[dict[str, Any]] = []
    with serve(FakeAnthropic(script=[truth_responder(truths)])) as fake:
        os.environ["ANTHROPIC_BASE_URL"], os.environ["ANTHROPIC_API_KEY"] = fake.base_url, "benchmark"
        for name, batches, out in (
            ("direct", False, "out-direct"),
            ("batch", True, "out-batch"),
            ("batch rerun", True, "out-batch"),
        ):
            if name == "batch rerun":
                for item in (work / out).iterdir():
                    if item.name != CACHE_DIR:
                        shutil.rmtree(item) if item.is_dir() else item.unlink()
            before = (len(fake.requests), len(fake.batch_requests), len(fake.batch_creates))
            config = Settings(extractor="hybrid", vlm_mode="always", vlm_use_batches=batches, vlm_batch_poll_s=0.05,
                              keep_page_images="none", review_db=work / f"{name}.sqlite")  # fmt: skip
            started = time.perf_counter()
            summary = backfill(str(inbox), str(work / out), chunk_size=50, settings=config)
            results.append({
                "pass": name, "documents": summary.processed, "seconds": round(time.perf_counter() - started, 1),
                "direct_requests": len(fake.requests) - before[0],
                "batch_requests": len(fake.batch_requests) - before[1],
                "batches": len(fake.batch_creates) - before[2], "cost_usd": str(summary.vlm_cost_usd),
                "counts": summary.counts,
            })  # fmt: skip
    for row in results:
        print(json.dumps(row))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
