"""Human review: the queue store, accounts, corrections, and decisions written back to Parquet (framework-free)."""

from pipeline.review.accounts import ReviewAccounts, SqlReviewAccounts
from pipeline.review.decisions import approve, export_reviewed, publish_decisions, reject, save_draft
from pipeline.review.store import (
    DEFAULT_LEASE,
    ReviewStore,
    SQLiteReviewStore,
    SqlReviewStore,
    open_review_store,
    review_db_location,
    review_db_path,
)

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
