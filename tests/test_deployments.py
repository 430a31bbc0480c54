"""Deployments for real: scripts/deploy.sh starts a local Prefect server and registers deployments/prefect.yaml,
then a run of the scheduled ingest-inbox deployment is executed by `prefect worker start --run-once` against
moto's S3 server. About 40 s on 2 cores (server start ~10 s, deploy, worker run ~10 s), so it runs in CI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from devtools.samples import generate_sample
from pipeline.config import Settings
from pipeline.storage import s3_filesystem
from tests.s3_support import bucket, moto_s3, s3  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_deploy_script_registers_deployments_and_a_worker_runs_the_inbox_ingestion(
    bucket: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from prefect.client.orchestration import SyncPrefectClient

    (tmp_path / "samples").mkdir()
    samples = [generate_sample(tmp_path / "samples", index, seed=3) for index in (0, 2)]
    client = s3()
    for path in samples:
        client.upload_file(str(path), bucket, f"incoming/{path.name}")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_") or key == "PREFECT_HOME"}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "LEDGERLENS_HOME": str(ROOT),
            "LEDGERLENS_VENV": str(Path(sys.executable).parent.parent),
            "LEDGERLENS_DEPLOY_STATE": str(tmp_path / "deploy"),
            "LEDGERLENS_PREFECT_PORT": str(port),
            "LEDGERLENS_INBOX": f"s3://{bucket}/incoming",
            "LEDGERLENS_ARCHIVE": f"s3://{bucket}/processed",
            "LEDGERLENS_OUT": f"s3://{bucket}/lake",
            "LEDGERLENS_BACKFILL_SOURCE": f"s3://{bucket}/history",
            "XDG_STATE_HOME": str(tmp_path / "state"),
        }
    )
    prefect = str(Path(sys.executable).parent / "prefect")
    deploy = subprocess.Popen(
        [str(ROOT / "scripts" / "deploy.sh"), "--no-worker"],
        env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        output, _ = deploy.communicate(timeout=240)
        assert deploy.returncode == 0, output
        with SyncPrefectClient(api=api) as prefect_client:
            inbox = prefect_client.read_deployment_by_name("ingest-inbox/ingest-inbox")
            backfill = prefect_client.read_deployment_by_name("backfill/backfill")
        assert [schedule.schedule.cron for schedule in inbox.schedules] == ["*/15 * * * *"]  # type: ignore[union-attr]
        assert inbox.parameters["inbox"] == f"s3://{bucket}/incoming"
        assert backfill.parameters["source"] == f"s3://{bucket}/history" and backfill.work_pool_name == "ledgerlens"

        started = subprocess.run(
            [prefect, "deployment", "run", "ingest-inbox/ingest-inbox"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        worker = subprocess.run(
            [prefect, "worker", "start", "--pool", "ledgerlens", "--run-once"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        with SyncPrefectClient(api=api) as prefect_client:
            runs = prefect_client.read_flow_runs()
        states = [run.state.type.value for run in runs if run.state]
        # The deployment's run and its ingest-batch subflow completed; the cron schedule queued future runs.
        assert sorted(state for state in states if state != "SCHEDULED") == ["COMPLETED", "COMPLETED"], states
        assert any(run.deployment_id == inbox.id and run.state_type.value == "SCHEDULED" for run in runs)
    finally:
        os.killpg(deploy.pid, signal.SIGTERM)  # the server started by deploy.sh is in its process group

    rows = ds.dataset(f"{bucket}/lake/invoices", filesystem=s3_filesystem(Settings()), format="parquet").to_table()
    assert sorted(rows.column("source").to_pylist()) == sorted(f"s3://{bucket}/incoming/{p.name}" for p in samples)
    moved = {item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix="processed/")["Contents"]}
    assert moved == {f"processed/{p.name}" for p in samples}
    assert client.list_objects_v2(Bucket=bucket, Prefix="incoming/").get("KeyCount") == 0
