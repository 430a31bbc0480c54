"""The backfill flow: a large prefix or folder, listed lazily, processed in chunks (one subflow each).

Resuming is a property of the data, not of Prefect state: every chunk skips documents whose invoice row
exists, and a chunk's rows are written as it goes (every LEDGERLENS_FLUSH_EVERY records or
LEDGERLENS_FLUSH_SECONDS seconds, whichever comes first), so a backfill killed at
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

from flows.context import ProgressCallback, ProgressListener, RunContext, make_scratch, make_task_runner, open_run
from flows.ingest import Identified, compact_closed_days, identify_objects, process_batch
from flows.summary import BackfillSummary, summary_markdown
from pipeline.config import Settings
from pipeline.storage import SourceObject
from pipeline.vlm.batches import plan_requests, run_batch

__all__ = ["BackfillSummary", "backfill", "backfill_chunk"]


def chunked(items: Iterable[SourceObject], size: int) -> Iterator[list[SourceObject]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@flow(name="backfill-chunk", log_prints=False, flow_run_name="chunk-{number}")
def backfill_chunk(objects: list[SourceObject], number: int, run: RunContext) -> int:
    """Identify, skip what is done, process and write one chunk of the run; returns how many documents it
    processed. Chunk subflows run in the backfill's process and share its context: its settings (CLI
    overrides included), its sink (whose set of done document_ids is kept up to date by its own writes),
    its queue and its VLM session."""
    before = run.summary.processed
    scratch = make_scratch(run.settings, "ll-chunk-")
    try:
        found = identify_objects(objects, run.settings, scratch)
        if run.vlm is not None and run.settings.vlm_use_batches:
            _answer_by_message_batch(run, found, scratch)
        process_batch(run, found)
    finally:
        if run.vlm is not None:
            run.vlm.drop_readings()
        shutil.rmtree(scratch, ignore_errors=True)
    return run.summary.processed - before


def _answer_by_message_batch(run: RunContext, found: Identified, scratch: Path) -> None:
    """Phases 1 and 2 of --vlm-batch (pipeline/vlm/batches.py): read the chunk's new documents once, send
    their uncached tier-1 requests as one Message Batch and wait for it; process_batch then finds the answers
    in the cache (and the readings in the session)."""
    assert run.vlm is not None
    logger = get_run_logger()
    done = run.sink.processed_ids
    todo = [document for document in found.documents if document.document_id not in done]
    requests = plan_requests(todo, run.vlm, scratch / "batch-plan", run.settings.workers)
    report = run_batch(run.vlm, requests, logger.info)
    run.summary.vlm_batches += len(report.batch_ids)


def _count(run: RunContext, source: str, window: Window, cap: int | None) -> int:
    """Length of the listing, read page by page (nothing kept): the denominator of the progress artifact."""
    return sum(1 for _ in islice(run.storage_of(source).list(source, *window), cap))


Window = tuple[datetime | None, datetime | None]


@flow(name="backfill", log_prints=False)
def backfill(
    source: str,
    out_dir: str,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk_size: int = 100,
    max_docs: int | None = None,
    settings: Settings | None = None,
    on_progress: ProgressCallback | None = None,
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
        started = time.perf_counter()
        with open_run(out_dir, settings, ProgressListener(on_progress)) as run:
            run.count_skipped = True
            run.total = _count(run, source, (since, until), max_docs)
            chunks = _run_chunks(run, source, (since, until), chunk_size, max_docs)
            compact_closed_days(run)
        return _publish(run, source, chunks, time.perf_counter() - started)


def _run_chunks(run: RunContext, source: str, window: Window, chunk_size: int, max_docs: int | None) -> int:
    """Every chunk of the listing through its subflow, the progress artifact kept up to date; returns the
    number of chunks."""
    progress_id = create_progress_artifact(
        progress=0.0, key="backfill-progress", description=f"Backfill of {source} into {run.out}"
    )
    chunk_flow = backfill_chunk.with_options(task_runner=make_task_runner(run.settings))
    chunks = 0
    listing = islice(run.storage_of(source).list(source, *window), max_docs)
    for number, chunk in enumerate(chunked(listing, chunk_size), start=1):
        chunk_flow(objects=chunk, number=number, run=run)
        chunks = number
        if isinstance(progress_id, UUID) and run.total:
            update_progress_artifact(progress_id, progress=min(100.0, 100.0 * run.progress() / run.total))
    if isinstance(progress_id, UUID):
        update_progress_artifact(progress_id, progress=100.0)
    return chunks


def _publish(run: RunContext, source: str, chunks: int, seconds: float) -> BackfillSummary:
    run.summary.seconds = seconds
    summary = BackfillSummary(**run.summary.model_dump(), source=source, listed=run.total or 0, chunks=chunks)
    create_markdown_artifact(
        key="backfill-summary", markdown=summary_markdown(summary), description="Ledgerlens backfill summary"
    )
    return summary
