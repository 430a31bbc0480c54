"""The ingest_batch flow: discover, identify, process (one task per document, bounded concurrency), write,
archive, publish.

Inputs and OUT may be local or s3://; the Storage seam (pipeline/engines/storage.py) hides which. S3
objects are downloaded to scratch to be hashed (document_id = sha256 of the bytes) and processed; their rows
keep the s3:// URL as source. Everything a run shares is in its RunContext (flows/context.py).
"""

from __future__ import annotations

import queue
import shutil
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field

from flows.context import ProgressCallback, ProgressListener, RunContext, make_scratch, make_task_runner, open_run
from flows.summary import RunSummary, summary_markdown
from pipeline.compact import compact
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.engines.storage import storage_for
from pipeline.errors import (
    DocumentError,
    OutputError,
    ProcessingFailedError,
    ReviewQueueUnavailableError,
    TransientError,
)
from pipeline.previews import PREVIEWS_DIR
from pipeline.process import failed_record, process_document
from pipeline.storage import SourceObject, join_location, unreadable_document_id
from pipeline.vlm.cascade import VlmSession
from schemas import Document, ExtractionRecord, RecordStatus
from schemas.codes import OutputCode
from schemas.vendors import VendorProfile

__all__ = ["ProgressCallback", "RunContext", "RunSummary", "identify_objects", "ingest_batch", "run_ingest"]


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
    cache_policy=NO_CACHE,  # the run's VLM session is an argument; documents are deduplicated by the sink
)
def process_document_task(
    document: Document,
    settings: Settings,
    out_dir: str,
    vlm: VlmSession | None = None,
    vendors: list[VendorProfile] | None = None,
) -> ExtractionRecord:
    return process_anywhere(document, settings, out_dir, vlm, vendors)


def process_anywhere(
    document: Document,
    settings: Settings,
    out_dir: str,
    vlm: VlmSession | None = None,
    vendors: list[VendorProfile] | None = None,
) -> ExtractionRecord:
    """Process one document on whichever machine runs the task: fetch an input whose local copy is not
    here (another Dask worker), and publish page previews when OUT is remote."""
    source, out = storage_for(document.source, settings), storage_for(out_dir, settings)
    fetch = source.remote and not Path(document.local_path).is_file()
    if not fetch and not out.remote:
        return process_document(document, settings, Path(out_dir), vlm=vlm, vendors=vendors)  # all local
    staging = make_scratch(settings, "ll-io-")
    try:
        if fetch:
            try:
                local = source.fetch(document.source, staging / "input" / Path(document.source).name)
            except DocumentError as exc:
                return failed_record(document, exc)
            document = document.model_copy(update={"local_path": str(local)})
        if not out.remote:
            return process_document(document, settings, Path(out_dir), vlm=vlm, vendors=vendors)
        record = process_document(document, settings, staging / "out", vlm=vlm, vendors=vendors)
        previews = staging / "out" / PREVIEWS_DIR
        if previews.is_dir():
            out.publish_tree(previews, join_location(out_dir, PREVIEWS_DIR))
        return record
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class Identified(BaseModel):
    """Listed inputs sorted by what happens next."""

    documents: list[Document] = Field(default_factory=list)  # readable: processed unless already done
    failures: list[ExtractionRecord] = Field(default_factory=list)  # unreadable (missing, a loop): a failed row
    deferred: list[str] = Field(default_factory=list)  # S3 still throttling after every retry: left for the next run


def _unreadable(item: SourceObject, error: DocumentError) -> ExtractionRecord:
    stub = Document(
        document_id=unreadable_document_id(item.uri),
        source=item.uri,
        local_path="",
        size_bytes=item.size,
        media_type="application/octet-stream",
    )
    return failed_record(stub, error)


def _describe(item: SourceObject, settings: Settings, scratch: Path) -> Document | ExtractionRecord | str:
    """The listed input as a Document, a failed record when it cannot be read, or its URI when deferred."""
    target = scratch / unreadable_document_id(item.uri)[:24] / Path(item.uri).name
    try:
        local = storage_for(item.uri, settings).fetch(item.uri, target)
        return describe_file(local, source=item.uri)
    except TransientError:
        return item.uri
    except DocumentError as exc:
        return _unreadable(item, exc)
    except OSError as exc:
        problem = DocumentError(
            f"Cannot read {item.uri}: {exc.strerror or exc}. Check its permissions.", source=item.uri
        )
        return _unreadable(item, problem)


def identify_objects(objects: Iterable[SourceObject], settings: Settings, scratch: Path) -> Identified:
    """Documents for listed inputs (remote objects are downloaded to scratch and hashed, a few at a time).

    An object that cannot be read becomes a failed record at once; one that still fails transiently after
    the retries gets no row (a row would be a permanent wrong answer) and is reported as deferred.
    Equal bytes are one document that names every source."""
    found = Identified()
    documents: dict[str, Document] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for result in pool.map(lambda item: _describe(item, settings, scratch), objects):
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


# -- write: details, then the review queue, then the invoice row that marks a document done ---------------


def _queue_then_mark_done(run: RunContext, records: Iterable[ExtractionRecord]) -> list[ExtractionRecord]:
    """Queue the records that need a person; the ones the queue refuses are not marked done (no invoice
    row), so the next run processes and queues them: a crash or a locked queue never loses an item."""
    records = list(records)
    try:
        run.summary.queued_for_review += run.queue.enqueue(records)
    except (ReviewQueueUnavailableError, OSError):
        refused = [r for r in records if r.status is RecordStatus.NEEDS_REVIEW]
        run.summary.not_queued += [r.source for r in refused]
        return [r for r in records if r.status is not RecordStatus.NEEDS_REVIEW]
    return records


def write_pending(run: RunContext) -> None:
    if run.vendors is not None:  # evidence first: a decision on a written record can always be learned from
        run.vendors.append_evidence(r.vendor_evidence for r in run.pending if r.vendor_evidence is not None)
    run.summary.written += run.sink.write(run.pending, lambda records: _queue_then_mark_done(run, records))
    run.pending.clear()
    run.last_flush = time.monotonic()


def _flush_due(run: RunContext) -> bool:
    overdue = time.monotonic() - run.last_flush >= run.settings.flush_seconds
    return bool(run.pending) and (len(run.pending) >= run.settings.flush_every or overdue)


def account_record(run: RunContext, record: ExtractionRecord) -> None:
    run.pending.append(record)
    run.counts[record.status.value] += 1
    run.summary.pages += record.page_count
    run.summary.processed += 1
    if record.vendor_evidence is not None and record.vendor_evidence.profile_id is not None:
        run.summary.vendor_profile_matches += 1
        run.summary.vlm_calls_saved += record.vendor_evidence.model_call_saved
    run.notify(record)
    if _flush_due(run):
        write_pending(run)


# -- process -------------------------------------------------------------------------------------------


def _todo(run: RunContext, found: Identified) -> tuple[list[Document], list[ExtractionRecord]]:
    """The documents and failures with no row yet; counts the rest as skipped."""
    done = run.sink.processed_ids
    todo = [document for document in found.documents if document.document_id not in done]
    fresh_failures = [record for record in found.failures if record.document_id not in done]
    run.summary.deferred += found.deferred
    run.summary.discovered += len(found.documents) + len(found.failures)
    run.summary.skipped_existing += len(found.documents) - len(todo) + len(found.failures) - len(fresh_failures)
    run.summary.duplicate_inputs += sum(len(document.duplicate_sources) for document in found.documents)
    if run.total is None:
        run.total = len(todo) + len(fresh_failures)
    return todo, fresh_failures


Finished = tuple[Document, PrefectFuture[ExtractionRecord]]


def submit_in_window(run: RunContext, todo: list[Document]) -> Iterator[Finished]:
    """Submit the documents a few at a time and yield each as it finishes, so at most `in_flight_documents` futures
    (each holding its record until it is let go) are alive at once, however large the batch: submitting all of
    them at once kept every record of the batch in memory until its end."""
    finished: queue.SimpleQueue[Finished] = queue.SimpleQueue()
    waiting = iter(todo)

    def submit_next() -> bool:
        document = next(waiting, None)
        if document is None:
            return False
        # Quoted: Prefect neither walks these models for futures nor copies them, at submission and again when the task
        # starts (the settings' fields, every vendor profile, for every document): none of them holds a future.
        future = process_document_task.submit(
            quote(document), quote(run.settings), run.out, quote(run.vlm), quote(run.profiles), return_state=False
        )
        future.add_done_callback(lambda done: finished.put((document, done)))
        return True

    window = max(run.settings.in_flight_documents, 2 * run.settings.workers)  # a document waits for each busy worker
    in_flight = sum(submit_next() for _ in range(window))
    while in_flight:
        yield finished.get()
        in_flight += submit_next() - 1


def process_batch(run: RunContext, found: Identified) -> None:
    """Skip what is done, run one task per remaining document, write every record as it comes."""
    todo, failures = _todo(run, found)
    run.notify(None)
    for failure in failures:
        account_record(run, failure)
    for document, future in submit_in_window(run, todo):
        try:
            record: ExtractionRecord = future.result()
        except Exception as exc:  # a crash after retries must still leave a row behind
            crash = ProcessingFailedError(f"Processing failed after retries: {type(exc).__name__}: {exc}")
            record = failed_record(document, crash)
        account_record(run, record)
    write_pending(run)


def compact_closed_days(run: RunContext) -> None:
    """Merge the part files of earlier days into one per day (pipeline/compact.py), so OUT holds today's parts and
    one file per closed day. A partition that changed meanwhile or holds an unreadable part is left as it is, with its
    coded reason in the summary; the next run tries again."""
    try:
        report = compact(run.out, run.settings)
    except (OutputError, OSError) as exc:
        run.summary.compaction_skipped = f"{getattr(exc, 'code', OutputCode.OUTPUT_ERROR)}: {exc}"
        return
    run.summary.compacted_files += report.files_before - report.files_after
    if report.skipped:
        run.summary.compaction_skipped = "; ".join(f"{exc.code}: {exc}" for exc in report.skipped)


# -- the flow ------------------------------------------------------------------------------------------


def discover(inputs: list[str], run: RunContext) -> list[SourceObject]:
    """Every object the inputs name, through the storage each one lives on; inputs naming none are noted."""
    objects: list[SourceObject] = []
    for item in inputs:
        listed = list(run.storage_of(item).list_inputs(item))
        if not listed:
            run.summary.unmatched_inputs.append(item)
        objects += listed
    return objects


def archive_inputs(run: RunContext, documents: Iterable[Document], inboxes: list[str], archive: str) -> int:
    """Move inbox objects whose rows are written to the archive prefix (same relative key)."""
    moved = 0
    for document in documents:
        for source in (document.source, *document.duplicate_sources):
            storage = run.storage_of(source)
            moved += sum(storage.archive(source, inbox, archive) for inbox in inboxes)
    return moved


def publish(summary: RunSummary) -> None:
    create_table_artifact(
        key="ingest-counts",
        table=[{"status": status, "documents": count} for status, count in sorted(summary.counts.items())],
        description="Documents per status in this ingest run",
    )
    create_markdown_artifact(
        key="ingest-summary", markdown=summary_markdown(summary), description="Ledgerlens ingest run summary"
    )


@flow(name="ingest-batch", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=2))  # type: ignore[arg-type]
def ingest_batch(
    inputs: list[str],
    out_dir: str,
    settings: Settings | None = None,
    archive_prefix: str | None = None,
    on_progress: ProgressListener | None = None,
) -> RunSummary:
    """Process every input (files, folders, globs, s3:// prefixes) into OUT/invoices (+ line_items, fields)
    and queue what needs a person. With archive_prefix, S3 inputs whose rows are written are moved there."""
    started = time.perf_counter()
    with open_run(out_dir, settings or Settings(), on_progress) as run:
        found = identify_objects(discover(inputs, run), run.settings, run.scratch)
        process_batch(run, found)
        if archive_prefix:
            run.summary.archived += archive_inputs(run, found.documents, inputs, archive_prefix)
        compact_closed_days(run)
    run.summary.seconds = time.perf_counter() - started
    publish(run.summary)
    return run.summary


@flow(name="ingest-inbox", log_prints=False)
def ingest_inbox(inbox: str, out_dir: str, archive_prefix: str | None = None) -> RunSummary:
    """The scheduled deployment: process new objects under an inbox prefix (new = no row for its document_id
    yet), then optionally move them to an archive prefix. Settings (task runner, S3 endpoint) come from the
    worker's LEDGERLENS_ environment."""
    return run_ingest([inbox], out_dir, Settings(), archive_prefix=archive_prefix)


def run_ingest(
    inputs: list[str],
    out_dir: str,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    archive_prefix: str | None = None,
) -> RunSummary:
    """Run ingest_batch with the task runner and worker count from settings and an optional progress listener."""
    configured = ingest_batch.with_options(task_runner=make_task_runner(settings))
    return configured(
        inputs=inputs,
        out_dir=out_dir,
        settings=settings,
        archive_prefix=archive_prefix,
        on_progress=ProgressListener(on_progress),
    )
