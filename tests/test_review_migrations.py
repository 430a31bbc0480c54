"""Versioned schema migrations of the review database, on both stores: the version reached is recorded, a
reopen runs nothing again, concurrent first opens migrate once, and a queue file written before versioning
(today's review.sqlite) is upgraded in place with its decisions kept and not published twice."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from pipeline.review import open_review_store
from pipeline.review.database import SCHEMA_VERSION, connect
from schemas import ReviewState
from tests.review_fixtures import doc_id

# The queue table as Ledgerlens created it before the schema was versioned.
_UNVERSIONED = """
CREATE TABLE review_items (
    document_id TEXT PRIMARY KEY, source TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'in_review', 'approved', 'corrected', 'rejected')),
    confidence REAL NOT NULL, amount TEXT, amount_sort REAL, currency TEXT, reasons TEXT NOT NULL,
    reason_codes TEXT NOT NULL, issues TEXT NOT NULL, fields TEXT NOT NULL, invoice TEXT NOT NULL,
    page_images TEXT NOT NULL, draft TEXT, corrected TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    claimed_by TEXT, lease_expires_at TEXT, reviewer TEXT, decided_at TEXT, decision TEXT,
    changes TEXT NOT NULL DEFAULT '[]', note TEXT
);
CREATE INDEX review_items_open ON review_items (state, amount_sort DESC, created_at);
"""
_NOW = "2026-01-01T09:00:00.000000+00:00"


def test_version_is_recorded_and_reopening_migrates_nothing(review_db: str) -> None:
    database = connect(review_db)
    assert database.schema_version() == SCHEMA_VERSION
    assert database.migrate() == SCHEMA_VERSION  # already there: no step ran


def test_concurrent_first_opens_migrate_once(review_db: str) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            connect(review_db).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and connect(review_db).schema_version() == SCHEMA_VERSION


def test_an_unversioned_sqlite_queue_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(_UNVERSIONED)
        for n, state, decided in ((1, "pending", None), (2, "approved", _NOW)):
            old.execute(
                "INSERT INTO review_items (document_id, source, state, confidence, reasons, reason_codes, issues,"
                " fields, invoice, page_images, created_at, updated_at, reviewer, decided_at, decision)"
                " VALUES (?, 'in.pdf', ?, 0.5, '[]', '[]', '[]', '{}', '{}', '[]', ?, ?, ?, ?, ?)",
                (doc_id(n), state, _NOW, _NOW, "ana" if decided else None, decided, "approved" if decided else None),
            )
    store = open_review_store(path)
    assert store.database.schema_version() == SCHEMA_VERSION
    assert store.get(doc_id(2)).state is ReviewState.APPROVED and store.get(doc_id(1)).state is ReviewState.PENDING
    assert store.unpublished() == []  # written to reviews/ by the old code as it was decided
    assert store.claim_next("ben") is not None and store.accounts().users() == []
