"""Identifiers a vendor prints on its invoices (VAT/tax IDs, IBAN, register numbers, domains, phones) and
the layout fingerprint of its first page.

Every identifier is a string ``kind:value`` with the value normalised (upper case, no spaces or
punctuation; domains lower case), so the same number printed with different spacing matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.extract.layout import PageLayout
from pipeline.parsing import normalise_text
from schemas.vendors import STRONG_IDENTIFIERS, IdentifierKind

_ID_BODY = r"([A-Z]{0,3}[- ]?[0-9](?:[ .-]?[0-9A-Z]){5,18})"
_VAT = re.compile(
    r"\b(?:VAT(?:\s+(?:Reg\.?|ID|No\.?|Number))?|USt-?Id(?:Nr)?\.?|TVA|BTW|UID|EIN|ABN|GST/HST\s+No\.?|Tax\s+ID)"
    r"\s*[:.#]?\s*" + _ID_BODY
)
_REGISTER = re.compile(
    r"\b(?:HRB|HRA|RCS|KvK|Company\s+No\.?|Reg(?:istration)?\.?\s+No\.?|CRN)\s*[:.#]?\s*"
    r"([A-Z0-9](?:[ .-]?[A-Z0-9]){3,15})"
)
_IBAN = re.compile(r"\b([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_WEB = re.compile(r"\bwww\.([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", re.IGNORECASE)
_PHONE = re.compile(r"(?:\+|\b(?:Tel|Phone|Telefon|Tél|Fon)\.?:?\s*)(\+?[0-9][0-9 ()./-]{6,}[0-9])")
# Mail providers say nothing about who sent the invoice.
_SHARED_DOMAINS = frozenset({"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "gmx.de", "web.de", "icloud.com"})
_FINGERPRINT_COLUMNS = 10
_WORD = re.compile(r"^[^\W\d_]{3,}$")


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers (A=10), remainder 97 must be 1."""
    text = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", text):
        return False
    digits = "".join(str(int(ch, 36)) for ch in text[4:] + text[:4])
    return int(digits) % 97 == 1


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def _phone_digits(value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    return digits if 8 <= len(digits) <= 15 else None


def identifiers_in_text(text: str) -> list[str]:
    """Identifiers in one line of text, ``kind:value``, in the order found."""
    found: list[str] = []
    for match in _VAT.finditer(text):
        value = _compact(match.group(1))
        if len(value) >= 8 and sum(ch.isdigit() for ch in value) >= 6:
            found.append(f"{IdentifierKind.VAT.value}:{value}")
    for match in _REGISTER.finditer(text):
        found.append(f"{IdentifierKind.REGISTER.value}:{_compact(match.group(1))}")
    for match in _IBAN.finditer(text):
        if iban_is_valid(match.group(1)):
            found.append(f"{IdentifierKind.IBAN.value}:{_compact(match.group(1))}")
    for pattern in (_EMAIL, _WEB):
        for match in pattern.finditer(text):
            domain = match.group(1).lower().rstrip(".")
            if domain not in _SHARED_DOMAINS:
                found.append(f"{IdentifierKind.DOMAIN.value}:{domain}")
    for match in _PHONE.finditer(text):
        digits = _phone_digits(match.group(1))
        if digits is not None:
            found.append(f"{IdentifierKind.PHONE.value}:{digits}")
    return found


def page_identifiers(layouts: Iterable[PageLayout]) -> list[str]:
    """Every distinct identifier printed on the pages, strong kinds first."""
    found: list[str] = []
    for layout in layouts:
        for row in layout.rows:
            found.extend(identifiers_in_text(normalise_text(row.text)))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda item: not is_strong(item))


def is_strong(identifier: str) -> bool:
    """VAT IDs, IBANs and register numbers identify a vendor alone; domains and phones only in pairs."""
    return identifier.split(":", 1)[0] in {kind.value for kind in STRONG_IDENTIFIERS}


def layout_fingerprint(layout: PageLayout) -> list[str]:
    """Words of page 1 (letters only, 3+ long, lower case) with the tenth of the page width they start in.

    Vertical positions are left out: they move with the number of line items.
    """
    tokens: set[str] = set()
    for row in layout.rows:
        for phrase in row.phrases:
            for word in phrase.words:
                text = normalise_text(word.text).strip(":.,;()").lower()
                if _WORD.match(text):
                    column = min(int(word.x0 / layout.width * _FINGERPRINT_COLUMNS), _FINGERPRINT_COLUMNS - 1)
                    tokens.add(f"{text}@{column}")
    return sorted(tokens)


def fingerprint_overlap(profile_tokens: Iterable[str], page_tokens: Iterable[str]) -> float:
    """Share of a profile's tokens found on the page, a column either side allowed (scans shift a little)."""
    wanted = list(profile_tokens)
    if not wanted:
        return 1.0
    present = set(page_tokens)

    def near(token: str) -> bool:
        word, column = token.rsplit("@", 1)
        return any(f"{word}@{int(column) + shift}" in present for shift in (-1, 0, 1))

    return sum(near(token) for token in wanted) / len(wanted)
