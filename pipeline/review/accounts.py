"""Reviewer accounts and web sessions, kept in the review database.

An account is a name and the SHA-256 of a personal token: the token itself is printed once by
`ledgerlens review users add NAME` and never stored. Tokens are 256 random bits, so a fast hash is enough
(there is nothing to brute-force). Sessions are rows too (again only the hash of the cookie), so a server
restart, or a second server process on the same database, keeps everyone signed in. Revoking an account
ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from pipeline.errors import ReviewInputError
from pipeline.review.database import ReviewDatabase, review_sessions, review_users

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}")
TOKEN_BYTES = 32
DEFAULT_SESSION_LIFETIME = timedelta(hours=12)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ReviewInputError(
            f"{name!r} is not a reviewer name: use 1-80 letters, digits, '.', '_', '@' or '-' (e.g. ann.lee)."
        )
    return name


@dataclass(frozen=True)
class Reviewer:
    name: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who it is and the CSRF token its forms must carry."""

    session_id: str
    identity: str
    csrf: str


class ReviewAccounts(Protocol):
    def add(self, name: str) -> str: ...
    def revoke(self, name: str) -> bool: ...
    def users(self) -> list[Reviewer]: ...
    def has_active_users(self) -> bool: ...
    def authenticate(self, token: str) -> str | None: ...
    def open_session(self, identity: str, lifetime: timedelta = DEFAULT_SESSION_LIFETIME) -> WebSession: ...
    def session(self, session_id: str) -> WebSession | None: ...
    def rename_session(self, session_id: str, identity: str) -> None: ...
    def close_session(self, session_id: str) -> None: ...


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class SqlReviewAccounts:
    """Accounts and sessions on the review database (SQLite or PostgreSQL)."""

    def __init__(self, database: ReviewDatabase, clock: Callable[[], datetime]) -> None:
        self.database = database
        self._clock = clock

    def add(self, name: str) -> str:
        """Create the account (or give a revoked one a new token); returns the token, shown once."""
        check_name(name)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = _ts(self._clock())
        with self.database.transaction(write=True) as connection:
            found = connection.execute(
                select(review_users.c.revoked_at).where(review_users.c.name == name).with_for_update()
            ).first()
            if found is not None and found[0] is None:
                raise ReviewInputError(
                    f"Reviewer {name!r} already has a token; `ledgerlens review users revoke {name}` first "
                    "to issue a new one."
                )
            if found is not None:
                connection.execute(review_users.delete().where(review_users.c.name == name))
            connection.execute(review_users.insert().values(name=name, token_hash=token_hash(token), created_at=now))
        return token

    def revoke(self, name: str) -> bool:
        """Revoke the account's token and end its sessions; False when there is no active account of that name."""
        now = _ts(self._clock())
        with self.database.transaction(write=True) as connection:
            changed = connection.execute(
                review_users.update()
                .where(review_users.c.name == name, review_users.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            connection.execute(review_sessions.delete().where(review_sessions.c.identity == name))
        return bool(changed)

    def users(self) -> list[Reviewer]:
        query = select(review_users.c.name, review_users.c.created_at, review_users.c.revoked_at)
        with self.database.transaction() as connection:
            rows = connection.execute(query.order_by(review_users.c.name)).all()
        return [Reviewer(name=row[0], created_at=row[1], revoked_at=row[2]) for row in rows]

    def has_active_users(self) -> bool:
        query = select(review_users.c.name).where(review_users.c.revoked_at.is_(None)).limit(1)
        with self.database.transaction() as connection:
            return connection.execute(query).first() is not None

    def authenticate(self, token: str) -> str | None:
        """The active account whose token this is, or None."""
        query = select(review_users.c.name).where(
            review_users.c.token_hash == token_hash(token), review_users.c.revoked_at.is_(None)
        )
        with self.database.transaction() as connection:
            found = connection.execute(query).scalar()
        return str(found) if found is not None else None

    def open_session(self, identity: str, lifetime: timedelta = DEFAULT_SESSION_LIFETIME) -> WebSession:
        now = self._clock()
        session = WebSession(secrets.token_urlsafe(32), identity, secrets.token_urlsafe(32))
        with self.database.transaction(write=True) as connection:
            connection.execute(review_sessions.delete().where(review_sessions.c.expires_at <= _ts(now)))
            connection.execute(
                review_sessions.insert().values(
                    session_hash=token_hash(session.session_id),
                    identity=identity,
                    csrf=session.csrf,
                    created_at=_ts(now),
                    expires_at=_ts(now + lifetime),
                )
            )
        return session

    def session(self, session_id: str) -> WebSession | None:
        """The live session with this cookie value, or None (unknown, expired or revoked)."""
        query = select(review_sessions.c.identity, review_sessions.c.csrf).where(
            review_sessions.c.session_hash == token_hash(session_id),
            review_sessions.c.expires_at > _ts(self._clock()),
        )
        with self.database.transaction() as connection:
            row = connection.execute(query).first()
        return WebSession(session_id, str(row[0]), str(row[1])) if row is not None else None

    def rename_session(self, session_id: str, identity: str) -> None:
        with self.database.transaction(write=True) as connection:
            connection.execute(
                review_sessions.update()
                .where(review_sessions.c.session_hash == token_hash(session_id))
                .values(identity=identity)
            )

    def close_session(self, session_id: str) -> None:
        with self.database.transaction(write=True) as connection:
            connection.execute(review_sessions.delete().where(review_sessions.c.session_hash == token_hash(session_id)))
