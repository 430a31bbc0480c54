"""Prefect settings for a quiet local run, and the API server a run talks to. Must run before prefect is imported.

A run uses, in order: the server `PREFECT_API_URL` names; a server already answering on this machine at
`LEDGERLENS_PREFECT_LOCAL_URL` (default http://127.0.0.1:4200/api, what `prefect server start` listens on);
else a temporary server started here as a child of the run, in its own process group, that dies with the run:
stopped at exit, and killed by the kernel if the run itself is killed (even with SIGKILL). It is killed, not asked
to stop: a server shutting down gracefully with nobody left to serve still held its SQLite database while the
next run's server tried to start on it (SQLite recovers from a killed writer).
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

_DEFAULTS = {
    # A fresh ephemeral API server took 23.6 s to start on a 2-core machine, past Prefect's 20 s default.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    # Its telemetry hit "database is locked" on SQLite; nothing here needs it.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOGGERS_PREFECT_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    # Prefect's client-side telemetry (milestones, a first-run notice, events sent to Prefect): nothing here needs it,
    # and a run is offline by default.
    "DO_NOT_TRACK": "1",
}
# Nobody can look at a temporary server's history (no UI, and it is gone when the run ends): it does not store
# events and task runs or evaluate automations, work its services did for every task state change.
_TEMPORARY_SERVER_SERVICES_OFF = (
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",  # automations and their actions
)
LOCAL_API_URL = "http://127.0.0.1:4200/api"
_PR_SET_PDEATHSIG = 1


def configure_prefect_environment(home: Path | None = None) -> None:
    """Fill in Prefect's environment unless the user set it (a configured server URL is respected)."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "PREFECT_HOME" not in os.environ:
        state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
        os.environ["PREFECT_HOME"] = str(home or state / "ledgerlens" / "prefect")
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    # The workers already fill the cores; OpenCV's own thread pool on top cost 12% more CPU in preprocessing
    # (14 generated scan pages: 5.7 s against 5.0 s). Read when cv2 is first imported.
    os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")


@dataclass
class PrefectApi:
    """The API a run talks to: where it is, how it was found, and how long finding or starting it took."""

    url: str
    origin: str  # "configured", "local" (already running here) or "temporary" (started for this run)
    startup_seconds: float
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # perf_counter() when a temporary server was launched

    def wait_until_ready(self, timeout_s: float | None = None) -> None:
        """Wait for a temporary server to answer (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS by default)."""
        process = self.process
        if process is None or self.startup_seconds:
            return
        limit = timeout_s or float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))
        while not api_healthy(self.url):
            if process.poll() is not None or time.perf_counter() - self.started_at > limit:
                self.stop()
                raise ConfigError(
                    f"The temporary Prefect server did not start within {limit:.0f} s (exit code {process.poll()}). "
                    "Start one with `prefect server start` or set PREFECT_API_URL, then run again."
                )
            time.sleep(0.1)
        _migrated_marker().touch()
        self.startup_seconds = time.perf_counter() - self.started_at

    def stop(self) -> None:
        """Stop a temporary server (its whole process group); a configured or shared server is left alone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


class _RefusePandas:
    """An import finder under which `import pandas` fails (see `keep_pandas_unloaded`)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas":
            raise ImportError("pandas is not loaded by a ledgerlens run")


def keep_pandas_unloaded() -> None:
    """Load pyarrow's array and dataset modules while `import pandas` fails. pyarrow imports pandas when its dataset
    module loads and at its first array, only to recognise pandas objects, which a run never hands it: 0.4 s of
    CPU and 34 MB of every run. pyarrow then treats pandas as absent for such checks, and still imports it when
    pandas is really asked for (`Table.to_pandas`). Call before anything imports pyarrow.dataset; no-op after."""
    if "pandas" in sys.modules or "pyarrow.dataset" in sys.modules:
        return
    sys.meta_path.insert(0, _RefusePandas)
    try:
        import pyarrow.dataset  # noqa: F401
        from pyarrow.lib import _pandas_api

        _pandas_api.have_pandas  # noqa: B018 (the first check: pyarrow remembers its answer)
    finally:
        sys.meta_path.remove(_RefusePandas)


def preload_flow_engine() -> None:
    """Import what the first flow call imports lazily (Prefect's flow engine and graph helpers, and FastAPI's encoder,
    which Prefect uses on the flow's parameters): called while a temporary server boots, that 0.35 s of CPU is off the
    run's path. Call after `use_prefect_api`."""
    import fastapi.encoders  # noqa: F401
    import prefect.flow_engine
    import prefect.utilities.visualization  # noqa: F401


def api_healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def use_prefect_api(*, wait: bool = True) -> PrefectApi:
    """Point this process at a Prefect API (see the module doc) and return it; call before importing prefect.
    With wait=False a temporary server boots while the caller goes on (then call `wait_until_ready`)."""
    started = time.perf_counter()
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        return PrefectApi(configured, "configured", time.perf_counter() - started)
    local = os.environ.get("LEDGERLENS_PREFECT_LOCAL_URL", LOCAL_API_URL)
    if local and api_healthy(local):
        os.environ["PREFECT_API_URL"] = local
        return PrefectApi(local, "local", time.perf_counter() - started)
    api = start_temporary_server(wait=wait)
    os.environ["PREFECT_API_URL"] = api.url
    return api


def _die_with_parent() -> None:
    """In the server's child process, before exec: own process group, SIGKILL when the run dies."""
    os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_environment() -> dict[str, str]:
    """Prefect's ephemeral-server settings, minus the database migration and block registration once they have
    run for this version."""
    # Not PREFECT__SERVER_FINAL: with FastAPI 0.137+ it only adds a full garbage collection of the fresh server's
    # heap (about 0.5 s CPU of every start) and reclaims nothing.
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
    env.pop("PREFECT_API_URL", None)
    for setting in _TEMPORARY_SERVER_SERVICES_OFF:
        env.setdefault(setting, "false")
    if _migrated_marker().exists():  # the first start migrated the database and registered the block types
        env.setdefault("PREFECT_API_DATABASE_MIGRATE_ON_START", "false")
        env.setdefault("PREFECT_API_BLOCKS_REGISTER_ON_START", "false")
        env.setdefault("PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION", "false")  # its check alone imports every block type
    return env


def _migrated_marker() -> Path:
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
    return home / f".ledgerlens-migrated-{importlib.metadata.version('prefect')}"


def start_temporary_server(*, wait: bool = True) -> PrefectApi:
    """Start Prefect's API (uvicorn) as our child; it dies with this process. With wait=False it boots while the
    caller imports Prefect and the flows; call `wait_until_ready` before the first flow."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=_server_environment(), preexec_fn=_die_with_parent)
    api = PrefectApi(f"http://127.0.0.1:{port}/api", "temporary", 0.0, process, started)
    atexit.register(api.stop)
    if wait:
        api.wait_until_ready()
    return api
