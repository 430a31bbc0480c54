"""Typed values out of e-invoice XML elements: one place for XPath lookups, amounts, dates and profiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree
from pydantic import ValidationError

from pipeline.einvoice.xml import EInvoiceError
from schemas import DocumentType, EInvoiceData, Invoice, IssueCode, LineItem, Severity, TaxBreakdown, ValidationIssue

# UNTDID 1001 document types that EN 16931 treats as credit notes.
CREDIT_NOTE_TYPE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})

# Specification identifiers (BT-24) to a short profile name; the first fragment found wins, so the more
# specific ones come first. Minimum and Basic WL carry no line items.
_PROFILES: tuple[tuple[str, str], ...] = (
    ("xrechnung", "xrechnung"),
    ("peppol", "peppol"),
    (":minimum", "minimum"),
    (":basicwl", "basicwl"),
    (":extended", "extended"),
    (":basic", "basic"),
    ("urn:cen.eu:en16931:2017", "en16931"),
)
PROFILES_WITHOUT_LINES = frozenset({"minimum", "basicwl"})


@dataclass(frozen=True)
class EInvoiceReading:
    """An e-invoice read from its XML: our Invoice plus the facts only the XML carries."""

    invoice: Invoice
    data: EInvoiceData
    issues: tuple[ValidationIssue, ...] = ()
    schema_note: str = ""  # "XSD-valid", "not valid against its XSD", or "" when no schema was checked

    @classmethod
    def build(
        cls,
        fields: dict[str, Any],
        data: EInvoiceData,
        *,
        schema_checked: bool = False,
        schema_problem: str | None = None,
    ) -> EInvoiceReading:
        """Our Invoice from the mapped fields, credit notes signed as ours are (amounts negative)."""
        try:
            invoice = Invoice(**fields)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise EInvoiceError(
                f"The XML holds values that are not valid ({problems}). Ask the sender to correct it."
            ) from exc
        if invoice.total is not None and invoice.total < 0:
            data = data.model_copy(update={"document_type": DocumentType.CREDIT_NOTE})
        elif data.document_type is DocumentType.CREDIT_NOTE:
            invoice, data = _as_negative(invoice, data)
        if data.document_type is DocumentType.CREDIT_NOTE:
            # The XML declares it: validation then expects the negative total instead of doubting it.
            invoice = invoice.model_copy(update={"document_type": DocumentType.CREDIT_NOTE})
        if schema_problem is None:
            return cls(invoice=invoice, data=data, schema_note="XSD-valid" if schema_checked else "")
        issue = ValidationIssue(
            code=IssueCode.EINVOICE_SCHEMA_INVALID,
            message=f"The e-invoice XML does not follow {schema_problem}; its values were read all the same. "
            "Tell the sender their software writes invalid e-invoices.",
            severity=Severity.WARNING,
        )
        return cls(invoice=invoice, data=data, issues=(issue,), schema_note="not valid against its XSD")


def _as_negative(invoice: Invoice, data: EInvoiceData) -> tuple[Invoice, EInvoiceData]:
    """A credit note written with positive amounts (type 381) as our records hold it: the amounts negative,
    each line a negative quantity at its positive price."""
    lines = [
        LineItem(
            description=item.description,
            quantity=negated(item.quantity),
            unit_price=item.unit_price,
            amount=negated(item.amount),
        )
        for item in invoice.line_items
    ]
    signed = invoice.model_copy(
        update={
            "subtotal": negated(invoice.subtotal),
            "tax": negated(invoice.tax),
            "total": negated(invoice.total),
            "line_items": lines,
        }
    )
    breakdown = [
        TaxBreakdown(
            rate=line.rate,
            category=line.category,
            taxable_amount=negated(line.taxable_amount),
            tax_amount=negated(line.tax_amount),
        )
        for line in data.tax_breakdown
    ]
    return signed, data.model_copy(update={"amount_due": negated(data.amount_due), "tax_breakdown": breakdown})


@dataclass(frozen=True)
class LinePaths:
    """Where a syntax keeps each invoice line and, relative to it, the line's values."""

    lines: str
    description: str
    quantity: str
    price: str
    price_base_quantity: str
    amount: str


class Finder:
    """XPath lookups on one XML tree with fixed namespace prefixes; texts come back stripped or None."""

    def __init__(self, namespaces: dict[str, str]) -> None:
        self.namespaces = namespaces

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        found = node.xpath(path, namespaces=self.namespaces)
        return [item for item in found if isinstance(item, etree._Element)] if isinstance(found, list) else []

    def first(self, node: etree._Element, path: str) -> etree._Element | None:
        found = self.all(node, path)
        return found[0] if found else None

    def text(self, node: etree._Element, path: str) -> str | None:
        element = self.first(node, path)
        if element is None or element.text is None:
            return None
        return " ".join(element.text.split()) or None

    def amount(self, node: etree._Element, path: str) -> Decimal | None:
        return to_decimal(self.text(node, path), path)


def to_decimal(text: str | None, where: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise EInvoiceError(f"The XML's {where} is {text!r}, not a number. Ask the sender to correct it.") from None
    if not value.is_finite():
        raise EInvoiceError(f"The XML's {where} is {text!r}, not a number. Ask the sender to correct it.")
    return value


def to_date(text: str | None, where: str, compact: bool) -> date | None:
    """YYYYMMDD (CII format 102) when compact, else YYYY-MM-DD (UBL)."""
    if text is None:
        return None
    try:
        if compact:
            return date(int(text[0:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else _bad_date(text, where)
        return date.fromisoformat(text[:10])
    except ValueError:
        return _bad_date(text, where)


def _bad_date(text: str, where: str) -> date:
    raise EInvoiceError(f"The XML's {where} is {text!r}, not a date. Ask the sender to correct it.")


def profile_name(guideline_id: str | None) -> str:
    lowered = (guideline_id or "").lower()
    for fragment, name in _PROFILES:
        if fragment in lowered:
            return name
    return "unknown"


def negated(value: Decimal | None) -> Decimal | None:
    return -value if value is not None else None


def read_line_items(finder: Finder, root: etree._Element, paths: LinePaths) -> list[LineItem]:
    """Every invoice line, its unit price per one unit (a price given per N units is divided by N)."""
    items: list[LineItem] = []
    for line in finder.all(root, paths.lines):
        price = finder.amount(line, paths.price)
        per = finder.amount(line, paths.price_base_quantity)
        items.append(
            LineItem(
                description=finder.text(line, paths.description),
                quantity=finder.amount(line, paths.quantity),
                unit_price=price / per if price is not None and per else price,
                amount=finder.amount(line, paths.amount),
            )
        )
    return items
