"""Shapes of the human-review queue: an item per needs_review document, and the decision a reviewer makes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.models import FieldValue, Invoice, ValidationIssue


class ReviewState(StrEnum):
    PENDING = "pending"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    CORRECTED = "corrected"
    REJECTED = "rejected"


OPEN_STATES: frozenset[ReviewState] = frozenset({ReviewState.PENDING, ReviewState.IN_REVIEW})
DECIDED_STATES: frozenset[ReviewState] = frozenset({ReviewState.APPROVED, ReviewState.CORRECTED, ReviewState.REJECTED})


class Decision(StrEnum):
    """A reviewer's verdict. Approving with changed values is recorded as ``corrected``."""

    APPROVED = "approved"
    CORRECTED = "corrected"
    REJECTED = "rejected"


class FieldChange(BaseModel):
    """One value a reviewer changed; line-item cells are named ``line_items[N].column`` (N from 1)."""

    field: str
    old_value: str | None
    new_value: str | None


class ReviewItem(BaseModel):
    """One document waiting for (or past) a person's decision, with everything needed to decide."""

    document_id: str
    source: str
    state: ReviewState = ReviewState.PENDING
    confidence: float = Field(ge=0, le=1, default=0.0)
    reasons: list[str] = Field(default_factory=list, description="Why the record was routed to review")
    reason_codes: list[str] = Field(
        default_factory=list, description="Issue codes of the reasons (low_confidence: below the threshold)"
    )
    issues: list[ValidationIssue] = Field(default_factory=list)
    fields: dict[str, FieldValue] = Field(default_factory=dict, description="Extracted fields with their evidence")
    invoice: Invoice = Field(default_factory=Invoice, description="The invoice as extracted")
    draft: Invoice | None = Field(default=None, description="Corrections saved but not yet decided")
    corrected: Invoice | None = Field(default=None, description="The invoice as decided, corrections applied")
    page_images: list[str] = Field(default_factory=list, description="Page previews, relative to the output folder")
    amount: Decimal | None = Field(default=None, description="The invoice total; higher amounts are reviewed first")
    currency: str | None = None
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None
    reviewer: str | None = None
    decided_at: datetime | None = None
    decision: Decision | None = None
    changes: list[FieldChange] = Field(default_factory=list)
    note: str | None = Field(default=None, description="The reason given for a rejection")

    def holder(self, now: datetime) -> str | None:
        """Who holds the item right now: a claim whose lease has expired holds nothing."""
        if self.state is ReviewState.IN_REVIEW and self.lease_expires_at is not None and self.lease_expires_at > now:
            return self.claimed_by
        return None


class ReviewCounts(BaseModel):
    by_state: dict[str, int] = Field(default_factory=dict)
    by_reason: dict[str, int] = Field(default_factory=dict, description="Open items per review reason")
