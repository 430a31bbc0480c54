"""Write records to Parquet datasets.

Writes are atomic (a hidden temp file renamed into place, so readers never see half a file; pyarrow
and DuckDB skip names starting with '_' or '.') and idempotent (rows for a document_id already present
in a dataset are dropped, so a rerun or a resumed batch never duplicates).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.errors import OutputError
from schemas import ExtractionRecord
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

    def append_rows(self, dataset: str, rows: Sequence[dict[str, Any]]) -> int:
        """Append rows of documents not yet in `dataset` as one part file; returns the rows written."""
        fresh = [row for row in rows if row["document_id"] not in self._present[dataset]]
        part = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
        self._write_rows(dataset, fresh, part)
        self._present[dataset].update(row["document_id"] for row in fresh)
        return len(fresh)

    def _write_rows(self, dataset: str, rows: list[dict[str, Any]], part: str) -> None:
        if not rows:
            return
        write_parquet_atomic(pa.Table.from_pylist(rows, schema=DATASETS[dataset]), self.out_dir / dataset / part)


def write_parquet_atomic(table: pa.Table, target: Path) -> None:
    """Write `table` to `target` through a hidden temporary file renamed into place."""
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, temporary, compression="zstd")
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"Cannot write {target}: {exc.strerror or exc}") from exc
