"""`ledgerlens review list|show|approve|reject` and `ledgerlens export` on a real queue and real Parquet."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from pipeline.config import Settings
from pipeline.review import SqlReviewStore, open_review_store
from pipeline.sinks import ParquetSink
from schemas import RecordStatus
from tests.review_fixtures import LOW_CONFIDENCE_REASON, doc_id, review_record

BIG, SMALL, OTHER, DONE = doc_id(0xB16), doc_id(0x5A11), doc_id(0x07E), doc_id(0xACC)


@pytest.fixture
def out(tmp_path: Path, review_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "out"
    records = [
        review_record(SMALL, total="20.00", reasons=[LOW_CONFIDENCE_REASON]),
        review_record(BIG, total="1583.55"),
        review_record(OTHER, total="300.00"),
        review_record(DONE, total="1573.55", status=RecordStatus.ACCEPTED, reasons=[]),
    ]
    ParquetSink(out).write(records)
    open_review_store(review_db).enqueue(records)
    monkeypatch.setenv("LEDGERLENS_REVIEW_DB", review_db)
    return out


def store_of(out: Path) -> SqlReviewStore:
    """The queue the `out` fixture filled (SQLite or PostgreSQL, per the review_db parameter)."""
    return open_review_store(Settings().review_db or "")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_prints_one_item_per_line_id_first_in_priority_order(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = run(capsys, "review", "list", "--out", str(out))
    assert code == 0
    lines = text.splitlines()
    assert [line.split("\t")[0] for line in lines] == [BIG, OTHER, SMALL]
    assert lines[0].split("\t")[1:3] == ["pending", "1583.55 USD"] and lines[0].endswith("total_mismatch")
    code, text, _ = run(capsys, "review", "list", "--out", str(out), "--reason", "low_confidence")
    assert [line.split("\t")[0] for line in text.splitlines()] == [SMALL]


def test_show_prints_reasons_fields_and_evidence(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", "show", "000000", "--out", str(out))
    assert code == 4 and "more than one" in err
    unique = "feedface" + "0" * 56
    store_of(out).enqueue([review_record(unique)])
    code, text, _ = run(capsys, "review", "show", "feedfa", "--out", str(out))
    assert code == 0 and text.startswith(f"document_id  {unique}")
    code, text, _ = run(capsys, "review", "show", BIG, "--out", str(out))
    assert code == 0
    assert "Subtotal 1,430.50 plus tax 143.05 is 1,573.55 but the total says 1,583.55" in text
    assert "total           1583.55 | 0.42 | p1 | 0.780,0.370,0.900,0.390 | $1583.55" in text


def test_approve_reject_and_export(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(
        capsys, "review", "approve", BIG, "--set", "total=1573.55", "--out", str(out), "--reviewer", "ana"
    )
    assert code == 0 and text.split("\t")[:2] == [BIG, "corrected"]
    code, _, err = run(capsys, "review", "approve", BIG, "--out", str(out))
    assert code == 4 and "already corrected by ana" in err
    code, _, err = run(capsys, "review", "approve", OTHER, "--set", "totl=1", "--out", str(out))
    assert code == 4 and "not a header field" in err
    code, _, _ = run(capsys, "review", "approve", OTHER, "--out", str(out), "--reviewer", "ben")
    assert code == 0
    code, _, _ = run(capsys, "review", "reject", SMALL, "--reason", "not an invoice", "--out", str(out))
    assert code == 0

    code, text, _ = run(capsys, "export", "--out", str(out))
    assert code == 0 and "4 invoices (2 reviewed, 1 rejected)" in text
    table = pd.read_parquet(out / "export" / "invoices.parquet").set_index("document_id")
    assert table.loc[BIG, "status"] == "reviewed" and table.loc[BIG, "total"] == Decimal("1573.55")
    assert list(table.loc[BIG, "corrected_fields"]) == ["total"] and table.loc[BIG, "reviewed_by"] == "ana"
    assert table.loc[OTHER, "status"] == "reviewed" and table.loc[OTHER, "review_decision"] == "approved"
    assert table.loc[SMALL, "status"] == "rejected" and table.loc[SMALL, "review_note"] == "not an invoice"
    assert table.loc[DONE, "status"] == "accepted" and pd.isna(table.loc[DONE, "review_decision"])
    # the source datasets are untouched; reviews/ has every decision once, even after a second export
    assert set(pd.read_parquet(out / "invoices")["status"]) == {"needs_review", "accepted"}
    assert run(capsys, "export", "--out", str(out))[0] == 0
    reviews = pd.read_parquet(out / "reviews")
    assert sorted(reviews["document_id"]) == sorted([BIG, OTHER, SMALL])


def test_corrected_line_items_replace_extracted_ones_in_export(out: Path) -> None:
    from pipeline.review import approve, export_reviewed

    store = store_of(out)
    lines = [{"description": "Consulting", "quantity": "10", "unit_price": "120", "amount": "1200"}]
    lines.append({"description": "Travel", "quantity": "1", "unit_price": "230.50", "amount": "230.50"})
    lines.append({"description": "Parking", "quantity": "1", "unit_price": "10", "amount": "10"})
    decided = approve(store, out, BIG, "ana", {"subtotal": "1440.50", "tax": "143.05"}, lines)
    assert [c.field for c in decided.changes] == [
        "subtotal",
        "line_items[3].description",
        "line_items[3].quantity",
        "line_items[3].unit_price",
        "line_items[3].amount",
    ]
    export_reviewed(store, out)
    items = pd.read_parquet(out / "export" / "line_items.parquet")
    mine = items[items.document_id == BIG]
    assert mine["description"].tolist() == ["Consulting", "Travel", "Parking"] and mine["line_no"].tolist() == [1, 2, 3]
    assert len(items[items.document_id == OTHER]) == 2  # undecided documents keep their extracted items
    invoices = pd.read_parquet(out / "export" / "invoices.parquet").set_index("document_id")
    assert invoices.loc[BIG, "line_item_count"] == 3 and invoices.loc[BIG, "subtotal"] == Decimal("1440.50")


def test_review_commands_explain_a_missing_queue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", "list", "--out", str(tmp_path))
    assert code == 2 and "no review queue" in err and "ledgerlens run" in err
    code, _, err = run(capsys, "export", "--out", str(tmp_path))
    assert code == 3 and "no rows to export" in err
