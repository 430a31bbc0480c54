"""The answer a vision-language model gives for one invoice: its JSON schema is the tool's input schema.

Every header field carries the normalised value and the text exactly as printed, so fusion can look the
printed text up on the page instead of trusting the model. Every key is required (null when the page
shows nothing), so an answer that leaves one out is a schema violation, not a silent gap.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.models import CurrencyCode, Invoice, LineItem

TOOL_NAME = "record_invoice"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    printed: str | None = Field(description="The text exactly as printed on the page, or null if absent")


class TextAnswer(_Answer):
    value: str | None = Field(description="The value, whitespace tidied; null if the page does not show it")


class DateAnswer(_Answer):
    value: date | None = Field(description="The date as ISO 8601 (YYYY-MM-DD); null if not shown")


class AmountAnswer(_Answer):
    value: Decimal | None = Field(description="Plain decimal number, '.' as decimal point, no grouping or symbol")


class CurrencyAnswer(_Answer):
    value: CurrencyCode | None = Field(description="ISO 4217 code (USD, EUR, ...) of the amounts; null if unknown")


class VlmLineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(description="What was sold, as printed")
    quantity: Decimal | None = Field(description="Number of units, plain decimal")
    unit_price: Decimal | None = Field(description="Price of one unit, plain decimal")
    amount: Decimal | None = Field(description="Line total as printed, plain decimal")


# Invoice fields the page's own reading supplies and the model is not asked for.
_NOT_ASKED = frozenset({"line_items", "adjustments", "document_type"})


class VlmInvoice(BaseModel):
    """One invoice as read by the model from the page images; values only where the page shows them."""

    model_config = ConfigDict(extra="forbid")

    vendor_name: TextAnswer = Field(description="Seller / issuer of the invoice")
    customer_name: TextAnswer = Field(description="Buyer / bill-to party")
    invoice_number: TextAnswer = Field(description="Invoice identifier")
    invoice_date: DateAnswer = Field(description="Date of issue")
    due_date: DateAnswer = Field(description="Payment due date")
    currency: CurrencyAnswer = Field(description="Currency of the amounts")
    subtotal: AmountAnswer = Field(description="Sum before tax")
    tax: AmountAnswer = Field(description="Total tax amount")
    total: AmountAnswer = Field(description="Amount payable including tax")
    line_items: list[VlmLineItem] = Field(description="Every line item row, in page order")

    def answer(self, name: str) -> _Answer:
        found = getattr(self, name)
        assert isinstance(found, _Answer)
        return found

    def value(self, name: str) -> Any:
        return getattr(self.answer(name), "value", None)

    def to_invoice(self) -> Invoice:
        values = {name: self.value(name) for name in Invoice.model_fields if name not in _NOT_ASKED}
        items = [LineItem.model_validate(item.model_dump()) for item in self.line_items]
        return Invoice.model_validate({**values, "line_items": items})


def tool_input_schema() -> dict[str, Any]:
    """The JSON schema of VlmInvoice, generated from the model (never written by hand)."""
    return VlmInvoice.model_json_schema()
