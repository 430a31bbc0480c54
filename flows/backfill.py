"""The backfill flow: a large prefix or folder, listed lazily, processed in chunks (one subflow each).

Resuming is a property of the data, not of Prefect state: every chunk skips documents whose invoice row
exists, and a chunk's rows are written as it goes (every FLUSH_EVERY records), so a backfill killed at
any point and started again redoes at most the records that were in flight. Progress is a Prefect
progress artifact (and the CLI's bar); the run ends with a summary artifact.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime
from itertools import islice
from pathlib import Path
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from flows.ingest import (
    Batch,
    Identified,
    RunSummary,
    finish_vlm_session,
    identify_objects,
    make_scratch,
    make_task_runner,
    open_batch,
    process_batch,
    start_vlm_session,
)
from pipeline.config import Settings
from pipeline.storage import SourceObject, list_sources
from pipeline.vlm.batches import plan_requests, run_batch
from pipeline.vlm.cascade import VlmSession, lookup_session


class BackfillSummary(RunSummary):
    """The run's own totals (RunSummary) plus what a backfill adds: where from, how much was listed, in
    how many chunks."""

    source: str
    listed: int = 0
    chunks: int = 0

    @property
    def documents_per_minute(self) -> float:
        return 60.0 * self.processed / self.seconds if self.seconds > 0 else 0.0


def chunked(items: Iterable[SourceObject], size: int) -> Iterator[list[SourceObject]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# Batches of the backfills running in this process, by run key: chunk subflows run in the parent's process
# and share its sink (whose set of done document_ids is read once, then kept up to date by its own writes).
_BATCHES: dict[str, Batch] = {}


@flow(name="backfill-chunk", log_prints=False, flow_run_name="chunk-{number}")
def backfill_chunk(objects: list[SourceObject], out_dir: str, number: int, run_key: str) -> int:
    """Identify, skip what is done, process and write one chunk; returns how many documents it processed."""
    batch = _BATCHES.get(run_key) or open_batch(out_dir, Settings())
    before = batch.summary.processed
    scratch = make_scratch(batch.settings, "ll-chunk-")
    session = lookup_session(batch.vlm_token) if batch.vlm_token else None
    try:
        found = identify_objects(objects, batch.settings, scratch)
        if session is not None and batch.settings.vlm_use_batches:
            _answer_by_message_batch(batch, session, found, scratch)
        process_batch(batch, found)
    finally:
        if session is not None:
            session.drop_readings()
        shutil.rmtree(scratch, ignore_errors=True)
    return batch.summary.processed - before


def _answer_by_message_batch(batch: Batch, session: VlmSession, found: Identified, scratch: Path) -> None:
    """Phases 1 and 2 of --vlm-batch (pipeline/vlm/batches.py): read the chunk's new documents once, send
    their uncached tier-1 requests as one Message Batch and wait for it; process_batch then finds the answers
    in the cache (and the readings in the session)."""
    logger = get_run_logger()
    done = batch.sink.processed_ids
    todo = [document for document in found.documents if document.document_id not in done]
    requests = plan_requests(todo, session, scratch / "batch-plan", batch.settings.workers)
    report = run_batch(session, requests, logger.info)
    batch.summary.vlm_batches += len(report.batch_ids)


def _count(source: str, settings: Settings, since: datetime | None, until: datetime | None, cap: int | None) -> int:
    """Length of the listing, read page by page (nothing kept): the denominator of the progress artifact."""
    return sum(1 for _ in islice(list_sources(source, settings, since, until), cap))


@flow(name="backfill", log_prints=False)
def backfill(
    source: str,
    out_dir: str,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk_size: int = 100,
    max_docs: int | None = None,
    settings: Settings | None = None,
) -> BackfillSummary:
    """Process every supported input under SOURCE (local folder or s3:// prefix) into OUT, chunk by chunk."""
    settings = settings or Settings()
    with ExitStack() as stack:
        if settings.task_runner == "dask" and not settings.dask_address:
            # One local cluster for the whole backfill, not one per chunk subflow.
            from distributed import LocalCluster

            cluster = stack.enter_context(
                LocalCluster(n_workers=settings.workers, threads_per_worker=1, dashboard_address=None)
            )
            settings = settings.model_copy(update={"dask_address": cluster.scheduler_address})
        return _backfill(source, out_dir, since, until, chunk_size, max_docs, settings)


def _backfill(
    source: str,
    out_dir: str,
    since: datetime | None,
    until: datetime | None,
    chunk_size: int,
    max_docs: int | None,
    settings: Settings,
) -> BackfillSummary:
    started = time.perf_counter()
    batch = open_batch(out_dir, settings)
    batch.count_skipped = True
    batch.total = _count(source, settings, since, until, max_docs)
    session = start_vlm_session(batch)
    run_key = f"{out_dir}|{time.time_ns()}"
    _BATCHES[run_key] = batch
    progress_id = create_progress_artifact(
        progress=0.0, key="backfill-progress", description=f"Backfill of {source} into {out_dir}"
    )
    chunk_flow = backfill_chunk.with_options(task_runner=make_task_runner(settings))
    chunks = 0
    try:
        listing = islice(list_sources(source, settings, since, until), max_docs)
        for number, chunk in enumerate(chunked(listing, chunk_size), start=1):
            chunk_flow(objects=chunk, out_dir=out_dir, number=number, run_key=run_key)
            chunks = number
            if isinstance(progress_id, UUID) and batch.total:
                update_progress_artifact(progress_id, progress=min(100.0, 100.0 * batch.progress() / batch.total))
    finally:
        _BATCHES.pop(run_key, None)
        finish_vlm_session(batch, session)
    batch.summary.counts = dict(batch.counts)
    batch.summary.seconds = time.perf_counter() - started
    summary = BackfillSummary(**batch.summary.model_dump(), source=source, listed=batch.total or 0, chunks=chunks)
    if isinstance(progress_id, UUID):
        update_progress_artifact(progress_id, progress=100.0)
    _publish_summary(summary)
    return summary


def _publish_summary(summary: BackfillSummary) -> None:
    counts = "\n".join(f"| {status} | {count} |" for status, count in sorted(summary.counts.items()))
    create_markdown_artifact(
        key="backfill-summary",
        markdown=(
            f"# Backfill summary\n\n- source: `{summary.source}`\n- output: `{summary.out_dir}`\n"
            f"- inputs listed: {summary.listed} in {summary.chunks} chunks\n"
            f"- skipped (already in output): {summary.skipped_existing}\n- processed: {summary.processed}"
            f" ({summary.documents_per_minute:.1f} documents/min)\n- rows written: {summary.written}\n"
            f"- queued for review: {summary.queued_for_review} (review queue: `{summary.review_db}`)\n"
            f"- deferred (S3 still throttling; run again): {len(summary.deferred)}\n"
            f"- extractor: {summary.extractor}; VLM: {summary.vlm_calls} calls ({summary.vlm_batch_requests} through "
            f"{summary.vlm_batches} Message Batches), {summary.vlm_cache_hits} cache hits, "
            f"cost ${summary.vlm_cost_usd:.4f}\n\n"
            f"| status | documents |\n|---|---|\n{counts}\n"
        ),
        description="Ledgerlens backfill summary",
    )
