"""Issue 15: the temporary Prefect server dies with its run, even when the run is killed with SIGKILL."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
from packaging.version import Version

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


def test_a_temporary_server_skips_start_up_work_once_its_database_is_current(
    tmp_path: Path, simple_invoice_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first temporary server migrates the database and registers the block types; later ones skip both
    (and the check behind block registration) and still run the flow to its rows."""
    from flows.runtime import _TEMPORARY_SERVER_SERVICES_OFF, _server_environment

    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(PYTHONPATH=str(ROOT), PREFECT_HOME=str(tmp_path / "prefect"), LEDGERLENS_PREFECT_LOCAL_URL="")
    monkeypatch.setenv("PREFECT_HOME", env["PREFECT_HOME"])
    skipped = ("PREFECT_API_DATABASE_MIGRATE_ON_START", "PREFECT_API_BLOCKS_REGISTER_ON_START")
    assert not any(_server_environment().get(name) == "false" for name in skipped)  # a fresh home: do the work
    for attempt in ("first", "second"):
        out = tmp_path / f"out-{attempt}"
        command = [sys.executable, "-m", "flows.cli", "run", str(simple_invoice_pdf), "--out", str(out), "--quiet"]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr
        assert [path.name for path in (out / "invoices").rglob("*.parquet")], f"the {attempt} run wrote no row"
        assert all(_server_environment().get(name) == "false" for name in skipped), attempt
        # Its history is never looked at: it ran the flow without storing events and task runs.
        assert all(_server_environment().get(name) == "false" for name in _TEMPORARY_SERVER_SERVICES_OFF)


def test_concurrent_runs_on_a_fresh_home_each_get_a_temporary_server_with_its_own_database(
    tmp_path: Path, simple_invoice_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs started at once used to share one SQLite file: on a fresh home their servers migrated it at the same
    time and one failed ("index ... already exists"). Now the first start makes a migrated template while the
    others wait for it, each server runs on a copy of its own, and the copies are gone when the runs end."""
    from flows.runtime import _template_database, start_temporary_server

    home = tmp_path / "prefect"
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(PYTHONPATH=str(ROOT), PREFECT_HOME=str(home), LEDGERLENS_PREFECT_LOCAL_URL="")
    run_one = [sys.executable, "-m", "flows.cli", "run", str(simple_invoice_pdf), "--quiet", "--out"]
    commands = [[*run_one, str(tmp_path / f"out-{n}")] for n in range(3)]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    errors = [run.communicate(timeout=900)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], errors
    for n in range(3):
        assert [path.name for path in (tmp_path / f"out-{n}" / "invoices").rglob("*.parquet")], f"run {n} wrote no row"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    assert _template_database().exists()
    assert not (home / "prefect.db").exists()  # no server used the shared file
    assert list((home / "servers").iterdir()) == []  # each run removed its server's copy

    first, second = start_temporary_server(wait=False), start_temporary_server(wait=False)
    try:
        first.wait_until_ready()
        second.wait_until_ready()
        assert first.database is not None and second.database is not None
        assert first.database != second.database and first.database.exists() and second.database.exists()
        # Each is Prefect's app built by our launcher (its heap frozen, flows/uvicorn_server.py), not bare uvicorn.
        for server in (first, second):
            assert server.process is not None
            assert psutil.Process(server.process.pid).cmdline()[1:3] == ["-m", "flows.uvicorn_server"]
        databases = [first.database.parent, second.database.parent]
    finally:
        first.stop()
        second.stop()
    assert not any(folder.exists() for folder in databases)


@pytest.fixture
def version_server() -> Iterator[Callable[[bytes], str]]:
    """A loopback stand-in for a local Prefect server's /api/admin/version; set what it answers, get its URL."""
    answer = [b'"0"']

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/api/admin/version" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer[0])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def answering(body: bytes) -> str:
        answer[0] = body
        return f"http://127.0.0.1:{server.server_address[1]}/api"

    yield answering
    server.shutdown()
    server.server_close()


def test_a_local_server_is_version_checked_once_by_the_run_not_by_each_prefect_client(
    version_server: Callable[[bytes], str], caplog: pytest.LogCaptureFixture
) -> None:
    """Prefect's check, done once with the standard library (its clients each repeated it with a TLS context of their
    own): another major version stops the run with what to do, an older one is a warning, and an answer that is not a
    version leaves the check to Prefect's clients."""
    from flows.runtime import check_server_version
    from pipeline.errors import ConfigError

    installed = Version(importlib.metadata.version("prefect"))
    assert check_server_version(version_server(json.dumps(str(installed)).encode()))
    assert not caplog.records
    with pytest.raises(ConfigError, match="major versions must match"):
        check_server_version(version_server(json.dumps(f"{installed.major - 1}.20.0").encode()))
    assert check_server_version(version_server(json.dumps(f"{installed.major}.0.0").encode())) is True
    assert [record.levelname for record in caplog.records] == ["WARNING"] and "older" in caplog.text
    assert check_server_version(version_server(b"<html>not a version</html>")) is False
