"""Human review: the queue store, accounts, corrections, and decisions written back to Parquet (framework-free).

The names below load their module on first use (PEP 562), so `pipeline.review.location` (where the queue lives)
costs a run nothing, and SQLAlchemy loads only when a queue is opened."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.review.accounts import ReviewAccounts, SqlReviewAccounts
    from pipeline.review.decisions import approve, export_reviewed, publish_decisions, reject, save_draft
    from pipeline.review.location import review_db_location, review_db_path
    from pipeline.review.store import DEFAULT_LEASE, ReviewStore, SQLiteReviewStore, SqlReviewStore, open_review_store

_HOMES = {
    "ReviewAccounts": "accounts",
    "SqlReviewAccounts": "accounts",
    "approve": "decisions",
    "export_reviewed": "decisions",
    "publish_decisions": "decisions",
    "reject": "decisions",
    "save_draft": "decisions",
    "review_db_location": "location",
    "review_db_path": "location",
    "DEFAULT_LEASE": "store",
    "ReviewStore": "store",
    "SQLiteReviewStore": "store",
    "SqlReviewStore": "store",
    "open_review_store": "store",
}

__all__ = [
    "DEFAULT_LEASE",
    "ReviewAccounts",
    "ReviewStore",
    "SQLiteReviewStore",
    "SqlReviewAccounts",
    "SqlReviewStore",
    "approve",
    "export_reviewed",
    "open_review_store",
    "publish_decisions",
    "reject",
    "review_db_location",
    "review_db_path",
    "save_draft",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
