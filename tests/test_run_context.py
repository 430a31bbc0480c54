"""The run context: one budget per run under the `processes` runner, the review queue and the invoice rows
agreeing after a failure between the two, and discovery that never drops or aborts on odd paths."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from flows.cli import main
from flows.ingest import run_ingest
from pipeline.config import Settings
from pipeline.review import SQLiteReviewStore
from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf
from tests.fake_anthropic import FakeAnthropic, answer, invoice_answer, serve
from tests.test_vlm import TRUTH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def rows(out: Path) -> list[dict[str, Any]]:
    return ds.dataset(str(out / "invoices"), format="parquet").to_table().to_pylist()


def distinct_invoices(folder: Path, count: int, total: str = "$1,573.55") -> list[Path]:
    """Born-digital invoices (no OCR) that differ in one line, so each has its own model request."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [line if line[2] != "$1,573.55" else (line[0], line[1], total) for line in SIMPLE_INVOICE]
    return [
        make_invoice_pdf(folder / f"invoice-{n}.pdf", [*lines, (50, 400, f"Purchase order PO-91{n}")])
        for n in range(count)
    ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    with serve(FakeAnthropic(script=[answer(invoice_answer(TRUTH))])) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        yield server


def test_max_cost_bounds_the_whole_run_on_the_processes_runner(fake: FakeAnthropic, tmp_path: Path) -> None:
    inputs = distinct_invoices(tmp_path / "in", 6)
    cap = Decimal("0.02")  # room for two or three calls of the six the run wants
    config = Settings(
        extractor="hybrid", vlm_mode="always", vlm_tier2_model=None, vlm_max_cost_usd=cap,
        vlm_max_output_tokens=1024, vlm_max_retries=0, keep_page_images="none",
        task_runner="processes", workers=2, review_db=tmp_path / "review.sqlite",
    )  # fmt: skip
    summary = run_ingest([str(p) for p in inputs], str(tmp_path / "out"), config)
    found = rows(tmp_path / "out")
    spent = sum((Decimal(str(row["vlm_cost_usd"])) for row in found), Decimal(0))
    asked = [row for row in found if Decimal(str(row["vlm_cost_usd"])) > 0]
    stopped = [row for row in found if any("budget" in reason for reason in row["review_reasons"])]
    assert len(found) == 6 and asked and stopped and len(asked) + len(stopped) == 6
    assert len(fake.requests) == len(asked)
    assert 0 < spent <= cap
    assert summary.vlm_cost_usd == spent and summary.vlm_budget_stopped
    assert summary.vlm_calls == len(asked) and summary.vlm_fallbacks == len(stopped)


def test_every_needs_review_row_is_queued_after_the_queue_was_locked(tmp_path: Path) -> None:
    inputs = distinct_invoices(tmp_path / "in", 3, total="$1,600.00")  # printed total off: needs review
    inputs += distinct_invoices(tmp_path / "good", 1)
    db = tmp_path / "review.sqlite"
    SQLiteReviewStore(db)
    config = Settings(workers=2, review_db=db, keep_page_images="none")
    holder = sqlite3.connect(db, isolation_level=None)

    def lock_the_queue(done: int, total: int, record: object) -> None:
        if not holder.in_transaction:
            holder.execute("BEGIN IMMEDIATE")  # another writer holds the queue until the run is over

    with contextlib.suppress(Exception):
        run_ingest([str(p) for p in inputs], str(tmp_path / "out"), config, on_progress=lock_the_queue)
    holder.execute("ROLLBACK")
    holder.close()
    run_ingest([str(p) for p in inputs], str(tmp_path / "out"), config)

    found = rows(tmp_path / "out")
    review = {row["document_id"] for row in found if row["status"] == "needs_review"}
    queued = {item.document_id for item in SQLiteReviewStore(db).list_items(states=None)}
    assert len(found) == 4 and len(review) == 3
    assert review <= queued


def test_symlink_loops_and_folders_named_like_documents_each_get_a_failed_row(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "scans.pdf").mkdir(parents=True)  # a folder with a document's name, holding an invoice
    make_invoice_pdf(folder / "scans.pdf" / "inside.pdf", SIMPLE_INVOICE)
    make_invoice_pdf(folder / "a.pdf", [*SIMPLE_INVOICE, (50, 400, "Purchase order PO-1")])
    os.symlink("loop.pdf", folder / "loop.pdf")  # points at itself
    os.symlink(".", folder / "again")  # a folder link back to the folder being searched
    explicit = tmp_path / "explicit.pdf"
    os.symlink("explicit.pdf", explicit)
    out = tmp_path / "out"

    code = main(["run", str(folder), str(explicit), "--out", str(out), "--quiet"])

    assert code == 0
    by_source = {Path(str(row["source"])).name: row for row in rows(out)}
    assert {by_source[name]["status"] for name in ("a.pdf", "inside.pdf")} <= {"accepted", "needs_review"}
    for name, says in [("loop.pdf", "loop"), ("explicit.pdf", "loop"), ("scans.pdf", "folder"), ("again", "folder")]:
        assert by_source[name]["status"] == "failed", name
        assert says in by_source[name]["error"], by_source[name]["error"]


def test_finished_documents_are_written_after_flush_seconds_even_below_flush_every(tmp_path: Path) -> None:
    from flows.context import open_run
    from flows.ingest import account_record
    from schemas import RecordStatus
    from tests.test_sinks import record

    config = Settings(flush_every=20, flush_seconds=0.2, review_db=tmp_path / "review.sqlite")
    out = tmp_path / "out"
    with open_run(str(out), config) as run:
        account_record(run, record("first", RecordStatus.NEEDS_REVIEW))
        assert run.pending and not list((out / "invoices").glob("**/*.parquet"))  # nothing written yet
        time.sleep(0.3)
        account_record(run, record("second"))
        assert not run.pending  # both written: the first waited longer than flush_seconds
        assert {row["document_id"] for row in rows(out)} == {"first", "second"}
        assert [item.document_id for item in run.queue.list_items(states=None)] == ["first"]
