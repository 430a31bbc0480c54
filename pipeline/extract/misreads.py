"""Signatures of an OCR misread that the page itself seems to confirm.

A misread letter is often read the same way wherever the text is printed again (a repeated header, a
footer in the same type), so repetition cannot vouch for it. What gives it away is its shape:

* a word of a party name one or two letters away from a common business word without being it
  ("Enaineering", "Solutlons"): real names spell their trade words right;
* an ID with a digit standing among letters, or a letter among digits, in one of the pairs OCR confuses
  ("8C-249858" for "BC-249858", "2O24" for "2024"): which one is printed is for a person to say.

Nothing here changes a value: extraction turns each finding into a doubt on the field's evidence, and
routing (pipeline/corroboration.py) sends the record to review naming the field.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.parsing import misread_month, misread_month_words, without_accents

# Below this Tesseract word confidence OCR is unsure of what it read ("Die" for "2,582", "Noruwind" for
# "Northwind"): the second look reads such words again, and a vendor word this unsure needs the page's
# own confirmation (pipeline/second_look.py, pipeline/extract/evidence.py).
UNSURE_WORD_CONFIDENCE = 0.6


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common trade and business words in the languages the pipeline reads (EN, DE, FR, NL, ES, IT). A name
# word must equal one of them, or be far from all, to be taken as printed.
BUSINESS_WORDS = _word_set(
    """
    engineering engineers solutions solution services service consulting consultants consultancy logistics
    industries industrial international systems system technologies technology technical trading traders
    holdings holding partners partnership supplies supply manufacturing manufacturers software digital
    analytics marketing communications creative media design studio studios transport transportation
    freight couriers courier wholesale components tools construction contractors electronics electrical
    electric medical pharmaceuticals pharma enterprises enterprise ventures associates management
    properties property development resources products foods energy networks network security equipment
    materials packaging printing distribution distributors global worldwide company corporation group
    laboratories laboratory machinery automation instruments imports exports import export retail
    hospitality architects accounting advisory capital finance financial insurance healthcare
    dienstleistungen handel technik beratung vertrieb logistik systeme industrie gesellschaft werkzeuge
    maschinenbau bauunternehmen elektrotechnik verwaltung
    conseil ingenierie societe entreprise technologie distribution informatique fournitures
    diensten techniek groep installatietechniek
    servicios soluciones ingenieria consultores comercial distribuciones construcciones tecnologia
    suministros
    servizi soluzioni ingegneria costruzioni tecnologie forniture commerciale
    """
)
# Real words one letter from a business word ("Expert" / "export", "Folding" / "holding"): a name may
# print them as they are.
REAL_NEIGHBOURS = _word_set(
    """
    ablutions accountant accountants assurance berating carpeting cervices commercial conducting consenting
    consisting consorting constriction consultant cooperation cooperative courser courtier courtiers
    darkening dentures detail dharma endurance engendering engenders envelopment exhort expert experts
    extort fiance floods folding fortitude fright furniture graders grading harkening holing hooding
    hording impart imparts instalments locutions marveling molding moldings notwork painting pickaxing
    pointing racketing recounting renounces resign sprinting stools targeting tracers tracing transform
    transformation transpire treading wholesome
    """
)
# Shorter words are too easily one letter from another real word ("Media" / "Medina").
_MIN_WORD = 6
# The last letters of a trade word vary with the language and the number ("Industrie", "Systeme"):
# a difference there is inflection, not a misread.
_INFLECTED_TAIL = 2


def _fold(word: str) -> str:
    """The word in lower case without accents ("Ingeniería" -> "ingenieria")."""
    return without_accents(word.casefold())


def _edits(left: str, right: str, limit: int) -> list[int] | None:
    """Positions in ``left`` where it differs from ``right`` (at most ``limit`` edits), else None."""
    if abs(len(left) - len(right)) > limit:
        return None
    if len(left) == len(right):
        positions = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        return positions if len(positions) <= limit else None
    shorter, longer = sorted((left, right), key=len)
    if len(longer) - len(shorter) != 1 or limit < 1:
        return None
    for i in range(len(longer)):
        if longer[:i] + longer[i + 1 :] == shorter:
            return [i]
    return None


_KNOWN_WORDS = BUSINESS_WORDS | REAL_NEIGHBOURS
_BUSINESS_WORDS_SORTED = tuple(sorted(BUSINESS_WORDS))


@lru_cache(maxsize=4096)  # pure, and asked about the same name words on every reading of a page
def near_business_word(word: str) -> str | None:
    """The business word that ``word`` nearly spells ("Enaineering" -> "engineering"), or None when it
    spells one exactly, differs only in its inflected tail, or is far from all of them."""
    folded = _fold(word)
    if len(folded) < _MIN_WORD or not folded.isalpha() or folded in _KNOWN_WORDS:
        return None
    limit = 2 if len(folded) >= 9 else 1
    for known in _BUSINESS_WORDS_SORTED:
        if known.startswith(folded) or folded.startswith(known):
            continue  # a stem or an inflection ("industrie" / "industries")
        positions = _edits(folded, known, limit)
        if positions and min(positions) < min(len(folded), len(known)) - _INFLECTED_TAIL:
            return known
    return None


# Digits OCR reads for letters and back, both ways ("8" / "B", "0" / "O", "1" / "I" / "l", "5" / "S").
_DIGIT_LOOKS_LIKE = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}
_LETTER_LOOKS_LIKE = {"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "Z": "2", "S": "5", "G": "6", "B": "8"}
_SEGMENT = re.compile(r"[A-Za-z0-9]+")


# Signs OCR prints for a letter in a word ("$.r.l." for "S.r.l.", "|" for "I" or "l").
_SIGN_LOOKS_LIKE = {"$": "S", "|": "I"}


def ocr_shape(text: str) -> str:
    """The text with each character OCR confuses put to one of its kind, case aside: "lronbridge" and
    "Ironbridge", "0akfield" and "Oakfield", "5mith" and "Smith", "Hawthome" and "Hawthorne" come out
    alike, so one printed text read two ways shows as one."""
    shape = digits_read_as_letters(text).casefold().replace("i", "l")
    for pair, letter in _PAIRS_LOOK_LIKE.items():
        shape = shape.replace(pair, letter)
    return shape


# Letter pairs OCR reads as one letter when they touch ("rn" / "m", "vv" / "w"), in lower case.
_PAIRS_LOOK_LIKE = {"rn": "m", "vv": "w"}

# Strokes OCR prints for a letter or digit it could not place at an ID's edge ("|M062318" for "JM062318").
_STROKE_SIGNS = frozenset("|!")


def stroke_beside(value: str, printed: str) -> str | None:
    """The printed token holding ``value`` when a stroke sign touches the value's first or last character
    there: the value dropped it as punctuation, but it may be the I, J, l or 1 that was printed."""
    for token in printed.split():
        at = token.find(value)
        if at < 0:
            continue
        before, after = token[:at], token[at + len(value) :]
        if before[-1:] in _STROKE_SIGNS or after[:1] in _STROKE_SIGNS:
            return token
    return None


def digits_read_as_letters(text: str) -> str:
    """`text` with each digit or sign OCR confuses with a letter put back as that letter ("5.L." -> "S.L.")."""
    return "".join(_DIGIT_LOOKS_LIKE.get(ch) or _SIGN_LOOKS_LIKE.get(ch, ch) for ch in text)


def _letter_among_digits(segment: str, i: int) -> str | None:
    inside = 0 < i < len(segment) - 1 and segment[i - 1].isdigit() and segment[i + 1].isdigit()
    return _LETTER_LOOKS_LIKE.get(segment[i]) if inside else None


def _digit_among_letters(segment: str, i: int) -> str | None:
    """A digit opening a run of letters ("8C") or standing between two letters ("A1B")."""
    after = segment[i + 1 : i + 2]
    opens = after.isalpha() and (i == 0 or segment[i - 1].isalpha())
    return _DIGIT_LOOKS_LIKE.get(segment[i]) if opens else None


# Letters OCR reads for 0 and 1 where a run of letters meets a run of digits ("INVO26608" for "INV026608").
_BOUNDARY_LETTERS = {letter: _LETTER_LOOKS_LIKE[letter] for letter in "OoIl"}


def _letter_closing_letters(segment: str, i: int) -> str | None:
    """A letter that looks like 0 or 1 closing a run of letters right before two or more digits: the
    printed ID may have its digits start there, and nothing around it tells which."""
    digits_after = segment[i + 1 : i + 3]
    closes = i > 0 and segment[i - 1].isalpha() and len(digits_after) == 2 and digits_after.isdigit()
    return _BOUNDARY_LETTERS.get(segment[i]) if closes else None


# An O/0 or I/l/1 where a run of letters meets a run of digits ("FRO88835" / "FR088835"): OCR reads either
# way, and only a letter or digit run around it is left to tell, which the boundary leaves open.
_BOUNDARY = re.compile(r"(?<=[A-Za-z])[0O1Il](?=\d)|(?<=\d)[0O1Il](?=[A-Za-z])")
_SWAP = str.maketrans("0O1Il", "O0l11")


def boundary_slip(value: str) -> str | None:
    """The ID with its 0/O or 1/I/l where letters meet digits read the other way, either way round
    ("FR088835" -> "FRO88835"): for an ID a vendor's earlier invoices make expected, where even the digit
    form is worth a look; None when no such character stands there."""
    found = _BOUNDARY.search(value)
    if found is None:
        return None
    return value[: found.start()] + found.group().translate(_SWAP) + value[found.end() :]


# A lone character before a separator opens an ID ("8-41939"): a one-letter prefix ("B-41939") as often.
_LONE_PREFIX = re.compile(r"^([0-9])(?=[-/.]\w)")


def _lone_digit_prefix(value: str) -> str | None:
    """The ID with its one-character prefix read as the letter it looks like ("8-41939" -> "B-41939")."""
    found = _LONE_PREFIX.match(value)
    letter = _DIGIT_LOOKS_LIKE.get(found.group(1)) if found else None
    return letter + value[1:] if letter else None


def confusable_id_slip(value: str) -> str | None:
    """The ID as it may be printed when one of its characters sits where OCR's confusions make it
    ambiguous: a letter inside a run of digits ("2O24" -> "2024"), a digit opening or inside a run of
    letters ("8C-249858" -> "BC-249858"), an O, I or l closing a run of letters before digits ("INVO26608"
    -> "INV026608"), or a lone digit opening the ID before a separator ("8-41939" -> "B-41939"). None when
    every character sits among its own kind."""
    for swap in (_letter_among_digits, _digit_among_letters, _letter_closing_letters):
        for found in _SEGMENT.finditer(value):
            segment = found.group(0)
            for i in range(len(segment)):
                swapped = swap(segment, i)
                if swapped is not None:
                    position = found.start() + i
                    return value[:position] + swapped + value[position + 1 :]
    return _lone_digit_prefix(value)


def misread_month_doubts(text: str) -> list[str]:
    """A doubt for each month name in the text that OCR misspelt ("Apnil", "] un" for "Jun"): the date is
    read as that month, and a person confirms it."""
    return [f"the month is printed {word!r}, read as {misread_month(word)!r}" for word in misread_month_words(text)]
