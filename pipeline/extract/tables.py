"""Line items from table geometry: a header row names the columns, the rows under it are the items.

Cells are assigned to columns by horizontal position, numbers to numeric columns in reading order,
so the same code reads tables with or without SKU columns and with quantity before or after the
description. A description that wraps onto a row without numbers is joined to the item above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.extract.fields import DocumentStyle, PageIndex
from pipeline.extract.labels import column_kind
from pipeline.extract.layout import Phrase, Row, horizontal_overlap
from pipeline.parsing import find_amounts, parse_amount
from schemas import LineItem

_NUMERIC = ("quantity", "unit_price", "amount")
_TEXT = ("description", "sku")
_STOP_FIELDS = frozenset({"subtotal", "total", "tax"})


@dataclass
class Column:
    kind: str
    x0: float
    x1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class ItemRows:
    item: LineItem
    phrases: list[Phrase] = field(default_factory=list)


def header_columns(row: Row) -> list[Column] | None:
    columns = [Column(kind, p.x0, p.x1) for p in row.phrases if (kind := column_kind(p.text)) is not None]
    kinds = {c.kind for c in columns}
    if len(columns) < 2 or len(columns) < len(row.phrases) - 1:
        return None
    if not kinds & {"amount", "unit_price"} or not kinds & {"description", "quantity"}:
        return None
    # Two columns of one kind ("Price" and "Total" both read as money): the rightmost is the line amount.
    numeric = [c for c in columns if c.kind in _NUMERIC]
    if len(numeric) >= 2 and numeric[-1].kind != "amount" and not any(c.kind == "amount" for c in numeric):
        numeric[-1].kind = "amount"
    return sorted(columns, key=lambda c: c.x0)


def _text_column_for(phrase: Phrase, columns: list[Column]) -> Column | None:
    """The text column (description, SKU) a phrase starts under, if any."""
    best: Column | None = None
    best_overlap = 0.0
    for position, column in enumerate(columns):
        if column.kind not in _TEXT:
            continue
        right = columns[position + 1].x0 if position + 1 < len(columns) else column.x1 + 10 * phrase.height
        overlap = horizontal_overlap(phrase.x0, phrase.x1, column.x0 - phrase.height, right)
        if overlap > best_overlap:
            best, best_overlap = column, overlap
    return best


def _is_number(phrase: Phrase, style: DocumentStyle) -> Decimal | None:
    text = phrase.text
    value = parse_amount(text, decimal_sep=style.decimal_sep)  # type: ignore[arg-type]
    if value is not None:
        return value
    amounts = find_amounts(text, decimal_sep=style.decimal_sep)  # type: ignore[arg-type]
    # "2 x" or "3 pcs": a number with a unit word is still the quantity cell
    if len(amounts) == 1 and len(text.split()) <= 2 and sum(ch.isalpha() for ch in text) <= 4:
        return amounts[0][2]
    return None


def _assign_numbers(numbers: list[tuple[Phrase, Decimal]], columns: list[Column]) -> dict[str, Decimal]:
    numeric_columns = [c for c in columns if c.kind in _NUMERIC]
    if not numeric_columns or not numbers:
        return {}
    if len(numbers) == len(numeric_columns):
        return {c.kind: value for c, (_, value) in zip(numeric_columns, numbers, strict=True)}
    assigned: dict[str, Decimal] = {}
    for phrase, value in numbers:
        free = [c for c in numeric_columns if c.kind not in assigned]
        if not free:
            break
        column = min(free, key=lambda c: min(abs(phrase.x1 - c.x1), abs(phrase.cx - c.cx)))
        assigned[column.kind] = value
    return assigned


def _parse_row(
    row: Row, columns: list[Column], style: DocumentStyle
) -> tuple[dict[str, Decimal], list[str], list[Phrase]]:
    numbers: list[tuple[Phrase, Decimal]] = []
    descriptions: list[str] = []
    for phrase in sorted(row.phrases, key=lambda p: p.x0):
        text_column = _text_column_for(phrase, columns)
        value = _is_number(phrase, style)
        if text_column is not None and (value is None or text_column.kind == "sku"):
            if text_column.kind == "description":
                descriptions.append(phrase.text)
            continue
        if value is not None:
            numbers.append((phrase, value))
        else:
            descriptions.append(phrase.text)
    return _assign_numbers(numbers, columns), descriptions, list(row.phrases)


def _is_stop_row(index: PageIndex, row: Row) -> bool:
    for phrase in row.phrases:
        label = index.label_of(phrase)
        if label is not None and label.field in _STOP_FIELDS:
            return True
    return False


def extract_line_items(index: PageIndex, style: DocumentStyle) -> list[ItemRows]:
    items: list[ItemRows] = []
    columns: list[Column] | None = None
    table_open = False
    previous_row: Row | None = None
    for row in index.rows:
        found = header_columns(row)
        if found is not None:
            columns, table_open, previous_row = found, True, row
            continue
        if not table_open or columns is None:
            continue
        if previous_row is not None and row.page_no != previous_row.page_no:
            previous_row = None  # a new page: the table may continue under a repeated or absent header
        if _is_stop_row(index, row):
            table_open = False
            continue
        if previous_row is not None and row.y0 - previous_row.y1 > 6 * max(row.height, 1.0):
            table_open = False
            continue
        values, descriptions, phrases = _parse_row(row, columns, style)
        has_money = "amount" in values or "unit_price" in values
        if has_money:
            items.append(
                ItemRows(
                    LineItem(
                        description=" ".join(descriptions) or None,
                        quantity=values.get("quantity"),
                        unit_price=values.get("unit_price"),
                        amount=values.get("amount"),
                    ),
                    phrases,
                )
            )
            previous_row = row
        elif descriptions and items and previous_row is not None and row.page_no == previous_row.page_no:
            last = items[-1]
            joined = " ".join(filter(None, [last.item.description, *descriptions]))
            last.item = last.item.model_copy(update={"description": joined})
            last.phrases.extend(phrases)
            previous_row = row
    return items
