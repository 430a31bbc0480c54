"""Header fields from label/value geometry: a value sits after its label, to its right, or below it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from pipeline.extract.labels import (
    COMPANY_WORD,
    ENDS_IN_LEGAL_FORM,
    LEGAL_FORM_ONLY,
    NAME_JOINERS,
    LabelMatch,
    column_kind,
    is_credit_note_title,
    is_title,
    match_label,
    reads_as_street_address,
    strip_title,
)
from pipeline.extract.layout import PageLayout, Phrase, Row, horizontal_overlap, type_size_ratio, within_a_space
from pipeline.money import net_tax_gross
from pipeline.parsing import find_amounts, find_currencies, find_dates, find_dates_across_gaps
from schemas import Word
from schemas.currency import COUNTRY_CURRENCIES, LEGAL_FORM_CURRENCIES

# How much a value's position relative to its label is worth; "after the label in the same phrase"
# and "to its right" are how nearly every invoice prints a key/value pair.
_POSITION_WEIGHT = {"inline": 1.0, "right": 0.97, "below": 0.9}
# A lower-case letter standing alone ("c rescent Provisions"): OCR broke a capitalised word apart.
_BROKEN_NAME = re.compile(r"(?:^|\s)[a-z](?=\s)")
_AMOUNTS = frozenset({"subtotal", "tax", "total"})
# Rows between the subtotal and the total that change the tax base: discounts and charges such as shipping.
ADJUSTMENTS = frozenset({"discount", "charge"})
# "VAT 19% on 100.00", "MwSt. aus 100,00 €": the amount a rate applies to, not the tax.
_BASIS_BEFORE = re.compile(r"\b(on|of|aus|auf|sur|from|over|van|über)\s*[€$£]?\s*$", re.IGNORECASE)
# A company registration number printed after the name: "STAR GROCER SDN BHD (1171881-W)".
_REGISTRATION_SUFFIX = re.compile(r"\s*\(\s*[\w-]*\d[\w-]*\s*\)\s*$")
# A lower-case word other than the particles names contain ("Bank of", "van der").
# A line that is only a company's registration number ("(913144-A)", "JM0325955-V", "Company No.: 441970-H",
# "ROC: 002016014-D"): the issuer's legal name is printed just above it.
_REGISTRATION_LINE = re.compile(
    r"^\(?\s*(?:(?:company|co|reg(?:istration)?|roc)\.?\s*(?:no|nr|number)?\.?\s*[:.]?\s*)?"
    r"[A-Z]{0,3}\d{5,}\s?-?\s?[A-Z]?\s*\)?$",
    re.IGNORECASE,
)
_LOWER_WORD = re.compile(r"(?<![\w.])(?!(?:and|und|of|de|du|der|van|von|den|la|le|et|en|y|e)\b)[a-z]{2,}\b")
_CONTACT = re.compile(r"@|www\.|https?:|\.com\b|\bphone\b|\btel\b|\bfax\b|\+\d", re.IGNORECASE)
# "SON BHD", "S0N. BHD.": OCR's O for the D of the Malaysian legal form "Sdn. Bhd." (no form reads "Son Bhd").
_OCR_SDN = re.compile(r"\b(S)[O0](N\.?\s*BHD)\b", re.IGNORECASE)
_OCR_CAPITAL_I = re.compile(r"(?<=[A-Z]{2})[\]|](?=\s|$)")
# A token ending in a letter prefix, alone or after a separator ("INV", "2024-T"): digits may follow it.
_LETTER_PREFIX = re.compile(r"(?:^[A-Z]{2,5}|[-/.][A-Z]{1,5})$")
_INVOICE_NUMBER_TOKEN = re.compile(r"^[#:)|]*([A-Za-z0-9][A-Za-z0-9\-/._]*[A-Za-z0-9]|[0-9])[.,;:]?$")


@dataclass
class Candidate:
    """A possible value for one field, with the evidence it came from."""

    field: str
    value: str | date | Decimal
    score: float
    phrase: Phrase
    words_from: int = 0
    words_to: int | None = None
    read_as: str | None = None  # set when arithmetic changed a digit OCR read: what the page showed
    label_read: bool = True  # False: no label was read beside it; the arithmetic placed it (see rules.py)

    @property
    def evidence(self) -> Phrase:
        return Phrase(
            self.phrase.words[self.words_from : self.words_to],
            self.phrase.page_no,
            self.phrase.page_width,
            self.phrase.page_height,
            self.phrase.row_index,
        )


@dataclass
class DocumentStyle:
    decimal_sep: str
    day_first: bool | None
    day_first_printed: bool = True  # False when the order is only a guess from the locale


def words_after(phrase: Phrase, char_end: int) -> int:
    """Index of the first word that starts at or after ``char_end`` in the phrase's text."""
    position = 0
    for index, word in enumerate(phrase.words):
        if position >= char_end:
            return index
        position += len(word.text) + 1
    return len(phrase.words)


# A word that only separates a line's "label value" pairs ("Invoice 123 · Issued 2 May · Due 1 Jun").
_PAIR_SEPARATORS = frozenset("·•|∙‧")


def split_at_inline_labels(row: Row) -> list[Phrase]:
    """Split "Date: 01.02.2024 Due: 03.03.2024" into two phrases where a colon-ended label starts, and
    "Issued 2 May 2024 · Due 1 Jun 2024" where a label follows a separator (which belongs to neither).

    A split needs a value between the two labels, so multi-word labels such as "Bill To:" stay whole.
    """
    result: list[Phrase] = []
    for phrase in row.phrases:
        start = 0
        label_words = _label_words(phrase.words)  # of the words from `start` on: found again at each split
        for index in range(1, len(phrase.words)):
            separated = phrase.words[index - 1].text in _PAIR_SEPARATORS
            if label_words >= index - start - separated:
                continue  # nothing but label so far: this word still belongs to it
            tail_text = " ".join(word.text for word in phrase.words[index:])
            found = match_label(tail_text)
            if found is not None and (separated or tail_text[: found.end].rstrip().endswith((":", "#"))):
                chunk = phrase.words[start : index - separated]
                result.append(Phrase(chunk, phrase.page_no, phrase.page_width, phrase.page_height, phrase.row_index))
                start = index
                label_words = _label_words(phrase.words[start:])
        result.append(phrase.tail(start) if start else phrase)
    return result


def _label_words(words: list[Word]) -> int:
    """How many of the words the label at their start takes (0: no label)."""
    rest = Phrase(words, 0, 1, 1)
    label = match_label(rest.text)
    return words_after(rest, label.end) if label else 0


# A title heading a column among other labels ("Klant | Order | Factuur datum | Factuur | Vervaldatum"): the
# value under it is the document's number.
_TITLED_COLUMN_STRENGTH = 0.85


def titled_column_phrase(row: Row) -> Phrase | None:
    """The one title in a row of at least two other labels."""
    titles = [phrase for phrase in row.phrases if is_title(phrase.text) and not is_credit_note_title(phrase.text)]
    labels = [phrase for phrase in row.phrases if not is_title(phrase.text) and match_label(phrase.text)]
    return titles[0] if len(titles) == 1 and len(labels) >= 2 else None


def names_a_company(text: str, label: LabelMatch) -> bool:
    """An amount's label word opening a company name ("Shipping S.p.A.", "Freight Logistics AG"): more words
    after it, closed by a legal form, and no number anywhere. An amount's label is followed by an amount;
    a line that ends in a legal form names a party."""
    rest = text[label.end :].strip()
    return (
        label.field in _AMOUNTS | ADJUSTMENTS
        and bool(rest)
        and ENDS_IN_LEGAL_FORM.search(text) is not None
        and not any(ch.isdigit() or ch == ":" for ch in text)
    )


class PageIndex:
    """Rows and phrases of all pages, with the label found at the start of each phrase."""

    def __init__(self, layouts: list[PageLayout]) -> None:
        self.layouts = layouts
        self.rows: list[Row] = []
        self._rows_by_key: dict[tuple[int, int], Row] = {}
        for layout in layouts:
            for row in layout.rows:
                row.phrases = split_at_inline_labels(row)
                self.rows.append(row)
                self._rows_by_key[(row.page_no, row.index)] = row
        self.labels: dict[int, LabelMatch] = {}
        after_header = False
        for row in self.rows:
            # A header's second line ("Ohne MwSt.") heads columns too; a totals row prints amounts.
            # A header's second line ("Ohne MwSt.") heads columns too, and so does a third; a totals row prints amounts.
            table_header = _opens_table(row) or (after_header and not any(ch.isdigit() for ch in row.text))
            after_header = table_header
            titled = titled_column_phrase(row)
            for phrase in row.phrases:
                if phrase is titled:
                    found: LabelMatch | None = LabelMatch("invoice_number", _TITLED_COLUMN_STRENGTH, len(phrase.text))
                else:
                    found = None if is_title(phrase.text) else match_label(phrase.text)
                if table_header and (
                    column_kind(phrase.text) is not None or (found and found.field in _AMOUNTS | ADJUSTMENTS)
                ):
                    continue  # "Total" or "Tax" heading a column of line items labels the column, not the invoice
                if found is not None and not names_a_company(phrase.text, found):
                    self.labels[id(phrase)] = found

    def label_of(self, phrase: Phrase) -> LabelMatch | None:
        return self.labels.get(id(phrase))

    def row_of(self, phrase: Phrase) -> Row:
        return self._rows_by_key[(phrase.page_no, phrase.row_index)]

    def row_at(self, page_no: int, index: int) -> Row | None:
        return self._rows_by_key.get((page_no, index))

    def is_value_like(self, phrase: Phrase) -> bool:
        return self.label_of(phrase) is None and column_kind(phrase.text) is None and not is_title(phrase.text)

    def extend_name(self, phrase: Phrase) -> Phrase:
        """A name OCR broke at a wide gap ("Pinecrest Retail | Group GmbH") continues to the right."""
        words = list(phrase.words)
        for other in self.right_of(phrase):
            if other is phrase or other.x0 < words[-1].x1:
                continue
            gap = other.x0 - words[-1].x1
            if gap > 3 * phrase.height or not self.is_value_like(other) or any(ch.isdigit() for ch in other.text):
                break
            words.extend(other.words)
        return Phrase(words, phrase.page_no, phrase.page_width, phrase.page_height, phrase.row_index)

    def extend_name_down(self, phrase: Phrase) -> Phrase:
        """A company name wrapped over two lines where the layout says so (see `wraps_onto`), or where the type
        does (see `set_as_one_name`), even with a row of another column between the two lines. Any other wrap
        ("Riverstone Outdoor" / "Gear GmbH" in the address's type reads like "Felix Wolf" / "SimFin Analytics
        GmbH") is left to the evidence, which doubts it. A legal form centred under a name set in a heading, in
        smaller type ("PHILIP MORRIS" / "INCORPORATED"), completes it too."""
        other = self.next_in_column(phrase)
        if other is None or not (
            self.continues_name(phrase, other)
            and (
                wraps_onto(phrase.text, other.text)
                or self.set_as_one_name(phrase, other)
                or self.printed_whole(phrase, other)
            )
        ):
            other = self._centred_legal_form(phrase)
        if other is not None:
            words = [*phrase.words, *other.words]
            return Phrase(words, phrase.page_no, phrase.page_width, phrase.page_height, phrase.row_index)
        return phrase

    def set_as_one_name(self, first: Phrase, second: Phrase) -> bool:
        """Two lines set in one type that the block's next line does not share (a name in bold or larger type
        over its address, "Riverstone Veterinary" / "Practice AG" / "Seestrasse 167"), which together make one
        company's name: the second line closes with a legal form, the first has none and reads as a name, not a
        sentence or a wordmark the second line repeats. Lines in the address's own type (a contact person over
        the company) and a block set in one type throughout are left to the evidence, which doubts them."""
        if not (ENDS_IN_LEGAL_FORM.search(second.text) and _bare_name_line(first.text, second.text)):
            return False
        same = self.type_ratio(first, second)
        after = self.next_in_column(second)
        if same is None or not _SAME_TYPE[0] <= same <= _SAME_TYPE[1] or after is None:
            return False
        smaller = [self.type_ratio(line, after) for line in (first, second)]
        return all(ratio is not None and ratio <= _SMALLER_TYPE for ratio in smaller)

    def printed_whole(self, first: Phrase, second: Phrase) -> bool:
        """The two lines, read as one, are printed on a single line elsewhere in the document ("Redwood" /
        "Creative" over a footer "Redwood Creative, Registered in ..."): the document itself says they are one
        name. A contact person over a company is never printed as one run of words with it."""
        if not _bare_name_line(first.text, second.text):
            return False
        whole = f" {_words_key(first.text)} {_words_key(second.text)} "
        own = {(first.page_no, first.row_index), (second.page_no, second.row_index)}
        return any((row.page_no, row.index) not in own and whole in f" {_words_key(row.text)} " for row in self.rows)

    def _centred_legal_form(self, phrase: Phrase) -> Phrase | None:
        for other in self.below(phrase, max_rows=1):
            centred = abs(other.cx - phrase.cx) < phrase.height
            if centred and 0 <= other.y0 - phrase.y1 < 1.5 * phrase.height and LEGAL_FORM_ONLY.match(other.text):
                return other
        return None

    def next_in_column(self, phrase: Phrase) -> Phrase | None:
        """The first phrase under this one that starts or ends where it does (a row of another column between
        them, as in a sidebar beside the line items, is skipped)."""
        for other in self.below(phrase, max_rows=2):
            if min(abs(other.x0 - phrase.x0), abs(other.x1 - phrase.x1)) < phrase.height:
                return other
        return None

    def continues_name(self, first: Phrase, second: Phrase) -> bool:
        """`second` sits just under `first`, aligned with it, in type as large, and reads as more of a name."""
        height = first.height
        aligned = min(abs(second.x0 - first.x0), abs(second.x1 - first.x1)) < height
        close = 0 <= second.y0 - first.y1 < 1.5 * height
        text = second.text
        name_like = sum(ch.isalpha() for ch in text) >= 2 and not any(ch.isdigit() or ch in ":@" for ch in text)
        as_large = self.size_ratio(first, second) >= 0.85
        return aligned and close and name_like and as_large and self.is_value_like(second)

    def type_ratio(self, first: Phrase, second: Phrase) -> float | None:
        """`second`'s type size next to `first`'s, by words of the same shape (see `type_size_ratio`)."""
        scales = next((layout.shape_scale for layout in self.layouts if layout.page_no == first.page_no), None)
        return type_size_ratio(first, second, scales)

    def size_ratio(self, first: Phrase, second: Phrase) -> float:
        """`type_ratio`, or where it cannot tell, the ratio of the two lines' box heights."""
        ratio = self.type_ratio(first, second)
        return ratio if ratio is not None else second.height / max(first.height, 1e-6)

    def right_of(self, phrase: Phrase) -> list[Phrase]:
        row = self.row_of(phrase)
        return sorted((p for p in row.phrases if p.x0 >= phrase.x1 - 1), key=lambda p: p.x0)

    def below(self, phrase: Phrase, max_rows: int = 3) -> list[Phrase]:
        """Phrases in the next rows that sit under the label (overlapping it, or left-aligned with it)."""
        found: list[Phrase] = []
        row = self.row_of(phrase)
        # Heights and edges are medians and minima over words: each is worked out once, not once per row.
        top, height, left, right = row.y0 + 0.5 * row.height, phrase.height, phrase.x0, phrase.x1
        following = [r for r in self.rows if r.page_no == row.page_no and r.y0 > top]
        following.sort(key=lambda r: r.y0)
        for candidate_row in following[:max_rows]:
            if candidate_row.y0 - row.y1 > 4 * max(height, 1.0) * (1 + len(found)):
                break
            for other in candidate_row.phrases:
                aligned = abs(other.x0 - left) < 2 * height
                if aligned or horizontal_overlap(left, right, other.x0, other.x1) > 0.3:
                    found.append(other)
        return found


# Type sizes read from word boxes: two lines of one type measure within a few percent of each other (OCR boxes
# wobble by a pixel or two); an address in a point smaller type than its name measures about 0.9 of it.
_SAME_TYPE = (0.95, 1.06)
_SMALLER_TYPE = 0.935


def _bare_name_line(first: str, second: str) -> bool:
    """`first` can open a company name continued by `second`: no legal form, no digits or label marks, no
    lower-case words of a sentence, and no word that `second` repeats (a wordmark over the name it abbreviates)."""
    words = first.split()
    if not words or ENDS_IN_LEGAL_FORM.search(first) or any(ch.isdigit() or ch in ":@" for ch in first):
        return False
    repeated = {word.casefold() for word in words} & {word.casefold() for word in second.split()}
    return not repeated and not _LOWER_WORD.search(first)


def _words_key(text: str) -> str:
    """The words of a line, case and punctuation aside: "Redwood Creative," and "REDWOOD CREATIVE" match."""
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def wraps_onto(first: str, second: str) -> bool:
    """Whether `second`, printed just under `first` in the same type, can only be the rest of the same name:
    it is nothing but a legal form ("Atlas Veterinary Practice" / "GmbH"); `first` cannot end a name
    ("Alder &" / "Finch Traders GmbH"); or `first` is one word without a legal form over a line that closes
    with one and does not repeat it ("Oakridge" / "Electronics S.A."): one word is no person's full name, and
    a name that repeats the word above it is a wordmark's caption, not its continuation."""
    if LEGAL_FORM_ONLY.match(second):
        return True
    words = first.split()
    if not words or ENDS_IN_LEGAL_FORM.search(first):
        return False
    if words[-1].casefold() in NAME_JOINERS:
        return True
    repeated = words[0].casefold() in {word.casefold() for word in second.split()}
    return len(words) == 1 and ENDS_IN_LEGAL_FORM.search(second) is not None and not repeated


Parser = Callable[[Phrase, int, DocumentStyle], tuple[str | date | Decimal, int, int] | None]


def parse_date_value(phrase: Phrase, start: int, style: DocumentStyle) -> tuple[date, int, int] | None:
    words = phrase.words[start:]
    text = " ".join(word.text for word in words)
    dates = find_dates_across_gaps(text, day_first=style.day_first)
    if not dates:
        return None
    begin, end, value = dates[0]
    return value, *_word_span(words, start, begin, end)


def _word_span(words: list[Word], start: int, begin: int, end: int) -> tuple[int, int]:
    """Word indices (from ``start``) covering characters begin..end of the words joined by spaces."""
    return start + words_after_text(words, begin), start + words_after_text(words, end - 1) + 1


def words_after_text(words: list[Word], char_offset: int) -> int:
    position = 0
    for index, word in enumerate(words):
        position += len(word.text) + 1
        if position > char_offset:
            return index
    return max(len(words) - 1, 0)


# OCR that opens a gap before the cents ("4,759 .20"): the cents move left over the gap, keeping the offsets.
_CENTS_AFTER_GAP = re.compile(r"(\d) ([.,]\d{2})(?!\d)")


def parse_amount_value(phrase: Phrase, start: int, style: DocumentStyle) -> tuple[Decimal, int, int] | None:
    words = phrase.words[start:]
    text = _CENTS_AFTER_GAP.sub(r"\1\2 ", " ".join(word.text for word in words))
    # A date's numbers are no amount ("Total due on August 3, 2014"); the date may start before `start`.
    offset = len(" ".join(word.text for word in phrase.words[:start])) + (1 if start else 0)
    dates = [(begin - offset, end - offset) for begin, end, _ in find_dates(phrase.text, day_first=style.day_first)]
    amounts = [
        found
        for found in find_amounts(text, decimal_sep=style.decimal_sep)  # type: ignore[arg-type]
        if not any(begin < found[1] and found[0] < end for begin, end in dates)
        and not _BASIS_BEFORE.search(text[: found[0]])
    ]
    if not amounts:
        return None
    begin, end, value = amounts[-1]  # the rightmost number: rates such as "20 %" come first
    return value, *_word_span(words, start, begin, end)


def _id_tokens(words: list[Word]) -> list[tuple[str, int, int]]:
    """Tokens of an identifier, re-joining pieces OCR split at a hyphen or slash ("INV -2023-001")."""
    tokens: list[tuple[str, int, int]] = []
    for index, word in enumerate(words):
        if tokens:
            text, first, _ = tokens[-1]
            previous = words[index - 1]
            close = within_a_space(previous, word)
            # OCR also opens a thin gap after a letter prefix ("INV 861071"); a typed space is wider.
            tight = word.x0 - previous.x1 < 0.27 * max(word.height, previous.height)
            prefix = _LETTER_PREFIX.search(text) is not None and word.text[:1].isdigit()
            # A separator dot OCR set apart from its letter prefix ("INV .2024.58546") is a split too.
            dotted = _LETTER_PREFIX.search(text) is not None and word.text[:1] == "." and word.text[1:2].isdigit()
            split = text.endswith(("-", "/")) or word.text.startswith(("-", "/")) or dotted
            if (close and split) or (tight and prefix):
                tokens[-1] = (text + word.text, first, index + 1)
                continue
        tokens.append((word.text, index, index + 1))
    return tokens


def parse_invoice_number(phrase: Phrase, start: int, style: DocumentStyle) -> tuple[str, int, int] | None:
    for token, first, last in _id_tokens(phrase.words[start:]):
        if token.startswith("$") and len(token) > 1 and not token[1].isdigit():
            # "$-28073", "$$3-154439": OCR's S; money never continues with a hyphen, letter or second $
            dollars = len(token) - len(token.lstrip("$"))
            token = "S" * dollars + token[dollars:]
        found = _INVOICE_NUMBER_TOKEN.match(token)
        if not found or not any(ch.isdigit() for ch in token):
            continue
        value = found.group(1)
        if find_dates(value, day_first=style.day_first) or len(value) > 40:
            continue
        return value, start + first, start + last
    return None


def mend_party_name(name: str) -> str:
    """OCR reads a capital I as l at the start of a word ("lronbridge"); in a name whose other words
    are capitalised, a word starting "l" plus a lower-case consonant-free guess is fixed back. A legal
    form OCR garbled the same way ("SON BHD") is fixed too."""
    words = name.split(" ")
    capitalised = [w for w in words if w[:1].isupper()]
    if not capitalised:
        return name
    fixed = [
        "I" + w[1:] if len(w) > 2 and w[0] == "l" and w[1].islower() and w[1] not in "aeiouy" else w for w in words
    ]
    return repair_legal_form(" ".join(fixed))


def repair_legal_form(name: str) -> str:
    """A legal form OCR garbled past recognition ("SON BHD") spelled as printed ("SDN BHD"), a capital
    I that OCR read as a bracket or bar at the end of a capitalised word ("ZHENG HU]"), and a legal form
    OCR split at a gap ("SA RL", "Gmb H") joined again."""
    return _joined_legal_form(_OCR_CAPITAL_I.sub("I", _OCR_SDN.sub(r"\1D\2", name)))


def _joined_legal_form(name: str) -> str:
    """The name's last two words joined when together they are a legal form and the last alone is none:
    "Kestrel Transport SA RL" was cut to "Kestrel Transport SA" as a name ending in its form."""
    words = name.split(" ")
    if len(words) < 3:
        return name
    joined = words[-2] + words[-1]
    if LEGAL_FORM_ONLY.match(joined) and not LEGAL_FORM_ONLY.match(words[-1]) and len(words[-1]) <= 2:
        return " ".join([*words[:-2], joined])
    return name


# "ATTN: Northwind Labs Limited", "z. Hd. Frau Weber": the words before a name that say who should read it.
_ATTENTION = re.compile(r"^(attn|attention|z\.?\s?hd|c/o)\b[.:]*$", re.IGNORECASE)


def parse_party(phrase: Phrase, start: int, style: DocumentStyle) -> tuple[str, int, int] | None:
    if start < len(phrase.words) - 1 and _ATTENTION.match(phrase.words[start].text):
        start += 1
    text = " ".join(word.text for word in phrase.words[start:]).strip(" :-\u2018\u2019\u201c\u201d'\"|")
    text = mend_party_name(text)
    letters = sum(ch.isalpha() for ch in text)
    if letters < 2 or letters < 0.5 * len(text.replace(" ", "")) or _CONTACT.search(text):
        return None
    return text, start, len(phrase.words)


PARSERS: dict[str, Parser] = {
    "invoice_number": parse_invoice_number,
    "invoice_date": parse_date_value,
    "due_date": parse_date_value,
    "subtotal": parse_amount_value,
    "tax": parse_amount_value,
    "total": parse_amount_value,
    "tendered": parse_amount_value,
    "change": parse_amount_value,
    "discount": parse_amount_value,
    "charge": parse_amount_value,
    "customer_name": parse_party,
    "vendor_name": parse_party,
}

# Names can run on past a wide gap or wrap onto the next line; see PageIndex.extend_name*.
_PLACES: frozenset[str] = frozenset({"customer_name", "vendor_name"})


_AMOUNT_LABELS = _AMOUNTS
# Amounts a till receipt prints beside its labels, read like amounts (right of the label first).
PAYMENT_FIELDS = frozenset({"tendered", "change"})
_RIGHT_FIRST = _AMOUNTS | PAYMENT_FIELDS
# Fields whose printed label with an unparseable value beside it means a person must read the page.
_IDENTIFYING_LABELS = frozenset({"invoice_number", "invoice_date", "due_date"})


def label_candidates(index: PageIndex, style: DocumentStyle) -> tuple[list[Candidate], list[Candidate]]:
    """For every label, the first neighbour that parses as its field's type.

    Also returns, per amount, number or date label whose value did not parse, its digits (value = digit
    string): OCR that turns "1,277.41" into "1.277.41" keeps the digits, and arithmetic can vouch for
    them; a date label with digits beside it that are no date tells that a date is printed but unread.
    """
    candidates: list[Candidate] = []
    unread: list[Candidate] = []
    for row in index.rows:
        for phrase in row.phrases:
            label = index.label_of(phrase)
            if label is None:
                continue
            found = _value_for_label(index, phrase, label, style)
            if found is not None:
                candidates.append(found)
                candidates += _net_and_tax_of_row(index, phrase, found, style)
            elif label.field in _AMOUNT_LABELS or label.field in _IDENTIFYING_LABELS:
                unread.extend(_unread_digits(index, phrase, label))
    return candidates, unread


def _value_for_label(index: PageIndex, phrase: Phrase, label: LabelMatch, style: DocumentStyle) -> Candidate | None:
    """The value after the label in its own phrase, else the nearer of the neighbours right and below.

    Amounts take the right-hand value first (totals rows); other fields take whichever neighbour is
    closer, which reads both "Invoice No.  123" rows and labels printed above their values.
    """
    parse = PARSERS[label.field]
    inline = _try_place(index, phrase, label, "inline", parse, style)
    if inline is not None:
        return inline
    if _item_text(index, phrase, label):
        return None
    right = _try_place(index, phrase, label, "right", parse, style)
    if label.field in _RIGHT_FIRST | ADJUSTMENTS and right is not None:
        return right
    if label.field in PAYMENT_FIELDS:
        return right  # a till prints cash and change beside their labels: an amount below is another line's
    below = _try_place(index, phrase, label, "below", parse, style)
    if right is None or below is None:
        return right or below
    right_gap = right.phrase.x0 - phrase.x1
    below_gap = below.phrase.y0 - phrase.y1
    return right if right_gap <= below_gap else below


# "Reichenschwand, 04.07.2023", "Berlin, den 4. Juli 2023": a letter's place and date. The place must be
# a town the document prints after a postcode ("91244 Reichenschwand"), so a stray word is no place.
_PLACE_BEFORE_DATE = re.compile(r"^([A-ZÄÖÜ][\w\-]+(?:\s[A-ZÄÖÜ][\w\-]+)?)\s*,?\s*(?:den|le|el|il)?\s*$")
_PLACE_STRENGTH = 0.85


def place_date_candidates(index: PageIndex, style: DocumentStyle) -> list[Candidate]:
    """The date a letter-style invoice prints after its town, as its issue date."""
    found: list[Candidate] = []
    for row in index.rows:
        for position, phrase in enumerate(row.phrases):
            parsed = parse_date_value(phrase, 0, style)
            if parsed is None:
                continue
            value, first, last = parsed
            previous = row.phrases[position - 1].text if position else ""
            before = " ".join(word.text for word in phrase.words[:first]) if first else previous
            place = _PLACE_BEFORE_DATE.match(before.strip())
            if place and _printed_after_postcode(index, place.group(1)):
                score = _PLACE_STRENGTH * min(w.confidence for w in phrase.words[first:last])
                found.append(Candidate("invoice_date", value, score, phrase, first, last))
    return found


def _printed_after_postcode(index: PageIndex, place: str) -> bool:
    pattern = re.compile(rf"\b\d{{4,5}}\s+{re.escape(place)}\b")
    return any(pattern.search(row.text) for row in index.rows)


def split_label_word(phrase: Phrase, char_end: int) -> tuple[Phrase, int]:
    """The phrase and the index of the word where the value starts; a label glued to its value by its
    closing mark ("n°562044387", "No.4711") leaves the value's part of that word as a word of its own."""
    position = 0
    for index, word in enumerate(phrase.words):
        end = position + len(word.text)
        if position < char_end < end and not word.text[char_end - position - 1].isalnum():
            rest = word.model_copy(update={"text": word.text[char_end - position :]})
            words = [*phrase.words[:index], rest, *phrase.words[index + 1 :]]
            return Phrase(words, phrase.page_no, phrase.page_width, phrase.page_height, phrase.row_index), index
        position = end + 1
    return phrase, words_after(phrase, char_end)


def _unread_digits(index: PageIndex, phrase: Phrase, label: LabelMatch) -> list[Candidate]:
    start = words_after(phrase, label.end)
    options = [(phrase, start)] if start < len(phrase.words) else []
    options += [(other, 0) for other in index.right_of(phrase)[:1]]
    if label.field not in _AMOUNT_LABELS and not _item_text(index, phrase, label):
        options += [(other, 0) for other in index.below(phrase)[:1]]  # amounts sit right; dates, numbers also below
    found = []
    for target, first in options:
        digits = "".join(ch for word in target.words[first:] for ch in word.text if ch.isdigit())
        if target.words[first:] and index.is_value_like(target) and len(digits) >= 2:
            score = label.strength * 0.7 * target.confidence
            found.append(Candidate(label.field, digits, score, target, first, None))
    return found


# An item's row holds at least this many amounts besides its description (quantity, price, amount).
_ITEM_ROW_AMOUNTS = 2


def _item_text(index: PageIndex, phrase: Phrase, label: LabelMatch) -> bool:
    """A weak date word opening an item's description ("Data migration services": the Italian "data", in a
    row with its quantity and amounts) is text, not a label, and a date under it is another line's. A label
    OCR garbled ("Date d'emission" with a curly quote, "Fecha de emisidn") runs on in words too, but no
    amounts share its row."""
    rest = phrase.text[label.end :].lstrip(" :.-")
    if label.field not in ("invoice_date", "due_date") or label.strength >= 1.0 or not rest[:1].isalpha():
        return False
    amounts = [other for other in index.row_of(phrase).phrases if other is not phrase and find_amounts(other.text)]
    return len(amounts) >= _ITEM_ROW_AMOUNTS


def _try_place(
    index: PageIndex, phrase: Phrase, label: LabelMatch, place: str, parse: Parser, style: DocumentStyle
) -> Candidate | None:
    if place == "inline":
        phrase, start = split_label_word(phrase, label.end)
        options = [(phrase, start)] if start < len(phrase.words) else []
    elif place == "right":
        options = []
        for other in index.right_of(phrase):
            if not index.is_value_like(other):
                break
            options.append((other, 0))
    else:
        options = [(other, 0) for other in index.below(phrase) if index.is_value_like(other)][:1]
    for target, start in options:
        if label.field in _PLACES:
            target = index.extend_name_down(index.extend_name(target))
        parsed = parse(target, start, style)
        if parsed is None:
            continue
        value, first, last = parsed
        score = label.strength * _POSITION_WEIGHT[place] * min(w.confidence for w in target.words[first:last])
        found = Candidate(label.field, value, score, target, first, last)
        return _gross_of_row(index, found, options, style) if place == "right" and label.field == "total" else found
    return None


def _gross_of_row(
    index: PageIndex, first: Candidate, options: list[tuple[Phrase, int]], style: DocumentStyle
) -> Candidate:
    """A totals row printing net, tax and gross ("Total  24.99  5.00  29.99"): the total is its largest amount."""
    best = first
    for target, start in options:
        parsed = parse_amount_value(target, start, style)
        if parsed is not None and abs(parsed[0]) > abs(best.value):  # type: ignore[arg-type]
            score = first.score * min(w.confidence for w in target.words[parsed[1] : parsed[2]])
            best = Candidate(first.field, parsed[0], score, target, parsed[1], parsed[2])
    return best


def _net_and_tax_of_row(index: PageIndex, label: Phrase, total: Candidate, style: DocumentStyle) -> list[Candidate]:
    """A totals row printing exactly net, tax and gross, in that order, where net + tax = gross ("Total
    facture  24.99  5.00  29.99"): its first two amounts are the subtotal and the tax."""
    if total.field != "total" or total.phrase.row_index != label.row_index:
        return []
    amounts: list[Candidate] = []
    for target in index.right_of(label):
        parsed = parse_amount_value(target, 0, style) if index.is_value_like(target) else None
        if parsed is None:
            return []
        value, first, last = parsed
        score = total.score * min(w.confidence for w in target.words[first:last])
        amounts.append(Candidate("", value, score, target, first, last))
    if len(amounts) != 3 or amounts[2].value != total.value:
        return []
    net, tax, gross = (Decimal(str(c.value)) for c in amounts)
    if not net_tax_gross(net, tax, gross):
        return []
    return [replace(amounts[0], field="subtotal"), replace(amounts[1], field="tax")]


def _opens_table(row: Row) -> bool:
    kinds = {column_kind(phrase.text) for phrase in row.phrases} - {None}
    return len(kinds) >= 2


def vendor_candidates(index: PageIndex, customer_rows: set[tuple[int, int]]) -> list[Candidate]:
    """Without a "From" label, the vendor is the most prominent name-like text near the top of page 1."""
    if not index.layouts or not index.layouts[0].rows:
        return []
    layout = index.layouts[0]
    candidates: list[Candidate] = []
    absorbed: set[int] = set()  # words already part of a longer name: to its left, or on the line above
    for row in layout.rows:
        if row.y0 > 0.35 * layout.height or _opens_table(row):
            break  # the vendor is named above the line items
        for original in row.phrases:
            if (row.page_no, row.index) in customer_rows or not index.is_value_like(original):
                continue
            if id(original.words[0]) in absorbed:
                continue  # the tail of a name printed over two lines is no name of its own
            phrase = index.extend_name_down(index.extend_name(original))
            absorbed.update(id(word) for word in phrase.words)
            text = _REGISTRATION_SUFFIX.sub("", strip_title(mend_party_name(phrase.text.strip())))
            letters = sum(ch.isalpha() for ch in text)
            digits = sum(ch.isdigit() for ch in text)
            if letters < 3 or digits > 2 or _CONTACT.search(text) or len(text) > 60 or ":" in text:
                continue  # a label ("Billing method: card") or contact line, not a name
            if not (text[:1].isalnum() or text.startswith(("(", '"', "'"))):
                continue  # a fragment (",com", "& Co"): a name starts with a letter or digit
            prominence = phrase.height / layout.median_word_height
            height_share = 1.0 - row.y0 / layout.height
            score = 0.45 * min(prominence / 2.0, 1.0) + 0.25 * height_share
            if COMPANY_WORD.search(text) or ENDS_IN_LEGAL_FORM.search(text):  # a dotted form too ("S.A.", "N.V.")
                score += 0.25
            if _registered_below(layout, row):
                score += 0.25
            if text.endswith(","):
                score *= 0.6  # a line that runs on is an address ("Lot 6, Jalan Batai,"), rarely a name
            if _BROKEN_NAME.search(text):
                score *= 0.7  # names are capitalised: "c rescent Provisions" is OCR splitting a word
            if text.startswith("(") and text.endswith(")"):
                score *= 0.6  # a branch or a note in brackets ("(MUTIARA KOMPLEKS)"), not the name itself
            if len(_LOWER_WORD.findall(text)) >= 2:
                score *= 0.6  # a sentence or slogan ("Dat betaal ik zelf wel."), not a name
            if reads_as_street_address(text) or continues_an_address(index, phrase):
                # The sender's address under a logo that names nobody ("Keizersgracht 8", its country): any
                # name the page prints elsewhere wins; offered alone, the evidence doubts it.
                score *= 0.3
            if names_a_country(text):
                score *= 0.1  # the last line of an address ("USA"): any name the page prints wins; alone, doubted
            # OCR confidence on large display type is often low even when the text is right.
            score *= 0.5 + 0.5 * phrase.confidence
            candidates.append(Candidate("vendor_name", text, min(score, 0.95), phrase))
    return candidates


# A postcode and its town opening a line ("10115 Berlin", "1015 CJ Amsterdam"), or a US state and ZIP closing it.
_POSTCODE_TOWN = re.compile(r"^\d{4,5}\s+\S*\s*[^\W\d]{3,}|\b[A-Z]{2}\s\d{5}(?:-\d{4})?$")


def continues_an_address(index: PageIndex, phrase: Phrase) -> bool:
    """The line just above, in the phrase's column, is a street or a postcode and town: this line goes on
    with the address (its town, its country). A name opens its address block; it never follows the street."""
    row = index.row_of(phrase)
    above = index.row_at(row.page_no, row.index - 1)
    if above is None or row.y0 - above.y1 > 1.5 * phrase.height:
        return False
    return any(
        abs(other.x0 - phrase.x0) < 2 * phrase.height
        and (reads_as_street_address(other.text) or _POSTCODE_TOWN.search(other.text.strip()))
        for other in above.phrases
    )


def _registered_below(layout: PageLayout, row: Row) -> bool:
    """The next line is only a company registration number: this line is the name it registers."""
    following = [other for other in layout.rows if other.index == row.index + 1]
    return bool(following) and _REGISTRATION_LINE.match(following[0].text.strip()) is not None


def customer_block_rows(index: PageIndex, candidates: list[Candidate]) -> set[tuple[int, int]]:
    """Rows of the bill-to block: the customer's name and the address lines under it."""
    rows: set[tuple[int, int]] = set()
    for candidate in candidates:
        if candidate.field != "customer_name":
            continue
        start = candidate.phrase
        rows.add((start.page_no, start.row_index))
        for offset in range(1, 5):
            rows.add((start.page_no, start.row_index + offset))
    return rows


# A currency read from the issuer's country, not printed: right far more often than not, never sure.
_COUNTRY_CURRENCY_CONFIDENCE = 0.6
_COUNTRY_NAMES = sorted(map(re.escape, COUNTRY_CURRENCIES), key=len, reverse=True)
_COUNTRY_FORMS = [re.escape(form).replace(r"\ ", r"\.?\s*") + r"\.?" for form in LEGAL_FORM_CURRENCIES]
_COUNTRY = re.compile(rf"(?<![^\W\d_])({'|'.join(_COUNTRY_NAMES + _COUNTRY_FORMS)})(?![^\W\d_])", re.IGNORECASE)


def names_a_country(text: str) -> bool:
    """The line is only a country's name ("USA", "Deutschland"): the last line of an address, never a party."""
    return text.strip(" .,;:").casefold() in COUNTRY_CURRENCIES


def _country_code(printed: str) -> str:
    name = re.sub(r"\.?\s+", " ", printed.casefold().rstrip(".")).replace(".", "")
    return COUNTRY_CURRENCIES.get(name) or LEGAL_FORM_CURRENCIES[name]


# Marks only one country's businesses print, read as that country's name: a domestic invoice seldom spells
# out its own country, so a Canadian or Australian "$" would otherwise pass for US dollars. Case-sensitive:
# province and state codes are capitals.
_COUNTRY_MARKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a Canadian address: province, then the postal code ("Toronto, ON M5V 2T6"); Canada's sales taxes
    (re.compile(r"\b(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)\s+[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"), "CAD"),
    (re.compile(r"\b(?:GST/HST|HST|QST|TVQ)\b"), "CAD"),
    # an Australian address: state, then the four-digit postcode ("Sydney NSW 2000"); the business number
    (re.compile(r"\b(?:NSW|VIC|QLD|TAS|ACT)\s+\d{4}(?!\d)"), "AUD"),
    (re.compile(r"\bABN\s*:?\s*\d{2}\s?\d{3}\s?\d{3}\s?\d{3}(?!\d)"), "AUD"),
    (re.compile(r"\bNZBN\b"), "NZD"),
    (re.compile(r"\bGSTIN\b"), "INR"),
)


def _countries_in(text: str) -> Iterator[str]:
    """The currencies of the countries a phrase names or marks."""
    for match in _COUNTRY.finditer(text):
        yield _country_code(match.group(1))
    for mark, code in _COUNTRY_MARKS:
        if mark.search(text):
            yield code


def country_currency(index: PageIndex, customer_rows: set[tuple[int, int]]) -> tuple[str | None, float, Phrase | None]:
    """The currency of the one country the document names (or marks: _COUNTRY_MARKS) outside the customer's
    block, if just one."""
    found: dict[str, Phrase] = {}
    for row in index.rows:
        if (row.page_no, row.index) in customer_rows:
            continue
        for phrase in row.phrases:
            for code in _countries_in(phrase.text):
                found.setdefault(code, phrase)
    if len(found) != 1:
        return None, 0.0, None
    (code, phrase), *_ = found.items()
    return code, _COUNTRY_CURRENCY_CONFIDENCE, phrase


def document_currency(
    index: PageIndex, total: Candidate | None, customer_rows: set[tuple[int, int]] | None = None
) -> tuple[str | None, float, Phrase | None]:
    """Currency by vote over codes and symbols; the one printed with the total counts most. With none
    printed and ``customer_rows`` given, the currency of the issuer's country."""
    votes: Counter[str] = Counter()
    where: dict[str, Phrase] = {}
    for row in index.rows:
        weight = (
            3
            if total is not None and row.index == total.phrase.row_index and row.page_no == total.phrase.page_no
            else 1
        )
        for phrase in row.phrases:
            for code in find_currencies(phrase.text):
                votes[code] += weight
                where.setdefault(code, phrase)
    if not votes:
        return country_currency(index, customer_rows) if customer_rows is not None else (None, 0.0, None)
    (code, count), *rest = votes.most_common()
    runner_up = rest[0][1] if rest else 0
    confidence = 0.95 if runner_up == 0 else max(0.5, 0.95 * count / (count + runner_up))
    return code, confidence, where[code]
