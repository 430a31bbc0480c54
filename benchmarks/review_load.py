"""Review at team scale: concurrent reviewer sessions against a real review server on a PostgreSQL queue.

    .venv/bin/python benchmarks/review_load.py --sessions 20 --items 2000 --decisions 10 --max-seconds 180

Starts a throwaway PostgreSQL server (Debian's binaries, as the tests do), queues --items needs_review items,
adds one reviewer account per session, and runs `ledgerlens review serve` as a real process on loopback. Each
session signs in with its own token and then, up to --decisions times (and never past --max-seconds), loads
the queue page, takes the next item ("Review next item") and approves it. Checks: no item was handed to two
sessions, every decision is in the queue as decided by the session that made it, and in OUT/reviews/ once.
Prints p50/p95 latency of the queue page, of a claim and of a decision. Timings are wall-clock on a shared
machine: compare them within one run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import pyarrow.dataset as ds

from pipeline.review import open_review_store
from schemas import DECIDED_STATES
from tests.pg_support import create_database, running_postgres
from tests.review_fixtures import doc_id, review_record

ROOT = Path(__file__).resolve().parents[1]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class SessionLog:
    name: str
    claimed: list[str] = field(default_factory=list)
    decided: list[str] = field(default_factory=list)
    queue_ms: list[float] = field(default_factory=list)
    claim_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def fill_queue(location: str, items: int) -> None:
    store = open_review_store(location)
    batch = [review_record(doc_id(n), total=f"{(n * 37) % 9000 + 10}.00") for n in range(1, items + 1)]
    for start in range(0, items, 500):
        store.enqueue(batch[start : start + 500])
    store.database.dispose()


@contextmanager
def review_server(out: Path, location: str) -> Iterator[str]:
    """`ledgerlens review serve` as its own process; its output goes to OUT/../server.log (never a full pipe)."""
    env = {**os.environ, "LEDGERLENS_REVIEW_DB": location, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "flows.cli", "review", "serve", "--out", str(out), "--port", "0"]
    log_path = out.parent / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            match = re.search(r"http://127\.0\.0\.1:\d+/", log_path.read_text())
            if match or process.poll() is not None:
                break
            time.sleep(0.1)
        if match is None:
            raise RuntimeError(f"review serve printed no URL: {log_path.read_text()[-2000:]}")
        yield match.group(0).rstrip("/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors = log_path.read_text().count("Traceback")
        if errors:
            print(f"the server logged {errors} traceback(s); the last:\n{log_path.read_text()[-3000:]}")


def timed(samples: list[float], call: Callable[..., httpx.Response], path: str, **options: Any) -> httpx.Response:
    started = time.perf_counter()
    response = call(path, **options)
    samples.append((time.perf_counter() - started) * 1000)
    return response


def reviewer(url: str, token: str, log: SessionLog, decisions: int, deadline: float, start: threading.Barrier) -> None:
    """One reviewer's session; a transport error ends it and is reported (never silently)."""
    try:
        review_session(url, token, log, decisions, deadline, start)
    except (httpx.TransportError, threading.BrokenBarrierError) as exc:
        log.errors.append(f"{log.name}: {type(exc).__name__}: {exc}")


def review_session(
    url: str, token: str, log: SessionLog, decisions: int, deadline: float, start: threading.Barrier
) -> None:
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client:
        client.post("/login", data={"token": token})
        start.wait(timeout=300)
        for _ in range(decisions):
            if time.monotonic() > deadline:
                return
            page = timed(log.queue_ms, client.get, "/")
            csrf = _CSRF.search(page.text)
            if page.status_code != 200 or csrf is None:
                log.errors.append(f"queue page: {page.status_code}")
                return
            form = {"csrf_token": csrf.group(1)}
            taken = timed(log.claim_ms, client.post, "/next", data=form)
            location = taken.headers.get("location", "")
            if not location.startswith("/items/"):
                return  # nothing left
            document_id = location.removeprefix("/items/")
            log.claimed.append(document_id)
            done = timed(log.decide_ms, client.post, f"/items/{document_id}/approve", data=form)
            if done.status_code == 303:
                log.decided.append(document_id)
            else:
                log.errors.append(f"approve {document_id[:8]}: {done.status_code}")


def percentiles(samples: list[float]) -> str:
    if len(samples) < 2:
        return "n/a"
    cuts = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples):7.1f} ms   p95 {cuts[18]:7.1f} ms   (n={len(samples)})"


def check(logs: list[SessionLog], location: str, out: Path) -> list[str]:
    """What went wrong: an item handed out twice, a decision missing from the queue or from reviews/."""
    problems: list[str] = []
    claimed = [document_id for log in logs for document_id in log.claimed]
    if len(claimed) != len(set(claimed)):
        problems.append(f"{len(claimed) - len(set(claimed))} item(s) handed to two sessions")
    store = open_review_store(location)
    decided = {item.document_id: item.reviewer for item in store.list_items(DECIDED_STATES)}
    made = {document_id: log.name for log in logs for document_id in log.decided}
    if decided != made:
        problems.append(f"queue holds {len(decided)} decisions, sessions made {len(made)}, or owners differ")
    files = list((out / "reviews").rglob("*.parquet"))
    rows = ds.dataset([str(f) for f in files], format="parquet").to_table().num_rows if files else 0
    if rows != len(made):
        problems.append(f"OUT/reviews/ has {rows} rows for {len(made)} decisions")
    store.database.dispose()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--decisions", type=int, default=10, help="per session")
    parser.add_argument("--max-seconds", type=float, default=180)
    args = parser.parse_args()
    with running_postgres() as server, tempfile.TemporaryDirectory(prefix="review-load-") as work:
        location, out = create_database(server), Path(work) / "out"
        out.mkdir()
        fill_queue(location, args.items)
        accounts = open_review_store(location).accounts()
        tokens = {f"reviewer{n:02d}": accounts.add(f"reviewer{n:02d}") for n in range(args.sessions)}
        logs = [SessionLog(name) for name in tokens]
        with review_server(out, location) as url:
            barrier = threading.Barrier(args.sessions)
            deadline = time.monotonic() + args.max_seconds
            threads = [
                threading.Thread(target=reviewer, args=(url, tokens[log.name], log, args.decisions, deadline, barrier))
                for log in logs
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        problems = check(logs, location, out) + [e for log in logs for e in log.errors]
        decisions = sum(len(log.decided) for log in logs)
        print(f"{args.sessions} sessions, {args.items} items on PostgreSQL, {decisions} decisions, {elapsed:.1f} s")
        print(f"queue page (first 100 rows + counts): {percentiles([x for log in logs for x in log.queue_ms])}")
        print(f"claim next item:                      {percentiles([x for log in logs for x in log.claim_ms])}")
        print(f"decision (approve + OUT/reviews/):    {percentiles([x for log in logs for x in log.decide_ms])}")
        print("no item claimed twice, no decision lost" if not problems else "PROBLEMS: " + "; ".join(problems))
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
