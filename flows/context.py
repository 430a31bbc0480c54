"""The run context: what one run shares, built once from Settings (with the CLI's overrides) and passed
down explicitly to every step, chunk subflow and task. No process-wide registry holds any of it.

Tasks receive the picklable part (settings, OUT, the VLM session); the session's budget and totals live in
a ledger file in the run's scratch folder (pipeline/vlm/ledger.py), so `--max-cost` bounds the whole run
under the threads, processes and local Dask runners alike.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from flows.summary import RunSummary
from pipeline.config import Settings
from pipeline.engines.storage import Storage, storage_for
from pipeline.errors import ConfigError, ReviewQueueUnavailableError
from pipeline.review.location import redact, review_db_location
from pipeline.sinks import ParquetSink
from pipeline.vendors import VendorStore, learn_from_decisions
from pipeline.vlm.cascade import VlmSession
from pipeline.vlm.ledger import FileLedger
from schemas import ExtractionRecord, RecordStatus
from schemas.vendors import VendorProfile

if TYPE_CHECKING:
    from pipeline.review import ReviewStore

ProgressCallback = Callable[[int, int, ExtractionRecord | None], None]


class ProgressListener:
    """A run's progress callback as a flow parameter. Prefect ships a flow's parameters to remote task
    workers (processes, Dask); the callback (a terminal progress bar) stays in the flow's process."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.callback = None

    def __call__(self, done: int, total: int, record: ExtractionRecord | None) -> None:
        if self.callback is not None:
            self.callback(done, total, record)


class ReviewQueue:
    """The run's review queue, opened when the first record that needs a person is queued: a run whose records all
    go straight through never loads SQLAlchemy nor creates the queue's file. A configured queue
    (LEDGERLENS_REVIEW_DB, e.g. a team's PostgreSQL) is opened at the start instead, so a wrong URL stops the run
    before any document is read."""

    def __init__(self, location: str, configured: bool) -> None:
        self.location = location
        self.store: ReviewStore | None = _open_queue(location) if configured else None

    def enqueue(self, records: Iterable[ExtractionRecord]) -> int:
        """Queue the needs_review records (ReviewStore.enqueue); a queue that cannot be opened refuses them."""
        waiting = [record for record in records if record.status is RecordStatus.NEEDS_REVIEW]
        if not waiting:
            return 0
        try:
            store = self.opened()
        except ConfigError as exc:
            raise ReviewQueueUnavailableError(f"{exc} The documents are queued by the next run.") from exc
        return store.enqueue(waiting)

    def opened(self) -> ReviewStore:
        if self.store is None:
            self.store = _open_queue(self.location)
        return self.store

    def __getattr__(self, name: str) -> Any:
        """Every other ReviewStore call (reading the queue) opens it and goes to it."""
        if name in ("store", "location"):  # not set yet: the queue could not be opened
            raise AttributeError(name)
        return getattr(self.opened(), name)


def _open_queue(location: str) -> ReviewStore:
    from pipeline.review import open_review_store

    return open_review_store(location)


class RunContext:
    """One run: its settings, where it writes (sink, queue), its scratch folder, its VLM session, who
    listens to its progress, and its running totals. A plain class, not a dataclass or model, so Prefect
    passes it to chunk subflows as it is (no copy, no validation of its parts)."""

    def __init__(
        self,
        settings: Settings,
        out: str,
        writers: tuple[Storage, ParquetSink, ReviewQueue],
        summary: RunSummary,
        scratch: Path,
        vlm: VlmSession | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.settings, self.out, self.summary, self.scratch = settings, out, summary, scratch
        self.storage, self.sink, self.queue = writers  # OUT's storage, its Parquet sink, the review queue
        self.vlm, self.on_progress = vlm, on_progress
        self.counts: Counter[str] = Counter()
        self.total: int | None = None  # inputs this run expects; None: the documents left in this batch
        self.count_skipped = False  # progress counts inputs already done (backfills) as well as processed ones
        self.pending: list[ExtractionRecord] = []  # finished, not yet written
        self.last_flush = time.monotonic()
        self.vendors: VendorStore | None = None  # OUT/vendors/: the profiles used, the evidence kept
        self.profiles: list[VendorProfile] = []

    def __getstate__(self) -> dict[str, Any]:
        """Prefect ships a flow's parameters to remote task workers, which never use them: only the
        settings, OUT and the VLM session travel; the writers, the listener and the totals stay here."""
        return {"settings": self.settings, "out": self.out, "vlm": self.vlm}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings, self.out, self.vlm = state["settings"], state["out"], state["vlm"]
        self.on_progress = None

    def storage_of(self, location: str) -> Storage:
        return storage_for(location, self.settings)

    def progress(self) -> int:
        skipped = self.summary.skipped_existing if self.count_skipped else 0
        return self.summary.processed + skipped

    def notify(self, record: ExtractionRecord | None) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress(), self.total or 0, record)


def make_scratch(settings: Settings, prefix: str) -> Path:
    """A fresh folder on local scratch disk (settings.scratch_dir, created if missing, or the system temp)."""
    if settings.scratch_dir is not None:
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=settings.scratch_dir))


def make_task_runner(settings: Settings) -> TaskRunner[Any]:
    """threads (default), processes on this machine, or Dask: settings.dask_address or a local cluster."""
    if settings.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=settings.workers)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": settings.workers, "threads_per_worker": 1, "dashboard_address": None}
        )
    return ThreadPoolTaskRunner(max_workers=settings.workers)


def _start_vlm(settings: Settings, storage: Storage, out: str, scratch: Path) -> VlmSession | None:
    """The run's VLM session (client, cache, budget and totals in a ledger file every worker shares)."""
    if settings.resolved_extractor() == "ocr":
        return None
    ledger = FileLedger(scratch / f"vlm-ledger-{uuid.uuid4().hex[:12]}.json")
    session = VlmSession(settings, storage.local_state(out), ledger=ledger)
    _ = session.client  # a missing API key stops the run here, before any document is touched
    return session


def _vlm_totals(summary: RunSummary, session: VlmSession) -> None:
    totals = session.totals
    summary.vlm_calls, summary.vlm_cache_hits = totals.calls, totals.cache_hits
    summary.vlm_input_tokens, summary.vlm_output_tokens = totals.input_tokens, totals.output_tokens
    summary.vlm_cost_usd, summary.vlm_fallbacks = totals.cost_usd, totals.fallbacks
    summary.vlm_budget_stopped = session.budget.stopped
    summary.vlm_batch_requests = totals.batch_requests
    summary.vlm_max_cost_usd = session.budget.max_cost_usd


def open_vendor_memory(run: RunContext) -> None:
    """Learn from the decisions made since the last run, then use the profiles for this run."""
    run.vendors = VendorStore(run.out, run.settings)
    if not run.settings.vendor_memory:
        return  # evidence is still kept, so turning the memory on later learns from today's decisions
    report = learn_from_decisions(run.vendors)
    run.profiles = report.profiles
    run.summary.vendor_profiles = len(report.profiles)
    run.summary.vendor_decisions_learned = report.learned


@contextmanager
def open_run(out: str, settings: Settings, on_progress: ProgressCallback | None = None) -> Iterator[RunContext]:
    """The context of one run; on leaving it, the VLM totals go into the summary and the scratch is removed."""
    storage = storage_for(out, settings)
    review_db = review_db_location(out, settings.review_db)
    summary = RunSummary(out_dir=out, discovered=0, skipped_existing=0, processed=0, written=0)
    summary.review_db, summary.extractor = redact(review_db), settings.resolved_extractor()
    sink = ParquetSink(out, settings)
    scratch = make_scratch(settings, "ll-run-")
    try:
        vlm = _start_vlm(settings, storage, out, scratch)
        queue = ReviewQueue(review_db, configured=settings.review_db is not None)
        run = RunContext(settings, out, (storage, sink, queue), summary, scratch, vlm, on_progress)
        open_vendor_memory(run)
        try:
            yield run
        finally:
            if vlm is not None:
                _vlm_totals(summary, vlm)
            summary.counts = dict(run.counts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
