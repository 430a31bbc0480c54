"""The review queue store: one item per needs_review document, claimed under a lease, decided once.

``ReviewStore`` is the seam. ``SqlReviewStore`` implements it on SQLAlchemy Core for both databases
``pipeline.review.database`` opens: an embedded SQLite file (the one-machine default) or PostgreSQL (a team's
shared queue). ``open_review_store(location)`` picks by the location's shape.

State machine::

    pending --claim--> in_review --approve--> approved | corrected (values changed)
       ^                  |       --reject---> rejected
       +----release-------+   (an expired lease counts as pending: anyone may claim it)

Every change runs in one transaction that locks the rows it reads first (PostgreSQL: ``SELECT … FOR UPDATE``,
and ``FOR UPDATE SKIP LOCKED`` for "next item"; SQLite: ``BEGIN IMMEDIATE``), so two reviewers can never both
see an item as free and both take it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from pipeline.errors import ReviewConflictError, ReviewItemNotFoundError, ReviewQueueUnavailableError
from pipeline.review.accounts import ReviewAccounts, SqlReviewAccounts
from pipeline.review.database import ReviewDatabase, connect, review_items
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
T = review_items.c


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewStore(Protocol):
    """What the queue offers, whatever database holds it."""

    location: str

    def enqueue(self, records: Iterable[ExtractionRecord]) -> int: ...
    def get(self, document_id: str) -> ReviewItem: ...
    def resolve_id(self, id_or_prefix: str) -> str: ...
    def list_items(
        self,
        states: Iterable[ReviewState] | None = None,
        reason: str | None = None,
        limit: int | None = None,
        summary: bool = False,
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
    def unpublished(self) -> list[ReviewItem]: ...
    def mark_published(self, document_ids: Iterable[str]) -> None: ...
    def accounts(self) -> ReviewAccounts: ...


def _ts(value: datetime) -> str:
    """UTC timestamps in one fixed format, so text comparison in SQL is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


# Highest amount first (money waiting on a person matters most), then the oldest. Amounts in different
# currencies are compared as plain numbers: a rough order, not a conversion.
_PRIORITY = (T.amount_sort.is_(None), T.amount_sort.desc(), T.created_at, T.document_id)


def _record_row(record: ExtractionRecord, now: str) -> dict[str, Any]:
    total = record.invoice.total
    return {
        "document_id": record.document_id,
        "source": record.source,
        "confidence": record.confidence,
        "amount": str(total) if total is not None else None,
        "amount_sort": float(total) if total is not None else None,
        "currency": record.invoice.currency,
        "reasons": json.dumps(record.review_reasons),
        "reason_codes": json.dumps(reason_codes(record)),
        "issues": json.dumps([issue.model_dump(mode="json") for issue in record.issues]),
        "fields": json.dumps({name: field.model_dump(mode="json") for name, field in record.fields.items()}),
        "invoice": record.invoice.model_dump_json(),
        "page_images": json.dumps(record.page_images),
        "created_at": now,
        "updated_at": now,
    }


class SqlReviewStore:
    """The review queue in SQLite or PostgreSQL, one transaction per operation."""

    def __init__(self, database: ReviewDatabase, clock: Clock = utc_now) -> None:
        self.database = database
        self.location = database.location
        self._clock = clock
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    # -- filling the queue ------------------------------------------------------------------------------------

    def enqueue(self, records: Iterable[ExtractionRecord]) -> int:
        """Queue needs_review records; a document already queued keeps its item, state and decision."""
        now = _ts(self._clock())
        rows = [_record_row(record, now) for record in records if record.status is RecordStatus.NEEDS_REVIEW]
        if not rows:
            return 0
        inserting = self._insert(review_items).on_conflict_do_nothing(index_elements=["document_id"])
        statement = inserting.returning(T.document_id)
        try:
            with self.database.transaction(write=True) as connection:
                return sum(len(connection.execute(statement.values(row)).all()) for row in rows)
        except SQLAlchemyError as exc:
            raise ReviewQueueUnavailableError(
                f"The review queue refused {len(rows)} item(s): {getattr(exc, 'orig', None) or exc}. "
                "They are queued by the next run; check that the queue's database is reachable and not locked."
            ) from exc

    # -- reading ----------------------------------------------------------------------------------------------

    def get(self, document_id: str) -> ReviewItem:
        with self.database.transaction() as connection:
            return _item(_row(connection, document_id, lock=False))

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full document id from an id or a unique prefix of at least 6 characters."""
        text_id = id_or_prefix.strip().lower()
        if len(text_id) < 6 or not all(ch in "0123456789abcdef" for ch in text_id):
            raise ReviewItemNotFoundError(f"{id_or_prefix!r} is not a document id (hex, at least 6 characters).")
        query = select(T.document_id).where(T.document_id >= text_id, T.document_id < text_id + "g").limit(2)
        with self.database.transaction() as connection:
            rows = connection.execute(query).all()
        if len(rows) != 1:
            what = "no" if not rows else "more than one"
            raise ReviewItemNotFoundError(f"{id_or_prefix!r} matches {what} review item; give more of the id.")
        return str(rows[0][0])

    def _has_reason(self, reason: str) -> ColumnElement[bool]:
        if self.database.dialect == "postgresql":
            clause = "jsonb_exists(review_items.reason_codes::jsonb, :reason)"
        else:
            clause = "EXISTS (SELECT 1 FROM json_each(review_items.reason_codes) WHERE json_each.value = :reason)"
        return text(clause).bindparams(reason=reason)  # type: ignore[return-value]

    def list_items(
        self,
        states: Iterable[ReviewState] | None = None,
        reason: str | None = None,
        limit: int | None = None,
        summary: bool = False,
    ) -> list[ReviewItem]:
        """Items in priority order (amount, then age), optionally of some states or one review reason.
        `summary` reads only what a queue listing shows (no evidence, issues or line items): much cheaper."""
        query = select(*(_SUMMARY_COLUMNS if summary else [review_items])).order_by(*_PRIORITY)
        if states is not None:
            query = query.where(T.state.in_([ReviewState(state).value for state in states]))
        if reason is not None:
            query = query.where(self._has_reason(reason))
        if limit is not None:
            query = query.limit(int(limit))
        with self.database.transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [_summary(row) if summary else _item(row) for row in rows]

    def counts(self) -> ReviewCounts:
        by_state = select(T.state, func.count()).group_by(T.state)
        if self.database.dialect == "postgresql":
            by_reason = text(
                "SELECT code, COUNT(*) FROM review_items, jsonb_array_elements_text(reason_codes::jsonb) AS code"
                " WHERE state IN ('pending', 'in_review') GROUP BY code ORDER BY COUNT(*) DESC, code"
            )
        else:
            by_reason = text(
                "SELECT json_each.value, COUNT(*) FROM review_items, json_each(review_items.reason_codes)"
                " WHERE state IN ('pending', 'in_review') GROUP BY json_each.value ORDER BY COUNT(*) DESC"
            )
        with self.database.transaction() as connection:
            states = connection.execute(by_state).all()
            reasons = connection.execute(by_reason).all()
        return ReviewCounts(
            by_state={str(state): int(n) for state, n in states}, by_reason={str(r): int(n) for r, n in reasons}
        )

    def count(self, state: ReviewState | str | None = None) -> int:
        counts = self.counts().by_state
        return sum(counts.values()) if state is None else counts.get(ReviewState(state).value, 0)

    # -- claiming ---------------------------------------------------------------------------------------------

    def _take(self, connection: Connection, document_id: str, reviewer: str, now: datetime, lease: timedelta) -> None:
        connection.execute(
            review_items.update()
            .where(T.document_id == document_id)
            .values(state="in_review", claimed_by=reviewer, lease_expires_at=_ts(now + lease), updated_at=_ts(now))
        )

    def claim(self, document_id: str, reviewer: str, lease: timedelta = DEFAULT_LEASE) -> ReviewItem:
        """Take the item for `reviewer` (or renew their lease); refused while someone else holds it."""
        now = self._clock()
        with self.database.transaction(write=True) as connection:
            _check_open(_row(connection, document_id), reviewer, now)
            self._take(connection, document_id, reviewer, now, lease)
            return _item(_row(connection, document_id, lock=False))

    def claim_next(
        self, reviewer: str, lease: timedelta = DEFAULT_LEASE, reason: str | None = None, skip: str | None = None
    ) -> ReviewItem | None:
        """Claim the highest-priority free item (optionally with one review reason); None when none is free.
        On PostgreSQL rows another reviewer is taking right now are skipped, not waited for."""
        now = self._clock()
        free = or_(T.state == "pending", and_(T.state == "in_review", T.lease_expires_at <= _ts(now)))
        query = select(T.document_id).where(free).order_by(*_PRIORITY).limit(1)
        if reason is not None:
            query = query.where(self._has_reason(reason))
        if skip is not None:
            query = query.where(T.document_id != skip)
        with self.database.transaction(write=True) as connection:
            found = connection.execute(query.with_for_update(skip_locked=True)).scalar()
            if found is None:
                return None
            self._take(connection, str(found), reviewer, now, lease)
            return _item(_row(connection, str(found), lock=False))

    def release(self, document_id: str, reviewer: str) -> None:
        """Give an item back to the queue (its saved draft stays); only its holder can."""
        now = self._clock()
        with self.database.transaction(write=True) as connection:
            row = _row(connection, document_id)
            if row["state"] == ReviewState.IN_REVIEW.value and row["claimed_by"] == reviewer:
                connection.execute(
                    review_items.update()
                    .where(T.document_id == document_id)
                    .values(state="pending", claimed_by=None, lease_expires_at=None, updated_at=_ts(now))
                )

    # -- deciding ---------------------------------------------------------------------------------------------

    def save_draft(
        self, document_id: str, reviewer: str, draft: Invoice, lease: timedelta = DEFAULT_LEASE
    ) -> ReviewItem:
        """Keep corrections without deciding; the reviewer holds (or takes) the item and its lease is renewed."""
        now = self._clock()
        with self.database.transaction(write=True) as connection:
            _check_open(_row(connection, document_id), reviewer, now)
            self._take(connection, document_id, reviewer, now, lease)
            connection.execute(
                review_items.update().where(T.document_id == document_id).values(draft=draft.model_dump_json())
            )
            return _item(_row(connection, document_id, lock=False))

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
        now = _ts(self._clock())
        with self.database.transaction(write=True) as connection:
            row = _row(connection, document_id)
            _check_open(row, reviewer, self._clock())
            final = corrected if corrected is not None else Invoice.model_validate_json(row["invoice"])
            connection.execute(
                review_items.update()
                .where(T.document_id == document_id)
                .values(
                    state=decision.value,
                    decision=decision.value,
                    reviewer=reviewer,
                    decided_at=now,
                    corrected=final.model_dump_json(),
                    changes=json.dumps([change.model_dump() for change in changes or []]),
                    note=note,
                    claimed_by=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            return _item(_row(connection, document_id, lock=False))

    # -- publishing decisions to OUT/reviews/ -----------------------------------------------------------------

    def unpublished(self) -> list[ReviewItem]:
        """Decided items whose rows are not yet known to be in OUT/reviews/."""
        decided = [state.value for state in DECIDED_STATES]
        query = select(review_items).where(T.state.in_(decided), T.published_at.is_(None)).order_by(T.decided_at)
        with self.database.transaction() as connection:
            return [_item(row) for row in connection.execute(query).mappings().all()]

    def mark_published(self, document_ids: Iterable[str]) -> None:
        ids = list(document_ids)
        if ids:
            with self.database.transaction(write=True) as connection:
                connection.execute(
                    review_items.update().where(T.document_id.in_(ids)).values(published_at=_ts(self._clock()))
                )

    def accounts(self) -> ReviewAccounts:
        return SqlReviewAccounts(self.database, self._clock)


class SQLiteReviewStore(SqlReviewStore):
    """The embedded default: the queue in one SQLite file (WAL mode: reviewers read while the pipeline writes)."""

    def __init__(self, path: Path, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        super().__init__(connect(str(self.path)), clock)


def open_review_store(location: str | Path, clock: Clock = utc_now) -> SqlReviewStore:
    """The queue at a SQLite path or a postgresql:// URL (migrated to the newest schema on open)."""
    return SqlReviewStore(connect(str(location)), clock)


LOW_CONFIDENCE = IssueCode.LOW_CONFIDENCE


def reason_codes(record: ExtractionRecord) -> list[str]:
    """Stable codes for the queue's reason filter: the code of each issue among the review reasons, and
    ``low_confidence`` for a reason no issue explains (routing's confidence-below-threshold reason)."""
    by_message = {issue.message: issue.code for issue in record.issues}
    codes = [by_message.get(reason, LOW_CONFIDENCE).value for reason in record.review_reasons]
    return list(dict.fromkeys(codes))


def _row(connection: Connection, document_id: str, lock: bool = True) -> RowMapping:
    query = select(review_items).where(T.document_id == document_id)
    row = connection.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise ReviewItemNotFoundError(
            f"No review item for document {document_id}. `ledgerlens review list` shows them."
        )
    return row


def _check_open(row: RowMapping, reviewer: str, now: datetime) -> None:
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


def _json_models(text_value: str | None, model: Any) -> Any:
    return model.model_validate_json(text_value) if text_value else None


_SUMMARY_COLUMNS = (
    T.document_id,
    T.source,
    T.state,
    T.confidence,
    T.amount,
    T.currency,
    T.reasons,
    T.reason_codes,
    T.invoice,
    T.created_at,
    T.updated_at,
    T.claimed_by,
    T.lease_expires_at,
    T.reviewer,
    T.decided_at,
    T.decision,
)


def _header(row: RowMapping) -> dict[str, Any]:
    """The columns every view of an item carries: who, what state, how much, and the lease and decision."""
    return {
        "document_id": row["document_id"],
        "source": row["source"],
        "state": ReviewState(row["state"]),
        "confidence": row["confidence"],
        "reasons": json.loads(row["reasons"]),
        "reason_codes": json.loads(row["reason_codes"]),
        "amount": Decimal(row["amount"]) if row["amount"] is not None else None,
        "currency": row["currency"],
        "created_at": datetime.fromisoformat(row["created_at"]),
        "updated_at": datetime.fromisoformat(row["updated_at"]),
        "claimed_by": row["claimed_by"],
        "lease_expires_at": _time(row["lease_expires_at"]),
        "reviewer": row["reviewer"],
        "decided_at": _time(row["decided_at"]),
        "decision": Decision(row["decision"]) if row["decision"] else None,
    }


def _summary(row: RowMapping) -> ReviewItem:
    """A listing's view of an item: its header (vendor, number) without line items, fields or issues."""
    invoice = json.loads(row["invoice"])
    header = Invoice(vendor_name=invoice.get("vendor_name"), invoice_number=invoice.get("invoice_number"))
    return ReviewItem(**_header(row), invoice=header)


def _item(row: RowMapping) -> ReviewItem:
    return ReviewItem(
        **_header(row),
        issues=[ValidationIssue.model_validate(issue) for issue in json.loads(row["issues"])],
        fields={name: FieldValue.model_validate(value) for name, value in json.loads(row["fields"]).items()},
        invoice=Invoice.model_validate_json(row["invoice"]),
        draft=_json_models(row["draft"], Invoice),
        corrected=_json_models(row["corrected"], Invoice),
        page_images=json.loads(row["page_images"]),
        changes=[FieldChange.model_validate(change) for change in json.loads(row["changes"])],
        note=row["note"],
    )
