"""A due date printed on the page that the reader did not read: doubt it rather than accept the record without it.

The lexicon knows the common due-date labels; an issuer's own wording ("Remit by", "Settle before") is not in
it, and neither is a label OCR garbled. When no due date was read, a date in the header block that is later
than the issue date, taken by no field, out of the line items, and printed under or beside a short label the
lexicon does not know (or under no label, lined up with the issue date's value) may be the due date. The
record goes to review; the reviewer's answer teaches the vendor profile the label. Dates under a label the
lexicon knows (a delivery, order or service date, a period) and dates inside a sentence are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pipeline.extract.fields import Candidate, DocumentStyle, PageIndex
from pipeline.extract.labels import column_kind, is_title, match_label, names_another_date
from pipeline.extract.layout import Phrase, horizontal_overlap
from pipeline.extract.tables import ItemRows
from pipeline.parsing import find_dates
from schemas import IssueCode, ValidationIssue

# A due date sits in the header block with the issue date: a few rows from it.
HEADER_BLOCK_ROWS = 4
# A date "stands alone" in its phrase when fewer characters than this are printed after it.
_ALONE_MAX_CHARACTERS = 3
# A label is a few words; a longer text beside a date is a sentence (a note, terms), not a label.
_LABEL_MAX_WORDS = 4
# A label beside its value sits within this many type heights of it; text further left is another block.
_LABEL_MAX_GAP = 12


@dataclass(frozen=True)
class _LoneDate:
    phrase: Phrase
    text: str  # the date as printed
    label: str | None  # the label printed with it (in its phrase, before it, beside it or above it)


def unread_due_date_issues(
    index: PageIndex, chosen: dict[str, Candidate | None], style: DocumentStyle, item_rows: list[ItemRows]
) -> list[ValidationIssue]:
    """One blocking issue naming ``due_date`` when no due date was read but the header prints a later date
    that nothing on the page explains (see the module's docstring)."""
    issued, due = chosen.get("invoice_date"), chosen.get("due_date")
    if due is not None or issued is None or not isinstance(issued.value, date):
        return []
    taken = {candidate.value for candidate in chosen.values() if candidate is not None}
    anchor = issued.evidence
    in_items = {(phrase.page_no, phrase.row_index) for rows in item_rows for phrase in rows.phrases}
    for phrase in _header_phrases(index, anchor, in_items):
        lone = _later_lone_date(index, phrase, issued.value, taken, style)
        if lone is None:
            continue
        aligned = abs(phrase.x0 - anchor.x0) < anchor.height  # in the issue date's column
        if (lone.label is None and aligned) or (lone.label is not None and _unknown_label(lone.label)):
            return [_issue(lone)]
    return []


def _header_phrases(index: PageIndex, anchor: Phrase, in_items: set[tuple[int, int]]) -> list[Phrase]:
    """Phrases a few rows from the issue date's, on its page, outside the line items."""
    return [
        phrase
        for row in index.rows
        if row.page_no == anchor.page_no
        and abs(row.index - anchor.row_index) <= HEADER_BLOCK_ROWS
        and (row.page_no, row.index) not in in_items
        for phrase in row.phrases
    ]


def _later_lone_date(
    index: PageIndex, phrase: Phrase, issued: date, taken: set[str | date | Decimal], style: DocumentStyle
) -> _LoneDate | None:
    """The phrase's one date when it is later than the issue date, taken by no field, and ends the phrase;
    with the label printed before it in the phrase, else beside it, else above it."""
    hits = find_dates(phrase.text, day_first=style.day_first)
    if len(hits) != 1 or hits[0][2] <= issued or hits[0][2] in taken:
        return None
    start, end, _ = hits[0]
    if sum(ch.isalnum() for ch in phrase.text[end:]) >= _ALONE_MAX_CHARACTERS:
        return None  # more text follows the date: a sentence or a range, not a labelled value
    before = phrase.text[:start].strip(" :.-\u2013")
    label = before if any(ch.isalpha() for ch in before) else _label_beside(index, phrase)
    return _LoneDate(phrase, phrase.text[start:end], label)


def _label_beside(index: PageIndex, phrase: Phrase) -> str | None:
    """The text left of the date in its row, if that is no value; else the text above it (a row of labels
    over a row of values)."""
    row = index.row_of(phrase)
    left = [other for other in row.phrases if other.x1 <= phrase.x0 + 1]
    near = bool(left) and phrase.x0 - left[-1].x1 < _LABEL_MAX_GAP * phrase.height
    if near and not any(ch.isdigit() for ch in left[-1].text):
        return left[-1].text
    above = [r for r in index.rows if r.page_no == row.page_no and 0 < row.index - r.index <= 2]
    for upper in sorted(above, key=lambda r: -r.index):
        over = [o for o in upper.phrases if horizontal_overlap(phrase.x0, phrase.x1, o.x0, o.x1) > 0]
        if over:
            return over[0].text if not any(ch.isdigit() for ch in over[0].text) else None
    return None


def _unknown_label(text: str) -> bool:
    """A short label that names no field the lexicon knows, no line-item column and no other kind of date."""
    words = text.split()
    return (
        0 < len(words) <= _LABEL_MAX_WORDS
        and sum(ch.isalpha() for ch in text) >= 2
        and not any(ch.isdigit() for ch in text)
        and match_label(text) is None
        and column_kind(text) is None
        and not is_title(text)
        and not names_another_date(text)
    )


def _issue(lone: _LoneDate) -> ValidationIssue:
    where = f"under or beside {lone.label!r}, a label the reader does not know" if lone.label else "on its own"
    return ValidationIssue(
        code=IssueCode.UNREADABLE_VALUE,
        field="due_date",
        message=f"No due date was read, but {lone.text!r} is printed {where}, after the issue date; "
        "check whether it is the due date and enter it if so.",
    )
