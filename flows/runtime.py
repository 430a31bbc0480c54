"""Prefect settings for a quiet local run, and the API server a run talks to. Must run before prefect is imported.

A run uses, in order: the server `PREFECT_API_URL` names; a server already answering on this machine at
`LEDGERLENS_PREFECT_LOCAL_URL` (default http://127.0.0.1:4200/api, what `prefect server start` listens on);
else a temporary server started here as a child of the run, in its own process group, that dies with the run:
stopped at exit, and killed by the kernel if the run itself is killed (even with SIGKILL). It is killed, not asked
to stop: a server shutting down gracefully with nobody left to serve still held its SQLite database while the
next run's server tried to start on it (SQLite recovers from a killed writer).

Each temporary server has a database of its own, a copy of a migrated template kept in PREFECT_HOME, removed when
its run ends: servers of concurrent runs sharing one SQLite file raced on the first migration ("index … already
exists": the run failed) and waited on each other's writes, and the shared file only grew (362 MB here).
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import gc
import importlib.metadata
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
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
_CLIENT_VERSION_CHECK = "PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED"
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
    database: Path | None = None  # a temporary server's own database file (None: Prefect's configured one)
    template_lock: int | None = None  # held while this server makes the template (the first start of a version)

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
        if self.database is not None and self.template_lock is not None:
            keep_as_template(self.database)
        self._release_template_lock()
        self.startup_seconds = time.perf_counter() - self.started_at

    def stop(self) -> None:
        """Stop a temporary server (its whole process group) and remove its database; a configured or shared
        server is left alone."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        self._release_template_lock()
        database, self.database = self.database, None
        if database is not None:
            shutil.rmtree(database.parent, ignore_errors=True)

    def _release_template_lock(self) -> None:
        lock, self.template_lock = self.template_lock, None
        if lock is not None:
            os.close(lock)  # releases the flock


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


@contextmanager
def long_lived_imports() -> Iterator[None]:
    """Import what a run keeps for its whole life without the cyclic garbage collector, then freeze it.

    Importing Prefect, pydantic's models and the pipeline allocates about 190,000 tracked objects that live until the
    process ends; the collector walked them three times over while they were being imported, and every later full
    collection of a long run walked them again. Frozen (`gc.freeze`), later collections skip them. The few
    thousand import-time cycles that are garbage (about 9,000 objects) stay in memory with them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


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
        if check_server_version(local):
            os.environ.setdefault(_CLIENT_VERSION_CHECK, "false")
        return PrefectApi(local, "local", time.perf_counter() - started)
    api = start_temporary_server(wait=wait)
    os.environ["PREFECT_API_URL"] = api.url
    os.environ.setdefault(_CLIENT_VERSION_CHECK, "false")  # the server is this interpreter's own Prefect
    return api


def check_server_version(url: str, timeout_s: float = 2.0) -> bool:
    """Prefect's client check of the server's version, done once here: True when it passed (the server runs this
    major version; an older one is only warned about, as Prefect does), False when the version could not be read
    (Prefect's own check then runs). Prefect's clients each made it again, with a TLS context of their own (about
    0.1 s of CPU and two round trips of every run), even for a plain-HTTP server on this machine."""
    from packaging.version import InvalidVersion, Version

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/admin/version", timeout=timeout_s) as response:
            server = Version(json.loads(response.read()))
    except (urllib.error.URLError, OSError, ValueError, TypeError, InvalidVersion):
        return False
    client = Version(importlib.metadata.version("prefect"))
    if server.major != client.major:
        raise ConfigError(
            f"The Prefect server at {url} runs Prefect {server}, this run Prefect {client}: major versions must match. "
            "Run a server of this version, or set LEDGERLENS_PREFECT_LOCAL_URL= (empty) to use a temporary one."
        )
    if server < client:
        logging.getLogger(__name__).warning(
            "The Prefect server at %s runs Prefect %s, older than this run's %s, which may behave unexpectedly. "
            "Upgrade the server.", url, server, client,
        )  # fmt: skip
    return True


def _die_with_parent() -> None:
    """In the server's child process, before exec: own process group, SIGKILL when the run dies."""
    os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_environment(database: Path | None = None) -> dict[str, str]:
    """Prefect's ephemeral-server settings on `database` (unless a database URL is configured), minus the database
    migration and block registration once a migrated template exists for this version."""
    # Not PREFECT__SERVER_FINAL: with FastAPI 0.137+ it only adds a full garbage collection of the fresh server's
    # heap (about 0.5 s CPU of every start) and reclaims nothing.
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
    env.pop("PREFECT_API_URL", None)
    for setting in _TEMPORARY_SERVER_SERVICES_OFF:
        env.setdefault(setting, "false")
    if database is not None:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{database}"
    if _template_database().exists():  # its copy is migrated and holds the block types
        env.setdefault("PREFECT_API_DATABASE_MIGRATE_ON_START", "false")
        env.setdefault("PREFECT_API_BLOCKS_REGISTER_ON_START", "false")
        env.setdefault("PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION", "false")  # its check alone imports every block type
    return env


def _prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))


def _template_database() -> Path:
    """A migrated database with the block types registered and no runs: each temporary server starts on a copy."""
    return _prefect_home() / f"ledgerlens-server-{importlib.metadata.version('prefect')}.db"


def private_database() -> tuple[Path, int | None]:
    """A database file for one temporary server, in a folder named after this process: a copy of the template, or a
    path where the server creates and migrates one (the first start of a Prefect version), with the lock on making
    the template, held until `keep_as_template`: a concurrent first start waits for it and copies it rather than
    migrate at the same time. Folders of processes that are gone (a run killed with SIGKILL) are removed first."""
    servers = _prefect_home() / "servers"
    servers.mkdir(parents=True, exist_ok=True)
    for folder in servers.iterdir():
        owner = folder.name.split("-", 1)[0]
        if not (owner.isdigit() and _process_alive(int(owner))):
            shutil.rmtree(folder, ignore_errors=True)
    database = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=servers)) / "prefect.db"
    template = _template_database()
    lock = None if template.exists() else _lock_template()
    if lock is not None and template.exists():  # made by the start this one waited for
        os.close(lock)
        lock = None
    if template.exists():
        shutil.copyfile(template, database)
    return database, lock


def _lock_template() -> int:
    """An exclusive lock on making the template (waits while another process makes it; released when the file
    descriptor is closed, also by the kernel when its process dies)."""
    lock = os.open(_prefect_home() / ".ledgerlens-template.lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    return True


def keep_as_template(database: Path) -> None:
    """Keep a consistent copy of a server's freshly migrated database as the template (SQLite's online backup, then
    an atomic rename: concurrent first starts each write a whole template, and the last one stays)."""
    template = _template_database()
    if template.exists():
        return
    partial = template.with_name(f".{template.name}.{os.getpid()}")
    try:
        with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(partial)) as target:
            source.backup(target)
        partial.replace(template)
    except (sqlite3.Error, OSError):
        partial.unlink(missing_ok=True)  # the next run tries again


def start_temporary_server(*, wait: bool = True) -> PrefectApi:
    """Start Prefect's API (uvicorn) as our child; it dies with this process. With wait=False it boots while the
    caller imports Prefect and the flows; call `wait_until_ready` before the first flow."""
    port = _free_port()
    command = [sys.executable, "-m", "flows.uvicorn_server", "--host", "127.0.0.1", "--port", str(port)]
    database, lock = (None, None) if os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") else private_database()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=_server_environment(database), preexec_fn=_die_with_parent)
    api = PrefectApi(f"http://127.0.0.1:{port}/api", "temporary", 0.0, process, started, database, lock)
    atexit.register(api.stop)
    if wait:
        api.wait_until_ready()
    return api
