"""The ingest_batch flow: discover, process one task per document with bounded concurrency, write sinks."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.errors import TransientError
from pipeline.process import failed_record, process_document
from pipeline.sinks import ParquetSink, ReviewQueue
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
    extractor: str = "ocr"
    vlm_calls: int = 0
    vlm_cache_hits: int = 0
    vlm_input_tokens: int = 0
    vlm_output_tokens: int = 0
    vlm_cost_usd: Decimal = Decimal(0)
    vlm_fallbacks: int = 0
    vlm_budget_stopped: bool = False

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
    session = lookup_session(vlm_session) if vlm_session else None
    if session is None:
        return process_document(document, settings, Path(out_dir))
    return process_document(document, settings, Path(out_dir), vlm=session)


ProgressCallback = Callable[[int, int, ExtractionRecord | None], None]


def _flush(sink: ParquetSink, queue: ReviewQueue, buffer: list[ExtractionRecord]) -> tuple[int, int]:
    written = sink.write(buffer)
    queued = queue.enqueue(buffer)
    buffer.clear()
    return written, queued


_progress_listeners: list[ProgressCallback] = []


def _notify(done: int, total: int, record: ExtractionRecord | None) -> None:
    for listener in _progress_listeners:
        listener(done, total, record)


@flow(name="ingest-batch", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=2))  # type: ignore[arg-type]
def ingest_batch(inputs: list[str], out_dir: str, settings: Settings | None = None) -> RunSummary:
    """Process every input into OUT/invoices (+ line_items, fields) and queue what needs a person."""
    settings = settings or Settings()
    out = Path(out_dir)
    sink = ParquetSink(out)
    queue = ReviewQueue(settings.review_db or out / "review.sqlite")
    documents, unmatched = discover_documents(inputs)
    done = sink.processed_ids
    todo = [document for document in documents if document.document_id not in done]
    summary = RunSummary(
        out_dir=str(out),
        discovered=len(documents),
        skipped_existing=len(documents) - len(todo),
        processed=0,
        written=0,
        unmatched_inputs=unmatched,
        duplicate_inputs=sum(len(document.duplicate_sources) for document in documents),
    )
    _notify(0, len(todo), None)
    summary.extractor = settings.resolved_extractor()
    session = VlmSession(settings, out) if summary.extractor != "ocr" else None
    if session is not None:
        _ = session.client  # a missing API key stops the run here, before any document is touched
    token = register_session(session) if session is not None else None

    started = time.perf_counter()
    counts: Counter[str] = Counter()
    buffer: list[ExtractionRecord] = []
    futures = {process_document_task.submit(document, settings, str(out), token): document for document in todo}
    for future in as_completed(list(futures)):
        document = futures[future]
        try:
            record: ExtractionRecord = future.result()
        except Exception as exc:  # a crash after retries must still leave a row behind
            record = failed_record(document, f"Processing failed after retries: {type(exc).__name__}: {exc}")
        buffer.append(record)
        counts[record.status.value] += 1
        summary.pages += record.page_count
        summary.processed += 1
        _notify(summary.processed, len(todo), record)
        if len(buffer) >= FLUSH_EVERY:
            written, queued = _flush(sink, queue, buffer)
            summary.written += written
            summary.queued_for_review += queued
    written, queued = _flush(sink, queue, buffer)
    summary.written += written
    summary.queued_for_review += queued
    summary.seconds = time.perf_counter() - started
    summary.counts = dict(counts)
    if session is not None and token is not None:
        release_session(token)
        _add_vlm_totals(summary, session)
    _publish_artifacts(summary)
    return summary


def _add_vlm_totals(summary: RunSummary, session: VlmSession) -> None:
    totals = session.totals
    summary.vlm_calls, summary.vlm_cache_hits = totals.calls, totals.cache_hits
    summary.vlm_input_tokens, summary.vlm_output_tokens = totals.input_tokens, totals.output_tokens
    summary.vlm_cost_usd, summary.vlm_fallbacks = totals.cost_usd, totals.fallbacks
    summary.vlm_budget_stopped = session.budget.stopped


def run_ingest(
    inputs: list[str], out_dir: str, settings: Settings, on_progress: ProgressCallback | None = None
) -> RunSummary:
    """Run ingest_batch with the worker count from settings and an optional progress listener."""
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=settings.workers)
    configured = ingest_batch.with_options(task_runner=runner)  # type: ignore[arg-type]
    if on_progress:
        _progress_listeners.append(on_progress)
    try:
        return configured(inputs=inputs, out_dir=out_dir, settings=settings)
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
            f"- rows written: {summary.written}\n- queued for review: {summary.queued_for_review}\n"
            f"- pages: {summary.pages} in {summary.seconds:.1f} s ({summary.pages_per_minute:.1f} pages/min)\n"
            f"- extractor: {summary.extractor}\n"
            f"- VLM: {summary.vlm_calls} calls, {summary.vlm_cache_hits} cache hits, "
            f"{summary.vlm_input_tokens} input / {summary.vlm_output_tokens} output tokens, "
            f"cost ${summary.vlm_cost_usd:.4f}, {summary.vlm_fallbacks} OCR fallbacks"
            f"{' (budget reached)' if summary.vlm_budget_stopped else ''}\n"
        ),
        description="Ledgerlens ingest run summary",
    )
