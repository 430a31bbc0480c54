"""End to end: the real Prefect flow over generated invoices and bad inputs, then a rerun."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from devtools.evaluate import evaluate_output
from flows.ingest import run_ingest
from pipeline.config import Settings
from pipeline.review import SQLiteReviewStore

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ingested(sample_batch: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], object]:
    from tests.conftest import write_bad_inputs

    bad = tmp_path_factory.mktemp("bad")
    write_bad_inputs(bad)
    out = tmp_path_factory.mktemp("out")
    inputs = sorted(sample_batch.glob("*.pdf")) + sorted(bad.iterdir())
    seen: list[int] = []
    summary = run_ingest(
        [str(p) for p in inputs], str(out), Settings(workers=2), lambda done, total, rec: seen.append(done)
    )
    assert seen[-1] == len(inputs) - 1  # the two empty files are one document
    return out, inputs, summary


def test_every_input_has_exactly_one_row(ingested: tuple[Path, list[Path], object]) -> None:
    out, inputs, _ = ingested
    frame = pd.read_parquet(out / "invoices")
    accounted = [*frame["source"], *(s for dups in frame["duplicate_sources"] for s in dups)]
    assert sorted(accounted) == sorted(str(p) for p in inputs)  # empty.pdf and empty.png share bytes
    assert frame["document_id"].is_unique
    assert set(frame["status"]) <= {"accepted", "needs_review", "failed"}
    failed = frame[frame.status == "failed"]
    bad_names = {"empty.pdf", "notes.pdf", "truncated.pdf", "encrypted.pdf", "empty.png", "tiny.png"}
    failed_inputs = [*failed["source"], *(s for dups in failed["duplicate_sources"] for s in dups)]
    assert {Path(s).name for s in failed_inputs} >= bad_names
    assert failed["error"].notna().all()
    assert frame.loc[frame.status != "failed", "error"].isna().all()
    assert frame["confidence"].between(0, 1).all()


def test_line_items_and_review_queue_match_invoices(ingested: tuple[Path, list[Path], object]) -> None:
    out, _, _summary = ingested
    invoices = pd.read_parquet(out / "invoices")
    items = pd.read_parquet(out / "line_items")
    assert set(items["document_id"]) <= set(invoices["document_id"])
    per_doc = items.groupby("document_id").size()
    for row in invoices.itertuples():
        assert per_doc.get(row.document_id, 0) == row.line_item_count
    needs_review = int((invoices.status == "needs_review").sum())
    assert SQLiteReviewStore(out / "review.sqlite").count("pending") == needs_review
    reviewed = invoices[invoices.status == "needs_review"]
    assert all(len(reasons) > 0 for reasons in reviewed["review_reasons"])


def test_accuracy_on_generated_samples(ingested: tuple[Path, list[Path], object]) -> None:
    out, _, _ = ingested
    report = evaluate_output(out)
    assert report.groups["born_digital"].header_accuracy >= 0.95, report.mismatches
    assert report.groups["scanned"].header_accuracy >= 0.85, report.mismatches


def test_rerun_adds_no_rows(ingested: tuple[Path, list[Path], object]) -> None:
    out, inputs, _ = ingested
    before = {name: len(pd.read_parquet(out / name)) for name in ("invoices", "line_items", "fields")}
    summary = run_ingest([str(p) for p in inputs], str(out), Settings(workers=2))
    assert summary.processed == 0
    assert summary.skipped_existing == len(inputs) - 1
    after = {name: len(pd.read_parquet(out / name)) for name in ("invoices", "line_items", "fields")}
    assert after == before


def test_cli_usage_errors_exit_non_zero(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(tmp_path / "nope.pdf"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "input not found" in missing.stderr
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    unwritable = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(blocker), "--out", str(blocker / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unwritable.returncode != 0
    assert "output folder" in unwritable.stderr


def test_cli_run_prints_summary_and_exits_zero_with_a_failed_row(tmp_path: Path) -> None:
    from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf

    good = make_invoice_pdf(tmp_path / "good.pdf", SIMPLE_INVOICE)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(good), str(bad), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "pages/minute" in result.stdout
    assert "failed" in result.stdout
    frame = pd.read_parquet(tmp_path / "out" / "invoices")
    assert sorted(frame["status"]) == ["accepted", "failed"] or sorted(frame["status"]) == ["failed", "needs_review"]
    noisy = [line for line in result.stderr.splitlines() if line.strip()]
    assert noisy == [], noisy


def test_samples_cli_writes_truth(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "samples", str(tmp_path), "--count", "3", "--seed", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pdfs = sorted(tmp_path.glob("*.pdf"))
    assert len(pdfs) == 3
    for pdf in pdfs:
        truth = json.loads(pdf.with_name(f"{pdf.stem}.truth.json").read_text())
        assert truth["document"] == pdf.name


def test_run_scores_against_truth_only_when_asked(tmp_path: Path) -> None:
    from devtools.samples import generate_sample

    (tmp_path / "in").mkdir()
    pdf = generate_sample(tmp_path / "in", 0, seed=5)  # writes <stem>.truth.json beside it
    assert pdf.with_name(f"{pdf.stem}.truth.json").exists()
    command = [sys.executable, "-m", "flows.cli", "run", str(pdf), "--out", str(tmp_path / "out"), "--quiet"]
    plain = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert "pages/minute" in plain.stdout
    assert "all header" not in plain.stdout and "Auto-accepted" not in plain.stdout  # no truth read
    scored = subprocess.run([*command, "--score-truth"], capture_output=True, text=True, check=False, timeout=300)
    assert scored.returncode == 0, scored.stderr
    assert "all header" in scored.stdout  # the accuracy table's last row
    assert "Auto-accepted: 1/1 (" in scored.stdout


def test_run_publishes_counts_artifact(ingested: tuple[Path, list[Path], object]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:  # newest first: the Prefect database outlives one suite run
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-counts"])),
            sort=ArtifactSort.CREATED_DESC,
        )
    assert artifacts, "the flow should publish an ingest-counts table artifact"
    _, _, summary = ingested
    totals = []
    for artifact in artifacts:
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        totals.append(sum(row["documents"] for row in rows))
    assert summary.processed in totals  # type: ignore[attr-defined]


def test_prefect_shows_one_named_task_run_per_document(ingested: tuple[Path, list[Path], object]) -> None:
    """The flow run and its tasks stay visible in Prefect (the documents are handed to the tasks quoted): one
    completed `process-<source>` task run per processed document, under the fixture's ingest-batch flow run (the
    first with these inputs: the rerun test's comes later and runs no task)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    _, inputs, _ = ingested
    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["ingest-batch"])), sort=FlowRunSort.START_TIME_ASC
        )
        ours = next(run for run in flow_runs if run.parameters.get("inputs") == [str(p) for p in inputs])
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[ours.id])))
    first_source: dict[str, Path] = {}  # equal bytes are one document, named after its first source
    for path in inputs:
        first_source.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    processed = [run for run in task_runs if run.name.startswith("process-")]
    assert sorted(run.name for run in processed) == sorted(f"process-{path}" for path in first_source.values())
    assert all(run.state is not None and run.state.is_completed() for run in processed)
