"""Write records to Parquet datasets and the review queue.

Writes are atomic (a hidden temp file renamed into place, so readers never see half a file; pyarrow
and DuckDB skip names starting with '_' or '.') and idempotent (rows for a document_id already present
in a dataset are dropped, so a rerun or a resumed batch never duplicates).
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.errors import OutputError
from schemas import ExtractionRecord, RecordStatus
from schemas.arrow import DATASETS


def _quantize(value: Decimal | None, scale: int) -> Decimal | None:
    if value is None:
        return None
    try:
        quantized = value.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:
        return None
    # decimal128(18, s) holds 18 digits in all; an OCR misread that long is not a real amount.
    return quantized if len(quantized.as_tuple().digits) <= 18 else None


def invoice_row(record: ExtractionRecord) -> dict[str, Any]:
    invoice = record.invoice
    return {
        "document_id": record.document_id,
        "source": record.source,
        "duplicate_sources": list(record.duplicate_sources),
        "page_count": record.page_count,
        "status": record.status.value,
        "confidence": round(record.confidence, 4),
        "review_reasons": list(record.review_reasons),
        "error": record.error,
        "vendor_name": invoice.vendor_name,
        "customer_name": invoice.customer_name,
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "currency": invoice.currency,
        "subtotal": _quantize(invoice.subtotal, 2),
        "tax": _quantize(invoice.tax, 2),
        "total": _quantize(invoice.total, 2),
        "line_item_count": len(invoice.line_items),
        "extractor": record.extractor,
        "text_source": record.text_source.value if record.text_source else None,
        "processing_seconds": round(record.processing_seconds, 3),
        "processed_at": record.processed_at.astimezone(UTC),
        "page_images": list(record.page_images),
        "vlm_models": list(record.vlm_models),
        "vlm_input_tokens": record.vlm_input_tokens,
        "vlm_output_tokens": record.vlm_output_tokens,
        "vlm_cost_usd": _quantize(record.vlm_cost_usd, 8),
    }


def line_item_rows(record: ExtractionRecord) -> list[dict[str, Any]]:
    return [
        {
            "document_id": record.document_id,
            "line_no": line_no,
            "description": item.description,
            "quantity": _quantize(item.quantity, 4),
            "unit_price": _quantize(item.unit_price, 4),
            "amount": _quantize(item.amount, 2),
        }
        for line_no, item in enumerate(record.invoice.line_items, start=1)
    ]


def field_rows(record: ExtractionRecord) -> list[dict[str, Any]]:
    rows = []
    for name, field in record.fields.items():
        box = field.bbox
        rows.append(
            {
                "document_id": record.document_id,
                "field": name,
                "value": field.value,
                "confidence": round(field.confidence, 4),
                "extractor": field.extractor,
                "page": field.page,
                "x0": box.x0 if box else None,
                "y0": box.y0 if box else None,
                "x1": box.x1 if box else None,
                "y1": box.y1 if box else None,
                "raw_text": field.raw_text,
            }
        )
    return rows


def existing_document_ids(dataset_dir: Path) -> set[str]:
    if not dataset_dir.is_dir() or not any(dataset_dir.rglob("*.parquet")):
        return set()
    dataset = ds.dataset(str(dataset_dir), format="parquet")
    column = dataset.to_table(columns=["document_id"]).column("document_id")
    return {str(value) for value in column.to_pylist()}


class ParquetSink:
    """Appends records to OUT/invoices, OUT/line_items and OUT/fields, never twice per document."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        try:
            for name in DATASETS:
                (out_dir / name).mkdir(parents=True, exist_ok=True)
            probe = out_dir / f".write-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"Cannot write to the output folder {out_dir}: {exc.strerror or exc}") from exc
        self._present: dict[str, set[str]] = {name: existing_document_ids(out_dir / name) for name in DATASETS}

    @property
    def processed_ids(self) -> set[str]:
        return set(self._present["invoices"])

    def write(self, records: Sequence[ExtractionRecord]) -> int:
        """Write one part file per dataset; returns the number of new invoice rows."""
        if not records:
            return 0
        part = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
        builders = {"line_items": line_item_rows, "fields": field_rows}
        # Invoices go last: a document counts as done only once its invoice row exists.
        for name, build in builders.items():
            fresh = [r for r in records if r.document_id not in self._present[name]]
            self._write_rows(name, [row for r in fresh for row in build(r)], part)
            self._present[name].update(r.document_id for r in fresh)
        fresh_invoices = []
        seen: set[str] = set()
        for record in records:
            if record.document_id in self._present["invoices"] or record.document_id in seen:
                continue
            seen.add(record.document_id)
            fresh_invoices.append(invoice_row(record))
        self._write_rows("invoices", fresh_invoices, part)
        self._present["invoices"].update(seen)
        return len(fresh_invoices)

    def _write_rows(self, dataset: str, rows: list[dict[str, Any]], part: str) -> None:
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=DATASETS[dataset])
        target = self.out_dir / dataset / part
        temporary = target.with_name(f".{part}.tmp")
        try:
            pq.write_table(table, temporary, compression="zstd")
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise OutputError(f"Cannot write {target}: {exc.strerror or exc}") from exc


class ReviewQueue:
    """The SQLite review queue: one item per document routed to needs_review."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(
                """
                CREATE TABLE IF NOT EXISTS review_items (
                    document_id TEXT PRIMARY KEY,
                    source TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending',
                    confidence REAL NOT NULL,
                    total TEXT,
                    reasons TEXT NOT NULL,
                    fields TEXT NOT NULL,
                    invoice TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                )
                """
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per operation, committed as one transaction and always closed."""
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:
                yield connection
        finally:
            connection.close()

    def enqueue(self, records: Iterable[ExtractionRecord]) -> int:
        """Add needs_review records; a document already queued keeps its item and state."""
        now = datetime.now(UTC).isoformat()
        rows = [
            (
                record.document_id,
                record.source,
                record.confidence,
                str(record.invoice.total) if record.invoice.total is not None else None,
                json.dumps(record.review_reasons),
                json.dumps({name: field.model_dump(mode="json") for name, field in record.fields.items()}),
                record.invoice.model_dump_json(),
                now,
                now,
            )
            for record in records
            if record.status is RecordStatus.NEEDS_REVIEW
        ]
        with self._connect() as connection:
            cursor = connection.executemany(
                """
                INSERT OR IGNORE INTO review_items
                    (document_id, source, confidence, total, reasons, fields, invoice, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                rows,
            )
            return cursor.rowcount

    def count(self, state: str | None = None) -> int:
        with self._connect() as connection:
            if state is None:
                row = connection.execute("SELECT COUNT(*) FROM review_items").fetchone()
            else:
                row = connection.execute("SELECT COUNT(*) FROM review_items WHERE state = ?", (state,)).fetchone()
        return int(row[0])
