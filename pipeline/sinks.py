"""Write records to Parquet datasets.

Writes are atomic (local: a hidden temp file renamed into place, so readers never see half a file; pyarrow
skips names starting with '_' or '.', and the temp name does not end in .parquet for DuckDB's glob; S3: one
PUT of the whole object) and idempotent (rows for a document_id already present in a dataset are dropped,
so a rerun or a resumed batch never duplicates). Datasets are hive-partitioned by ingest date.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.config import Settings
from pipeline.errors import ConfigError, CorruptPartError, OutputError
from pipeline.storage import filesystem_for
from schemas import ExtractionRecord
from schemas.arrow import DATASETS, INVOICES_SCHEMA, PARTITION_KEY

EINVOICE_COLUMNS: tuple[str, ...] = tuple(
    name for name in INVOICES_SCHEMA.names[INVOICES_SCHEMA.get_field_index("einvoice_profile") :]
)

BeforeDone = Callable[[Sequence[ExtractionRecord]], Sequence[ExtractionRecord]]


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
        "blocking_codes": list(record.blocking_codes),
        "warning_codes": list(record.warning_codes),
        "error": record.error,
        "error_code": record.error_code.value if record.error_code else None,
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
        **einvoice_columns(record),
    }


def einvoice_columns(record: ExtractionRecord) -> dict[str, Any]:
    """The e-invoice columns of an invoices/ row: null unless the record was read from XML, except
    `document_type`, which a page that titles itself a credit note sets too."""
    data = record.einvoice
    if data is None:
        page_type = record.invoice.document_type
        return {**dict.fromkeys(EINVOICE_COLUMNS), "document_type": page_type.value if page_type else None}
    breakdown = [
        {
            "rate": _quantize(line.rate, 4),
            "category": line.category,
            "taxable_amount": _quantize(line.taxable_amount, 2),
            "tax_amount": _quantize(line.tax_amount, 2),
        }
        for line in data.tax_breakdown
    ]
    return {
        "einvoice_profile": f"{data.syntax.value}:{data.profile}",
        "profile_has_line_items": data.profile_has_line_items,
        "document_type": data.document_type.value,
        "tax_breakdown": breakdown,
        "seller_vat_id": data.seller_vat_id,
        "buyer_vat_id": data.buyer_vat_id,
        "iban": data.iban,
        "order_reference": data.order_reference,
        "amount_due": _quantize(data.amount_due, 2),
        "einvoice_check": data.check or None,
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
    """document_ids in a local dataset folder (every partition)."""
    files = parquet_files(pafs.LocalFileSystem(), str(Path(dataset_dir).resolve()), recursive=True)
    if not files:
        return set()
    column = ds.dataset(files, format="parquet").to_table(columns=["document_id"]).column("document_id")
    return {str(value) for value in column.to_pylist()}


def ingest_date_today() -> date:
    return datetime.now(UTC).date()


class ParquetSink:
    """Appends records to OUT/{invoices,line_items,fields}/ingest_date=YYYY-MM-DD/part-*.parquet, once per document.

    OUT is a local folder or an s3:// prefix (through pyarrow's filesystem). A document's line items and
    fields are written before its invoice row, and the invoice row is the "done" marker: after a crash
    between the two, the rerun reprocesses the document, skips the datasets that already hold it, and
    writes the missing invoice row.
    """

    def __init__(self, out: str | Path, settings: Settings | None = None, ingest_date: date | None = None) -> None:
        self.out = str(out)
        self.settings = settings or Settings()
        self.ingest_date = ingest_date
        try:
            self.fs, self.base = filesystem_for(self.out, self.settings)
            for name in DATASETS:
                self.fs.create_dir(f"{self.base}/{name}", recursive=True)
            probe = f"{self.base}/.write-probe-{uuid.uuid4().hex}"
            with self.fs.open_output_stream(probe) as stream:
                stream.write(b"")
            self.fs.delete_file(probe)
        except (OSError, ConfigError) as exc:
            raise OutputError(f"Cannot write to the output location {self.out}: {_reason(exc)}") from exc
        self._present: dict[str, set[str]] = {name: self.existing_document_ids(name) for name in DATASETS}

    @property
    def out_dir(self) -> Path:
        """The local output folder (only meaningful when OUT is local)."""
        return Path(self.out)

    def existing_document_ids(self, dataset: str) -> set[str]:
        try:
            files = parquet_files(self.fs, f"{self.base}/{dataset}", recursive=True)
            found = ds.dataset(files, schema=DATASETS[dataset], filesystem=self.fs, format="parquet")
            column = found.to_table(columns=["document_id"]).column("document_id")
        except pa.ArrowInvalid as exc:
            raise corrupt_part_error(f"{self.out}/{dataset}", exc) from exc
        except OSError as exc:
            raise OutputError(f"Cannot read {self.out}/{dataset}: {_reason(exc)}") from exc
        return {str(value) for value in column.to_pylist()}

    @property
    def processed_ids(self) -> set[str]:
        return set(self._present["invoices"])

    def write(self, records: Sequence[ExtractionRecord], before_done: BeforeDone | None = None) -> int:
        """Write one part file per dataset; returns the number of new invoice rows.

        Invoices go last: a document counts as done only once its invoice row exists. `before_done` runs
        between the two (the flow queues review items there) and returns the records that may be marked
        done; a record it leaves out has no invoice row, so the next run processes it again."""
        if not records:
            return 0
        part = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
        partition = f"{PARTITION_KEY}={(self.ingest_date or ingest_date_today()).isoformat()}"
        builders = {"line_items": line_item_rows, "fields": field_rows}
        for name, build in builders.items():
            fresh = list({r.document_id: r for r in records if r.document_id not in self._present[name]}.values())
            self._write_rows(name, partition, [row for r in fresh for row in build(r)], part)
            self._present[name].update(r.document_id for r in fresh)
        done = before_done(records) if before_done is not None else records
        fresh_invoices: dict[str, dict[str, Any]] = {}
        for record in done:
            if record.document_id not in self._present["invoices"] and record.document_id not in fresh_invoices:
                fresh_invoices[record.document_id] = invoice_row(record)
        self._write_rows("invoices", partition, list(fresh_invoices.values()), part)
        self._present["invoices"].update(fresh_invoices)
        return len(fresh_invoices)

    def append_rows(self, dataset: str, rows: Sequence[dict[str, Any]]) -> int:
        """Append rows of documents not yet in `dataset` as one part file; returns the rows written."""
        fresh = [row for row in rows if row["document_id"] not in self._present[dataset]]
        part = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
        partition = f"{PARTITION_KEY}={(self.ingest_date or ingest_date_today()).isoformat()}"
        self._write_rows(dataset, partition, fresh, part)
        self._present[dataset].update(row["document_id"] for row in fresh)
        return len(fresh)

    def _write_rows(self, dataset: str, partition: str, rows: list[dict[str, Any]], part: str) -> None:
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=DATASETS[dataset])
        write_table_atomically(self.fs, f"{self.base}/{dataset}/{partition}", part, table)


def parquet_files(fs: pafs.FileSystem, folder: str, recursive: bool = False) -> list[str]:
    """The part files readers see: names ending in .parquet, none starting with '.' or '_' (temp files)."""
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=recursive))
    return sorted(
        info.path
        for info in infos
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith((".", "_"))
    )


def write_parquet_atomic(table: pa.Table, target: Path) -> None:
    """Write `table` to a local `target` through a hidden temporary file renamed into place."""
    write_table_atomically(pafs.LocalFileSystem(), str(Path(target).parent.resolve()), Path(target).name, table)


def corrupt_part_error(where: str, exc: Exception) -> CorruptPartError:
    """A part file Parquet cannot read, at `where` (the file, or the dataset whose reading named it)."""
    return CorruptPartError(
        f"Cannot read {where}: {exc}. Move the unreadable part file out of the dataset (keep it to inspect) and "
        "run again; the documents whose rows it held are processed again. `ledgerlens compact --out OUT "
        "--quarantine` does the move, with the parts written beside it"
    )


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else None) or str(exc)


def write_table_atomically(fs: pafs.FileSystem, folder: str, name: str, table: pa.Table) -> str:
    """Local: a hidden temp file renamed into place. S3: one PUT of the whole object (never a partial object)."""
    target = f"{folder}/{name}"
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, compression="zstd")
    data = buffer.getvalue()
    try:
        fs.create_dir(folder, recursive=True)
        if isinstance(fs, pafs.LocalFileSystem):
            temporary = f"{folder}/.{name}.tmp"
            try:
                with fs.open_output_stream(temporary) as stream:
                    stream.write(data)
                fs.move(temporary, target)
            finally:
                if fs.get_file_info(temporary).type != pafs.FileType.NotFound:
                    fs.delete_file(temporary)
        else:
            with fs.open_output_stream(target) as stream:
                stream.write(data)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {_reason(exc)}") from exc
    return target
