"""Prefect settings for a quiet, serverless local run. Must run before prefect is imported."""

from __future__ import annotations

import os
from pathlib import Path

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
}


def configure_prefect_environment(home: Path | None = None) -> None:
    """Fill in Prefect's environment unless the user set it (a configured server URL is respected)."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "PREFECT_HOME" not in os.environ:
        state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
        os.environ["PREFECT_HOME"] = str(home or state / "ledgerlens" / "prefect")
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
