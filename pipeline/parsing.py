"""Locale-aware reading of amounts, dates and currencies from invoice text, including noisy OCR text.

Every ``find_*`` function reports character spans into the text it was given. To keep those spans
exact, the text is only ever folded character for character (odd spaces, apostrophes, dashes, digits
of other scripts, O/0 confusions between digits); nothing is inserted or removed before matching.

Ambiguity rules, shared by the extractor and anyone reading its output:

* Amounts: a single "," or "." followed by exactly three digits ("1,234", "1.234") is thousands
  grouping in ``auto`` mode, because invoice amounts with three decimals are rare; an explicit
  ``decimal_sep`` decides such cases. When the structure itself is unambiguous ("1.234,56", "12,50",
  "1,234.56"), the structure wins over ``decimal_sep``: a separator that cannot be grouping must be
  the decimal mark, and OCR confuses "," and "." often enough that refusing it would lose totals.
* Space-grouped amounts: a no-break or narrow space always groups ("1 234.56"); an ordinary space
  groups only before a comma decimal part ("1 234,56"), since "10 150.00" in a table row is far more
  often a quantity next to a price than ten thousand.
* Numeric dates: a part above 12 decides day/month order; otherwise dotted dates are day-first and
  slashed or dashed dates follow ``day_first`` (``None`` means US month-first).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from pipeline.money import confusable_with
from schemas.currency import CURRENCY_SYMBOLS, ISO_4217_CODES

DecimalSep = Literal["auto", ".", ","]

MIN_YEAR = 1990
MAX_YEAR = 2100

# An ungrouped integer longer than this is an account, order or phone number, not an amount.
_MAX_UNGROUPED_DIGITS = 10

_NBSP = "\u00a0"
_SPACE_LIKE = frozenset("\u00a0\u202f\u2007\u2009\u200a\u2008\u2005\u2006")
_APOSTROPHES = frozenset("\u2019\u2018\u02bc\u00b4`\u2032")
_HYPHENS = frozenset("\u2010\u2011\u2012\u2013\ufe63\uff0d")
_UNICODE_MINUS = "\u2212"


def _fold_char(ch: str) -> str:
    if ch in _SPACE_LIKE:
        return _NBSP  # kept distinct from " ": a deliberate no-break space is typographic digit grouping
    if ch in _APOSTROPHES:
        return "'"
    if ch in _HYPHENS:
        return "-"
    if ch.isdigit() and not ch.isascii():
        try:
            return str(unicodedata.decimal(ch))
        except ValueError:
            return ch
    folded = unicodedata.normalize("NFKC", ch)
    # Only one-to-one replacements: spans must stay valid in the caller's text.
    return folded if len(folded) == 1 else ch


# OCR reads 0 as O and 1 as l/I/|; repaired only where digits sit on both sides (or a digit and a
# decimal mark), so words are never turned into numbers.
_OCR_ZERO = re.compile(r"(?<=\d)[Oo]+(?=\d|[.,]\d)|(?<=\d[.,])[Oo]+(?=\d)")
_OCR_ONE = re.compile(r"(?<=\d)[lI|](?=\d)")


@lru_cache(maxsize=8192)  # pure, and asked about the same words many times per page (a character at a time)
def _fold(text: str) -> str:
    folded = "".join(_fold_char(ch) for ch in text)
    folded = _OCR_ZERO.sub(lambda m: "0" * len(m.group()), folded)
    return _OCR_ONE.sub("1", folded)


_LIGATURES_AND_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u00ad": None,
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,
    }
)


def normalise_text(s: str) -> str:
    """NFKC (which also splits ligatures such as "ﬁ"), plain quotes and hyphens, single spaces."""
    text = unicodedata.normalize("NFKC", s).translate(_LIGATURES_AND_QUOTES)
    return " ".join(text.split())


def without_accents(text: str) -> str:
    """The text with its accents dropped ("Règlement" -> "Reglement"): OCR often loses them, and a reader
    compares words with them off."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


# ---------------------------------------------------------------------------------------------------
# Currencies


def _alternation(options: Iterable[str]) -> str:
    return "|".join(re.escape(option) for option in sorted(set(options), key=lambda o: (-len(o), o)))


# Codes that are also ordinary words or common abbreviations in invoice text ("ALL items", "TOP
# priority", "PHP development", "10 KGS"); they count only when printed next to an amount or after
# a currency label.
_WORD_LIKE_CODES = frozenset(
    {
        "ALL",
        "AMD",
        "BAM",
        "BHD",  # Malaysia's "Sdn. Bhd." (a company), far more often than Bahrain's dinar
        "BOB",
        "BTN",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "DOP",
        "ERN",
        "GEL",
        "GIP",
        "KGS",
        "LAK",
        "MAD",
        "MDL",
        "MOP",
        "NAD",
        "PAB",
        "PEN",
        "PHP",
        "RON",
        "SAR",
        "SCR",
        "SHP",
        "SOS",
        "SVC",
        "TMT",
        "TOP",
        "TRY",
        "YER",
    }
)
# Symbols that are also abbreviations (RM = room, Fr. = Friday/Frau, Rs. = ...): only next to amounts.
_WORD_LIKE_SYMBOLS = frozenset({"RM", "Fr.", "Rs.", "Rs"})
_BARE_DOLLAR = "$"

_CURRENCY_TOKENS = set(CURRENCY_SYMBOLS) | set(ISO_4217_CODES)
# Letters on either side mean the token is part of a word ("TOTAL" contains no "TAL" code).
_CUR = rf"(?<![^\W\d_])(?:{_alternation(_CURRENCY_TOKENS)})(?![^\W\d_])"
_CURRENCY_TOKEN = re.compile(_CUR)
# A dollar's country letters OCR set apart from its sign ("C $891.17" for "C$891.17"): one symbol again.
_DOLLAR_PREFIXES = sorted(
    (symbol[:-1] for symbol in CURRENCY_SYMBOLS if len(symbol) > 1 and symbol.endswith("$")), key=len, reverse=True
)
_DOLLAR_PREFIX_GAP = re.compile(rf"(?<![^\W\d_])({'|'.join(map(re.escape, _DOLLAR_PREFIXES))})[ {_NBSP}]\$")
_CURRENCY_LABEL = re.compile(
    r"(?:currency|curr\.?|ccy|w(?:ä|ae)hrung|devise|monnaie|moneda|valuta)\s*[:\-]?\s*(?:\(\s*)?$",
    re.IGNORECASE,
)


def _code_for(token: str) -> str | None:
    if token in ISO_4217_CODES:
        return token
    return CURRENCY_SYMBOLS.get(token)


# ---------------------------------------------------------------------------------------------------
# Amounts

_GAP = rf"[ {_NBSP}]{{0,2}}"
_SIGN = rf"(?:{_UNICODE_MINUS}[ {_NBSP}]?|-[ {_NBSP}]?)"
_BODY = rf"""
      \d{{1,3}}(?:{_NBSP}\d{{3}})+(?:[.,]\d+)?          # 1 234.56 with a no-break or narrow space
    | \d{{1,3}}(?:\ \d{{3}})+,\d+                       # 1 234,56 with ordinary spaces
    | \d{{1,3}}(?P<group>[,.'])\d{{3}}(?:(?P=group)\d{{3}})*(?:[.,]\d+)?   # 1,234.56  1.234,56  1'234.56
    | \d+(?:[.,]\d+)?                                   # 1234  1234.5  12,50
"""
_AMOUNT = re.compile(
    rf"""
    (?P<sign1>{_SIGN})?
    (?:(?P<pre0>{_CUR}){_GAP})?
    (?P<paren>\({_GAP})?
    (?:(?P<pre>{_CUR}){_GAP})?
    (?P<sign2>{_SIGN})?
    (?P<body>{_BODY})
    (?:{_GAP}(?P<suf>{_CUR}))?
    (?(paren){_GAP}\))
    (?P<trail>-(?!\d))?
    """,
    re.VERBOSE,
)
# A character right before an amount that makes it part of something else: an identifier
# ("INV-2024", "#1234", "No12"), a date or version ("1.2.3", "03/15"), or a signed phone number.
_BAD_BEFORE = frozenset("/\\.,'_#@&-+*=^~|№°§") | {_UNICODE_MINUS}
_BAD_AFTER = re.compile(rf"[ {_NBSP}]*%|[.,:/'\-]\d|[.,][.,]|\d|[^\W\d_]")
# International numbers (+49 30 1234567, 0044 20 ...) and North-American (555) 123-4567.
_PHONE = re.compile(
    rf"(?<![\w+.,'])(?:\+|00)\d{{1,3}}(?:[ {_NBSP}\-/]?\(?\d{{1,5}}\)?){{2,6}}(?!\d)"
    rf"|\(\d{{3}}\)[ {_NBSP}]?\d{{3}}[ {_NBSP}\-.]\d{{4}}(?!\d)"
)


@dataclass(frozen=True)
class _AmountHit:
    start: int
    end: int
    value: Decimal
    body: str
    body_start: int
    currencies: tuple[tuple[int, str], ...]  # (position, token) printed with the amount


def _grouping_ok(integer: str, sep: str) -> bool:
    groups = integer.split(sep)
    first, rest = groups[0], groups[1:]
    return (
        1 <= len(first) <= 3
        and not (first.startswith("0") and rest)
        and all(len(group) == 3 and group.isdigit() for group in rest)
        and first.isdigit()
    )


def _plain_integer_ok(digits: str) -> bool:
    # "0042" is an identifier, not money; a very long run is an account number.
    return (
        digits.isdigit() and not (len(digits) > 1 and digits.startswith("0")) and len(digits) <= _MAX_UNGROUPED_DIGITS
    )


def _interpret_body(body: str, decimal_sep: DecimalSep) -> str | None:
    """The printed number as a plain ``1234.56`` string, or None when its separators make no sense."""
    seps = [(index, ch) for index, ch in enumerate(body) if not ch.isdigit()]
    if not seps:
        return body if _plain_integer_ok(body) else None
    last_index, last = seps[-1]
    kinds = {ch for _, ch in seps}
    if len(kinds) > 1:
        group_kinds = {ch for _, ch in seps[:-1]}
        if last not in ".," or len(group_kinds) != 1 or last in group_kinds:
            return None
        integer, fraction = body[:last_index], body[last_index + 1 :]
        if not _grouping_ok(integer, group_kinds.pop()):
            return None
        return f"{integer.translate(_STRIP_GROUPING)}.{fraction}"
    if len(seps) > 1:  # one separator repeated: only grouping can repeat
        return body.translate(_STRIP_GROUPING) if _grouping_ok(body, last) else None
    left, right = body[:last_index], body[last_index + 1 :]
    could_group = _grouping_ok(body, last)
    if last in " '" + _NBSP:
        return left + right if could_group else None
    if decimal_sep == "auto":
        is_grouping = could_group
    elif last == decimal_sep:
        is_grouping = False
    else:
        # The other mark groups when it can; when it cannot ("12,50" in a "." document) it is an OCR
        # slip for the decimal mark rather than a reason to lose the value.
        is_grouping = could_group
    if is_grouping:
        return left + right
    if not _plain_integer_ok(left):
        return None
    return f"{left}.{right}"


_STRIP_GROUPING = str.maketrans("", "", f",.' {_NBSP}")


def _masked_spans(folded: str) -> list[tuple[int, int]]:
    spans = [(start, end) for start, end, _ in _date_hits(folded, None)]
    for match in _PHONE.finditer(folded):
        if sum(ch.isdigit() for ch in match.group()) >= 7:
            spans.append(match.span())
    return spans


def _accept(
    folded: str, match: re.Match[str], decimal_sep: DecimalSep, masked: list[tuple[int, int]]
) -> _AmountHit | None:
    start, end = match.span()
    negative = bool(match.group("paren") or match.group("sign2") or match.group("trail"))
    sign1 = match.group("sign1")
    if sign1:
        # "- 12.00" after other text is a dash between words ("Services - 12.00"), not a minus sign;
        # only a true minus sign may be spaced from its number anywhere.
        if sign1.startswith("-") and len(sign1) > 1 and folded[:start].strip():
            start = match.end("sign1")
        else:
            negative = True
    if match.group("pre0") and match.group("pre"):
        return None
    before = folded[start - 1] if start > 0 else ""
    if before and (before.isalnum() or before in _BAD_BEFORE):
        return None
    if _BAD_AFTER.match(folded, end):
        return None
    if any(s < end and start < e for s, e in masked):
        return None
    body = match.group("body")
    canonical = _interpret_body(body, decimal_sep)
    if canonical is None:
        return None
    try:
        value = Decimal(canonical)
    except InvalidOperation:  # pragma: no cover - the regex admits only digits and separators
        return None
    if negative:
        value = -value
    currencies = tuple((match.start(group), token) for group in ("pre0", "pre", "suf") if (token := match.group(group)))
    return _AmountHit(start, end, value, body, match.start("body"), currencies)


# Pure functions of a phrase's text, asked about the same phrase by several steps (amounts, the decimal mark, the
# currency; dates, and the dates an amount must not be read from) and again by every reading of the second look.
PHRASE_CACHE_SIZE = 8192


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def _amount_hits(folded: str, decimal_sep: DecimalSep) -> tuple[_AmountHit, ...]:
    masked = _masked_spans(folded)
    hits: list[_AmountHit] = []
    position = 0
    while (match := _AMOUNT.search(folded, position)) is not None:
        hit = _accept(folded, match, decimal_sep, masked)
        if hit is None:
            # A rejected match may hide a valid amount that starts later inside it.
            position = match.start() + 1
            continue
        hits.append(hit)
        position = match.end()
    return tuple(hits)


def find_amounts(text: str, decimal_sep: DecimalSep = "auto") -> list[tuple[int, int, Decimal]]:
    """Every amount in a line with its span (sign and currency included), in reading order.

    Dates, percentages, phone numbers, times and numbers glued to letters are skipped.
    """
    return [(hit.start, hit.end, hit.value) for hit in _amount_hits(_fold(text), decimal_sep)]


def parse_amount(text: str, decimal_sep: DecimalSep = "auto") -> Decimal | None:
    """The amount when ``text`` is exactly one amount (with optional currency and sign), else None.

    The result keeps the printed precision: "1.5" gives Decimal("1.5"), "12,50" Decimal("12.50").
    """
    folded = _fold(text)
    blank = " \t\r\n" + _NBSP
    stripped = folded.strip(blank)
    if not stripped:
        return None
    offset = len(folded) - len(folded.lstrip(blank))
    hits = _amount_hits(folded, decimal_sep)
    if len(hits) != 1:
        return None
    hit = hits[0]
    if hit.start != offset or hit.end != offset + len(stripped):
        return None
    return hit.value


def infer_decimal_separator(texts: Iterable[str]) -> Literal[".", ","]:
    """The document's decimal mark, voted by amounts whose structure shows it; "." when nothing does."""
    votes: Counter[str] = Counter()
    for text in texts:
        for hit in _amount_hits(_fold(text), "auto"):
            marks = [ch for ch in hit.body if ch in ".,"]
            if not marks:
                continue
            last = marks[-1]
            fraction = hit.body.rsplit(last, 1)[1]
            if len(set(marks)) > 1 or len(fraction) == 2:
                votes[last] += 1
    return "," if votes[","] > votes["."] else "."


# ---------------------------------------------------------------------------------------------------
# Dates

_MONTHS: dict[str, int] = {
    # English
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
    # German
    "januar": 1,
    "jänner": 1,
    "jaenner": 1,
    "februar": 2,
    "märz": 3,
    "maerz": 3,
    "marz": 3,
    "mär": 3,
    "mrz": 3,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "okt": 10,
    "dezember": 12,
    "dez": 12,
    # French (with and without accents: OCR often drops them)
    "janvier": 1,
    "janv": 1,
    "février": 2,
    "fevrier": 2,
    "févr": 2,
    "fevr": 2,
    "fév": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
    # Dutch (the rest are spelt as in English or German)
    "januari": 1,
    "februari": 2,
    "maart": 3,
    "mei": 5,
    "augustus": 8,
    # Spanish and Italian
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    "gennaio": 1,
    "febbraio": 2,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "settembre": 9,
    "ottobre": 10,
    "dicembre": 12,
    "déc": 12,
}
_MONTH = rf"(?<![^\W\d_])(?P<month>{_alternation(_MONTHS)})(?![^\W\d_])\.?"
_ORDINAL = r"(?:st|nd|rd|th|er)?"
_SEP = rf"[ {_NBSP}\-/]"
# A receipt prints the time right after the date, often glued to it ("15/12/201718:01", "20/09/2017|12:18").
_GLUED_TIME = r"[,|]?\d{1,2}:\d{2}"
_DATE_END = rf"(?!(?!{_GLUED_TIME})(?:[^\W_]|[.,/\-]\d))"

_ISO_DATE = re.compile(
    r"(?<![\w.,/])(?P<year>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!(?!T\d)\w|[.,/\-]\d)"
)
# A hyphen right after a letter is part of an identifier ("INV-12-05-23"); after a digit it may be a
# date range ("01.03.2024-31.03.2024").
# OCR may open a gap after the second separator of a receipt's date ("10-01- 16"): one space is read through.
_NUMERIC_DATE = re.compile(
    rf"(?<![\w.,/])(?<![^\W\d_]-)(?P<a>\d{{1,2}})(?P<sep>[./\-])(?P<b>\d{{1,2}})(?P=sep) ?"
    rf"(?P<year>\d{{4}}|\d{{2}}){_DATE_END}"
)
_DAY_MONTH_YEAR = re.compile(
    rf"(?<![\w.,/])(?P<d>\d{{1,2}}){_ORDINAL}\.?{_SEP}*(?:of[ {_NBSP}]+)?{_MONTH}[ {_NBSP}\-/,]*"
    rf"(?P<year>\d{{4}}|\d{{2}}){_DATE_END}",
    re.IGNORECASE,
)
# Year first with the month's name ("2024-Jun-13", "2024 June 13"): the separators match, as in ISO dates.
_YEAR_MONTH_DAY = re.compile(
    rf"(?<![\w.,/])(?P<year>\d{{4}})(?P<sep>[ {_NBSP}\-/.]){_MONTH}(?P=sep)(?P<d>\d{{1,2}}){_DATE_END}",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"{_MONTH}{_SEP}*(?P<d>\d{{1,2}}){_ORDINAL},?[ {_NBSP}\-/,.]+(?P<year>\d{{4}}){_DATE_END}",
    re.IGNORECASE,
)


def _year(text: str) -> int:
    value = int(text)
    return 2000 + value if len(text) == 2 else value


def _make_date(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _numeric_order(a: int, b: int, sep: str, day_first: bool | None) -> tuple[int, int] | None:
    """(month, day) for the two leading parts of a numeric date."""
    if a > 12 and b > 12:
        return None
    if a > 12:
        return b, a
    if b > 12:
        return a, b
    if sep == "." or day_first:
        return b, a
    return a, b


# Full month names OCR misread by one letter ("Apnil" for "April") are read as that month when no other
# month is one letter away: shorter names ("June" / "Juni" / "July") are too close to each other to tell.
_MIN_MISREAD_MONTH = 5
_FULL_MONTHS = {name: number for name, number in _MONTHS.items() if len(name) >= _MIN_MISREAD_MONTH}
_LETTER_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]{5,}(?![^\W\d_])")


def _one_letter_off(word: str, name: str) -> bool:
    return len(word) == len(name) and sum(a != b for a, b in zip(word, name, strict=True)) == 1


@lru_cache(maxsize=4096)
def misread_month(word: str) -> str | None:
    """The full month name ``word`` misspells by one letter, when exactly one month is that close ("Apnil"
    -> "april", "}an" -> "jan"); None for a real month name or a word near none, or near two months."""
    bracketed = _MISREAD_J.fullmatch(word)
    if bracketed is not None:
        return _month_with_j(bracketed)
    lowered = word.lower()
    if lowered in _MONTHS:
        return None
    near = {name: number for name, number in _FULL_MONTHS.items() if _one_letter_off(lowered, name)}
    return next(iter(near)) if len(set(near.values())) == 1 else None


# A bracket, brace or parenthesis OCR read for the capital J opening a month's name ("17 }an 2023", "17} an
# 2023": the bracket glued to the day; "30-) UN-24"), or a month's capital cut off the rest of its name by a
# gap OCR set ("2024-J un-20", "2024-A pr-22"): only where the letters make a month's name (or its
# abbreviation) with the J or the capital.
_MISREAD_J = re.compile(r"(?<![^\W\d_])(?:[}\])]( ?)|([A-Z])( ))([a-z]{2,}|[A-Z]{2,})(?![^\W\d_])")


def _month_with_j(match: re.Match[str]) -> str | None:
    """The month's name the misread J (or the capital cut off by a gap) and its letters spell; None when
    they spell none."""
    word = f"{match.group(2) or 'j'}{match.group(4)}".lower()
    return word if word in _MONTHS else None


def _mend_months(folded: str, keep_length: bool) -> str:
    """The text with every month name misread by one letter spelt right, and a misread month's J put back;
    `keep_length` moves the gap OCR set after the J before it (spans still hold), else drops it."""

    def mended_j(match: re.Match[str]) -> str:
        month = _month_with_j(match)
        gap = (match.group(1) or match.group(3) or "") if keep_length else ""
        return f"{gap}{month}" if month else match.group()

    folded = _MISREAD_J.sub(mended_j, folded)
    return _LETTER_WORD.sub(lambda m: misread_month(m.group()) or m.group(), folded)


def with_months_mended(text: str) -> str:
    """The text with month names OCR misread spelt right, for reading a date in a known format: "2024-] un-13"
    -> "2024-jun-13", "13 Apnil 2024" -> "13 april 2024" (see misread_month_words for the doubt it leaves)."""
    return _mend_months(_fold(text), keep_length=False)


def misread_month_words(text: str) -> list[str]:
    """The words of the text read as a month they misspell by one letter ("Apnil", "}an")."""
    folded = _fold(text)
    bracketed = [m.group() for m in _MISREAD_J.finditer(folded) if _month_with_j(m)]
    return [*bracketed, *(m.group() for m in _LETTER_WORD.finditer(folded) if misread_month(m.group()))]


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def _date_hits(folded: str, day_first: bool | None) -> tuple[tuple[int, int, date], ...]:
    found: list[tuple[int, int, date]] = []
    folded = _mend_months(folded, keep_length=True)
    for match in _ISO_DATE.finditer(folded):
        value = _make_date(int(match["year"]), int(match["m"]), int(match["d"]))
        if value is not None:
            found.append((match.start(), match.end(), value))
    for match in _NUMERIC_DATE.finditer(folded):
        order = _numeric_order(int(match["a"]), int(match["b"]), match["sep"], day_first)
        if order is not None and (value := _make_date(_year(match["year"]), *order)) is not None:
            found.append((match.start(), match.end(), value))
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR, _YEAR_MONTH_DAY):
        for match in pattern.finditer(folded):
            month = _MONTHS[match["month"].lower()]
            value = _make_date(_year(match["year"]), month, int(match["d"]))
            if value is not None:
                found.append((match.start(), match.end(), value))
    found.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
    chosen: list[tuple[int, int, date]] = []
    for hit in found:
        if not chosen or hit[0] >= chosen[-1][1]:
            chosen.append(hit)
    return tuple(chosen)


def find_dates(text: str, day_first: bool | None = None) -> list[tuple[int, int, date]]:
    """Every date in the text with its span, in reading order; impossible dates are skipped."""
    return list(_date_hits(_fold(text), day_first))


# A two-digit field of a numeric date that OCR split at a gap of a monospace type ("2023-11-0 3",
# "11/0 3/2023"): one digit, a space and one digit, just after or just before one of the date's separators.
_GAP_IN_DATE_FIELD = re.compile(r"(?<=[-./])\d( )\d(?!\d)|(?<!\d)\d( )\d(?=[-./])")


def find_dates_across_gaps(text: str, day_first: bool | None = None) -> list[tuple[int, int, date]]:
    """`find_dates`, and where it finds none, the dates the text reads as once a space OCR opened inside a
    date's two-digit field is closed ("2023-11-0 3" -> 2023-11-03); spans are in the text as given."""
    found = find_dates(text, day_first)
    gaps = [m.start(g) for m in _GAP_IN_DATE_FIELD.finditer(text) for g in (1, 2) if m.start(g) >= 0]
    if found or not gaps:
        return found
    kept = [i for i in range(len(text)) if i not in gaps]
    closed = "".join(text[i] for i in kept)
    return [(kept[begin], kept[end - 1] + 1, value) for begin, end, value in find_dates(closed, day_first)]


def dates_one_digit_off(text: str, day_first: bool | None = None) -> set[date]:
    """The dates the text reads as when one of its digits is swapped for one OCR confuses it with
    ("62/11/2025" -> 02/11/2025): what a date OCR garbled by one digit may have printed."""
    found: set[date] = set()
    for position, ch in enumerate(text):
        for other in confusable_with(ch):
            swapped = text[:position] + other + text[position + 1 :]
            found.update(value for _, _, value in find_dates(swapped, day_first))
    return found


def parse_date(text: str, day_first: bool | None = None) -> date | None:
    """The first date in the text ("Date: 15.03.2024" works), or None."""
    hits = find_dates(text, day_first)
    return hits[0][2] if hits else None


def infer_day_first(texts: Iterable[str]) -> bool | None:
    """Day-first (True) or month-first (False) as the document's unambiguous dates show; None if unknown."""
    votes: Counter[bool] = Counter()
    for text in texts:
        for match in _NUMERIC_DATE.finditer(_fold(text)):
            a, b = int(match["a"]), int(match["b"])
            order = _numeric_order(a, b, match["sep"], None)
            if order is None or _make_date(_year(match["year"]), *order) is None:
                continue
            if a > 12 or (match["sep"] == "." and b <= 12):
                votes[True] += 1
            elif b > 12:
                votes[False] += 1
    if votes[True] == votes[False]:
        return None
    return votes[True] > votes[False]


# ---------------------------------------------------------------------------------------------------
# Currency detection


def find_currencies(text: str) -> list[str]:
    """ISO codes of every currency mention, in reading order, one per mention (so callers can vote).

    A bare "$" stands for USD only when the text names no other currency, since CAD, AUD and many
    others print "$" too.
    """
    folded = _DOLLAR_PREFIX_GAP.sub(r"\1$", _fold(text))
    attached: dict[int, str] = {}
    for hit in _amount_hits(folded, "auto"):
        money_like = not hit.body.isdigit()
        for position, token in hit.currencies:
            # After a bare integer a word-like code is more likely a unit ("10 KGS", "2 TOP") than money.
            if money_like or position < hit.body_start or token not in _WORD_LIKE_CODES:
                attached[position] = token
    specific: list[tuple[int, str]] = []
    bare_dollars = 0
    for match in _CURRENCY_TOKEN.finditer(folded):
        token = match.group()
        next_to_amount = match.start() in attached
        labelled = _CURRENCY_LABEL.search(folded, 0, match.start()) is not None
        if (token in _WORD_LIKE_CODES or token in _WORD_LIKE_SYMBOLS) and not (next_to_amount or labelled):
            continue
        if token == _BARE_DOLLAR:
            bare_dollars += 1
            continue
        code = _code_for(token)
        if code is not None:
            specific.append((match.start(), code))
    if specific:
        return [code for _, code in specific]
    return ["USD"] * bare_dollars


def detect_currency(text: str) -> str | None:
    """The currency the text mentions most (the earliest on a tie), or None."""
    codes = find_currencies(text)
    if not codes:
        return None
    counts = Counter(codes)
    best = max(counts.values())
    return next(code for code in codes if counts[code] == best)
