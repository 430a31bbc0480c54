"""Faults inside the flow: a transient failure is retried, anything else becomes a failed row at once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import flows.ingest
from flows.ingest import run_ingest
from pipeline.config import Settings
from pipeline.errors import TransientError
from schemas import Document, ExtractionRecord

pytestmark = pytest.mark.e2e


def test_transient_failure_is_retried_then_succeeds(
    simple_invoice_pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = flows.ingest.process_document
    calls: list[str] = []

    def flaky(
        document: Document,
        settings: Settings,
        out_dir: Path | None = None,
        vlm: object = None,
        vendors: object = None,
    ) -> ExtractionRecord:
        calls.append(document.document_id)
        if len(calls) == 1:
            raise TransientError("tesseract was busy")
        return real(document, settings, out_dir, vlm=vlm, vendors=vendors)  # type: ignore[arg-type]

    monkeypatch.setattr(flows.ingest, "process_document", flaky)
    summary = run_ingest([str(simple_invoice_pdf)], str(tmp_path / "out"), Settings(workers=1))
    assert len(calls) == 2
    assert summary.counts.get("failed", 0) == 0
    frame = pd.read_parquet(tmp_path / "out" / "invoices")
    assert frame["invoice_number"].tolist() == ["INV-2024-0042"]


def test_unexpected_crash_is_not_retried_and_leaves_a_failed_row(
    simple_invoice_pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def broken(
        document: Document,
        settings: Settings,
        out_dir: Path | None = None,
        vlm: object = None,
        vendors: object = None,
    ) -> ExtractionRecord:
        calls.append(document.document_id)
        raise ValueError("a bug in a stage")

    monkeypatch.setattr(flows.ingest, "process_document", broken)
    summary = run_ingest([str(simple_invoice_pdf)], str(tmp_path / "out"), Settings(workers=1))
    assert len(calls) == 1
    assert summary.counts == {"failed": 1}
    frame = pd.read_parquet(tmp_path / "out" / "invoices")
    assert frame["status"].tolist() == ["failed"]
    assert "a bug in a stage" in frame["error"].iloc[0]
