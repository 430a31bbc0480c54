"""The ingest_batch flow: discover, process one task per document with bounded concurrency, write sinks.

Inputs and OUT may be local or s3:// (pipeline/storage.py). S3 objects are downloaded to scratch to be
hashed (document_id = sha256 of the bytes) and processed; their rows keep the s3:// URL as source.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from pipeline.config import Settings
from pipeline.discover import describe_file, discover_documents
from pipeline.errors import DocumentError, ProcessingFailedError, TransientError
from pipeline.previews import PREVIEWS_DIR
from pipeline.process import failed_record, process_document
from pipeline.review import ReviewStore, SQLiteReviewStore, review_db_path
from pipeline.sinks import ParquetSink
from pipeline.storage import (
    SourceObject,
    archive_destination,
    download,
    is_s3,
    join_location,
    list_sources,
    move_object,
    unreadable_document_id,
    upload_tree,
    vlm_cache_root,
)
from pipeline.vlm.cascade import VlmSession, lookup_session, register_session, release_session
from schemas import Document, ExtractionRecord

FLUSH_EVERY = 20


class RunSummary(BaseModel):
    out_dir: str
    discovered: int
    skipped_existing: int
    processed: int
    written: int
    counts: dict[str, int] = Field(default_factory=dict)
    pages: int = 0
    seconds: float = 0.0
    unmatched_inputs: list[str] = Field(default_factory=list)
    queued_for_review: int = 0
    duplicate_inputs: int = 0
    review_db: str = ""
    archived: int = 0
    deferred: list[str] = Field(default_factory=list)
    extractor: str = "ocr"
    vlm_calls: int = 0
    vlm_cache_hits: int = 0
    vlm_input_tokens: int = 0
    vlm_output_tokens: int = 0
    vlm_cost_usd: Decimal = Decimal(0)
    vlm_fallbacks: int = 0
    vlm_budget_stopped: bool = False
    vlm_batches: int = 0  # Message Batches submitted or resumed (backfill --vlm-batch)
    vlm_batch_requests: int = 0  # model answers that came from them (included in vlm_calls)

    @property
    def pages_per_minute(self) -> float:
        return 60.0 * self.pages / self.seconds if self.seconds > 0 else 0.0


def _retry_transient(task: object, task_run: object, state: object) -> bool:
    """Retry only failures that may pass (timeouts, busy tools); a corrupt file stays corrupt."""
    try:
        state.result()  # type: ignore[attr-defined]
    except TransientError:
        return True
    except Exception:
        return False
    return False


@task(
    name="process-document",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_transient,
    task_run_name="process-{document.source}",
)
def process_document_task(
    document: Document, settings: Settings, out_dir: str, vlm_session: str | None = None
) -> ExtractionRecord:
    return process_anywhere(document, settings, out_dir, lookup_session(vlm_session) if vlm_session else None)


def make_scratch(settings: Settings, prefix: str) -> Path:
    """A fresh folder on local scratch disk (settings.scratch_dir, created if missing, or the system temp)."""
    if settings.scratch_dir is not None:
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=settings.scratch_dir))


def process_anywhere(
    document: Document, settings: Settings, out_dir: str, vlm: VlmSession | None = None
) -> ExtractionRecord:
    """Process one document on whichever machine runs the task: fetch an S3 input whose scratch copy is not
    here (another Dask worker), and upload page previews when OUT is on S3."""
    fetch = is_s3(document.source) and not Path(document.local_path).is_file()
    if not fetch and not is_s3(out_dir):
        return process_document(document, settings, Path(out_dir), vlm=vlm)  # all local: nothing to stage
    staging = make_scratch(settings, "ll-io-")
    try:
        if fetch:
            local = staging / "input" / Path(document.source).name
            try:
                download(document.source, local, settings)
            except DocumentError as exc:
                return failed_record(document, exc)
            document = document.model_copy(update={"local_path": str(local)})
        if not is_s3(out_dir):
            return process_document(document, settings, Path(out_dir), vlm=vlm)
        record = process_document(document, settings, staging / "out", vlm=vlm)
        previews = staging / "out" / PREVIEWS_DIR
        if previews.is_dir():
            upload_tree(previews, join_location(out_dir, PREVIEWS_DIR), settings)
        return record
    finally:
        shutil.rmtree(staging, ignore_errors=True)


ProgressCallback = Callable[[int, int, ExtractionRecord | None], None]

_progress_listeners: list[ProgressCallback] = []


def _notify(done: int, total: int, record: ExtractionRecord | None) -> None:
    # Called in the flow's own process only (tasks return records to it), so listeners work with any runner.
    for listener in _progress_listeners:
        listener(done, total, record)


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


class Identified(BaseModel):
    """Listed inputs sorted by what happens next."""

    documents: list[Document] = Field(default_factory=list)  # readable: processed unless already done
    failures: list[ExtractionRecord] = Field(default_factory=list)  # unreadable (missing, forbidden): a failed row
    deferred: list[str] = Field(default_factory=list)  # S3 still throttling after every retry: left for the next run


def identify_objects(objects: Iterable[SourceObject], settings: Settings, scratch: Path) -> Identified:
    """Documents for listed inputs (S3 objects are downloaded to scratch and hashed, a few at a time).

    An object that cannot be read becomes a failed record at once; one that still fails transiently after
    the retries gets no row (a row would be a permanent wrong answer) and is reported as deferred.
    Equal bytes are one document that names every source."""

    def describe(item: SourceObject) -> Document | ExtractionRecord | str:
        if not is_s3(item.uri):
            return describe_file(Path(item.uri))
        target = scratch / unreadable_document_id(item.uri)[:24] / Path(item.uri).name
        try:
            return describe_file(download(item.uri, target, settings), source=item.uri)
        except TransientError:
            return item.uri
        except DocumentError as exc:
            stub = Document(
                document_id=unreadable_document_id(item.uri),
                source=item.uri,
                local_path="",
                size_bytes=item.size,
                media_type="application/octet-stream",
            )
            return failed_record(stub, exc)

    found = Identified()
    documents: dict[str, Document] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for result in pool.map(describe, objects):
            if isinstance(result, str):
                found.deferred.append(result)
            elif isinstance(result, ExtractionRecord):
                found.failures.append(result)
            else:
                first = documents.setdefault(result.document_id, result)
                if first is not result:
                    first.duplicate_sources.append(result.source)
    found.documents = list(documents.values())
    return found


@dataclass
class Batch:
    """Where records go (sinks), how they are made (settings) and the running totals of a run."""

    sink: ParquetSink
    queue: ReviewStore
    settings: Settings
    out: str
    summary: RunSummary
    counts: Counter[str] = field(default_factory=Counter)
    total: int | None = None  # inputs this run expects; None: the documents left to process in this batch
    count_skipped: bool = False  # progress counts inputs already done (backfills) as well as processed ones
    vlm_token: str | None = None  # the run's VLM session (shared budget and cache), looked up by the tasks

    def progress(self) -> int:
        skipped = self.summary.skipped_existing if self.count_skipped else 0
        return self.summary.processed + skipped


def _flush(batch: Batch, buffer: list[ExtractionRecord]) -> None:
    batch.summary.written += batch.sink.write(buffer)
    batch.summary.queued_for_review += batch.queue.enqueue(buffer)
    buffer.clear()


def _account(batch: Batch, record: ExtractionRecord, buffer: list[ExtractionRecord]) -> None:
    buffer.append(record)
    batch.counts[record.status.value] += 1
    batch.summary.pages += record.page_count
    batch.summary.processed += 1
    _notify(batch.progress(), batch.total or 0, record)
    if len(buffer) >= FLUSH_EVERY:
        _flush(batch, buffer)


def process_batch(batch: Batch, found: Identified) -> None:
    """Skip what is done, run one task per remaining document, write every record; updates batch.summary."""
    documents, failures = found.documents, found.failures
    batch.summary.deferred += found.deferred
    done = batch.sink.processed_ids
    todo = [document for document in documents if document.document_id not in done]
    fresh_failures = [record for record in failures if record.document_id not in done]
    batch.summary.discovered += len(documents) + len(failures)
    batch.summary.skipped_existing += len(documents) - len(todo) + len(failures) - len(fresh_failures)
    batch.summary.duplicate_inputs += sum(len(document.duplicate_sources) for document in documents)
    if batch.total is None:
        batch.total = len(todo) + len(fresh_failures)
    _notify(batch.progress(), batch.total, None)
    buffer: list[ExtractionRecord] = []
    for failure in fresh_failures:
        _account(batch, failure, buffer)
    futures = {
        process_document_task.submit(document, batch.settings, batch.out, batch.vlm_token): document
        for document in todo
    }
    for future in as_completed(list(futures)):
        document = futures[future]
        try:
            record: ExtractionRecord = future.result()
        except Exception as exc:  # a crash after retries must still leave a row behind
            crash = ProcessingFailedError(f"Processing failed after retries: {type(exc).__name__}: {exc}")
            record = failed_record(document, crash)
        _account(batch, record, buffer)
    _flush(batch, buffer)


def open_batch(out_dir: str, settings: Settings) -> Batch:
    review_db = review_db_path(out_dir, settings.review_db)
    sink = ParquetSink(out_dir, settings)
    summary = RunSummary(out_dir=out_dir, discovered=0, skipped_existing=0, processed=0, written=0)
    summary.review_db = str(review_db)
    return Batch(sink=sink, queue=SQLiteReviewStore(review_db), settings=settings, out=out_dir, summary=summary)


def start_vlm_session(batch: Batch) -> VlmSession | None:
    """One VLM session per run (shared budget, cache and totals), registered so tasks can find it."""
    batch.summary.extractor = batch.settings.resolved_extractor()
    if batch.summary.extractor == "ocr":
        return None
    session = VlmSession(batch.settings, vlm_cache_root(batch.out))
    _ = session.client  # a missing API key stops the run here, before any document is touched
    batch.vlm_token = register_session(session)
    return session


def finish_vlm_session(batch: Batch, session: VlmSession | None) -> None:
    if session is not None and batch.vlm_token is not None:
        release_session(batch.vlm_token)
        batch.vlm_token = None
        _add_vlm_totals(batch.summary, session)


def archive_inputs(documents: Iterable[Document], inbox: str, archive: str, settings: Settings) -> int:
    """Move inbox objects whose rows are written to the archive prefix (same relative key)."""
    moved = 0
    for document in documents:
        for source in (document.source, *document.duplicate_sources):
            if is_s3(source) and source.startswith(inbox.rstrip("/") + "/"):
                move_object(source, archive_destination(source, inbox, archive), settings)
                moved += 1
    return moved


@flow(name="ingest-batch", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=2))  # type: ignore[arg-type]
def ingest_batch(
    inputs: list[str], out_dir: str, settings: Settings | None = None, archive_prefix: str | None = None
) -> RunSummary:
    """Process every input (files, folders, globs, s3:// prefixes) into OUT/invoices (+ line_items, fields)
    and queue what needs a person. With archive_prefix, S3 inputs whose rows are written are moved there."""
    settings = settings or Settings()
    batch = open_batch(out_dir, settings)
    session = start_vlm_session(batch)
    started = time.perf_counter()
    local = [item for item in inputs if not is_s3(item)]
    documents, unmatched = discover_documents(local) if local else ([], [])
    scratch = make_scratch(settings, "ll-fetch-")
    try:
        objects = [item for uri in inputs if is_s3(uri) for item in list_sources(uri, settings)]
        unmatched += [uri for uri in inputs if is_s3(uri) and not any(o.uri.startswith(uri) for o in objects)]
        found = identify_objects(objects, settings, scratch)
        remote = list(found.documents)
        found.documents = documents + remote
        batch.summary.unmatched_inputs = unmatched
        process_batch(batch, found)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        finish_vlm_session(batch, session)
    if archive_prefix:
        inbox_uris = [uri for uri in inputs if is_s3(uri)]
        for inbox in inbox_uris:
            batch.summary.archived += archive_inputs(remote, inbox, archive_prefix, settings)
    batch.summary.seconds = time.perf_counter() - started
    batch.summary.counts = dict(batch.counts)
    _publish_artifacts(batch.summary)
    return batch.summary


@flow(name="ingest-inbox", log_prints=False)
def ingest_inbox(inbox: str, out_dir: str, archive_prefix: str | None = None) -> RunSummary:
    """The scheduled deployment: process new objects under an inbox prefix (new = no row for its document_id
    yet), then optionally move them to an archive prefix. Settings (task runner, S3 endpoint) come from the
    worker's LEDGERLENS_ environment."""
    return run_ingest([inbox], out_dir, Settings(), archive_prefix=archive_prefix)


def _add_vlm_totals(summary: RunSummary, session: VlmSession) -> None:
    totals = session.totals
    summary.vlm_calls, summary.vlm_cache_hits = totals.calls, totals.cache_hits
    summary.vlm_input_tokens, summary.vlm_output_tokens = totals.input_tokens, totals.output_tokens
    summary.vlm_cost_usd, summary.vlm_fallbacks = totals.cost_usd, totals.fallbacks
    summary.vlm_budget_stopped = session.budget.stopped
    summary.vlm_batch_requests = totals.batch_requests


def run_ingest(
    inputs: list[str],
    out_dir: str,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    archive_prefix: str | None = None,
) -> RunSummary:
    """Run ingest_batch with the task runner and worker count from settings and an optional progress listener."""
    configured = ingest_batch.with_options(task_runner=make_task_runner(settings))
    if on_progress:
        _progress_listeners.append(on_progress)
    try:
        return configured(inputs=inputs, out_dir=out_dir, settings=settings, archive_prefix=archive_prefix)
    finally:
        if on_progress:
            _progress_listeners.remove(on_progress)


def _publish_artifacts(summary: RunSummary) -> None:
    create_table_artifact(
        key="ingest-counts",
        table=[{"status": status, "documents": count} for status, count in sorted(summary.counts.items())],
        description="Documents per status in this ingest run",
    )
    create_markdown_artifact(
        key="ingest-summary",
        markdown=(
            f"# Ingest summary\n\n- output: `{summary.out_dir}`\n- discovered: {summary.discovered}\n"
            f"- skipped (already in output): {summary.skipped_existing}\n- processed: {summary.processed}\n"
            f"- rows written: {summary.written}\n- queued for review: {summary.queued_for_review}"
            f" (review queue: `{summary.review_db}`)\n- inputs moved to the archive: {summary.archived}\n"
            f"- pages: {summary.pages} in {summary.seconds:.1f} s ({summary.pages_per_minute:.1f} pages/min)\n"
            f"- extractor: {summary.extractor}\n"
            f"- VLM: {summary.vlm_calls} calls, {summary.vlm_cache_hits} cache hits, "
            f"{summary.vlm_input_tokens} input / {summary.vlm_output_tokens} output tokens, "
            f"cost ${summary.vlm_cost_usd:.4f}, {summary.vlm_fallbacks} OCR fallbacks"
            f"{' (budget reached)' if summary.vlm_budget_stopped else ''}\n"
        ),
        description="Ledgerlens ingest run summary",
    )
