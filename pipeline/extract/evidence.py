"""Evidence behind each extracted header field: what corroborates its value and what speaks against it.

Extraction gathers the facts here (was the value read beside its label, does it have its field's shape,
is it printed the same way elsewhere, does the vendor name agree with the sender line, footer or an
e-mail/web domain); routing (pipeline/corroboration.py) decides from them, once, whether the record may
be accepted. Nothing here changes a value or a score.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pipeline.extract.fields import (
    _LETTER_PREFIX,
    _LOWER_WORD,
    Candidate,
    PageIndex,
    continues_an_address,
    customer_block_rows,
    names_a_country,
)
from pipeline.extract.labels import (
    ADDRESS_WORDS,
    COMPANY_WORD,
    LEGAL_FORM,
    LEGAL_FORM_ONLY,
    LEGAL_FORM_WORD,
    LEGAL_LINE,
    NAME_JOINERS,
    is_address_heading,
    is_title,
    match_label,
    reads_as_street_address,
)
from pipeline.extract.layout import Phrase, Row, within_a_space
from pipeline.extract.misreads import (
    BUSINESS_WORDS,
    UNSURE_WORD_CONFIDENCE,
    confusable_id_slip,
    digits_read_as_letters,
    near_business_word,
    ocr_shape,
    stroke_beside,
)
from schemas import FieldEvidence, Support

# OCR often opens a gap after the "@" ("billing@ atlas.example").
_DOMAIN = re.compile(r"(?:@\s?|\bwww\.|https?://)([a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*)\.[a-z]{2,}", re.IGNORECASE)
# A name that ends in its legal form ("Google Cloud EMEA Limited", "Coolblue B.V."): the name is complete.
_CLOSED_BY_LEGAL_FORM = re.compile(rf"\b(?:{LEGAL_FORM})\.?\s*$", re.IGNORECASE)
# A legal form followed by a separator and more text ("Orchard Lane Media GmbH, Rue du"): a name ends at its form.
_AFTER_LEGAL_FORM = re.compile(rf"\b(?:{LEGAL_FORM})(?:,|\s[-|\u2022\u00b7])\s*(?P<rest>\S.*)$", re.IGNORECASE)
_SPACED_LETTERS = re.compile(r"(?:^|\s)\w(?:\s\w){2,}(?:\s|$)")
# One capital letter, then a lower-case word: OCR broke a word in two ("Juniper A nalytics").
_BROKEN_WORD = re.compile(r"(?<!\S)[A-Z]\s([a-z]{2,})\b")
_GLUED_WORD = re.compile(r"[a-z]{4,}")
_TRAILING_WORD = re.compile(r"[-_/.]?[A-Za-z][a-z]{3,}$")
# Words that say nothing about who the issuer is: legal forms and generic trade words.
_GENERIC = frozenset(
    {"the", "and", "und", "et", "de", "van", "der", "group", "services", "service", "solutions", "trading"}
)


@dataclass
class EvidenceInputs:
    """What extraction decided and saw, handed over once for every field."""

    chosen: dict[str, Candidate | None]
    by_field: dict[str, list[Candidate]]  # the candidates read beside a label (or restored from one)
    doubts: dict[str, list[str]] = field(default_factory=dict)  # doubts extraction already knows of
    dates: set[date] = field(default_factory=set)  # every date the document prints, as read

    @property
    def labelled(self) -> set[int]:
        """Ids of the candidates read beside a label for their field."""
        return {id(candidate) for candidates in self.by_field.values() for candidate in candidates}


def _has_shape(name: str, value: object) -> bool:
    if name in ("invoice_date", "due_date"):
        return isinstance(value, date)
    if name in ("subtotal", "tax", "total"):
        return isinstance(value, Decimal)
    if name == "invoice_number":
        text = str(value)
        return 2 <= len(text) <= 40 and any(ch.isdigit() for ch in text) and text[0].isalnum() and text[-1].isalnum()
    return isinstance(value, str) and sum(ch.isalpha() for ch in value) >= 2


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _distinctive_tokens(name: str) -> list[str]:
    """Words of a party name that identify it: not legal forms, not generic trade words, 3+ letters."""
    tokens = []
    for word in re.findall(r"[^\W\d_]{3,}", name):
        if LEGAL_FORM_ONLY.match(word) or COMPANY_WORD.fullmatch(word) or word.casefold() in _GENERIC:
            continue
        tokens.append(word.casefold())
    return tokens


def _number_doubts(index: PageIndex, inputs: EvidenceInputs, chosen: Candidate) -> tuple[list[Support], list[str]]:
    value = str(chosen.value)
    support: list[Support] = []
    doubts: list[str] = []
    if _GLUED_WORD.search(value) or _TRAILING_WORD.search(value):
        doubts.append(f"the invoice number {value!r} contains a word; a continuation note may be glued on")
    continued = _split_continuation(chosen) or (_split_prefix(chosen) if _read_by_ocr(chosen) else None)
    if continued is not None:
        doubts.append(f"the invoice number may be {continued!r}, not {value!r}: OCR set a gap inside it")
    others = {
        str(c.value)
        for c in inputs.by_field.get("invoice_number", [])
        if id(c) in inputs.labelled and c.phrase is not chosen.phrase
    }
    differing = sorted(other for other in others if _norm(_unglued(other)) != _norm(value))
    if differing:
        doubts.append(f"the invoice number is printed as {value!r} and elsewhere as {differing[0]!r}")
    elif others or _printed_elsewhere(index, value, chosen):
        support.append(Support.REPEATED)
    stroke = stroke_beside(value, chosen.evidence.text) if _read_by_ocr(chosen) else None
    if stroke is not None:
        doubts.append(
            f"the invoice number {value!r} was read from {stroke!r}: the stroke beside it may be a character "
            "OCR could not place (I, J, l or 1)"
        )
    slip = confusable_id_slip(value) if _read_by_ocr(chosen) else None
    if slip is not None:
        doubts.append(
            f"the invoice number {value!r} may be {slip!r}: a character OCR confuses (8/B, 0/O, 1/I, 5/S) "
            "stands among characters of the other kind"
        )
    return support, doubts


def _read_by_ocr(chosen: Candidate) -> bool:
    """The value was read by OCR (a text layer's words carry confidence 1.0 and are printed as read)."""
    words = chosen.evidence.words or chosen.phrase.words
    return any(word.confidence < 1.0 for word in words)


def _misread_word_doubts(name: str, chosen: Candidate) -> list[str]:
    """A name word OCR read one or two letters away from a business word ("Enaineering"): repeated copies
    of the name are read alike, so only the spelling gives the slip away."""
    if not _read_by_ocr(chosen):
        return []
    for word in re.findall(r"[^\W\d_]+", str(chosen.value)):
        known = near_business_word(word)
        if known is not None:
            label = name.replace("_", " ")
            return [
                f"the {label} {chosen.value!r} spells {word!r}, one or two letters from {known!r}: "
                "OCR may have misread it"
            ]
    return []


def _split_continuation(chosen: Candidate) -> str | None:
    """The number read whole when it ends in a letter prefix ("2025-T") and digits follow at about a
    space's distance ("69672"): OCR's gaps inside an ID are as wide as a typed space, so which is printed
    ("2025-T69672" or "2025-T 69672") is for a person to say."""
    words = chosen.phrase.words
    end = chosen.words_to if chosen.words_to is not None else len(words)
    if end >= len(words) or end == 0 or _LETTER_PREFIX.search(str(chosen.value)) is None:
        return None
    last, following = words[end - 1], words[end]
    close = within_a_space(last, following)
    return f"{chosen.value}{following.text}" if close and following.text[:1].isdigit() else None


# Words that close a number's label ("INVOICE NO 12345", "RECHNUNG NR 4711"), never a prefix of the number.
_NUMBER_WORDS = frozenset({"no", "nr", "nro", "num", "nbr"})
# Specks OCR reads from a scan's noise before a word ("=F" for "F").
_SPECKS = "=~-_.,'`"


def _split_prefix(chosen: Candidate) -> str | None:
    """The number read without the letter prefix before it at about a space's distance ("INV" "988722"
    for "INV988722", "=F" "A/23/37134" for "FA/23/37134"): an ID takes digits, so the prefix was dropped,
    and whether it belongs to the number is for a person to say."""
    words, start = chosen.phrase.words, chosen.words_from
    if start == 0 or start >= len(words):
        return None
    before, first = words[start - 1], words[start]
    prefix = before.text.lstrip(_SPECKS)
    if not prefix.isalpha() or prefix.casefold() in _NUMBER_WORDS:
        return None
    # One capital before a number that opens with capitals splits a letter run ("F" "A/23/37134").
    run_split = prefix.isupper() and len(prefix) <= 5 and str(chosen.value)[:1].isupper()
    if _LETTER_PREFIX.search(prefix) is None and not run_split:
        return None
    close = within_a_space(before, first)
    return f"{prefix}{chosen.value}" if close else None


def _unglued(number: str) -> str:
    """A reading with a word glued on ("2022089083-Page", "INV-12continued") less that word."""
    return _TRAILING_WORD.sub("", number)


def _printed_elsewhere(index: PageIndex, value: str, chosen: Candidate) -> bool:
    return any(value in phrase.text.split() for phrase in _other_phrases(index, chosen))


def _other_phrases(index: PageIndex, chosen: Candidate) -> Iterator[Phrase]:
    """Every phrase of the page index but the one the chosen value was read from."""
    for row in index.rows:
        yield from (phrase for phrase in row.phrases if phrase is not chosen.phrase)


def party_doubts(name: str, value: str, other_party: str | None) -> list[str]:
    label = name.replace("_", " ")
    doubts: list[str] = []
    if LEGAL_FORM_ONLY.match(value):
        doubts.append(f"the {label} {value!r} is only a legal form; the name may run over two lines")
    if other_party is not None and _norm(value) == _norm(other_party):
        doubts.append(f"the {label} {value!r} is also read as the other party")
    if is_title(value) or match_label(value) is not None or is_address_heading(value):
        doubts.append(f"the {label} {value!r} reads as a label or title")
    if names_a_country(value):
        doubts.append(f"the {label} {value!r} names a country: a line of an address, not a party")
    elif sum(ch.isdigit() for ch in value) >= 2 or reads_as_street_address(value):
        doubts.append(f"the {label} {value!r} looks like part of an address")
    if _SPACED_LETTERS.search(value):
        doubts.append(f"the {label} {value!r} is letters spaced apart, a logo rather than a name")
    if not _distinctive_tokens(value):
        doubts.append(f"the {label} {value!r} has no word that identifies a company")
    if any(ch.isalpha() for ch in value) and not any(ch.isupper() for ch in value):
        # "bluebird." set in lower case is a wordmark or a domain; the registered name is printed elsewhere
        doubts.append(f"the {label} {value!r} is all lower case, a wordmark or domain rather than the name")
    return doubts + _glued_text_doubts(label, value)


def _glued_text_doubts(label: str, value: str) -> list[str]:
    """A name read together with what stands beside it: a register or tax line, a sentence, a broken word."""
    doubts: list[str] = []
    register = LEGAL_LINE.search(value)
    if register is not None:
        doubts.append(f"the {label} {value!r} carries {register.group(0)!r}: a legal or register line may be glued on")
    if _is_sentence(value) and not _CLOSED_BY_LEGAL_FORM.search(value.strip()):
        doubts.append(f"the {label} {value!r} reads as a sentence, not a name")
    runs_on = _AFTER_LEGAL_FORM.search(value)
    if runs_on is not None and not LEGAL_FORM_ONLY.match(runs_on.group("rest")):
        doubts.append(
            f"the {label} {value!r} runs on past its legal form ({runs_on.group('rest')!r}): an address may be glued on"
        )
    broken = [word for word in _BROKEN_WORD.findall(value) if word not in NAME_JOINERS]
    if broken:
        doubts.append(f"the {label} {value!r} has a word broken in two ({broken[0]!r}); OCR may have split it")
    return doubts


def _has_legal_form(text: str) -> bool:
    return LEGAL_FORM_WORD.search(text.casefold().replace(".", "")) is not None


def _is_sentence(text: str) -> bool:
    """A line of prose ("Le règlement par chèque n'est plus accepté.", "It Starts Here."), never part of a name:
    three lower-case words, or a full stop, question or exclamation mark that closes no legal form."""
    stripped = text.strip()
    if len(_LOWER_WORD.findall(stripped)) >= 3:
        return True
    return stripped.endswith(("!", "?")) or (stripped.endswith(".") and not _has_legal_form(stripped.split()[-1]))


def _name_continues(index: PageIndex, phrase: Phrase, name: str | None = None, above_too: bool = True) -> str | None:
    """Text in type as large as the name, aligned with it, on the line just above or below: the name may
    run over two lines, and only one of them was read. A name closed by its legal form ("… Limited") ends
    there, so only a line above it can hold its start."""
    height = phrase.height
    closed = name is not None and _CLOSED_BY_LEGAL_FORM.search(name.strip()) is not None
    for row in index.rows:
        if row.page_no != phrase.page_no or row.index == phrase.row_index:
            continue
        below = 0 <= row.y0 - phrase.y1 <= 1.2 * height and not closed
        above = above_too and 0 <= phrase.y0 - (row.y0 + row.height) <= 1.2 * height
        if not (below or above):
            continue
        for other in row.phrases:
            if _continues_name(index, phrase, other):
                return other.text
    return None


def _continues_name(index: PageIndex, phrase: Phrase, other: Phrase) -> bool:
    """`other`, on a line next to the name's, could be the rest of it: aligned, name-like, in type as large."""
    aligned = min(abs(other.x0 - phrase.x0), abs(other.x1 - phrase.x1), abs(other.cx - phrase.cx)) < phrase.height
    # A bare legal form OCR read with a digit for a letter ("5.L." for "S.L.") is still a legal form.
    legal_form = any(LEGAL_FORM_ONLY.match(text) for text in (other.text, digits_read_as_letters(other.text)))
    name_like = legal_form or (
        sum(ch.isalpha() for ch in other.text) >= 2
        and not any(ch.isdigit() for ch in other.text)
        and not _is_sentence(other.text)
    )
    # A bare legal form is the tail of the name even in smaller type ("Bluebird Provisions" / "S.L.U.").
    tall_enough = index.size_ratio(phrase, other) >= (0.5 if legal_form else 0.85)
    return aligned and name_like and tall_enough and index.is_value_like(other)


def _domains(index: PageIndex) -> set[str]:
    found: set[str] = set()
    for row in index.rows:
        for match in _DOMAIN.finditer(row.text):
            found.update(_norm(part) for part in match.group(1).split(".") if len(part) >= 3)
    return found


def _vendor_corroboration(
    index: PageIndex, chosen: Candidate, customer: str | None, customer_rows: set[tuple[int, int]]
) -> tuple[list[Support], list[str]]:
    tokens = _distinctive_tokens(str(chosen.value))
    support: list[Support] = []
    customer_tokens = set(_distinctive_tokens(customer or ""))
    own = [token for token in tokens if token not in customer_tokens] or tokens
    elsewhere = _words_elsewhere(index, chosen, customer_rows)
    if any(token in elsewhere for token in own):
        support.append(Support.SENDER)
    domains = _domains(index)
    if any(_names_domain(token, domain) for token in own for domain in domains):
        support.append(Support.DOMAIN)
    doubts: list[str] = []
    slip = _one_letter_off(own, domains | _domain_rests(domains, own))
    if slip is not None:
        doubts.append(
            f"the vendor name {chosen.value!r} spells {slip[0]!r} where the page's domain has {slip[1]!r}; "
            "OCR may have misread a letter"
        )
    brand = _other_brand(index, domains, own, customer_tokens) if Support.DOMAIN not in support else None
    if brand is not None:
        doubts.append(
            f"the page also names {brand!r}, as a word and as its web domain: the vendor may be known by that name"
        )
    fuller = _fuller_name(index, chosen, own)
    if fuller is not None:
        doubts.append(f"the vendor name {chosen.value!r} may be cut short: {fuller!r} is printed elsewhere")
    if domains and not support:
        # Without a domain the page has nothing to check the name against. Vetoing it then cost 3 right
        # records of 32 (s61, OCR at 1700 px, one born-digital) and caught none wrong: left to calibration.
        shown = ", ".join(sorted(domains)[:3])
        doubts.append(
            f"the vendor name {chosen.value!r} appears nowhere else, and no e-mail/web domain ({shown}) matches it"
        )
    unsure = _unconfirmed_unsure_word(chosen, elsewhere, domains)
    if unsure is not None:
        doubts.append(
            f"OCR was unsure of {unsure!r} in the vendor name {chosen.value!r}, and the page prints it nowhere "
            "else to confirm it"
        )
    other_spelling = _spelled_otherwise(index, chosen, own, domains) if _read_by_ocr(chosen) else None
    if other_spelling is not None:
        doubts.append(
            f"the vendor name {chosen.value!r} is printed elsewhere with {other_spelling[1]!r} for "
            f"{other_spelling[0]!r}: OCR may have misread one of them"
        )
    return support, doubts


def _unconfirmed_unsure_word(chosen: Candidate, elsewhere: set[str], domains: set[str]) -> str | None:
    """A word of the name OCR was unsure of ("Noruwind" at 0.55 for "Northwind") that no other printing on the
    page spells the same, in words or in a domain: one misread letter would otherwise be accepted as the name."""
    words = chosen.evidence.words or chosen.phrase.words
    for word in words:
        letters = re.sub(r"[^\w]", "", word.text)
        if word.confidence >= UNSURE_WORD_CONFIDENCE or sum(ch.isalpha() for ch in letters) < 3:
            continue
        token = letters.casefold()
        if token in elsewhere or any(_names_domain(token, domain) for domain in domains):
            continue
        return word.text
    return None


def _other_rows(index: PageIndex, chosen: Candidate) -> Iterator[Row]:
    """Every row of the document but the one the chosen value was read on."""
    return (
        row for row in index.rows if not (row.page_no == chosen.phrase.page_no and row.index == chosen.phrase.row_index)
    )


def _words_elsewhere(index: PageIndex, chosen: Candidate, customer_rows: set[tuple[int, int]]) -> set[str]:
    """Every word printed on a row other than the name's own, outside the bill-to block (a street the
    customer's address shares with what was read as the vendor confirms nothing), in lower case without
    punctuation."""
    words: set[str] = set()
    for row in _other_rows(index, chosen):
        if (row.page_no, row.index) not in customer_rows:
            words.update(word.casefold().strip(".,;:()") for word in row.text.split())
    return words


def _spelled_otherwise(
    index: PageIndex, chosen: Candidate, own: list[str], domains: set[str]
) -> tuple[str, str] | None:
    """A word of the name spelled a letter differently where the page prints the name again (a line that
    carries the name's other words): one of the two copies was misread, and the page cannot say which,
    unless the word as read is a business word spelled right or the page's domain spells it so."""
    unsettled = [
        token
        for token in own
        if token not in BUSINESS_WORDS and not any(_names_domain(token, domain) for domain in domains)
    ]
    for row in _other_rows(index, chosen):
        words = _norm_words(row.text)
        if not any(token in words for token in own):
            continue
        slip = _one_letter_off([token for token in unsettled if token not in words], words)
        if slip is not None:
            return slip
    return None


# A brand domain and the legal name often share their opening stem ("Harborline GmbH" / harborlogistics.com).
_MIN_SHARED_STEM = 6


def _names_domain(token: str, domain: str) -> bool:
    """The name word is the domain, is in it, holds it, or opens with the same long stem."""
    if token in domain or (len(domain) >= 4 and domain in token):
        return True
    shortest = min(len(token), len(domain))
    shared = next((i for i in range(shortest) if token[i] != domain[i]), shortest)
    return shared >= _MIN_SHARED_STEM and shared * 2 >= shortest


# A line crediting the software that made the PDF ("Powered by TCPDF (www.tcpdf.org)") names no issuer.
_SOFTWARE_CREDIT = re.compile(r"\b(powered|generated|created|produced|made)\s+(by|with)\b", re.IGNORECASE)


def _other_brand(index: PageIndex, domains: set[str], own: list[str], customer: set[str]) -> str | None:
    """A domain the vendor name does not match, printed on its own as a word too ("At Shopwise we ...",
    shopwise.com, on an invoice sold by "Northwind Retail Services"): a trade name beside the legal one. A domain
    printed on a line next to the vendor's name is the vendor's own (its footer), and no other name."""
    rows = [row for row in index.rows if not _SOFTWARE_CREDIT.search(row.text)]
    beside_name = {
        (row.page_no, row.index + step)
        for row in rows
        if own and any(token in _norm_words(row.text) for token in own)
        for step in (-1, 0, 1)
    }
    for domain in sorted(domains):
        if len(domain) < 4 or domain in customer or any(_names_domain(token, domain) for token in own):
            continue
        alone = re.compile(rf"(?<![\w.@/]){re.escape(domain)}(?![\w.@])", re.IGNORECASE)
        printed = [row for row in rows if domain in _norm(row.text)]
        if any((row.page_no, row.index) in beside_name for row in printed):
            continue
        if any(alone.search(row.text) for row in rows):
            return domain
    return None


def _norm_words(text: str) -> set[str]:
    return {word.casefold().strip(".,;:()") for word in text.split()}


def _domain_rests(domains: set[str], tokens: list[str]) -> set[str]:
    """What a domain spells besides the name words it holds ("silverlake" less "silver" is "lake"): a name
    read "Silver Lako" matches the domain on one word and misreads the other."""
    rests: set[str] = set()
    for domain in domains:
        rest = domain
        for token in tokens:
            rest = rest.replace(token, "") if len(token) >= 3 else rest
        if rest != domain and len(rest) >= 4:
            rests.add(rest)
    return rests


def _one_letter_off(tokens: list[str], domains: set[str]) -> tuple[str, str] | None:
    """A name word that nearly spells a domain ("atias" / "atlas"): the signature of a misread letter."""
    for token in tokens:
        for domain in domains:
            if token == domain or token in domain or domain in token or abs(len(token) - len(domain)) > 1:
                continue
            if len(token) >= 4 and difflib.SequenceMatcher(None, token, domain, autojunk=False).ratio() >= 0.75:
                return token, domain
    return None


# What OCR puts for a legal form's letters: "$.r.1." for "S.r.l.", "5.A." for "S.A.", "Ltd" as "Lt0".
def _has_legal_form_as_read(text: str) -> bool:
    """A legal form in OCR'd text, also where OCR put a digit or a sign for one of its letters, or an I for an l."""
    folded = digits_read_as_letters(text).casefold()
    return _has_legal_form(folded) or _has_legal_form(folded.replace("i", "l"))


def _fuller_name(index: PageIndex, chosen: Candidate, tokens: list[str]) -> str | None:
    """A line elsewhere naming the vendor with its legal form, when the value read has none."""
    if not tokens or _has_legal_form(str(chosen.value)):
        return None
    for row in _other_rows(index, chosen):
        words = [word.casefold().strip(".,;:()") for word in row.text.split()]
        if all(token in words for token in tokens) and _has_legal_form_as_read(row.text):
            return row.text[:80]
    return None


def _party_evidence(index: PageIndex, inputs: EvidenceInputs, name: str, chosen: Candidate) -> FieldEvidence:
    other_name = "customer_name" if name == "vendor_name" else "vendor_name"
    other = inputs.chosen.get(other_name)
    other_value = str(other.value) if other is not None else None
    value = str(chosen.value)
    support = [Support.SHAPE] if _has_shape(name, value) else []
    if id(chosen) in inputs.labelled:
        support.append(Support.LABEL)
    doubts = party_doubts(name, value, other_value) + _misread_word_doubts(name, chosen)
    if name == "vendor_name":
        # The customer's name is followed by its address in nearly the same type; the vendor's stands out.
        continued = _name_continues(index, chosen.evidence if chosen.evidence.words else chosen.phrase, value)
        if continued is not None:
            doubts.append(f"the vendor name {value!r} may run over two lines: {continued!r} is printed beside it")
        customer_rows = customer_block_rows(index, inputs.by_field.get("customer_name", []))
        found, against = _vendor_corroboration(index, chosen, other_value, customer_rows)
        if continues_an_address(index, chosen.phrase):
            against.append(f"the vendor name {value!r} is printed under a street or postcode: a line of an address")
        fuller = _fuller_line_elsewhere(index, chosen, value)
        if fuller is not None:
            against.append(
                f"the vendor name {value!r} opens a longer line elsewhere ({fuller!r}): the name may be longer"
            )
        support += found
        doubts += against
    else:
        doubts += _customer_wraps(index, chosen)
    return FieldEvidence(support=support, doubts=doubts)


def _fuller_line_elsewhere(index: PageIndex, chosen: Candidate, value: str) -> str | None:
    """Another line that opens with the whole name and runs on with a capitalised word that is no address or
    register word: a wordmark ("REDWOOD") whose registered name OCR misread past recognising ("Redwood Trading
    S_p.A.- REA ..."), so it was never read as a name. A name with its legal form is already whole."""
    if _has_legal_form(value):
        return None
    name_words = value.split()
    name_shapes = [ocr_shape(word) for word in name_words]  # "Hawthome Catering Ltd" opens with "HAWTHORNE"
    for phrase in _other_phrases(index, chosen):
        words = phrase.text.split()
        if len(words) <= len(name_words):
            continue
        after = words[len(name_words)]
        opens = [ocr_shape(word.rstrip(",.")) for word in words[: len(name_words)]] == name_shapes
        if opens and after[:2].isalpha() and after[0].isupper() and not _register_or_address(after):
            return phrase.text[:60]
    return None


def _register_or_address(word: str) -> bool:
    return LEGAL_LINE.search(word) is not None or ADDRESS_WORDS.search(word) is not None


def _customer_wraps(index: PageIndex, chosen: Candidate) -> list[str]:
    """The bill-to name is followed by its address in the same type, so only a line that reads as the rest
    of a name counts: one carrying the legal form the value lacks, any name-like line under a one-word value
    ("Oakridge" / "Retail Group GmbH"), or an aligned line in type as large with no address word in it.
    Whether the name wraps is left open, so a person reads it."""
    value = str(chosen.value)
    if _has_legal_form(value):
        return []
    phrase = chosen.evidence if chosen.evidence.words else chosen.phrase
    continued = _name_continues(index, phrase, above_too=False)
    if continued is None or not (_has_legal_form(continued) or len(value.split()) == 1):
        column = index.next_in_column(phrase)
        aligned_name = column is not None and index.continues_name(phrase, column)
        continued = (
            column.text if column is not None and aligned_name and not ADDRESS_WORDS.search(column.text) else None
        )
    if continued is None:
        return []
    return [f"the customer name {value!r} may run over two lines: {continued!r} is printed below it"]


def field_evidence(index: PageIndex, inputs: EvidenceInputs) -> dict[str, FieldEvidence]:
    """Evidence for every chosen field (currency and line items are assessed elsewhere)."""
    evidence: dict[str, FieldEvidence] = {}
    for name, chosen in inputs.chosen.items():
        if chosen is None:
            continue
        if name in ("vendor_name", "customer_name"):
            evidence[name] = _party_evidence(index, inputs, name, chosen)
            continue
        support = [Support.SHAPE] if _has_shape(name, chosen.value) else []
        if id(chosen) in inputs.labelled:
            support.append(Support.LABEL)
        elif name == "invoice_date" and inputs.dates == {chosen.value}:
            support.append(Support.SOLE_DATE)  # a receipt's one date, printed with no label
        doubts = list(inputs.doubts.get(name, []))
        if name == "invoice_number":
            more, against = _number_doubts(index, inputs, chosen)
            support += more
            doubts += against
        evidence[name] = FieldEvidence(support=support, doubts=doubts)
    return evidence
