"""The review database: one SQLAlchemy engine for an embedded SQLite file or a PostgreSQL server, and the
versioned schema migrations both run.

``LEDGERLENS_REVIEW_DB`` is a path (SQLite, the one-machine default) or a ``postgresql://…`` URL (a team's
shared queue; psycopg 3 is the driver). Migrations are an ordered list of numbered steps; the version reached
is recorded in ``review_schema_version`` and every step runs once, in one transaction, under a lock
(PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so two processes starting at once never migrate twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.exc import OperationalError

from pipeline.errors import ConfigError
from pipeline.review.location import redact

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
metadata = MetaData()

review_items = Table(
    "review_items",
    metadata,
    Column("document_id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("state", Text, nullable=False, server_default="pending"),
    Column("confidence", Float, nullable=False),
    Column("amount", Text),
    Column("amount_sort", Float),
    Column("currency", Text),
    Column("reasons", Text, nullable=False),
    Column("reason_codes", Text, nullable=False),
    Column("issues", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("invoice", Text, nullable=False),
    Column("page_images", Text, nullable=False),
    Column("draft", Text),
    Column("corrected", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("claimed_by", Text),
    Column("lease_expires_at", Text),
    Column("reviewer", Text),
    Column("decided_at", Text),
    Column("decision", Text),
    Column("changes", Text, nullable=False, server_default="[]"),
    Column("note", Text),
    Column("published_at", Text),
)
Index("review_items_open", review_items.c.state, review_items.c.amount_sort.desc(), review_items.c.created_at)

review_users = Table(
    "review_users",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Text, nullable=False),
    Column("revoked_at", Text),
)

review_sessions = Table(
    "review_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("identity", String(80), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
)

version_table = Table("review_schema_version", metadata, Column("version", Integer, nullable=False))


def _v1_queue(connection: Connection) -> None:
    """The queue table (an older SQLite file already has it, without the later columns)."""
    if not inspect(connection).has_table("review_items"):
        review_items.create(connection)
        return
    columns = {column["name"] for column in inspect(connection).get_columns("review_items")}
    if "published_at" not in columns:
        connection.execute(text("ALTER TABLE review_items ADD COLUMN published_at TEXT"))
        # Decisions made before this version were written to reviews/ as they were made.
        connection.execute(text("UPDATE review_items SET published_at = decided_at WHERE decided_at IS NOT NULL"))


def _v2_accounts(connection: Connection) -> None:
    """Reviewer accounts (only a token's hash is kept) and sessions that outlive a server restart."""
    review_users.create(connection, checkfirst=True)
    review_sessions.create(connection, checkfirst=True)


MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "review queue", _v1_queue),
    (2, "reviewer accounts and sessions", _v2_accounts),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def sqlalchemy_url(location: str) -> str:
    """A SQLAlchemy URL for a review-db location: PostgreSQL through psycopg 3, anything else a SQLite file."""
    if is_postgres(location):
        rest = location.split("://", 1)[1]
        return f"postgresql+psycopg://{rest}"
    if "://" in location:
        raise ConfigError(
            f"LEDGERLENS_REVIEW_DB={location!r}: use a file path (SQLite) or a postgresql://user@host/db URL."
        )
    return f"sqlite:///{Path(location).resolve()}"


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30}, pool_size=8, max_overflow=16)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Writers take SQLite's write lock first, so two can never both read an item as free.
        immediate = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@dataclass
class ReviewDatabase:
    """An engine plus the one way to run a transaction on it."""

    location: str
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """Statements inside commit together or not at all; `write` takes SQLite's write lock up front."""
        with self.engine.connect().execution_options(write=write) as connection, connection.begin():
            yield connection

    def migrate(self) -> int:
        """Bring the schema to the newest version; returns the version it was at before."""
        with self.transaction(write=True) as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7316028)"))  # one migrator at a time
            version_table.create(connection, checkfirst=True)
            found = connection.execute(version_table.select()).scalar()
            current = int(found or 0)
            for number, _name, step in MIGRATIONS:
                if number > current:
                    step(connection)
            if found is None:
                connection.execute(version_table.insert().values(version=SCHEMA_VERSION))
            elif current < SCHEMA_VERSION:
                connection.execute(version_table.update().values(version=SCHEMA_VERSION))
        return current

    def schema_version(self) -> int:
        with self.transaction() as connection:
            return int(connection.execute(version_table.select()).scalar() or 0)

    def dispose(self) -> None:
        self.engine.dispose()


def _migrate_when_free(database: ReviewDatabase, attempts: int = 6) -> None:
    """Migrate, waiting out a SQLite file another process is creating at the same moment: switching a new file
    to WAL takes a lock that SQLite reports at once as "database is locked" instead of waiting for it."""
    for attempt in range(attempts):
        try:
            database.migrate()
            return
        except OperationalError as exc:
            if database.dialect != "sqlite" or "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2**attempt)


def connect(location: str) -> ReviewDatabase:
    """Open (and migrate) the review database at a path or a postgresql:// URL."""
    url = sqlalchemy_url(location)
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = _sqlite_engine(url)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    database = ReviewDatabase(location=location, engine=engine)
    try:
        _migrate_when_free(database)
    except Exception as exc:
        engine.dispose()
        raise ConfigError(f"Cannot open the review database {redact(location)}: {exc}") from exc
    return database
