"""Issue 15: the temporary Prefect server dies with its run, even when the run is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _server_children(run: psutil.Process) -> list[psutil.Process]:
    try:
        return [child for child in run.children(recursive=True) if "uvicorn" in " ".join(child.cmdline())]
    except psutil.Error:
        return []


def test_no_prefect_server_outlives_a_killed_run(tmp_path: Path, simple_invoice_pdf: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(PYTHONPATH=str(ROOT), PREFECT_HOME=str(tmp_path / "prefect"), LEDGERLENS_PREFECT_LOCAL_URL="")
    command = [sys.executable, "-m", "flows.cli", "run", str(simple_invoice_pdf), "--out", str(tmp_path / "out")]
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 300
        while not servers and run.poll() is None and time.monotonic() < deadline:
            servers = _server_children(psutil.Process(run.pid))
            time.sleep(0.05)
        assert servers, "the run started no temporary Prefect server"
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        _gone, alive = psutil.wait_procs(servers, timeout=30)
        assert not alive, f"a Prefect server outlived its killed run: {[server.pid for server in alive]}"
    finally:
        for server in servers:
            if server.is_running():
                server.kill()
        if run.poll() is None:
            run.kill()
