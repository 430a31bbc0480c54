"""Line items from table geometry: a header row names the columns, the rows under it are the items.

Cells are assigned to columns by horizontal position, numbers to numeric columns in reading order,
so the same code reads tables with or without SKU columns and with quantity before or after the
description. A description that wraps onto a row without numbers is joined to the item above it.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.extract.fields import DocumentStyle, PageIndex
from pipeline.extract.labels import column_kind
from pipeline.extract.layout import Phrase, Row
from pipeline.money import agree
from pipeline.parsing import find_amounts, parse_amount
from schemas import LineItem

_NUMERIC = ("quantity", "unit_price", "amount")
_TEXT = ("description", "sku")
_STOP_FIELDS = frozenset({"subtotal", "total", "tax", "tendered", "change"})


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


def _phrase_columns(phrase: Phrase) -> list[Column] | None:
    """Column headers in one phrase; headers printed close together ("Quantity Description") share one."""
    kind = column_kind(phrase.text)
    if kind is not None:
        return [Column(kind, phrase.x0, phrase.x1)]
    words = phrase.words
    columns: list[Column] = []
    position = 0
    while position < len(words):
        for span in (3, 2, 1):
            chunk = words[position : position + span]
            if len(chunk) == span and (kind := column_kind(" ".join(w.text for w in chunk))) is not None:
                columns.append(Column(kind, chunk[0].x0, chunk[-1].x1))
                position += span
                break
        else:
            return None
    return columns


def header_columns(row: Row) -> list[Column] | None:
    columns: list[Column] = []
    unmatched = 0
    for phrase in row.phrases:
        found = _phrase_columns(phrase)
        if found is None:
            unmatched += 1
        else:
            columns.extend(found)
    kinds = {c.kind for c in columns}
    # A heading or two of no known kind ("Subscription", "Interval") sits among the known ones.
    if len(columns) < 2 or unmatched > max(1, len(columns) - 1):
        return None
    if not kinds & {"amount", "unit_price"} or not kinds & {"description", "quantity"}:
        return None
    # Two columns of one kind ("Price" and "Total" both read as money): the rightmost is the line amount.
    numeric = [c for c in columns if c.kind in _NUMERIC]
    if len(numeric) >= 2 and numeric[-1].kind != "amount" and not any(c.kind == "amount" for c in numeric):
        numeric[-1].kind = "amount"
    return sorted(columns, key=lambda c: c.x0)


def column_boundaries(columns: list[Column], height: float) -> list[float]:
    """Left edge of each column's territory. Text columns are left-aligned under their header;
    numbers are right- or centre-aligned and may start left of a short header such as "Qty"."""
    edges = [float("-inf")]
    for left, right in itertools.pairwise(columns):
        if right.kind in _TEXT:
            edges.append(right.x0 - height)
        elif left.kind in _NUMERIC:
            edges.append((left.x1 + right.x0) / 2)
        else:
            edges.append(max(left.x1, right.x0 - 2 * height))
    return edges


def _table_left(row: Row, columns: list[Column]) -> float:
    """Text left of this belongs to a sidebar or margin beside the table, not to the row's item."""
    return columns[0].x0 - 2 * row.height


def _table_text(row: Row, columns: list[Column]) -> str:
    """The row's text inside the table: "Page 2 of 2" in a sidebar beside an item is not the item's."""
    return " ".join(phrase.text for phrase in row.phrases if phrase.x1 >= _table_left(row, columns))


def _cells(row: Row, columns: list[Column]) -> dict[str, str]:
    """Words of one row grouped by the column whose territory holds their centre."""
    edges = column_boundaries(columns, row.height)
    table_left = _table_left(row, columns)
    cells: dict[str, list[str]] = {}
    for word in sorted(row.words, key=lambda w: w.x0):
        if word.x1 < table_left:
            continue
        position = max(i for i, edge in enumerate(edges) if word.cx >= edge)
        cells.setdefault(columns[position].kind, []).append(word.text)
    return {kind: " ".join(words) for kind, words in cells.items()}


def number_in(text: str, style: DocumentStyle) -> Decimal | None:
    amounts = find_amounts(text, decimal_sep=style.decimal_sep)  # type: ignore[arg-type]
    return amounts[-1][2] if amounts else None


def _parse_row(row: Row, columns: list[Column], style: DocumentStyle) -> tuple[dict[str, Decimal], list[str]]:
    cells = _cells(row, columns)
    values: dict[str, Decimal] = {}
    for kind in _NUMERIC:
        # a number inside words ("Continúa en la página 2") is a note's, not the column's
        if kind not in cells or reads_as_description(cells[kind]):
            continue
        if (value := number_in(cells[kind], style)) is not None:
            values[kind] = value
    description = cells.get("description")
    return values, [description] if description else []


def is_stop_row(index: PageIndex, row: Row) -> bool:
    if not any(ch.isdigit() for ch in row.text):
        return False  # a heading's second line ("Ohne MwSt."), not a totals row: those print an amount
    for phrase in row.phrases:
        label = index.label_of(phrase)
        if label is not None and label.field in _STOP_FIELDS:
            return True
    return False


# Rows that carry a running sum between pages or announce the next page: never line items.
CARRY_ROW = re.compile(
    r"\b(carried|brought)\s+forward\b|\bcontinued\b|\bfortsetzung\b|\b[üu]bertrag\b|"
    r"[àa]\s+reporter\b|^\s*report\b|\bsuite\b|\bpage\s+\d+\s+(of|sur|von)\b|\bseite\s+\d+|"
    # Italian and Spanish ("A riportare" / "Riporto", "Suma y sigue" / "Suma anterior", "(segue)")
    r"\ba\s+riportare\b|^\s*riporto\b|\(segue\)|\bsuma\s+(y\s+sigue|anterior)\b|\(continuaci[óo]n\)|\(vervolg\)|"
    # "Continúa en la página 2", "Segue a pagina 2", "Vervolg op pagina 2", "Página 1 de 2", "Pagina 1 di 2"
    r"\bcontin[úu]a\s+en\b|\bsegue\s+a\s+pagina\b|\bvervolg\s+op\b|\bp[áa]gina\s+\d+\s+(de|di|van)\s+\d",
    re.IGNORECASE,
)


def _table_segments(index: PageIndex) -> list[tuple[list[Column], list[Row]]]:
    """Each header row with the body rows under it, up to the totals.

    A wide gap (the page footer) pauses a table instead of ending it: items that run onto the next
    page continue under the same columns, with or without a repeated header, until the totals.
    """
    segments: list[tuple[list[Column], list[Row]]] = []
    body: list[Row] | None = None
    previous: Row | None = None
    paused = False
    columns: list[Column] = []
    for row in index.rows:
        found = header_columns(row)
        if found is not None:
            body, previous, paused, columns = [], row, False, found
            segments.append((found, body))
            continue
        if body is None:
            continue
        if is_stop_row(index, row):
            body, previous, paused = None, None, False
            continue
        if previous is not None and row.page_no != previous.page_no:
            paused = False
        elif previous is not None and row.y0 - previous.y1 > 6 * max(row.height, 1.0):
            paused = True
        previous = row
        if not paused and not CARRY_ROW.search(_table_text(row, columns)) and not is_repeated_header(index, row):
            body.append(row)
    return segments


# Header fields a continuation page repeats above its table ("Invoice Number 65597").
_REPEATED_FIELDS = frozenset({"invoice_number", "invoice_date", "due_date"})


def is_repeated_header(index: PageIndex, row: Row) -> bool:
    """A row whose every number is the value of a header field's label repeats the document's header:
    "Invoice Number 65597", or "Acme GmbH   Invoice No.: 17585" atop page 2. An item prints its amount
    apart from any label, and one whose description starts like a label ("Due date extension fee") has
    words after the label."""
    labelled = awaiting_value = False
    for phrase in sorted(row.phrases, key=lambda p: p.x0):
        label = index.label_of(phrase)
        if label is not None and label.field in _REPEATED_FIELDS:
            rest = phrase.text[label.end :]
            if reads_as_description(rest):
                return False
            labelled, awaiting_value = True, not rest.strip()
            continue
        if any(ch.isdigit() for ch in phrase.text) and not awaiting_value:
            return False
        awaiting_value = False
    return labelled


def _numeric_phrases(rows: list[Row], style: DocumentStyle) -> list[Phrase]:
    return [
        phrase
        for row in rows
        for phrase in row.phrases
        if sum(ch.isalpha() for ch in phrase.text) <= 4 and number_in(phrase.text, style) is not None
    ]


def align_numeric_columns(columns: list[Column], rows: list[Row], style: DocumentStyle) -> list[Column]:
    """Place numeric columns where the numbers actually are.

    Numbers in one column share a right edge (or centre) down the table, so clustering the body's
    numbers finds the columns even when OCR garbled or shifted the header. Clusters take the header's
    numeric kinds from the right when the counts agree, the usual order (quantity, unit price, amount)
    when they do not.
    """
    numbers = _numeric_phrases(rows, style)
    if not numbers:
        return columns
    height = statistics.median(p.height for p in numbers)
    clusters: list[list[Phrase]] = []
    for phrase in sorted(numbers, key=lambda p: p.x1):
        if clusters and phrase.x1 - clusters[-1][-1].x1 <= 2 * height:
            clusters[-1].append(phrase)
        else:
            clusters.append([phrase])
    money_rows = len({(p.page_no, p.row_index) for p in numbers})
    clusters = [c for c in clusters if len(c) >= max(1, money_rows // 3)]
    header_numeric = [c for c in columns if c.kind in _NUMERIC]
    text_columns = [c for c in columns if c.kind not in _NUMERIC]
    description = next((c for c in text_columns if c.kind == "description"), None)
    if description is not None and not any(c.kind == "quantity" and c.x1 < description.x0 for c in header_numeric):
        # numbers left of the description are codes unless the header puts a quantity there
        clusters = [c for c in clusters if min(p.x0 for p in c) > description.x0]
    if not clusters:
        return columns
    if len(clusters) == len(header_numeric):
        kinds = [c.kind for c in header_numeric]
    else:
        kinds = list(reversed(["amount", "unit_price", "quantity"][: len(clusters)]))
        clusters = clusters[-len(kinds) :]
    aligned = [
        Column(kind, min(p.x0 for p in cluster), max(p.x1 for p in cluster))
        for kind, cluster in zip(kinds, clusters, strict=True)
    ]
    return sorted([*text_columns, *aligned], key=lambda c: c.x0)


def _repair_row_arithmetic(values: dict[str, Decimal]) -> dict[str, Decimal]:
    """Quantity and unit price swapped by a misread header are put back when that makes q x p = amount."""
    quantity, unit_price, amount = values.get("quantity"), values.get("unit_price"), values.get("amount")
    if quantity is None or unit_price is None or amount is None:
        return values
    if not agree(quantity * unit_price, amount):
        return values
    # A price printed with cents ("4,5 x 210,00") is a price, however round; a bare whole number is a count.
    printed_whole = unit_price == unit_price.to_integral_value() and unit_price.as_tuple().exponent == 0
    if quantity != quantity.to_integral_value() and printed_whole:
        return {**values, "quantity": unit_price, "unit_price": quantity}
    return values


def unit_price_line(row: Row, style: DocumentStyle) -> Decimal | None:
    """The price of one unit printed on its own line under an item ("@ 12.50", "12.50 / unit"). A speck
    OCR read as a lone character far from it ("@ 26,37 € each   3") is no second number."""
    text = " ".join(phrase.text for phrase in row.phrases if len(phrase.text.strip()) > 1)
    amounts = find_amounts(text, decimal_sep=style.decimal_sep)  # type: ignore[arg-type]
    if len(amounts) != 1 or not _UNIT_PRICE_LINE.match(text):
        return None
    return amounts[0][2]


def _continues(previous: Row, row: Row, columns: list[Column]) -> bool:
    """A description's next line sits right under it, in the description column alone; a wider gap opens
    a note, and a line spread over other columns ("QualityHosting AG  Vorstand: ...  Bankverbindung") is
    the page footer."""
    close = row.page_no == previous.page_no and row.y0 - previous.y1 < _CONTINUATION_GAP * max(row.height, 1.0)
    return close and set(_cells(row, columns)) == {"description"}


_CONTINUATION_GAP = 2.5


def extract_line_items(index: PageIndex, style: DocumentStyle) -> list[ItemRows]:
    items: list[ItemRows] = []
    for header, all_rows in _table_segments(index):
        price_lines = {id(row): unit_price_line(row, style) for row in all_rows}
        rows = [row for row in all_rows if price_lines[id(row)] is None]
        columns = align_numeric_columns(header, rows, style)
        previous: Row | None = None
        for row in all_rows:
            unit_price = price_lines[id(row)]
            if unit_price is not None:
                if items and items[-1].item.unit_price is None:
                    items[-1].item = items[-1].item.model_copy(update={"unit_price": unit_price})
                continue
            values, descriptions = _parse_row(row, columns, style)
            values = _repair_row_arithmetic(values)
            if "amount" in values or "unit_price" in values:
                quantity, description = split_quantity_prefix(" ".join(descriptions), style)
                item = LineItem(
                    description=description or None,
                    quantity=values.get("quantity", quantity),
                    unit_price=values.get("unit_price"),
                    amount=values.get("amount"),
                )
                items.append(ItemRows(item, list(row.phrases)))
                previous = row
            elif descriptions and items and previous is not None and _continues(previous, row, columns):
                last = items[-1]
                joined = " ".join(filter(None, [last.item.description, *descriptions]))
                last.item = last.item.model_copy(update={"description": joined})
                last.phrases.extend(row.phrases)
                previous = row
    return items


def reads_as_description(text: str) -> bool:
    """Text after a number is a description only if it is words ("Freight and handling"), not a unit
    or a currency code ("hrs", "CHF")."""
    words = [word for word in text.split() if sum(ch.isalpha() for ch in word) >= 2]
    return len(words) >= 2 or any(sum(ch.isalpha() for ch in word) >= 6 for word in words)


_QUANTITY_PREFIX = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*[x\u00d7]\s+(?=\S)", re.IGNORECASE)
# A line that only states a unit price: "@ 12.50", "at 12.50", "12.50 each", "12.50 / unit".
_UNIT_PRICE_LINE = re.compile(
    r"^(?=.*(@|\bat\b|\bà\b|\bje\b|\beach\b|/\s*unit|per\s*unit|/\s*stk|st[üu]ck|unit[ée]))"
    r"\s*(@|at\b|à\b|je\b)?\s*(?:[^A-Za-z]|\b[A-Z]{3}\b|\b[A-Z]{1,2}\$)*\s*"
    r"(each|/\s*unit|per\s*unit|/\s*stk\.?|pro\s*st[üu]ck|l'unit[ée])?\s*$"
)


def split_quantity_prefix(description: str, style: DocumentStyle) -> tuple[Decimal | None, str]:
    found = _QUANTITY_PREFIX.match(description)
    if found is None:
        return None, description
    quantity = parse_amount(found.group(1), decimal_sep=style.decimal_sep)  # type: ignore[arg-type]
    return quantity, description[found.end() :]
