"""The review queue store: one item per needs_review document, claimed under a lease, decided once.

``ReviewStore`` is the seam: the SQLite implementation below is the default (a file in the output folder
or ``Settings.review_db``); a server database would implement the same protocol behind a SQLAlchemy URL.

State machine::

    pending --claim--> in_review --approve--> approved | corrected (values changed)
       ^                  |       --reject---> rejected
       +----release-------+   (an expired lease counts as pending: anyone may claim it)

Every change runs in one transaction; claims and decisions take the write lock first (BEGIN IMMEDIATE)
so two reviewers can never both see an item as free and both take it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from pipeline.errors import ReviewConflictError, ReviewItemNotFoundError
from pipeline.storage import default_review_db
from schemas import (
    DECIDED_STATES,
    Decision,
    ExtractionRecord,
    FieldChange,
    FieldValue,
    Invoice,
    IssueCode,
    RecordStatus,
    ReviewCounts,
    ReviewItem,
    ReviewState,
    ValidationIssue,
)

DEFAULT_LEASE = timedelta(minutes=15)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewStore(Protocol):
    """What the queue offers, whatever database holds it."""

    def enqueue(self, records: Iterable[ExtractionRecord]) -> int: ...
    def get(self, document_id: str) -> ReviewItem: ...
    def resolve_id(self, id_or_prefix: str) -> str: ...
    def list_items(
        self, states: Iterable[ReviewState] | None = None, reason: str | None = None, limit: int | None = None
    ) -> list[ReviewItem]: ...
    def counts(self) -> ReviewCounts: ...
    def count(self, state: ReviewState | str | None = None) -> int: ...
    def claim(self, document_id: str, reviewer: str, lease: timedelta = DEFAULT_LEASE) -> ReviewItem: ...
    def claim_next(
        self, reviewer: str, lease: timedelta = DEFAULT_LEASE, reason: str | None = None, skip: str | None = None
    ) -> ReviewItem | None: ...
    def release(self, document_id: str, reviewer: str) -> None: ...
    def save_draft(
        self, document_id: str, reviewer: str, draft: Invoice, lease: timedelta = DEFAULT_LEASE
    ) -> ReviewItem: ...
    def decide(
        self,
        document_id: str,
        reviewer: str,
        decision: Decision,
        corrected: Invoice | None = None,
        changes: list[FieldChange] | None = None,
        note: str | None = None,
    ) -> ReviewItem: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_items (
    document_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'in_review', 'approved', 'corrected', 'rejected')),
    confidence REAL NOT NULL,
    amount TEXT,
    amount_sort REAL,
    currency TEXT,
    reasons TEXT NOT NULL,
    reason_codes TEXT NOT NULL,
    issues TEXT NOT NULL,
    fields TEXT NOT NULL,
    invoice TEXT NOT NULL,
    page_images TEXT NOT NULL,
    draft TEXT,
    corrected TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    claimed_by TEXT,
    lease_expires_at TEXT,
    reviewer TEXT,
    decided_at TEXT,
    decision TEXT,
    changes TEXT NOT NULL DEFAULT '[]',
    note TEXT
);
CREATE INDEX IF NOT EXISTS review_items_open ON review_items (state, amount_sort DESC, created_at);
"""

# Highest amount first (money waiting on a person matters most), then the oldest. Amounts in different
# currencies are compared as plain numbers: a rough order, not a conversion.
_PRIORITY = "ORDER BY amount_sort IS NULL, amount_sort DESC, created_at, document_id"


def _ts(value: datetime) -> str:
    """UTC timestamps in one fixed format, so text comparison in SQL is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _claimable_sql(now: str) -> tuple[str, tuple[str, ...]]:
    return "(state = 'pending' OR (state = 'in_review' AND lease_expires_at <= ?))", (now,)


class SQLiteReviewStore:
    """The review queue in one SQLite file (WAL mode: reviewers read while the pipeline writes)."""

    def __init__(self, path: Path, clock: Clock = utc_now) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction(immediate=True) as connection:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)

    @contextmanager
    def _transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One connection per operation; its statements commit together or not at all."""
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    # -- filling the queue ------------------------------------------------------------------------------------

    def enqueue(self, records: Iterable[ExtractionRecord]) -> int:
        """Queue needs_review records; a document already queued keeps its item, state and decision."""
        now = _ts(self._clock())
        rows = [
            (
                record.document_id,
                record.source,
                record.confidence,
                str(record.invoice.total) if record.invoice.total is not None else None,
                float(record.invoice.total) if record.invoice.total is not None else None,
                record.invoice.currency,
                json.dumps(record.review_reasons),
                json.dumps(reason_codes(record)),
                json.dumps([issue.model_dump(mode="json") for issue in record.issues]),
                json.dumps({name: field.model_dump(mode="json") for name, field in record.fields.items()}),
                record.invoice.model_dump_json(),
                json.dumps(record.page_images),
                now,
                now,
            )
            for record in records
            if record.status is RecordStatus.NEEDS_REVIEW
        ]
        with self._transaction(immediate=True) as connection:
            cursor = connection.executemany(
                """
                INSERT OR IGNORE INTO review_items
                    (document_id, source, confidence, amount, amount_sort, currency, reasons, reason_codes, issues,
                     fields, invoice, page_images, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                rows,
            )
            return cursor.rowcount

    # -- reading ----------------------------------------------------------------------------------------------

    def get(self, document_id: str) -> ReviewItem:
        with self._transaction() as connection:
            row = connection.execute("SELECT * FROM review_items WHERE document_id = ?", (document_id,)).fetchone()
        if row is None:
            raise ReviewItemNotFoundError(
                f"No review item for document {document_id}. `ledgerlens review list` shows them."
            )
        return _item(row)

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full document id from an id or a unique prefix of at least 6 characters."""
        text = id_or_prefix.strip().lower()
        if len(text) < 6 or not all(ch in "0123456789abcdef" for ch in text):
            raise ReviewItemNotFoundError(f"{id_or_prefix!r} is not a document id (hex, at least 6 characters).")
        with self._transaction() as connection:
            rows = connection.execute(
                "SELECT document_id FROM review_items WHERE document_id >= ? AND document_id < ? LIMIT 2",
                (text, text + "g"),
            ).fetchall()
        if len(rows) != 1:
            what = "no" if not rows else "more than one"
            raise ReviewItemNotFoundError(f"{id_or_prefix!r} matches {what} review item; give more of the id.")
        return str(rows[0][0])

    def list_items(
        self, states: Iterable[ReviewState] | None = None, reason: str | None = None, limit: int | None = None
    ) -> list[ReviewItem]:
        """Items in priority order (amount, then age), optionally of some states or one review reason."""
        where, params = [], []
        if states is not None:
            wanted = [ReviewState(state).value for state in states]
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        if reason is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(review_items.reason_codes) WHERE json_each.value = ?)")
            params.append(reason)
        sql = "SELECT * FROM review_items" + (f" WHERE {' AND '.join(where)}" if where else "") + f" {_PRIORITY}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._transaction() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [_item(row) for row in rows]

    def counts(self) -> ReviewCounts:
        with self._transaction() as connection:
            states = connection.execute("SELECT state, COUNT(*) FROM review_items GROUP BY state").fetchall()
            reasons = connection.execute(
                """
                SELECT json_each.value, COUNT(*) FROM review_items, json_each(review_items.reason_codes)
                WHERE state IN ('pending', 'in_review') GROUP BY json_each.value ORDER BY COUNT(*) DESC
                """
            ).fetchall()
        return ReviewCounts(
            by_state={str(state): int(n) for state, n in states}, by_reason={str(r): int(n) for r, n in reasons}
        )

    def count(self, state: ReviewState | str | None = None) -> int:
        counts = self.counts().by_state
        return sum(counts.values()) if state is None else counts.get(ReviewState(state).value, 0)

    # -- claiming ---------------------------------------------------------------------------------------------

    def claim(self, document_id: str, reviewer: str, lease: timedelta = DEFAULT_LEASE) -> ReviewItem:
        """Take the item for `reviewer` (or renew their lease); refused while someone else holds it."""
        now = self._clock()
        with self._transaction(immediate=True) as connection:
            row = _locked_row(connection, document_id)
            _check_open(row, reviewer, now)
            connection.execute(
                "UPDATE review_items SET state = 'in_review', claimed_by = ?, lease_expires_at = ?, updated_at = ?"
                " WHERE document_id = ?",
                (reviewer, _ts(now + lease), _ts(now), document_id),
            )
        return self.get(document_id)

    def claim_next(
        self, reviewer: str, lease: timedelta = DEFAULT_LEASE, reason: str | None = None, skip: str | None = None
    ) -> ReviewItem | None:
        """Claim the highest-priority free item (optionally with one review reason); None when none is free."""
        now = self._clock()
        condition, params = _claimable_sql(_ts(now))
        sql = f"SELECT document_id FROM review_items WHERE {condition}"
        args: list[Any] = list(params)
        if reason is not None:
            sql += " AND EXISTS (SELECT 1 FROM json_each(review_items.reason_codes) WHERE json_each.value = ?)"
            args.append(reason)
        if skip is not None:
            sql += " AND document_id != ?"
            args.append(skip)
        with self._transaction(immediate=True) as connection:
            row = connection.execute(f"{sql} {_PRIORITY} LIMIT 1", args).fetchone()
            if row is None:
                return None
            document_id = str(row[0])
            connection.execute(
                "UPDATE review_items SET state = 'in_review', claimed_by = ?, lease_expires_at = ?, updated_at = ?"
                " WHERE document_id = ?",
                (reviewer, _ts(now + lease), _ts(now), document_id),
            )
        return self.get(document_id)

    def release(self, document_id: str, reviewer: str) -> None:
        """Give an item back to the queue (its saved draft stays); only its holder can."""
        now = self._clock()
        with self._transaction(immediate=True) as connection:
            row = _locked_row(connection, document_id)
            if row["state"] == ReviewState.IN_REVIEW.value and row["claimed_by"] == reviewer:
                connection.execute(
                    "UPDATE review_items SET state = 'pending', claimed_by = NULL, lease_expires_at = NULL,"
                    " updated_at = ? WHERE document_id = ?",
                    (_ts(now), document_id),
                )

    # -- deciding ---------------------------------------------------------------------------------------------

    def save_draft(
        self, document_id: str, reviewer: str, draft: Invoice, lease: timedelta = DEFAULT_LEASE
    ) -> ReviewItem:
        """Keep corrections without deciding; the reviewer holds (or takes) the item and its lease is renewed."""
        now = self._clock()
        with self._transaction(immediate=True) as connection:
            row = _locked_row(connection, document_id)
            _check_open(row, reviewer, now)
            connection.execute(
                "UPDATE review_items SET state = 'in_review', claimed_by = ?, lease_expires_at = ?, draft = ?,"
                " updated_at = ? WHERE document_id = ?",
                (reviewer, _ts(now + lease), draft.model_dump_json(), _ts(now), document_id),
            )
        return self.get(document_id)

    def decide(
        self,
        document_id: str,
        reviewer: str,
        decision: Decision,
        corrected: Invoice | None = None,
        changes: list[FieldChange] | None = None,
        note: str | None = None,
    ) -> ReviewItem:
        """Record the final decision. The reviewer must hold the item or it must be free; decisions are final."""
        now = self._clock()
        with self._transaction(immediate=True) as connection:
            row = _locked_row(connection, document_id)
            _check_open(row, reviewer, now)
            final = corrected if corrected is not None else Invoice.model_validate_json(row["invoice"])
            connection.execute(
                """
                UPDATE review_items SET state = ?, decision = ?, reviewer = ?, decided_at = ?, corrected = ?,
                    changes = ?, note = ?, claimed_by = NULL, lease_expires_at = NULL, updated_at = ?
                WHERE document_id = ?
                """,
                (
                    decision.value,
                    decision.value,
                    reviewer,
                    _ts(now),
                    final.model_dump_json(),
                    json.dumps([change.model_dump() for change in changes or []]),
                    note,
                    _ts(now),
                    document_id,
                ),
            )
        return self.get(document_id)


LOW_CONFIDENCE = IssueCode.LOW_CONFIDENCE


def reason_codes(record: ExtractionRecord) -> list[str]:
    """Stable codes for the queue's reason filter: the code of each issue among the review reasons, and
    ``low_confidence`` for a reason no issue explains (routing's confidence-below-threshold reason)."""
    by_message = {issue.message: issue.code for issue in record.issues}
    codes = [by_message.get(reason, LOW_CONFIDENCE).value for reason in record.review_reasons]
    return list(dict.fromkeys(codes))


def _locked_row(connection: sqlite3.Connection, document_id: str) -> sqlite3.Row:
    row = connection.execute("SELECT * FROM review_items WHERE document_id = ?", (document_id,)).fetchone()
    if row is None:
        raise ReviewItemNotFoundError(
            f"No review item for document {document_id}. `ledgerlens review list` shows them."
        )
    return row


def _check_open(row: sqlite3.Row, reviewer: str, now: datetime) -> None:
    """Refuse a decided item, and one that another reviewer holds under a lease that has not expired."""
    state = ReviewState(row["state"])
    if state in DECIDED_STATES:
        raise ReviewConflictError(
            f"Document {row['document_id'][:12]} was already {state.value} by {row['reviewer']} at {row['decided_at']}."
        )
    if state is ReviewState.IN_REVIEW and row["claimed_by"] != reviewer and row["lease_expires_at"] > _ts(now):
        raise ReviewConflictError(
            f"Document {row['document_id'][:12]} is being reviewed by {row['claimed_by']} until "
            f"{row['lease_expires_at']}; pick another item or wait for the lease to expire."
        )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _item(row: sqlite3.Row) -> ReviewItem:
    return ReviewItem(
        document_id=row["document_id"],
        source=row["source"],
        state=ReviewState(row["state"]),
        confidence=row["confidence"],
        reasons=json.loads(row["reasons"]),
        reason_codes=json.loads(row["reason_codes"]),
        issues=[ValidationIssue.model_validate(issue) for issue in json.loads(row["issues"])],
        fields={name: FieldValue.model_validate(value) for name, value in json.loads(row["fields"]).items()},
        invoice=Invoice.model_validate_json(row["invoice"]),
        draft=Invoice.model_validate_json(row["draft"]) if row["draft"] else None,
        corrected=Invoice.model_validate_json(row["corrected"]) if row["corrected"] else None,
        page_images=json.loads(row["page_images"]),
        amount=Decimal(row["amount"]) if row["amount"] is not None else None,
        currency=row["currency"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        claimed_by=row["claimed_by"],
        lease_expires_at=_time(row["lease_expires_at"]),
        reviewer=row["reviewer"],
        decided_at=_time(row["decided_at"]),
        decision=Decision(row["decision"]) if row["decision"] else None,
        changes=[FieldChange.model_validate(change) for change in json.loads(row["changes"])],
        note=row["note"],
    )


def review_db_path(out_dir: Path | str, configured: Path | None = None) -> Path:
    """Where the queue lives: Settings.review_db when set, else OUT/review.sqlite (for an S3 OUT, a local
    file named after the URL: SQLite needs a local disk)."""
    return configured if configured is not None else default_review_db(str(out_dir))
