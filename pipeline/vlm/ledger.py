"""The run's shared counters: budget reservations, spend and VLM totals, kept where every worker sees them.

A run is one flow run, but its documents may be processed by threads, by worker processes or by Dask
workers. `MemoryLedger` serves one process; `FileLedger` is one small JSON file updated under an OS file
lock (fcntl.flock on a sibling `.lock` file), so every process on the machine (the `processes` runner, a
local Dask cluster) reads and changes the same numbers. A FileLedger pickles as its path, so it travels
with the task arguments. On a remote Dask cluster the file must be on a folder every worker mounts (set
LEDGERLENS_SCRATCH_DIR to a shared file system with working POSIX locks, e.g. NFSv4); otherwise each
machine would count alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

State = dict[str, Any]


class Ledger(Protocol):
    """Counters changed atomically: `update` applies `change` to the state and returns what it returns."""

    def update(self, change: Callable[[State], T]) -> T: ...


class MemoryLedger:
    """The counters of a run whose documents all run in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: State = {}

    def update(self, change: Callable[[State], T]) -> T:
        with self._lock:
            return change(self._state)


class FileLedger:
    """The counters of a run shared by every process that can open `path` (one JSON object)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = Path(state["path"])
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, open(self.path.with_name(self.path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update(self, change: Callable[[State], T]) -> T:
        with self._locked():
            try:
                state: State = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                state = {}
            result = change(state)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(state), encoding="utf-8")
            os.replace(temporary, self.path)
            return result

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".lock").unlink(missing_ok=True)
