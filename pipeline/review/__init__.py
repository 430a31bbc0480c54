"""Human review: the queue store, corrections, and decisions written back to Parquet (framework-free)."""

from pipeline.review.decisions import approve, export_reviewed, publish_decisions, reject, save_draft
from pipeline.review.store import DEFAULT_LEASE, ReviewStore, SQLiteReviewStore, review_db_path

__all__ = [
    "DEFAULT_LEASE",
    "ReviewStore",
    "SQLiteReviewStore",
    "approve",
    "export_reviewed",
    "publish_decisions",
    "reject",
    "review_db_path",
    "save_draft",
]
