"""Line items of a table without a header row: the rows above the totals that end in an aligned amount.

Receipts and compact invoices print items as "2 x Widget ... 24.00", with no column headings and no rules.
Reading upward from the totals, each row that ends in an amount aligned with the others is an item; a
line such as "@ 12.50" under it gives its unit price, and text under it with no amount in the amounts'
column continues its description ("(delivery" / "7583)"). A table that runs onto a second page is
followed back over the page break when the break says so ("continued", "Carried forward", "Page 1 of
2"): the next page's running head and the previous page's footer are skipped, never read as items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from pipeline.extract.fields import DocumentStyle, PageIndex
from pipeline.extract.layout import Phrase, Row
from pipeline.extract.tables import (
    CARRY_ROW,
    ItemRows,
    is_repeated_header,
    is_stop_row,
    number_in,
    reads_as_description,
    split_quantity_prefix,
    unit_price_line,
)
from schemas import LineItem

# An article code ("PRD-7304-B", "SKU12345"): one token of capitals and digits, at least one digit.
_ITEM_CODE = re.compile(r"^(?=[A-Z0-9./#_-]*\d)[A-Z0-9][A-Z0-9./#_-]{2,}$")
# Lines of a description under its item ("Consulting (delivery" / "7583)"); more is a note, not a wrap.
_MAX_CONTINUATION_LINES = 2
# A description's next line sits within this many line heights of the line above it.
_CONTINUATION_GAP = 2.5
# How far (in line heights) an amount's right edge may stray from the amounts' column.
_ALIGNMENT = 3.0


def _row_numbers(row: Row, style: DocumentStyle) -> tuple[list[str], list[tuple[Phrase, Decimal]]]:
    """The row's text phrases and its numbers, left to right. Article codes are left out of the text
    when the row has words as well, since a description column may follow a code or quantity column."""
    texts: list[str] = []
    numbers: list[tuple[Phrase, Decimal]] = []
    for phrase in sorted(row.phrases, key=lambda p: p.x0):
        value = number_in(phrase.text, style)
        if value is not None and sum(ch.isalpha() for ch in phrase.text) <= 4:
            numbers.append((phrase, value))
        elif not numbers or reads_as_description(phrase.text):
            texts.append(phrase.text)
    words = [text for text in texts if not _ITEM_CODE.match(text.strip())]
    return (words or texts), numbers


def _item_from_numbers(description: str | None, numbers: list[Decimal]) -> LineItem:
    """Numbers read right to left are amount, unit price, quantity; two numbers whose first is a
    whole count that differs from the amount are quantity and amount."""
    amount = numbers[-1]
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    if len(numbers) >= 3:
        quantity, unit_price = numbers[-3], numbers[-2]
    elif len(numbers) == 2:
        first = numbers[0]
        if first == first.to_integral_value() and first != amount and "." not in str(first):
            quantity = first
        else:
            unit_price = first
    return LineItem(description=description, quantity=quantity, unit_price=unit_price, amount=amount)


_MONEY_DECIMALS = re.compile(r"\d[.,]\d{2}(?!\d)")


@dataclass
class _Scan:
    """Items read so far (bottom up), with the description lines and unit price seen under the next one."""

    index: PageIndex
    style: DocumentStyle
    collected: list[ItemRows] = field(default_factory=list)
    pending_text: list[str] = field(default_factory=list)
    pending_price: Decimal | None = None
    anchor: float | None = None  # right edge of the amounts' column
    carried: bool = False  # a row said the table goes on from the page before

    def in_amount_column(self, row: Row, phrase: Phrase) -> bool:
        if self.anchor is None:  # no item yet: an amount prints its cents, a reference number does not
            return bool(_MONEY_DECIMALS.search(phrase.text))
        return abs(phrase.x1 - self.anchor) < _ALIGNMENT * row.height

    def is_item(self, row: Row) -> bool:
        texts, numbers = _row_numbers(row, self.style)
        has_words = any(sum(ch.isalpha() for ch in text) >= 3 for text in texts)
        return bool(numbers) and has_words and (self.anchor is None or self.in_amount_column(row, numbers[-1][0]))

    def take(self, row: Row, above: Row | None) -> bool:
        """Read one row as an item, a unit-price line or a description line; False if it is none."""
        texts, numbers = _row_numbers(row, self.style)
        if self.is_item(row) and self.index.label_of(row.phrases[0]) is None:
            self._add_item(row, texts, numbers)
        elif (price := unit_price_line(row, self.style)) is not None and self.pending_price is None:
            self.pending_price = price  # "@ 12.50 each", "@ US$9.12 each"
        elif self._continues_description(row, texts, numbers, above):
            self.pending_text.append(row.text)
        elif not (texts and numbers) or any(self.in_amount_column(row, phrase) for phrase, _ in numbers):
            return False
        # else words and a count but no amount ("Apple Magic Mouse  1" under a bundle): a part, not an item
        return True

    def _continues_description(
        self, row: Row, texts: list[str], numbers: list[tuple[Phrase, Decimal]], above: Row | None
    ) -> bool:
        """Words alone, or a lone reference number ("7583)") outside the amounts' column."""
        if len(self.pending_text) >= _MAX_CONTINUATION_LINES or above is None or (texts and numbers):
            return False
        if any(self.in_amount_column(row, phrase) for phrase, _ in numbers):
            return False
        return bool(self.collected) or _set_under(above, row)

    def _add_item(self, row: Row, texts: list[str], numbers: list[tuple[Phrase, Decimal]]) -> None:
        self.anchor = numbers[-1][0].x1
        quantity, first_text = split_quantity_prefix(texts[0], self.style)
        description = " ".join([first_text, *texts[1:], *reversed(self.pending_text)]) or None
        item = _item_from_numbers(description, [value for _, value in numbers])
        updates: dict[str, Decimal] = {}
        if quantity is not None and item.quantity is None:
            updates["quantity"] = quantity
        if self.pending_price is not None and item.unit_price is None:
            updates["unit_price"] = self.pending_price
        self.collected.append(ItemRows(item.model_copy(update=updates), list(row.phrases)))
        self.pending_text, self.pending_price = [], None


def _skips(scan: _Scan, row: Row) -> bool:
    """Rows that announce or carry the table across a page ("continued", "Brought forward 1,234.00")
    and a header repeated atop a page: never items, and evidence the table goes on."""
    if CARRY_ROW.search(row.text) or is_repeated_header(scan.index, row):
        scan.carried = True
        return True
    return False


def _read_page(scan: _Scan, rows: list[Row]) -> bool:
    """One page's rows, bottom up. True when the table may go on from the page before: every row above
    where the items stopped is the page's running head (no item among them)."""
    for position, row in enumerate(rows):
        if _skips(scan, row):
            continue
        above = rows[position + 1] if position + 1 < len(rows) else None
        if not scan.take(row, above):
            return not any(scan.is_item(other) for other in rows[position + 1 :] if not _skips(scan, other))
    return True


def _below_footer(scan: _Scan, rows: list[Row]) -> list[Row]:
    """The previous page's rows from its last item up, with the lines set right under that item (its unit
    price, the end of its description); the page's footer (page number, bank lines) is skipped."""
    for position, row in enumerate(rows):
        if not _skips(scan, row) and scan.is_item(row):
            start = position
            while start > 0 and not _skips(scan, rows[start - 1]) and _set_under(rows[start], rows[start - 1]):
                start -= 1
            return rows[start:]
    return []


def _set_under(above: Row, row: Row) -> bool:
    return row.page_no == above.page_no and row.y0 - above.y1 < _CONTINUATION_GAP * max(row.height, 1.0)


def _items_above(index: PageIndex, style: DocumentStyle, stop_position: int) -> list[ItemRows]:
    stop_page = index.rows[stop_position].page_no
    above = [row for row in index.rows[:stop_position] if row.page_no <= stop_page]
    pages = [list(rows) for _, rows in groupby(reversed(above), key=lambda row: row.page_no)]
    scan = _Scan(index, style)
    for number, rows in enumerate(pages):
        if number > 0:
            rows = _below_footer(scan, rows)
            if not scan.collected or not rows or not scan.carried:
                break
            scan.carried = False  # each page break needs its own word that the table goes on
            scan.pending_text, scan.pending_price = [], None  # the running head is no description
        if not _read_page(scan, rows):
            break
    return list(reversed(scan.collected))


def headerless_line_items(index: PageIndex, style: DocumentStyle) -> list[ItemRows]:
    """Tables whose header is missing or unreadable: the items above the first totals row that has any."""
    for stop_position, stop_row in enumerate(index.rows):
        if is_stop_row(index, stop_row) and (items := _items_above(index, style, stop_position)):
            return items
    return []
