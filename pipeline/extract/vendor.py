"""The issuer's name from every place an invoice states who issued it, weighed together.

A name near the top of page 1 is often the issuer, but often a slogan, a logo's wordmark or the customer.
Invoices also state the issuer's identity where the law or the bank asks for it: the sender line above
the address window ("Acme GmbH - Hauptstr. 1 - 10115 Berlin"), the footer's legal block, a legal line
("Acme SAS au capital de ...", "sold by Acme, Inc."), the payee of a bank transfer and the e-mail or web
domain. Each of these is a source of candidates; a name backed by several sources wins, and a name
printed in the customer's block never does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from pipeline.extract.fields import _LOWER_WORD, Candidate, PageIndex, repair_legal_form
from pipeline.extract.labels import (
    ENDS_IN_LEGAL_FORM,
    LEGAL_FORM,
    LEGAL_FORM_ONLY,
    NAME_JOINERS,
    REGISTER_WORDS,
    is_title,
    match_label,
    reads_as_street_address,
)
from pipeline.extract.layout import Phrase, Row, horizontal_overlap

# A legal form closing a company name, and a phrase that is nothing but one.
_LEGAL_FORM_AT_END = re.compile(rf"(?:,\s*)?\b(?:{LEGAL_FORM})(?=$|[\s,;:()\u2022\u00b7|\u2013\u2014-])", re.IGNORECASE)
_MAX_NAME_WORDS = 7
# Separators of a one-line identity ("Name • street • city", "Name - street - city", "Name, street 4").
_SENDER_SEPARATOR = re.compile(r"\s(?:[\u2022\u00b7|\u2013\u2014-])\s|,\s")
# Where a document names the party that is paid.
_PAYEE_CUES = re.compile(
    r"(account\s*holder|beneficiary|payee|(make\s*)?(cheques?|checks?)\s*payable\s*to|payable\s*to|"
    r"in\s*favou?r\s*of|titulaire(\s*du\s*compte)?|kontoinhaber|begünstigter|ten\s*name\s*van|"
    r"sold\s*by|provided\s*by|service\s*provider|issued\s*by|operated\s*by)\s*[:.-]?\s*",
    re.IGNORECASE,
)
# Lines the issuer prints because the law asks for them: registers, tax and bank identifiers.
_IDENTIFIERS = re.compile(rf"\b({REGISTER_WORDS}|capital)\b", re.IGNORECASE)  # "Share capital: EUR 25,000"
_DOMAIN = re.compile(r"(?:@\s?|www\.|https?://(?:[\w-]+\.)*)([a-z0-9][a-z0-9-]{2,})\.[a-z]{2,}", re.IGNORECASE)
_FOOTER_TOP = 0.8
_CUSTOMER_BLOCK_ROWS = 4  # share of the page height below which a block of rows is the footer

# How much each kind of place is worth on its own; agreement between places adds to it.
SOURCE_WEIGHT = {"label": 0.8, "sender_line": 0.75, "payee": 0.7, "footer": 0.6, "legal": 0.55}
_AGREEMENT_BONUS = 0.15
_DOMAIN_BONUS = 0.25
_CUSTOMER_FACTOR = 0.3
_DOMAIN_DISAGREES_FACTOR = 0.8
# "Powered by TCPDF (www.tcpdf.org)", "Printout: www.fakturaXL.pl": the software's site, not the issuer's.
_TOOL_CREDIT = re.compile(r"powered\s*by|generated\s*(by|with)|printout|created\s*with|erstellt\s*mit", re.IGNORECASE)


@dataclass
class NameSighting:
    """One place a name was printed, and what kind of place it was."""

    name: str
    source: str
    phrase: Phrase

    def __post_init__(self) -> None:
        self.name = repair_legal_form(self.name)


def name_key(name: str) -> str:
    """Names compared without their legal form, case, spacing and punctuation."""
    core = _LEGAL_FORM_AT_END.split(name)[0] if _LEGAL_FORM_AT_END.search(name) else name
    return re.sub(r"[\W_]+", "", core).casefold()


def _is_name_word(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit() or word.lower() in NAME_JOINERS or word.startswith("(")


def legal_names(text: str) -> list[str]:
    """Company names that end in a legal form: "sold by Amazon Web Services, Inc." -> "Amazon Web Services, Inc."."""
    names: list[str] = []
    for found in _LEGAL_FORM_AT_END.finditer(text):
        before = text[: found.start()].rstrip(" ,")
        words = before.split()
        name_words: list[str] = []
        for word in reversed(words):
            if not _is_name_word(word) or word.endswith(":") or len(name_words) >= _MAX_NAME_WORDS:
                break
            name_words.insert(0, word)
        while name_words and name_words[0].lower() in NAME_JOINERS:
            name_words.pop(0)
        letters = sum(ch.isalpha() for word in name_words for ch in word)
        if letters >= 2:
            form = text[found.start() : found.end()].strip()
            joiner = "" if form.startswith(",") else " "
            names.append(f"{' '.join(name_words)}{joiner}{form}")
    return names


def _plausible_name(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    digits = sum(ch.isdigit() for ch in text)
    return (
        letters >= 2
        and digits <= 3
        and len(text) <= 60
        and ":" not in text
        and "@" not in text
        and not LEGAL_FORM_ONLY.match(text)
        and not is_title(text)
    )


def _sender_line_name(phrase: Phrase) -> str | None:
    """The name opening a one-line identity: at least two separators, digits (an address) after them."""
    parts = _SENDER_SEPARATOR.split(phrase.text)
    bulleted = len(parts) > len(phrase.text.split(", "))  # commas alone also join a city, region and code
    if len(parts) < 3 or not (bulleted or _LEGAL_FORM_AT_END.search(parts[0])):
        return None
    if not any(ch.isdigit() for ch in " ".join(parts[1:])):
        return None
    head = parts[0].strip()
    if LEGAL_FORM_ONLY.match(parts[1]):
        head = f"{head}, {parts[1].strip()}"
    return head if _plausible_name(head) and not any(ch.isdigit() for ch in head) else None


# A letter's address window: the sender in small type over the recipient's address (DIN 5008 and its kin).
_WINDOW_TOP_SHARE = 0.5  # the window sits in the top half of the first page
_SENDER_TYPE_RATIO = 0.9  # the sender line is printed smaller than the recipient's name under it
_WINDOW_STRENGTH = 0.6  # no label names the block: the window's shape alone says whose it is


def window_recipient(index: PageIndex) -> Candidate | None:
    """The first line of the address under a sender line: the customer's name, when no "Bill to" label
    names the block. The next rows, left-aligned with the sender line, in larger type, hold the name."""
    if not index.layouts:
        return None
    layout = index.layouts[0]
    for row in layout.rows:
        if row.y0 > _WINDOW_TOP_SHARE * layout.height:
            break
        for phrase in row.phrases:
            sender = _sender_line_name(phrase)
            if sender is None:
                continue
            for below in index.below(phrase, max_rows=2):
                name = below.text.strip()
                aligned = abs(below.x0 - phrase.x0) < 2 * below.height
                larger = phrase.height < _SENDER_TYPE_RATIO * below.height
                # the sender's own name or wordmark under its identity line is a letterhead, not a window
                senders = _shares_a_start(name_key(name), name_key(sender))
                if aligned and larger and not senders and _plausible_name(name) and not reads_as_street_address(name):
                    return Candidate("customer_name", name, _WINDOW_STRENGTH * below.confidence, below)
    return None


def _shares_a_start(first: str, second: str) -> bool:
    return bool(first) and bool(second) and (first.startswith(second) or second.startswith(first))


def _payee_name(index: PageIndex, phrase: Phrase) -> str | None:
    found = _PAYEE_CUES.search(phrase.text)
    if found is None:
        return None
    rest = phrase.text[found.end() :].strip(" :-")
    if not rest:
        neighbours = index.right_of(phrase)[1:2] or index.below(phrase, max_rows=3)[:1]
        rest = neighbours[0].text.strip() if neighbours else ""
    named = legal_names(rest)
    name = named[0] if named else re.split(r"\s[-\u2013\u2014]\s|,\s", rest)[0].strip()
    return name if _plausible_name(name) else None


def _footer_rows(rows: list[Row]) -> list[Row]:
    """The block of rows at the bottom of a page that carries the issuer's legal identifiers."""
    bottom = [row for row in rows if row.y0 >= _FOOTER_TOP * row.page_height]
    return bottom if any(_IDENTIFIERS.search(row.text) for row in bottom) else []


def customer_block(index: PageIndex, customer: list[Candidate]) -> set[int]:
    """Ids of the phrases of the bill-to block: the customer's name and the lines under it, in its column."""
    block: set[int] = set()
    for candidate in customer:
        start = candidate.phrase
        for row in index.rows:
            if row.page_no != start.page_no or not 0 <= row.index - start.row_index <= _CUSTOMER_BLOCK_ROWS:
                continue
            for phrase in row.phrases:
                aligned = abs(phrase.x0 - start.x0) < 2 * start.height
                if aligned or horizontal_overlap(start.x0, start.x1, phrase.x0, phrase.x1) > 0.5:
                    block.add(id(phrase))
    return block


def document_domains(index: PageIndex, customer_phrases: set[int]) -> set[str]:
    """E-mail and web domains printed outside the customer's block ("acme" of info@acme.de)."""
    return {
        found.group(1).casefold()
        for row in index.rows
        for phrase in row.phrases
        if id(phrase) not in customer_phrases and not _TOOL_CREDIT.search(phrase.text)
        for found in _DOMAIN.finditer(phrase.text)
    }


def name_sightings(index: PageIndex, customer_phrases: set[int]) -> list[NameSighting]:
    """Every place the document names a company in a way that identifies its issuer."""
    sightings: list[NameSighting] = []
    for row in index.rows:
        for phrase in row.phrases:
            if id(phrase) in customer_phrases:
                continue  # the customer's block names the customer, whatever its form
            sightings.extend(NameSighting(name, "legal", phrase) for name in legal_names(phrase.text))
            sender = _sender_line_name(phrase)
            if sender is not None:
                sightings.append(NameSighting(sender, "sender_line", phrase))
            payee = _payee_name(index, phrase)
            if payee is not None:
                sightings.append(NameSighting(payee, "payee", phrase))
    return sightings + _footer_heads(index)


def _footer_heads(index: PageIndex) -> list[NameSighting]:
    """The name opening each page's legal footer ("Acme GmbH | Vorstand: ... | IBAN ...")."""
    by_page: dict[int, list[Row]] = defaultdict(list)
    for row in index.rows:
        by_page[row.page_no].append(row)
    heads: list[NameSighting] = []
    for rows in by_page.values():
        head = _footer_head(_footer_rows(rows))
        if head is not None:
            named = legal_names(head.text)
            heads.append(NameSighting(named[0] if named else head.text.strip(" ,"), "footer", head))
    return heads


def _footer_head(block: list[Row]) -> Phrase | None:
    """The footer's first line when it reads as a name. Payment notes and questions may come first
    ("Payment due within 30 days.", "Questions? Call ..."): past those, only a line naming a company with
    its legal form counts."""
    skipped = False
    for row in block:
        text = row.phrases[0].text.strip(" ,")
        if skipped or len(_LOWER_WORD.findall(text)) >= 3 or match_label(text) is not None:
            if legal_names(text):
                return row.phrases[0]
            skipped = True
            continue
        if _plausible_name(text):
            return row.phrases[0]
        skipped = True  # a payment term ("Betalingstermijn: 14 dagen"), a phone line: look on
    return None


def _domain_backs(key: str, domains: set[str]) -> bool:
    return len(key) >= 3 and any(key.startswith(domain) or domain.startswith(key) for domain in domains)


def _customer_keys(index: PageIndex, customer: list[Candidate], customer_phrases: set[int]) -> set[str]:
    keys = {name_key(str(c.value)) for c in customer}
    keys.update(name_key(p.text) for row in index.rows for p in row.phrases if id(p) in customer_phrases)
    return {key for key in keys if key}


def choose_vendor(
    index: PageIndex,
    proposals: dict[str, list[Candidate]],
    customer: list[Candidate],
) -> Candidate | None:
    """The best-backed name among the proposals (by source: "label", "top") and the identity sightings."""
    customer_phrases = customer_block(index, customer)
    sightings = name_sightings(index, customer_phrases)
    customers = _customer_keys(index, customer, customer_phrases)
    domains = document_domains(index, customer_phrases)
    groups: dict[str, list[Candidate]] = defaultdict(list)
    sources: dict[str, set[str]] = defaultdict(set)
    for source, found in proposals.items():
        for proposal in found:
            key = name_key(str(proposal.value))
            if key:
                groups[key].append(proposal)
                sources[key].add(source)
    for sighting in sightings:
        key = _proposal_holding(sighting, proposals) or name_key(sighting.name)
        if not key:
            continue
        score = SOURCE_WEIGHT[sighting.source] * sighting.phrase.confidence
        groups[key].append(Candidate("vendor_name", sighting.name, score, sighting.phrase))
        sources[key].add(sighting.source)
    _fold_short_names(groups, sources)
    best: Candidate | None = None
    best_key = ""
    for key, candidates in groups.items():
        score = max(c.score for c in candidates) + _AGREEMENT_BONUS * (len(sources[key]) - 1)
        if _domain_backs(key, domains):
            score += _DOMAIN_BONUS
        if key in customers:
            score *= _CUSTOMER_FACTOR
        chosen = _fullest_name(candidates)
        if best is None or score > best.score:
            best = Candidate("vendor_name", chosen.value, min(score, 0.97), chosen.phrase, chosen.words_from)
            best_key = key
    if best is not None and domains and not _domain_backs(best_key, domains):
        # The page names a web or mail domain, and the chosen name is not it: a marketplace or brand may
        # sell under another legal name ("Sold by WS Retail" on a flipkart.com invoice). A person checks.
        best.score *= _DOMAIN_DISAGREES_FACTOR
    return best


def _fold_short_names(groups: dict[str, list[Candidate]], sources: dict[str, set[str]]) -> None:
    """A wordmark or heading that prints only the start of the issuer's name ("alder.", "SILVER") joins the
    one name the sender line, footer or legal line spells in full ("Alder & Finch Manufacturing SA")."""
    sighted = [key for key, found in sources.items() if found & set(SOURCE_WEIGHT) - {"label"}]
    for key in [key for key, found in sources.items() if found == {"top"} and len(key) >= 3]:
        fuller = [other for other in sighted if other != key and other.startswith(key)]
        if len(fuller) == 1:
            groups[fuller[0]].extend(groups.pop(key))
            sources[fuller[0]] |= sources.pop(key)


def _proposal_holding(sighting: NameSighting, proposals: dict[str, list[Candidate]]) -> str | None:
    """The key of a proposal printed in the same words that ends with the sighted name: OCR broke the
    name's start ("c rescent Provisions GmbH"), so the legal form found only its tail."""
    words = {id(word) for word in sighting.phrase.words}
    for found in proposals.values():
        for proposal in found:
            text = str(proposal.value)
            shared = words & {id(w) for w in proposal.phrase.words}
            if shared and text != sighting.name and text.endswith(sighting.name):
                return name_key(text)
    return None


def _fullest_name(candidates: list[Candidate]) -> Candidate:
    """The spelling with the legal form when one sighting prints it (the longest), else the best scored. A name
    ends at its legal form: a spelling that closes with it beats one that runs on ("Acme GmbH, Rue du")."""
    with_form = [c for c in candidates if _LEGAL_FORM_AT_END.search(str(c.value))]
    closed = [c for c in with_form if ENDS_IN_LEGAL_FORM.search(str(c.value))]
    with_form = closed or with_form
    if with_form:
        return max(with_form, key=lambda c: (len(str(c.value)), c.score))  # a sighting may hold only its tail
    return max(candidates, key=lambda c: c.score)
