"""Decisions flow back: each decision lands in OUT/reviews/ and in the analysts' export table.

OUT is a local folder or an s3:// prefix (pyarrow's filesystem either way). The queue store is the source of
truth. A decided item is written to ``reviews/`` as its own part file with a name derived from its document
id (``reviews/ingest_date=<decision date>/review-<document_id>.parquet``; a decision is final, so writing it
again writes the same object), then marked published in the store. A crash between the two is healed by the
next decision or export, and never makes a duplicate row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.errors import OutputError, ReviewInputError
from pipeline.review.corrections import apply_corrections, changes_between
from pipeline.review.outputs import ReviewOutput
from pipeline.review.store import DEFAULT_LEASE, ReviewStore
from pipeline.sinks import invoice_row, line_item_rows, parquet_files, write_table_atomically
from schemas import DECIDED_STATES, HEADER_FIELDS, Decision, ExtractionRecord, Invoice, RecordStatus, ReviewItem
from schemas.arrow import EXPORT_INVOICES_SCHEMA, INVOICES_SCHEMA, LINE_ITEMS_SCHEMA, PARTITION_KEY, REVIEWS_SCHEMA

EXPORT_DIR = "export"
REVIEWED_STATUS = "reviewed"
REJECTED_STATUS = "rejected"


def review_rows(item: ReviewItem) -> list[dict[str, Any]]:
    """The reviews/ rows of a decided item: one per changed value, or one with no field."""
    if item.decision is None or item.decided_at is None or item.reviewer is None:
        return []
    base = {
        "document_id": item.document_id,
        "decision": item.decision.value,
        "reviewer": item.reviewer,
        "decided_at": item.decided_at,
        "reason": item.note,
    }
    if not item.changes:
        return [base | {"field": None, "old_value": None, "new_value": None}]
    return [
        base | {"field": change.field, "old_value": change.old_value, "new_value": change.new_value}
        for change in item.changes
    ]


Output = ReviewOutput | str | Path


def as_output(out: Output) -> ReviewOutput:
    return out if isinstance(out, ReviewOutput) else ReviewOutput(out)


STRAGGLER_AGE = timedelta(minutes=1)


def _write_decision(fs: pafs.FileSystem, folder: str, name: str, table: pa.Table) -> None:
    """One decision's part file. Two servers may publish the same decision at once: locally each writes its own
    temporary file and renames it over the same name (same content); on S3 a PUT is atomic."""
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, compression="zstd")
    try:
        fs.create_dir(folder, recursive=True)
        if not isinstance(fs, pafs.LocalFileSystem):
            with fs.open_output_stream(f"{folder}/{name}") as stream:
                stream.write(buffer.getvalue())
            return
        temporary = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        with fs.open_output_stream(temporary) as stream:
            stream.write(buffer.getvalue())
        fs.move(temporary, f"{folder}/{name}")
    except OSError as exc:
        raise OutputError(f"Cannot write {folder}/{name}: {exc}") from exc


def publish_decisions(store: ReviewStore, out: Output, just_decided: str | None = None) -> int:
    """Write decided items not yet published to OUT/reviews/ and mark them published; returns the rows written.
    With `just_decided`, only that item and stragglers (decided over a minute ago and still unpublished, e.g.
    after a crash) are written, so concurrent reviewers do not all rewrite each other's fresh decisions."""
    output = as_output(out)
    pending = store.unpublished()
    if just_decided is not None:
        cutoff = datetime.now(UTC) - STRAGGLER_AGE
        pending = [
            item
            for item in pending
            if item.document_id == just_decided or (item.decided_at is not None and item.decided_at < cutoff)
        ]
    if not pending:
        return 0
    fs, base = output.filesystem()
    rows = 0
    for item in pending:
        table = pa.Table.from_pylist(review_rows(item), schema=REVIEWS_SCHEMA)
        day = (item.decided_at or item.updated_at).date().isoformat()
        _write_decision(fs, f"{base}/reviews/{PARTITION_KEY}={day}", f"review-{item.document_id}.parquet", table)
        rows += table.num_rows
    store.mark_published(item.document_id for item in pending)
    return rows


def corrected_invoice(
    item: ReviewItem, header: Mapping[str, str | None], line_items: Sequence[Mapping[str, str | None]] | None
) -> Invoice:
    return apply_corrections(item.invoice, header, line_items)


def save_draft(
    store: ReviewStore,
    document_id: str,
    reviewer: str,
    header: Mapping[str, str | None],
    line_items: Sequence[Mapping[str, str | None]] | None = None,
) -> ReviewItem:
    item = store.get(document_id)
    return store.save_draft(document_id, reviewer, apply_corrections(item.invoice, header, line_items), DEFAULT_LEASE)


def approve(
    store: ReviewStore,
    out_dir: Output,
    document_id: str,
    reviewer: str,
    header: Mapping[str, str | None] | None = None,
    line_items: Sequence[Mapping[str, str | None]] | None = None,
) -> ReviewItem:
    """Approve the item with the values given (none: as extracted, or as last saved); changed values make it
    ``corrected``. The decision is written to OUT/reviews/ at once."""
    item = store.get(document_id)
    start = item.draft or item.invoice
    final = apply_corrections(start, header or {}, line_items)
    changes = changes_between(item.invoice, final)
    decision = Decision.CORRECTED if changes else Decision.APPROVED
    decided = store.decide(document_id, reviewer, decision, corrected=final, changes=changes)
    publish_decisions(store, out_dir, just_decided=document_id)
    return decided


def reject(store: ReviewStore, out_dir: Output, document_id: str, reviewer: str, reason: str) -> ReviewItem:
    """Reject the item (not an invoice, unreadable, a duplicate...); a reason is required."""
    if not reason.strip():
        raise ReviewInputError("A rejection needs a reason, e.g. --reason 'not an invoice'.")
    decided = store.decide(document_id, reviewer, Decision.REJECTED, note=reason.strip())
    publish_decisions(store, out_dir, just_decided=document_id)
    return decided


@dataclass(frozen=True)
class ExportResult:
    invoices_path: str
    line_items_path: str
    rows: int
    reviewed: int
    rejected: int


def _export_row(row: dict[str, Any], item: ReviewItem) -> dict[str, Any]:
    final = item.corrected or item.invoice
    row = dict(row)
    if item.decision is not Decision.REJECTED:
        record = ExtractionRecord(
            document_id=item.document_id, source=item.source, status=RecordStatus.NEEDS_REVIEW, invoice=final
        )
        corrected = invoice_row(record)
        row.update({name: corrected[name] for name in (*HEADER_FIELDS, "line_item_count")})
    row["status"] = REJECTED_STATUS if item.decision is Decision.REJECTED else REVIEWED_STATUS
    row["review_decision"] = item.decision.value if item.decision else None
    row["reviewed_by"] = item.reviewer
    row["reviewed_at"] = item.decided_at
    row["review_note"] = item.note
    row["corrected_fields"] = [change.field for change in item.changes]
    return row


def _read(output: ReviewOutput, dataset: str, schema: pa.Schema) -> pa.Table:
    fs, base = output.filesystem()
    try:
        files = parquet_files(fs, f"{base}/{dataset}", recursive=True)
        if not files:
            return schema.empty_table()
        return ds.dataset(files, filesystem=fs, format="parquet", schema=schema).to_table()
    except (OSError, pa.ArrowInvalid) as exc:
        raise OutputError(f"Cannot read {output.join(dataset)}: {exc}") from exc


def _exported_invoices(invoices: pa.Table, decided: dict[str, ReviewItem]) -> pa.Table:
    """One row per document: untouched rows gain empty review columns, decided rows get their decision."""
    is_decided = pc.is_in(invoices.column("document_id"), value_set=pa.array(sorted(decided), pa.string()))
    untouched = invoices.filter(pc.invert(is_decided))
    extra = {
        "review_decision": pa.nulls(untouched.num_rows, pa.string()),
        "reviewed_by": pa.nulls(untouched.num_rows, pa.string()),
        "reviewed_at": pa.nulls(untouched.num_rows, pa.timestamp("us", tz="UTC")),
        "review_note": pa.nulls(untouched.num_rows, pa.string()),
        "corrected_fields": pa.array([[] for _ in range(untouched.num_rows)], pa.list_(pa.string())),
    }
    for name, column in extra.items():
        untouched = untouched.append_column(EXPORT_INVOICES_SCHEMA.field(name), column)
    changed_rows = [_export_row(row, decided[row["document_id"]]) for row in invoices.filter(is_decided).to_pylist()]
    changed = pa.Table.from_pylist(changed_rows, schema=EXPORT_INVOICES_SCHEMA)
    return pa.concat_tables([untouched, changed]).sort_by("document_id")


def _exported_line_items(items: pa.Table, decided: dict[str, ReviewItem]) -> pa.Table:
    """Extracted line items, with those of documents whose line items were corrected replaced."""
    replaced = sorted(
        document_id
        for document_id, item in decided.items()
        if item.corrected is not None and any(change.field.startswith("line_items[") for change in item.changes)
    )
    keep = items.filter(pc.invert(pc.is_in(items.column("document_id"), value_set=pa.array(replaced, pa.string()))))
    new_rows = [
        row
        for document_id in replaced
        for row in line_item_rows(
            ExtractionRecord(
                document_id=document_id,
                source=decided[document_id].source,
                status=RecordStatus.NEEDS_REVIEW,
                invoice=decided[document_id].corrected or Invoice(),
            )
        )
    ]
    line_items = pa.concat_tables([keep, pa.Table.from_pylist(new_rows, schema=LINE_ITEMS_SCHEMA)])
    return line_items.sort_by([("document_id", "ascending"), ("line_no", "ascending")])


def export_reviewed(store: ReviewStore, out: Output) -> ExportResult:
    """Write OUT/export/invoices.parquet (one row per document, decisions applied) and
    OUT/export/line_items.parquet (corrected line items replace extracted ones). Rerunning replaces both."""
    output = as_output(out)
    publish_decisions(store, output)
    invoices = _read(output, "invoices", INVOICES_SCHEMA)
    if invoices.num_rows == 0:
        raise OutputError(
            f"{output.join('invoices')} has no rows to export; run `ledgerlens run … --out {output.location}` first."
        )
    decided = {item.document_id: item for item in store.list_items(DECIDED_STATES)}
    exported = _exported_invoices(invoices, decided)
    line_items = _exported_line_items(_read(output, "line_items", LINE_ITEMS_SCHEMA), decided)
    fs, base = output.filesystem()
    write_table_atomically(fs, f"{base}/{EXPORT_DIR}", "invoices.parquet", exported)
    write_table_atomically(fs, f"{base}/{EXPORT_DIR}", "line_items.parquet", line_items)
    statuses = exported.column("status").to_pylist()
    return ExportResult(
        invoices_path=output.join(EXPORT_DIR, "invoices.parquet"),
        line_items_path=output.join(EXPORT_DIR, "line_items.parquet"),
        rows=exported.num_rows,
        reviewed=statuses.count(REVIEWED_STATUS),
        rejected=statuses.count(REJECTED_STATUS),
    )
