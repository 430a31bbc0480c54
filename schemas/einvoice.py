"""What an e-invoice (Factur-X / ZUGFeRD / XRechnung / Peppol UBL) carries beyond our Invoice fields.

Kept apart from ``Invoice`` because ``Invoice`` is also the tool schema handed to the vision model, which
reads pictures and has no use for VAT IDs it cannot see checked.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field


class EInvoiceSyntax(StrEnum):
    CII = "cii"  # UN/CEFACT Cross Industry Invoice: Factur-X, ZUGFeRD 2.x, XRechnung (CII)
    UBL = "ubl"  # OASIS UBL 2.1 Invoice / CreditNote: Peppol BIS Billing 3.0, XRechnung (UBL)


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class TaxBreakdown(BaseModel):
    """One VAT breakdown line (EN 16931 BG-23): the tax of one category and rate."""

    rate: Decimal | None = Field(default=None, description="Percent, e.g. 19 for 19 %")
    category: str | None = Field(default=None, description="UNCL 5305 code: S standard, Z zero, E exempt, AE ...")
    taxable_amount: Decimal | None = Field(default=None, description="Net amount taxed at this rate (BT-116)")
    tax_amount: Decimal | None = Field(default=None, description="Tax at this rate (BT-117)")


class EInvoiceData(BaseModel):
    """The e-invoice's own facts that our Invoice has no field for, plus how it was read."""

    syntax: EInvoiceSyntax
    profile: str = Field(
        description="Short profile name: minimum, basicwl, basic, en16931, extended, xrechnung, peppol"
    )
    guideline_id: str | None = Field(default=None, description="The specification identifier as written (BT-24)")
    source: str = Field(description="Where the XML came from: the attachment's name, or 'standalone'")
    document_type: DocumentType = DocumentType.INVOICE
    type_code: str | None = Field(default=None, description="UNTDID 1001 code as written: 380 invoice, 381 credit")
    profile_has_line_items: bool = Field(
        default=True, description="False for Minimum and Basic WL, which carry no line items by design"
    )
    seller_vat_id: str | None = None
    buyer_vat_id: str | None = None
    iban: str | None = Field(default=None, description="The payee's account (BT-84), first one given")
    order_reference: str | None = Field(default=None, description="The buyer's purchase order number (BT-13)")
    amount_due: Decimal | None = Field(default=None, description="Amount due for payment (BT-115), after prepayments")
    tax_breakdown: list[TaxBreakdown] = Field(default_factory=list)
    check: str = Field(default="", description="How the XML was checked against the page, in words")
