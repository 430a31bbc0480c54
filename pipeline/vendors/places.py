"""Where a field's value sits on a page relative to its label: learned from a decided value, found again
on a new page of the same vendor.

Learning looks for the decided value printed on the page and takes the text before it in its phrase, the
phrase to its left or the phrase above it as the label. Finding looks for that label's wording again and
reads the value at the learned offset; a value is only ever read from the page, never made up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pipeline.extract.fields import mend_party_name
from pipeline.extract.labels import match_label
from pipeline.extract.layout import PageLayout, Phrase, Row
from pipeline.parsing import (
    find_amounts,
    find_currencies,
    find_dates,
    normalise_text,
    with_months_mended,
    without_accents,
)
from schemas import BoundingBox, Word
from schemas.vendors import FieldHint

AMOUNT_FIELDS = frozenset({"subtotal", "tax", "total"})
# A discount or a charge printed between the subtotal and the total: read like an amount, signed by its kind.
ADJUSTMENT_KINDS = frozenset({"discount", "charge"})
FIRM_LABEL = 1.0  # the reader's vocabulary names a label this strongly when it is the field's own wording
DATE_FIELDS = frozenset({"invoice_date", "due_date"})
TEXT_FIELDS = frozenset({"invoice_number", "customer_name"})
PARTY_FIELDS = ("vendor_name", "customer_name")
# The total first: when a decided subtotal equals the total (no tax), the spot the total takes is not the
# subtotal's (see learn_place).
LEARNED_FIELDS = ("total", "subtotal", "tax", *sorted(DATE_FIELDS), *sorted(TEXT_FIELDS))
MAX_VALUE_WORDS = 6
ROWS_ABOVE = 3
# How far (page fractions) a value may sit from where the profile expects it.
X_TOLERANCE = 0.06
Y_TOLERANCE = 0.02
# The date formats a vendor may print, as strptime directives: year, month (number or English name) and day
# in any of the three orders people write them, with or without a separator. A vendor's format is learned
# from a decided date printed in exactly one order, then read with on its next invoices ("20240108",
# "2024-Jan-08", "08-01-2024" whose day/month order the page alone leaves open).
_DATE_ORDERS = ("Ymd", "dmY", "mdY")
_DATE_PARTS = {"Y": ("%Y", "%y"), "m": ("%m", "%b", "%B"), "d": ("%d",)}
DATE_FORMATS = tuple(
    separator.join(parts[part] for part in order)
    for order in _DATE_ORDERS
    for parts in (dict(zip("Ymd", combo, strict=True)) for combo in itertools.product(*_DATE_PARTS.values()))
    for separator in ("", "-", ".", "/", " ")
)


@dataclass(frozen=True)
class PageStyle:
    """How the document prints numbers and dates."""

    decimal_sep: str
    day_first: bool | None


@dataclass(frozen=True)
class Found:
    """A value read at a learned place."""

    value: str
    words: list[Word]
    phrase: Phrase
    date_format: str | None = None  # a date read with the vendor's learned format (its order is settled)

    @property
    def bbox(self) -> BoundingBox:
        return self.phrase.bbox(self.words)

    @property
    def raw_text(self) -> str:
        return " ".join(word.text for word in self.words)


def _key(text: str) -> str:
    return normalise_text(text).lower().rstrip(":").strip()


def _squeezed(label: str) -> str:
    return without_accents(_key(label)).replace(" ", "")


def same_label(printed: str, learned: str) -> bool:
    """One label's wording, accents and the gaps between its words aside (OCR often drops them: "reglement"
    for "règlement", "Amountto remit:" for "Amount to remit:")."""
    return _squeezed(printed) == _squeezed(learned)


def _label_size(words: list[Word], label: str) -> int | None:
    """How many leading words print the label, gaps aside (OCR may drop one, or set one inside a word)."""
    wanted = _squeezed(label)
    for size in range(1, len(words) + 1):
        printed = _squeezed(" ".join(w.text for w in words[:size]))
        if printed == wanted:
            return size
        if len(printed) > len(wanted):
            return None
    return None


def _strip_date(text: str) -> str:
    return normalise_text(text).strip(" :,;")


def _parse_format(text: str, date_format: str) -> date | None:
    """The date `text` prints in `date_format`, a month's name OCR misspelt read as that month ("2024-] un-13"
    as "2024-Jun-13": place_evidence doubts it)."""
    try:
        return datetime.strptime(with_months_mended(_strip_date(text)), date_format).date()
    except ValueError:
        return None


def _date_order(date_format: str) -> str:
    return "".join(ch for ch in date_format if ch in "YymbBd").replace("y", "Y").replace("b", "m").replace("B", "m")


def date_format_of(text: str, decided: date) -> str | None:
    """The format `text` prints `decided` in, when every format that does agrees on the order of year, month
    and day (so it reads the vendor's next dates one way); None otherwise."""
    cleaned = _strip_date(text)
    if f"{decided.year % 100:02d}" not in cleaned or str(decided.day) not in cleaned:
        return None  # cheap test first: most text is no date at all
    matches = [fmt for fmt in DATE_FORMATS if _parse_format(cleaned, fmt) == decided]
    if not matches or len({_date_order(fmt) for fmt in matches}) > 1:
        return None
    return matches[0]


def read_value(field: str, text: str, style: PageStyle, date_format: str | None = None) -> str | None:
    """The field's normalised value when `text` holds exactly one value of the field's shape (a date in the
    vendor's learned format when one is given)."""
    if field in DATE_FIELDS and date_format is not None:
        parsed = _parse_format(text, date_format)
        return parsed.isoformat() if parsed is not None else None
    if field in AMOUNT_FIELDS or field in ADJUSTMENT_KINDS:
        amounts = find_amounts(text, style.decimal_sep)  # type: ignore[arg-type]
        return f"{amounts[0][2]:.2f}" if len(amounts) == 1 else None
    if field in DATE_FIELDS:
        dates = find_dates(text, style.day_first)
        return dates[0][2].isoformat() if len(dates) == 1 else None
    cleaned = normalise_text(text).strip(" :")
    if field in PARTY_FIELDS:
        cleaned = mend_party_name(cleaned)  # what the reader mends in any name it reads ("lronbridge")
    return cleaned or None


def same_value(field: str, read: str | None, decided: object) -> bool:
    if read is None or decided is None:
        return False
    if field in AMOUNT_FIELDS or field in ADJUSTMENT_KINDS:
        return Decimal(read) == Decimal(str(decided))
    if field in DATE_FIELDS:
        return read == (decided.isoformat() if isinstance(decided, date) else str(decided))
    return _key(read) == _key(str(decided))


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _has_word(text: str) -> bool:
    """Has a word of more letters than digits ("VAT 20%", "Rechnungs-Nr.", "N°", OCR's "T0ta1"), as a label
    does; a value printed beside the value has none (an invoice number "INV817154", a date "2024-Mar-10")."""
    return any(_worded(token) for token in text.split())


def _currency_mark(text: str) -> bool:
    """One word naming a currency ("GBP", "EUR"): part of the amount it precedes, not its label."""
    return len(text.split()) == 1 and bool(find_currencies(text))


def _worded(text: str) -> bool:
    """Reads as a label ("VAT 20%", "Total TTC"), not a value with a currency code ("GBP 412.64")."""
    return sum(ch.isalpha() for ch in text) > sum(ch.isdigit() for ch in text)


def _centre_y(words: list[Word], layout: PageLayout) -> float:
    return (min(w.y0 for w in words) + max(w.y1 for w in words)) / 2 / layout.height


def _hint(
    field: str,
    relation: str,
    label_words: list[Word],
    value_words: list[Word],
    layout: PageLayout,
    date_format: str | None,
) -> FieldHint:
    anchor_x = min(w.x0 for w in label_words) if relation == "below" else max(w.x1 for w in label_words)
    return FieldHint(
        field=field,
        label=_key(" ".join(w.text for w in label_words)),
        relation=relation,
        page=layout.page_no,
        dx=(min(w.x0 for w in value_words) - anchor_x) / layout.width,
        dy=_centre_y(value_words, layout) - _centre_y(label_words, layout),
        date_format=date_format,
    )


def _label_above(rows: list[Row], row_at: int, value_words: list[Word], aside: bool) -> list[Word] | None:
    """The label over the value: a worded phrase above it; with `aside`, also the nearest worded phrase to its
    left on the row just above (a payment box printing the amount under and right of its label)."""
    x0, x1 = min(w.x0 for w in value_words), max(w.x1 for w in value_words)
    for row in reversed(rows[max(0, row_at - ROWS_ABOVE) : row_at]):
        for phrase in row.phrases:
            if phrase.x0 < x1 and phrase.x1 > x0 and _worded(phrase.text):
                return phrase.words
    left = [p for p in rows[row_at - 1].phrases if p.x1 <= x0 and _worded(p.text)] if aside and row_at else []
    return max(left, key=lambda phrase: phrase.x1).words if left else None


# How far from its value a label may be, pass by pass: beside it on its row, then above it (a column or
# meta-row header), then above and to its left (a payment box).
_REACH = ("beside", "above", "aside")


def _label_for(
    layout: PageLayout, row_at: int, phrase_at: int, start: int, value: list[Word], reach: str
) -> tuple[str, list[Word]] | None:
    row = layout.rows[row_at]
    phrase = row.phrases[phrase_at]
    prefix = " ".join(w.text for w in phrase.words[:start])
    if start > 0 and _has_word(prefix) and not _currency_mark(prefix):
        return "inline", phrase.words[:start]
    left = phrase_at - 1
    while left >= 0 and _currency_mark(row.phrases[left].text):
        left -= 1  # "Total | EUR | 12.00": the label is left of the currency mark
    if left >= 0 and _has_word(row.phrases[left].text):
        return "right", row.phrases[left].words
    if reach == "beside":
        return None
    above = _label_above(layout.rows, row_at, value, reach == "aside")
    return ("below", above) if above is not None else None


@dataclass(frozen=True)
class Spot:
    """A decided value printed with a label: the place learned, and where on the page the value sits."""

    hint: FieldHint
    page_no: int
    row_at: int
    phrase_at: int
    label_text: str

    @property
    def key(self) -> tuple[int, int, int]:
        return self.page_no, self.row_at, self.phrase_at


def names_other_amount(field: str, label: str) -> bool:
    """The reader's own vocabulary names the label as another amount, firmly ("Subtotal" is no total's
    label; a weak reading such as "Importe neto" as a total settles nothing)."""
    named = _firmly_named(label)
    return named is not None and named in AMOUNT_FIELDS | ADJUSTMENT_KINDS and named != field


def _firmly_named(label: str) -> str | None:
    """The field the reader's vocabulary names the label as, when it does so firmly."""
    known = match_label(label)
    return known.field if known is not None and known.strength >= FIRM_LABEL else None


def learn_place(
    field: str,
    decided: object,
    layouts: list[PageLayout],
    style: PageStyle,
    taken: frozenset[tuple[int, int, int]] = frozenset(),
) -> Spot | None:
    """Where the decided value is printed with a label, or None when it is not printed next to one. A label
    beside the value wins over one above it anywhere on the page (a column header over a line amount equal to
    the subtotal loses to the subtotal's own label); a label above and to its left counts only when there is
    neither. A spot another field of the decision took is not this field's, and an amount is not learned
    at a label the reader knows as another amount (a total equal to its subtotal when there is no tax);
    among an amount's spots, one whose label names this very field comes first."""
    for reach in _REACH:
        spots = (spot for spot in _spots(field, decided, layouts, style, reach) if spot.key not in taken)
        if field not in AMOUNT_FIELDS:
            found = next(spots, None)
            if found is not None:
                return found
            continue
        free = [spot for spot in spots if not names_other_amount(field, spot.label_text)]
        named = [spot for spot in free if _firmly_named(spot.label_text) == field]
        if named or free:
            return (named or free)[0]
    return None


def label_beside(layout: PageLayout, row_at: int, phrase_at: int) -> tuple[str, FieldHint] | None:
    """The label beside the one amount a phrase ends in (in the phrase before it, or the phrase to its left),
    as a place to read that amount again: (label text, hint); None when no label is beside it."""
    words = layout.rows[row_at].phrases[phrase_at].words
    for start in range(len(words)):
        value = words[start:]
        text = " ".join(w.text for w in value)
        bare = [w.text for w in value if not _currency_mark(w.text)]
        if _has_letters(" ".join(bare)) or len(find_amounts(text)) != 1:
            continue
        label = _label_for(layout, row_at, phrase_at, start, value, "beside")
        if label is None:
            return None
        return " ".join(w.text for w in label[1]), _hint("charge", label[0], label[1], value, layout, None)
    return None


def _spots(field: str, decided: object, layouts: list[PageLayout], style: PageStyle, reach: str) -> Iterator[Spot]:
    for layout in layouts:
        for row_at, row in enumerate(layout.rows):
            for phrase_at, phrase in enumerate(row.phrases):
                for start in range(len(phrase.words)):
                    for end in range(start + 1, min(len(phrase.words), start + MAX_VALUE_WORDS) + 1):
                        words = phrase.words[start:end]
                        printed, date_format = _prints(field, " ".join(w.text for w in words), decided, style)
                        if not printed:
                            continue
                        label = _label_for(layout, row_at, phrase_at, start, words, reach)
                        if label is not None:
                            hint = _hint(field, label[0], label[1], words, layout, date_format)
                            text = " ".join(w.text for w in label[1])
                            yield Spot(hint, layout.page_no, row_at, phrase_at, text)
                            break


def _prints(field: str, text: str, decided: object, style: PageStyle) -> tuple[bool, str | None]:
    """Whether `text` prints the decided value, and (dates) the vendor's format it prints it in."""
    if field in DATE_FIELDS and isinstance(decided, date):
        date_format = date_format_of(text, decided)
        if date_format is not None:
            return True, date_format
    return same_value(field, read_value(field, text, style), decided), None


def _label_spots(layout: PageLayout, hint: FieldHint) -> list[tuple[int, int, int]]:
    """(row position, phrase index, label word count) wherever the hint's label wording is printed."""
    spots = []
    for row_at, row in enumerate(layout.rows):
        for at, phrase in enumerate(row.phrases):
            size = _label_size(phrase.words, hint.label)
            if size is not None and (hint.relation == "inline") != (len(phrase.words) == size):
                spots.append((row_at, at, size))
    return spots


def _value_words(
    layout: PageLayout, hint: FieldHint, row_at: int, at: int, size: int
) -> tuple[list[Word], Phrase] | None:
    row = layout.rows[row_at]
    label = row.phrases[at]
    if hint.relation == "inline":
        return label.words[size:], label
    anchor_x = (label.x0 if hint.relation == "below" else label.x1) / layout.width + hint.dx
    anchor_y = (label.y0 + label.y1) / 2 / layout.height + hint.dy
    rows = [row] if hint.relation == "right" else layout.rows[row_at + 1 : row_at + 1 + ROWS_ABOVE]
    for candidate_row in rows:
        for at, phrase in enumerate(candidate_row.phrases):
            close_x = abs(phrase.x0 / layout.width - anchor_x) <= X_TOLERANCE
            close_y = abs((phrase.y0 + phrase.y1) / 2 / layout.height - anchor_y) <= Y_TOLERANCE
            if phrase is not label and close_x and (hint.relation == "right" or close_y):
                return _with_amount(candidate_row, at)
    return None


def _with_amount(row: Row, at: int) -> tuple[list[Word], Phrase]:
    """The phrase at `at`; a bare currency mark ("GBP") with the amount printed apart from it after it."""
    phrase = row.phrases[at]
    if _currency_mark(phrase.text) and at + 1 < len(row.phrases):
        return phrase.words + row.phrases[at + 1].words, phrase
    return phrase.words, phrase


def find_at_place(hint: FieldHint, layouts: list[PageLayout], style: PageStyle) -> Found | None:
    """The value printed where the profile learned it, when exactly one distinct value is found there."""
    pages = [layout for layout in layouts if layout.page_no == hint.page]
    found: dict[str, Found] = {}
    for layout in pages:
        for row_at, at, size in _label_spots(layout, hint):
            located = _value_words(layout, hint, row_at, at, size)
            if located is None or not located[0]:
                continue
            words, phrase = located
            value = read_value(hint.field, " ".join(w.text for w in words), style, hint.date_format)
            if value is not None:
                found.setdefault(value, Found(value, words, phrase, hint.date_format))
    return next(iter(found.values())) if len(found) == 1 else None
