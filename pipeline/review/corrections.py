"""Turn a reviewer's edited values into a corrected Invoice and the list of what changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation

from pipeline.errors import ReviewInputError
from pipeline.parsing import parse_amount, parse_date
from schemas import HEADER_FIELDS, FieldChange, Invoice, LineItem

MONEY_FIELDS = ("subtotal", "tax", "total")
DATE_FIELDS = ("invoice_date", "due_date")
LINE_COLUMNS = ("description", "quantity", "unit_price", "amount")


def value_text(value: object) -> str | None:
    """The text a value is shown and recorded as: ISO dates, plain decimals, None for nothing."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _amount(label: str, text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        parsed = parse_amount(text, ".")
        if parsed is None:
            raise ReviewInputError(f"{label}: {text!r} is not an amount; type it like 1234.50.") from None
        return parsed


def _date(label: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        parsed = parse_date(text)
        if parsed is None:
            raise ReviewInputError(f"{label}: {text!r} is not a date; type it like 2024-03-15.") from None
        return parsed


def _header_value(name: str, text: str | None) -> object:
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    if name in MONEY_FIELDS:
        return _amount(name, cleaned)
    if name in DATE_FIELDS:
        return _date(name, cleaned)
    return cleaned


def _line_item(position: int, cells: Mapping[str, str | None]) -> LineItem | None:
    values: dict[str, object] = {}
    for column in LINE_COLUMNS:
        text = (cells.get(column) or "").strip()
        if not text:
            continue
        values[column] = text if column == "description" else _amount(f"line {position} {column}", text)
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
