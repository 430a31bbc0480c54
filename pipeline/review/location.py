"""Where the review queue lives, and how to print its location, without loading SQLAlchemy: a run asks this
first and opens the queue only when a record needs it (flows/context.py)."""

from __future__ import annotations

from pathlib import Path

from pipeline.storage import default_review_db


def review_db_location(out_dir: Path | str, configured: str | Path | None = None) -> str:
    """Where the queue lives: Settings.review_db when set (a path or a postgresql:// URL), else
    OUT/review.sqlite (for an S3 OUT, a local file named after the URL: SQLite needs a local disk)."""
    return str(configured) if configured else str(default_review_db(str(out_dir)))


def review_db_path(out_dir: Path | str, configured: str | Path | None = None) -> Path:
    """The SQLite file of a local queue (kept for callers that need a path)."""
    return Path(review_db_location(out_dir, configured))


def redact(location: str) -> str:
    """A location safe to print: a URL's password replaced by ***."""
    if "://" not in location or "@" not in location:
        return location
    scheme, rest = location.split("://", 1)
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else location
