"""Vendor memory: profiles learned from review decisions, keyed by identifiers printed on the page.

A profile says who a vendor is (canonical name, identifiers), what its pages look like (layout
fingerprint) and where each field was found on its invoices (label wording and the value's offset from the
label). Extraction uses a matching profile's knowledge as candidates that must still be printed on the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.codes import IssueCode
from schemas.models import VendorEvidence

__all__ = ["FieldHint", "IdentifierKind", "VendorEvidence", "VendorMatch", "VendorProfile"]


class IdentifierKind(StrEnum):
    VAT = "vat"  # VAT / tax registration number, country prefix included
    IBAN = "iban"  # passes the ISO 13616 mod-97 check
    REGISTER = "reg"  # company-register number (HRB, RCS, KvK, Company No.)
    DOMAIN = "domain"  # e-mail or web domain
    PHONE = "phone"  # digits only


STRONG_IDENTIFIERS = frozenset({IdentifierKind.VAT, IdentifierKind.IBAN, IdentifierKind.REGISTER})


class FieldHint(BaseModel):
    """How one field was found on a vendor's invoices: its label's wording and where the value sits from it."""

    field: str
    label: str = Field(description="The label's wording, normalised (lower case, folded)")
    relation: str = Field(description="'inline': same phrase after the label; 'right': next phrase; 'below'")
    page: int = Field(ge=1, description="Page of the label, counted from the first page")
    dx: float = Field(description="Value x0 minus label x1 (right/inline) or minus label x0 (below), page widths")
    dy: float = Field(description="Value centre minus label centre, page heights")
    seen: int = Field(default=1, ge=1, description="Decisions that confirmed this label and place")
    date_format: str | None = Field(
        default=None, description="Dates: the vendor's printed format as strptime directives, e.g. '%Y-%b-%d'"
    )


class VendorProfile(BaseModel):
    """One vendor as learned from reviewers' decisions."""

    profile_id: str
    vendor_name: str
    customer_name: str | None = Field(default=None, description="The customer of the last decision")
    identifiers: list[str] = Field(description="'kind:value', e.g. 'iban:DE89370400440532013000'")
    fingerprint: list[str] = Field(description="Label-like words of page 1 with their column, seen on every invoice")
    hints: dict[str, FieldHint] = Field(default_factory=dict)
    adjustments: dict[str, FieldHint] = Field(
        default_factory=dict,
        description="Discounts and charges between subtotal and total, by label; each hint's field is "
        "'discount' (lowers the sum) or 'charge' (added as printed)",
    )
    tax_parts: dict[str, FieldHint] = Field(
        default_factory=dict,
        description="Tax lines, one per rate, whose sum is the tax when no one amount prints it, by label",
    )
    currency: str | None = None
    tax_rates: list[str] = Field(default_factory=list, description="Tax / subtotal ratios seen, as percentages")
    learned_from: list[str] = Field(default_factory=list, description="document_ids whose decisions were applied")
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class VendorMatch(BaseModel):
    """The outcome of matching one document against the profiles."""

    profile: VendorProfile | None = None
    conflict_code: IssueCode | None = None
    message: str | None = None
