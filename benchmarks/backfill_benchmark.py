"""Backfill through a loopback S3 server: throughput, peak memory, and row counts after a SIGKILL and a resume.

    .venv/bin/python benchmarks/backfill_benchmark.py --count 500 --scan-share 0.2 --workers 2

Generates COUNT invoices (a born-digital majority and a share of scanned ones that need OCR), uploads them to
a moto S3 server this script starts on 127.0.0.1, runs `ledgerlens backfill s3://… --out s3://…` as a
subprocess, kills its whole process group with SIGKILL once KILL_AT of the inputs have rows, starts it
again to finish, and prints documents per minute, the peak RSS of the backfill's process tree (sampled),
and the row counts after the kill and after the resume. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sample_indices(count: int, scan_share: float) -> list[int]:
    """Even sample indices are born-digital, odd ones scans (devtools.samples.KIND_CYCLE); mix them evenly."""
    indices, scans = [], 0
    for number in range(count):
        if scans < round(scan_share * (number + 1)):
            indices.append(2 * number + 1)
            scans += 1
        else:
            indices.append(2 * number)
    return indices


def _generate(job: tuple[str, int, int]) -> str:
    from devtools.samples import generate_sample

    folder, index, seed = job
    return str(generate_sample(Path(folder), index, seed))


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants every 0.2 s; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = 0
                for process in [root, *root.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                    except psutil.Error:
                        continue
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


BUCKET = "ledgerlens-bench"
Rows = list[dict[str, object]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--scan-share", type=float, default=0.2, help="share of scanned (OCR) documents")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--kill-at", type=float, default=0.4, help="kill once this share of inputs has rows")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (samples, Prefect home)")
    return parser.parse_args()


def generate_samples(folder: Path, count: int, scan_share: float, seed: int) -> list[str]:
    folder.mkdir()
    with Pool(2) as pool:
        return pool.map(_generate, [(str(folder), i, seed) for i in sample_indices(count, scan_share)])


def start_loopback_s3() -> Any:
    """A moto S3 server on 127.0.0.1 with the benchmark's bucket; the AWS settings point this process at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })  # fmt: skip
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return server


def upload(paths: list[str]) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for path in paths:
        client.upload_file(path, BUCKET, f"archive/{Path(path).name}")


def invoice_rows() -> Rows:
    """The rows of the lake's invoices dataset so far (none before its first part is written)."""
    import pyarrow.dataset as ds

    from pipeline.config import Settings
    from pipeline.storage import s3_filesystem

    try:
        dataset = ds.dataset(f"{BUCKET}/lake/invoices", filesystem=s3_filesystem(Settings()), format="parquet")
        return dataset.to_table(columns=["document_id", "source", "status"]).to_pylist()
    except (OSError, ValueError):
        return []


@dataclass
class Run:
    seconds: float
    peak_rss: int
    exit_code: int
    output: str = ""


def backfill_until_killed(command: list[str], env: dict[str, str], target_rows: int) -> tuple[Run, bool]:
    """Start the backfill and SIGKILL its process group once `target_rows` inputs have rows."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    memory = TreeMemory(process.pid)
    while process.poll() is None and len(invoice_rows()) < target_rows:
        time.sleep(0.5)
    killed = process.poll() is None
    if killed:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return Run(time.perf_counter() - started, memory.stop(), process.returncode), killed


def backfill_to_the_end(command: list[str], env: dict[str, str]) -> Run:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    output, _ = process.communicate()
    return Run(time.perf_counter() - started, memory.stop(), process.returncode, output)


def summarise(
    args: argparse.Namespace,
    generated_s: float,
    killed: bool,
    runs: tuple[Run, Run],
    after_kill: Rows,
    after_resume: Rows,
) -> dict[str, object]:
    first, second = runs
    statuses: dict[str, int] = {}
    for row in after_resume:
        statuses[str(row["status"])] = statuses.get(str(row["status"]), 0) + 1
    return {
        "documents": args.count,
        "scan_share": args.scan_share,
        "workers": args.workers,
        "chunk_size": args.chunk_size,
        "generation_seconds": round(generated_s, 1),
        "killed_with_sigkill": killed,
        "first_run_seconds_until_kill": round(first.seconds, 1),
        "rows_after_kill": len(after_kill),
        "resume_seconds": round(second.seconds, 1),
        "resume_exit_code": second.exit_code,
        "rows_after_resume": len(after_resume),
        "distinct_document_ids": len({row["document_id"] for row in after_resume}),
        "distinct_sources": len({str(row["source"]) for row in after_resume}),
        "status_counts": statuses,
        "documents_per_minute_overall": round(60 * args.count / (first.seconds + second.seconds), 1),
        "documents_per_minute_resume_run": round(60 * (args.count - len(after_kill)) / second.seconds, 1),
        "peak_rss_mb_first_run": round(first.peak_rss / 2**20),
        "peak_rss_mb_resume_run": round(second.peak_rss / 2**20),
    }


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledgerlens-backfill-bench-"))
    started = time.perf_counter()
    paths = generate_samples(work / "samples", args.count, args.scan_share, args.seed)
    generated_s = time.perf_counter() - started
    server = start_loopback_s3()
    upload(paths)
    command = [
        sys.executable, "-m", "flows.cli", "backfill", f"s3://{BUCKET}/archive", "--out",
        f"s3://{BUCKET}/lake", "--chunk-size", str(args.chunk_size), "--workers", str(args.workers), "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state"), "PREFECT_HOME": str(work / "prefect"),
           "LEDGERLENS_SCRATCH_DIR": str(work / "scratch")}  # fmt: skip
    first, killed = backfill_until_killed(command, env, int(args.kill_at * args.count))
    after_kill = invoice_rows()
    second = backfill_to_the_end(command, env)
    after_resume = invoice_rows()
    server.stop()
    figures = summarise(args, generated_s, killed, (first, second), after_kill, after_resume)
    print(json.dumps(figures, indent=2))
    if second.exit_code != 0:
        print(second.output[-3000:], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = second.exit_code == 0 and len(after_resume) == figures["distinct_sources"] == args.count
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
