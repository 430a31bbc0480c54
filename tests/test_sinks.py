"""Parquet datasets: contract columns, types, atomic and idempotent writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from pipeline.errors import OutputError
from pipeline.sinks import ParquetSink
from schemas import DocumentType, ExtractionRecord, FieldValue, Invoice, LineItem, RecordStatus

CONTRACT_COLUMNS = [
    "document_id", "source", "page_count", "status", "confidence", "review_reasons", "error", "vendor_name",
    "customer_name", "invoice_number", "invoice_date", "due_date", "currency", "subtotal", "tax", "total",
    "extractor", "processed_at",
]  # fmt: skip


def record(document_id: str, status: RecordStatus = RecordStatus.ACCEPTED) -> ExtractionRecord:
    return ExtractionRecord(
        document_id=document_id,
        source=f"/in/{document_id}.pdf",
        page_count=1,
        status=status,
        confidence=0.9,
        review_reasons=["Total does not match"] if status is RecordStatus.NEEDS_REVIEW else [],
        invoice=Invoice(
            vendor_name="Acme",
            invoice_number="A-1",
            invoice_date=date(2024, 3, 1),
            currency="EUR",
            subtotal=Decimal("10.00"),
            tax=Decimal("2.00"),
            total=Decimal("12.00"),
            line_items=[LineItem(description="Bolt", quantity=Decimal(2), unit_price=Decimal("5"), amount=Decimal(10))],
        ),
        fields={"total": FieldValue(name="total", value="12.00", confidence=0.97, extractor="rules", page=1)},
        extractor="rules",
    )


def test_written_dataset_has_contract_schema_and_reads_in_pandas_and_duckdb(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path)
    assert sink.write([record("a"), record("b", RecordStatus.NEEDS_REVIEW)]) == 2
    table = ds.dataset(str(tmp_path / "invoices"), format="parquet").to_table()
    assert table.column_names[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS or set(CONTRACT_COLUMNS) <= set(
        table.column_names
    )
    assert table.schema.field("total").type == pa.decimal128(18, 2)
    assert table.schema.field("invoice_date").type == pa.date32()
    assert table.schema.field("processed_at").type == pa.timestamp("us", tz="UTC")
    frame = pd.read_parquet(tmp_path / "invoices")
    assert sorted(frame["document_id"]) == ["a", "b"]
    assert frame.loc[frame.document_id == "a", "total"].iloc[0] == Decimal("12.00")
    items = duckdb.sql(f"SELECT document_id, line_no, amount FROM read_parquet('{tmp_path}/line_items/**/*.parquet')")
    assert sorted(items.fetchall()) == [("a", 1, Decimal("10.00")), ("b", 1, Decimal("10.00"))]
    reasons = duckdb.sql(
        f"SELECT review_reasons FROM read_parquet('{tmp_path}/invoices/**/*.parquet') WHERE status='needs_review'"
    )
    assert reasons.fetchall() == [(["Total does not match"],)]


def test_rewriting_the_same_documents_adds_no_rows(tmp_path: Path) -> None:
    ParquetSink(tmp_path).write([record("a"), record("b")])
    again = ParquetSink(tmp_path)
    assert again.processed_ids == {"a", "b"}
    assert again.write([record("a"), record("b"), record("c")]) == 1
    for dataset, expected in (("invoices", 3), ("line_items", 3), ("fields", 3)):
        assert ds.dataset(str(tmp_path / dataset), format="parquet").count_rows() == expected


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    ParquetSink(tmp_path).write([record("a")])
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".") and p.is_file()]
    assert leftovers == []


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="Cannot write"):
        ParquetSink(blocker / "out")


def test_a_page_that_titles_itself_a_credit_note_sets_the_document_type_column(tmp_path: Path) -> None:
    credit = record("credit")
    credit.invoice = credit.invoice.model_copy(
        update={"document_type": DocumentType.CREDIT_NOTE, "subtotal": Decimal("-10.00"), "total": Decimal("-12.00")}
    )
    assert ParquetSink(tmp_path).write([credit, record("plain")]) == 2
    frame = pd.read_parquet(tmp_path / "invoices").set_index("document_id")
    assert frame.loc["credit", "document_type"] == "credit_note"
    assert pd.isna(frame.loc["plain", "document_type"])
    assert pd.isna(frame.loc["plain", "einvoice_profile"])  # the other e-invoice columns stay null for pages
