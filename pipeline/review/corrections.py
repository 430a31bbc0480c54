"""Turn a reviewer's edited values into a corrected Invoice and the list of what changed.

Every value is checked against what the outputs can hold before anything is recorded: money fits the Parquet
column's decimal(18, 2) with at most two decimal places (quantities and unit prices decimal(18, 4)), dates fall
in a sane range, text has a length limit and no control characters. A value that does not fit is refused with
a message; nothing is silently rounded, clipped or dropped on export.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation

import pyarrow as pa

from pipeline.errors import ReviewInputError
from pipeline.parsing import parse_amount, parse_date
from schemas import HEADER_FIELDS, FieldChange, Invoice, LineItem
from schemas.arrow import INVOICES_SCHEMA, LINE_ITEMS_SCHEMA

MONEY_FIELDS = ("subtotal", "tax", "total")
DATE_FIELDS = ("invoice_date", "due_date")
LINE_COLUMNS = ("description", "quantity", "unit_price", "amount")
MAX_TEXT = 300  # header text fields (names, invoice number)
MAX_DESCRIPTION = 1000
MAX_LINE_ITEMS = 500
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def value_text(value: object) -> str | None:
    """The text a value is shown and recorded as: ISO dates, plain decimals, None for nothing."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def check_text(label: str, text: str, limit: int) -> str:
    """Refuse control characters (NUL, ESC, newlines, bidi overrides) and text over `limit` characters."""
    if len(text) > limit:
        raise ReviewInputError(f"{label}: {len(text)} characters is too long; at most {limit}.")
    bad = next((ch for ch in text if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS), None)
    if bad is not None:
        raise ReviewInputError(f"{label}: contains the control character U+{ord(bad):04X}; type plain text.")
    return text


def _decimal_type(column: str) -> pa.Decimal128Type:
    schema = LINE_ITEMS_SCHEMA if column in LINE_COLUMNS else INVOICES_SCHEMA
    kind = schema.field(column).type
    assert isinstance(kind, pa.Decimal128Type)
    return kind


def check_decimal(label: str, value: Decimal, column: str) -> Decimal:
    """`value` fits the output column (`total`, `quantity`…): finite, within its digits, no extra places."""
    kind = _decimal_type(column)
    if not value.is_finite():
        raise ReviewInputError(f"{label}: {value} is not a number.")
    if abs(value) >= Decimal(10) ** (kind.precision - kind.scale):
        raise ReviewInputError(
            f"{label}: {value} is too large; at most {kind.precision - kind.scale} digits before the point."
        )
    if value != value.quantize(Decimal(1).scaleb(-kind.scale)):
        raise ReviewInputError(f"{label}: {value} has more than {kind.scale} decimal places.")
    return value


def _amount(label: str, text: str, column: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        parsed = parse_amount(text, ".")
        if parsed is None:
            raise ReviewInputError(f"{label}: {text!r} is not an amount; type it like 1234.50.") from None
        value = parsed
    return check_decimal(label, value, column)


def _date(label: str, text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        parsed = parse_date(text)
        if parsed is None:
            raise ReviewInputError(f"{label}: {text!r} is not a date; type it like 2024-03-15.") from None
        value = parsed
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ReviewInputError(f"{label}: {value.isoformat()} is outside {EARLIEST_DATE.year}-{LATEST_DATE.year}.")
    return value


def _header_value(name: str, text: str | None) -> object:
    cleaned = check_text(name, (text or "").strip(), MAX_TEXT)
    if not cleaned:
        return None
    if name in MONEY_FIELDS:
        return _amount(name, cleaned, name)
    if name in DATE_FIELDS:
        return _date(name, cleaned)
    return cleaned


def _line_item(position: int, cells: Mapping[str, str | None]) -> LineItem | None:
    values: dict[str, object] = {}
    for column in LINE_COLUMNS:
        label = f"line {position} {column}"
        text = check_text(label, (cells.get(column) or "").strip(), MAX_DESCRIPTION)
        if not text:
            continue
        values[column] = text if column == "description" else _amount(label, text, column)
    return LineItem.model_validate(values) if values else None


def apply_corrections(
    invoice: Invoice,
    header: Mapping[str, str | None],
    line_items: Sequence[Mapping[str, str | None]] | None = None,
) -> Invoice:
    """`invoice` with the header fields named in `header` (and, if given, all line items) replaced.

    Empty text clears a value; an empty line-item row is dropped. Bad values raise ReviewInputError.
    """
    updates: dict[str, object] = {
        name: _header_value(name, text) for name, text in header.items() if name in HEADER_FIELDS
    }
    if line_items is not None:
        if len(line_items) > MAX_LINE_ITEMS:
            raise ReviewInputError(f"{len(line_items)} line items is too many; at most {MAX_LINE_ITEMS}.")
        rows = [_line_item(position, cells) for position, cells in enumerate(line_items, start=1)]
        updates["line_items"] = [row for row in rows if row is not None]
    merged = invoice.model_dump() | updates
    try:
        return Invoice.model_validate(merged)
    except ValueError as exc:
        raise ReviewInputError(f"A corrected value is not valid: {exc}") from exc


def _same(a: object, b: object) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b  # 10 and 10.00 are one amount
    return value_text(a) == value_text(b)


def changes_between(old: Invoice, new: Invoice) -> list[FieldChange]:
    """Every header field and line-item cell whose value differs, in form order."""
    changes = [
        FieldChange(field=name, old_value=value_text(getattr(old, name)), new_value=value_text(getattr(new, name)))
        for name in HEADER_FIELDS
        if not _same(getattr(old, name), getattr(new, name))
    ]
    for index in range(max(len(old.line_items), len(new.line_items))):
        before = old.line_items[index] if index < len(old.line_items) else None
        after = new.line_items[index] if index < len(new.line_items) else None
        for column in LINE_COLUMNS:
            old_value = getattr(before, column) if before else None
            new_value = getattr(after, column) if after else None
            if not _same(old_value, new_value):
                changes.append(
                    FieldChange(
                        field=f"line_items[{index + 1}].{column}",
                        old_value=value_text(old_value),
                        new_value=value_text(new_value),
                    )
                )
    return changes
