"""How receipts and till slips print their total: the amount payable under the total it settles, and the
cash paid, which a total OCR read without its decimals must match.

These rules only add or prefer total candidates; routing still decides trust (a restored amount carries
what OCR read, so the record goes to a person).
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from pipeline.extract.fields import Candidate, PageIndex
from pipeline.extract.labels import names_amount_payable
from pipeline.money import lost_decimal_point, same_amount

# An amount printed with its cents: "39.70", "1,234.50", "4. 10".
CENTS_PRINTED = re.compile(r"\d\s?[.,]\s?\d{2}(?!\d)")


def _position(candidate: Candidate) -> tuple[int, float]:
    return candidate.phrase.page_no, candidate.phrase.y0


# What a preference weighs in the choice of the total (pipeline/extract/rules.py, resolve_amounts): more
# than a label's score, less than subtotal + tax = total (1.5), which still wins over both.
SETTLING_WEIGHT = 0.5
PAID_WEIGHT = 1.0


def preferred_totals(index: PageIndex, by_field: dict[str, list[Candidate]]) -> dict[int, float]:
    """How much the choice prefers each total candidate: one that settles a total above it, and one the
    cash paid confirms (tendered less change is the total; a second reading of it, as the sums are)."""
    totals = by_field.get("total", [])
    preferred = dict.fromkeys(settling_totals(index, totals), SETTLING_WEIGHT)
    paid = cash_paid(index, by_field)
    for candidate in totals:
        if paid is not None and same_amount(_value(candidate), paid):
            preferred[id(candidate)] = preferred.get(id(candidate), 0.0) + PAID_WEIGHT
    return preferred


def settling_totals(index: PageIndex, totals: list[Candidate]) -> set[int]:
    """Totals whose row names the amount payable and that sit below another total of a different value
    ("Total 24.55 ... Payable 23.02"): what the customer pays after what the total above leaves out."""
    settling: set[int] = set()
    for candidate in totals:
        if not names_amount_payable(index.row_of(candidate.phrase).text):
            continue
        above = [
            other
            for other in totals
            if _position(other) < _position(candidate) and not same_amount(_value(other), _value(candidate))
        ]
        if above:
            settling.add(id(candidate))
    return settling


def _value(candidate: Candidate) -> Decimal:
    assert isinstance(candidate.value, Decimal)
    return candidate.value


def _prints_label(index: PageIndex, field: str) -> bool:
    return any(
        (label := index.label_of(phrase)) is not None and label.field == field
        for row in index.rows
        for phrase in row.phrases
    )


def cash_paid(index: PageIndex, by_field: dict[str, list[Candidate]]) -> Decimal | None:
    """Cash tendered less the change given; None when no cash is read, or when a change label is printed
    but its amount could not be read (the change is then unknown)."""
    tendered = max(by_field.get("tendered", []), key=lambda c: c.score, default=None)
    change = max(by_field.get("change", []), key=lambda c: c.score, default=None)
    if tendered is None or (change is None and _prints_label(index, "change")):
        return None
    paid = _value(tendered) - (_value(change) if change is not None else Decimal(0))
    return paid if paid > 0 else None


def restore_lost_decimals(index: PageIndex, by_field: dict[str, list[Candidate]]) -> list[Candidate]:
    """Total candidates with a total OCR read as a whole number ("39", "600,") on a receipt whose cash paid
    has cents replaced by the paid amount, when that is the same number with its decimals lost ("39.70",
    "5.00"). The restored candidate keeps what was read, so the record goes to review."""
    totals = by_field.get("total", [])
    paid = cash_paid(index, by_field)
    if paid is None:
        return totals
    return [replace(c, value=paid, read_as=c.evidence.text) if _lost_its_decimals(c, paid) else c for c in totals]


def misread_without_cents(candidate: Candidate) -> bool:
    """An amount OCR read with no cents (a text layer prints what the issuer wrote, so only OCR counts)."""
    return candidate.evidence.confidence < 1.0 and not CENTS_PRINTED.search(candidate.evidence.text)


def _lost_its_decimals(candidate: Candidate, paid: Decimal) -> bool:
    digits = "".join(ch for ch in candidate.evidence.text if ch.isdigit())
    return (
        misread_without_cents(candidate)
        and not same_amount(_value(candidate), paid)
        and lost_decimal_point(digits, paid)
    )
