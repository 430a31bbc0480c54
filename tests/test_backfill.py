"""Backfill: SIGKILL mid-run and resume against moto's S3 server; artifacts; the ingest flow on a Dask cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from devtools.samples import generate_sample
from flows.backfill import backfill
from flows.ingest import run_ingest
from pipeline.config import Settings
from pipeline.storage import s3_filesystem
from tests.s3_support import bucket, moto_s3, s3  # noqa: F401

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


def rows(uri: str, columns: list[str]) -> list[dict[str, object]]:
    try:
        dataset = ds.dataset(uri.removeprefix("s3://"), filesystem=s3_filesystem(Settings()), format="parquet")
        return dataset.to_table(columns=columns).to_pylist()
    except (FileNotFoundError, OSError, ValueError):
        return []  # nothing written yet


@pytest.fixture(scope="module")
def born_digital_dozen(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("backfill-samples")
    return [generate_sample(folder, index, seed=17) for index in range(0, 24, 2)]


@pytest.mark.timeout(400)
def test_backfill_killed_with_sigkill_then_resumed_has_one_row_per_input(
    bucket: str,  # noqa: F811
    born_digital_dozen: list[Path],
    tmp_path: Path,
) -> None:
    client = s3()
    for path in born_digital_dozen:
        client.upload_file(str(path), bucket, f"archive/2023/{path.name}")
    source, out = f"s3://{bucket}/archive", f"s3://{bucket}/lake"
    command = [sys.executable, "-m", "flows.cli", "backfill", source, "--out", out, "--chunk-size", "2", "--quiet"]
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "LEDGERLENS_WORKERS": "2"}

    first = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    written: list[dict[str, object]] = []
    while time.monotonic() < deadline and first.poll() is None:
        written = rows(f"{out}/invoices", ["document_id"])
        if len(written) >= 2:
            break
        time.sleep(0.1)
    assert first.poll() is None, "the backfill ended before it could be killed; the test proves nothing"
    os.killpg(first.pid, signal.SIGKILL)  # the CLI, its Prefect server and anything else it started
    first.wait(timeout=30)
    after_kill = len(rows(f"{out}/invoices", ["document_id"]))
    assert 2 <= after_kill < len(born_digital_dozen)

    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    invoices = rows(f"{out}/invoices", ["document_id", "source", "status"])
    expected = sorted(f"{source}/2023/{path.name}" for path in born_digital_dozen)
    assert sorted(str(row["source"]) for row in invoices) == expected
    assert len({row["document_id"] for row in invoices}) == len(expected)
    items = rows(f"{out}/line_items", ["document_id", "line_no"])
    assert items and len({(row["document_id"], row["line_no"]) for row in items}) == len(items)
    fields = rows(f"{out}/fields", ["document_id", "field"])
    assert len({(row["document_id"], row["field"]) for row in fields}) == len(fields)
    assert "skipped (already in output)" in resumed.stdout
    skipped_line = next(line for line in resumed.stdout.splitlines() if "skipped (already in output)" in line)
    assert int(skipped_line.split()[-2]) >= after_kill


@pytest.mark.timeout(300)
def test_backfill_flow_publishes_progress_and_summary_and_respects_limits(
    born_digital_dozen: list[Path], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    folder = born_digital_dozen[0].parent
    out = tmp_path / "out"
    seen: list[tuple[int, int]] = []
    summary = backfill(
        str(folder), str(out), chunk_size=2, max_docs=3, settings=Settings(workers=2, review_db=tmp_path / "r.db"),
        on_progress=lambda done, total, record: seen.append((done, total)),
    )  # fmt: skip
    assert summary.listed == 3 and summary.chunks == 2 and summary.processed == 3
    assert ds.dataset(str(out / "invoices"), format="parquet").count_rows() == 3
    assert seen[-1] == (3, 3)
    with get_client(sync_client=True) as client:
        progress = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["backfill-progress"])),
            sort=ArtifactSort.CREATED_DESC,
        )
        summaries = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["backfill-summary"])),
            sort=ArtifactSort.CREATED_DESC,
        )
    # The Prefect database outlives one test (and one run of the suite): read the newest artifacts first, since
    # the API returns a page at a time, and keep this run's (they name its output folder).
    progress = [artifact for artifact in progress if str(out) in f"{artifact.description} {artifact.data}"]
    summaries = [artifact for artifact in summaries if str(out) in f"{artifact.description} {artifact.data}"]
    assert progress and all(float(artifact.data) == 100.0 for artifact in progress)  # type: ignore[arg-type]
    assert summaries and "inputs listed: 3 in 2 chunks" in str(summaries[0].data)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("runner", ["dask", "processes"])
def test_ingest_flow_on_a_local_dask_cluster_with_two_workers_or_on_processes(
    runner: str, born_digital_dozen: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    inputs = [str(path) for path in born_digital_dozen[:3]] + [str(bad)]
    seen: list[int] = []
    summary = run_ingest(
        inputs,
        str(tmp_path / "out"),
        Settings(task_runner=runner, workers=2, review_db=tmp_path / "review.sqlite"),  # type: ignore[arg-type]
        on_progress=lambda done, total, record: seen.append(done),
    )
    table = ds.dataset(str(tmp_path / "out" / "invoices"), format="parquet").to_table().to_pylist()
    assert sorted(Path(str(row["source"])).name for row in table) == sorted(Path(i).name for i in inputs)
    assert {str(row["source"]): row["status"] for row in table}[str(bad)] == "failed"
    assert summary.processed == 4 and seen[-1] == 4
