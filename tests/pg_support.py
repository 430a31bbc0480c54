"""A real, throwaway PostgreSQL server for tests and benchmarks: Debian's binaries (`pg_config --bindir`),
`initdb` + `pg_ctl` on a data folder in a temporary directory, listening on 127.0.0.1 (a free port) and on a
Unix socket in the same folder. As root the server runs as the `postgres` user (PostgreSQL refuses root).
One server per pytest session (the `postgres_server` fixture in conftest.py); each test gets its own database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUPERUSER = "ledgerlens"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        found = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    else:  # Debian keeps each major version's server binaries here
        found = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/nonexistent"))
    if not (found / "initdb").exists() or not (found / "pg_ctl").exists():
        raise PostgresUnavailable(f"no initdb/pg_ctl in {found}: install Debian's postgresql (scripts/setup.sh does)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed: {result.stdout}\n{result.stderr}")


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a server; yields the URL of its `postgres` database as the superuser; stops and deletes it after."""
    binaries = bindir()
    home = Path(tempfile.mkdtemp(prefix="ledgerlens-pg-"))
    data, port = home / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
    try:
        _run([str(binaries / "initdb"), "-A", "trust", "-U", SUPERUSER, "-D", str(data), "--no-sync"])
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "server.log"), "-w", "start"])
        try:
            yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        finally:
            _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
