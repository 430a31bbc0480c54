"""Data shapes shared by every stage: documents, pages, OCR words, invoices, evidence and results.

Money is Decimal, dates are ``datetime.date``, currencies are ISO 4217 codes. Boxes are in page
coordinates normalised to 0..1 so they survive any re-rendering resolution.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.codes import FailureCode, IssueCode
from schemas.currency import is_currency_code
from schemas.einvoice import DocumentType, EInvoiceData


def _check_currency(code: str | None) -> str | None:
    if code is None:
        return None
    upper = code.strip().upper()
    if not is_currency_code(upper):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return upper


CurrencyCode = Annotated[str, AfterValidator(_check_currency)]


class RecordStatus(StrEnum):
    ACCEPTED = "accepted"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"


class TextSource(StrEnum):
    TEXT_LAYER = "text_layer"
    OCR = "ocr"


class BoundingBox(BaseModel):
    """A box on one page, coordinates as fractions of the page width and height (0..1)."""

    model_config = ConfigDict(frozen=True)

    x0: float = Field(ge=0, le=1)
    y0: float = Field(ge=0, le=1)
    x1: float = Field(ge=0, le=1)
    y1: float = Field(ge=0, le=1)


class Document(BaseModel):
    """One input file as discovered."""

    document_id: str = Field(description="sha256 of the file's bytes, hex")
    source: str = Field(description="The input path or URI as the user gave it")
    local_path: str = Field(description="Where the bytes can be read on this machine")
    size_bytes: int
    media_type: str = Field(description="Guessed from the content, e.g. application/pdf, image/png")
    duplicate_sources: list[str] = Field(
        default_factory=list, description="Other inputs in the batch with exactly these bytes"
    )


class Page(BaseModel):
    """One rendered page on scratch disk; images stay on disk, only the path travels."""

    page_no: int = Field(ge=1)
    image_path: str
    width_px: int
    height_px: int
    dpi: int
    text_source: TextSource


class Word(BaseModel):
    """A word with its box in page pixels; from the PDF text layer or from OCR."""

    text: str
    page_no: int
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float = Field(ge=0, le=1, description="OCR confidence; 1.0 for text-layer words")
    line_key: tuple[int, int, int] = (0, 0, 0)

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return self.y1 - self.y0


class PageText(BaseModel):
    """All words of one page plus the page size they are measured against."""

    page_no: int
    width: float
    height: float
    source: TextSource
    words: list[Word]


class VendorEvidence(BaseModel):
    """What a document shows about its issuer, kept per document so a later decision can be learned from."""

    document_id: str
    identifiers: list[str] = Field(default_factory=list)
    fingerprint: list[str] = Field(default_factory=list)
    pages: list[PageText] = Field(default_factory=list, description="The words the fields were read from")
    profile_id: str | None = Field(default=None, description="The profile applied to this document, if any")
    model_call_saved: bool = Field(default=False, description="The profile made the model call unnecessary")


class LineItem(BaseModel):
    description: str | None = Field(default=None, description="What was sold, as printed")
    quantity: Decimal | None = Field(default=None, description="Number of units")
    unit_price: Decimal | None = Field(default=None, description="Price of one unit")
    amount: Decimal | None = Field(default=None, description="Line total as printed")


class Invoice(BaseModel):
    """The structured invoice; also the JSON schema handed to a vision-language model."""

    vendor_name: str | None = Field(default=None, description="Seller / issuer of the invoice")
    customer_name: str | None = Field(default=None, description="Buyer / bill-to party")
    invoice_number: str | None = Field(default=None, description="Invoice identifier as printed")
    invoice_date: date | None = Field(default=None, description="Date of issue")
    due_date: date | None = Field(default=None, description="Payment due date")
    currency: CurrencyCode | None = Field(default=None, description="ISO 4217 code, e.g. USD, EUR")
    subtotal: Decimal | None = Field(default=None, description="Sum before tax")
    tax: Decimal | None = Field(default=None, description="Total tax amount")
    total: Decimal | None = Field(default=None, description="Amount payable including tax")
    document_type: DocumentType | None = Field(
        default=None, description="credit_note when the document calls itself one (its amounts are then negative)"
    )
    adjustments: Decimal | None = Field(
        default=None,
        description="Discounts (negative) and charges such as shipping printed between the subtotal and the "
        "tax, summed; subtotal + adjustments + tax = total",
    )
    line_items: list[LineItem] = Field(default_factory=list)


HEADER_FIELDS: tuple[str, ...] = (
    "vendor_name",
    "customer_name",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "subtotal",
    "tax",
    "total",
)


class Support(StrEnum):
    """Kinds of independent evidence behind a field's value (see FieldEvidence)."""

    LABEL = "label"  # read beside a label that names this field
    SHAPE = "shape"  # the value has the shape of its field (an ID with digits, a date, an amount, a name)
    REPEATED = "repeated"  # printed the same way elsewhere in the document (page 2 header, reference line)
    SENDER = "sender"  # the vendor is named again in a sender line, footer or legal line
    DOMAIN = "domain"  # the vendor matches an e-mail or web domain printed on the page
    PRINTED_MARK = "printed_mark"  # a currency code or symbol printed on the page
    RATE = "rate"  # a tax that is its printed rate of the amount it applies to
    SOLE_DATE = "sole_date"  # the only date the document prints: no other date it could be confused with
    ITEMS_SUM = "items_sum"  # an unprinted subtotal: the line items' sum, which the total less its tax confirms


class FieldEvidence(BaseModel):
    """What speaks for and against one field's value; routing decides from it whether it may be accepted."""

    support: list[Support] = Field(default_factory=list, description="Independent evidence found for the value")
    doubts: list[str] = Field(
        default_factory=list, description="What speaks against the value, in words a reviewer understands"
    )


class FieldValue(BaseModel):
    """One extracted field with its confidence and where it came from."""

    name: str
    value: str | None = Field(description="Normalised value as text (ISO date, plain decimal, code)")
    confidence: float = Field(ge=0, le=1)
    extractor: str
    page: int | None = None
    bbox: BoundingBox | None = None
    raw_text: str | None = Field(default=None, description="The text the value was read from")
    evidence: FieldEvidence | None = Field(default=None, description="Corroboration; None: none was gathered")


class Severity(StrEnum):
    BLOCKING = "blocking"  # the record cannot be accepted while this holds
    WARNING = "warning"


class ValidationIssue(BaseModel):
    code: IssueCode = Field(description="Stable machine-readable code, e.g. total_mismatch")
    message: str = Field(description="What is wrong, in words a reviewer understands")
    field: str | None = None
    severity: Severity = Severity.BLOCKING


class ExtractionResult(BaseModel):
    """What an extractor hands to validation: the invoice plus per-field evidence."""

    invoice: Invoice
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    extractor: str
    text_source: TextSource
    issues: list[ValidationIssue] = Field(
        default_factory=list, description="Problems the extractor saw, e.g. a label whose value is unreadable"
    )


class ExtractionRecord(BaseModel):
    """The final per-document outcome: one row of ``invoices/``."""

    document_id: str
    source: str
    duplicate_sources: list[str] = Field(
        default_factory=list, description="Other inputs with identical bytes, accounted for by this row"
    )
    page_count: int = 0
    status: RecordStatus
    confidence: float = Field(ge=0, le=1, default=0.0)
    review_reasons: list[str] = Field(default_factory=list)
    blocking_codes: list[str] = Field(
        default_factory=list, description="Codes of what kept the record out of accepted, whatever its confidence"
    )
    warning_codes: list[str] = Field(default_factory=list, description="Codes of warnings that lowered confidence")
    error: str | None = None
    error_code: FailureCode | None = Field(default=None, description="Why the row failed (failed rows only)")
    invoice: Invoice = Field(default_factory=Invoice)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    issues: list[ValidationIssue] = Field(default_factory=list)
    extractor: str = "none"
    text_source: TextSource | None = None
    processing_seconds: float = 0.0
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    page_images: list[str] = Field(
        default_factory=list, description="Page previews kept for this record, relative to the output folder"
    )
    vlm_models: list[str] = Field(default_factory=list, description="Models asked for this record, tier order")
    vlm_input_tokens: int = Field(default=0, description="Input tokens paid for in this run (cache hits: 0)")
    vlm_output_tokens: int = 0
    vlm_cost_usd: Decimal = Field(default=Decimal(0), description="US dollars spent on model calls for this record")
    vendor_evidence: VendorEvidence | None = Field(
        default=None, description="Identifiers and words of the page, kept for learning vendor profiles"
    )
    einvoice: EInvoiceData | None = Field(default=None, description="Set when the record was read from e-invoice XML")


RunStatusCounts = dict[Literal["accepted", "needs_review", "failed"], int]
