"""The one home of money arithmetic: cents, tolerances, the sums an invoice must satisfy, rounding, and
which digits OCR confuses.

Amounts are ``Decimal`` everywhere. Two printed amounts "agree" when they differ by at most a cent (each
was rounded once by the issuer); two readings of one printed amount are "the same" when they are equal to
the cent. Every stage that checks an invoice's arithmetic (extraction, reconciliation, validation, routing,
fusion) and the sample generator use these functions, so a tolerance changes in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")
ZERO = Decimal(0)
# An implied amount must keep most of the digits OCR read: "57552" for 157.52 (a lost "1" and a decimal
# point read as "5") is a slip; "9000" for 157.52 is a different number.
MIN_DIGIT_SIMILARITY = 0.6
# Digit pairs Tesseract confuses with each other on degraded scans ("6.00" read where "0.00" is printed).
OCR_CONFUSABLE_DIGITS = frozenset({("0", "6"), ("0", "8"), ("0", "9"), ("1", "7"), ("3", "8"), ("5", "6"), ("6", "8")})
# Fewer digits than this vouch for nothing: a one-digit change of "12" is a different number.
MIN_DIGITS_TO_REPAIR = 3


# --- rounding -----------------------------------------------------------------------------------------


def to_cents(value: Decimal) -> Decimal:
    """The value rounded to the cent with the decimal context's rounding, as the pipeline reads amounts."""
    return value.quantize(CENT)


def issuer_round(value: Decimal, quantum: Decimal = CENT) -> Decimal:
    """The value as an issuer prints it: rounded half up to its smallest printed unit (a cent, or a yen)."""
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    """1230 -> "1,230.00"; keeps extra printed decimals (a unit price of 0.125 stays 0.125)."""
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{places}f}"


# --- comparing amounts --------------------------------------------------------------------------------


def agree(a: Decimal | None, b: Decimal | None, tolerance: Decimal = CENT) -> bool:
    """Both amounts known and within the tolerance (a cent unless said otherwise)."""
    return a is not None and b is not None and abs(a - b) <= tolerance


def tax_fits_rate(tax: Decimal, rate: Decimal, gross: Decimal | None, net: Decimal | None) -> bool:
    """The tax is its printed rate of the net amount, or the share a gross amount includes at that rate
    ("GST @6%: 0.46" on a total of 8.20 that includes it), each rounded once by the issuer."""
    if rate < 0 or tax < 0:
        return False
    if net is not None and agree(tax, issuer_round(net * rate / 100)):
        return True
    return gross is not None and agree(tax, issuer_round(gross * rate / (100 + rate)))


def agrees_with_any(value: Decimal, targets: Iterable[Decimal]) -> bool:
    """The amount agrees with at least one of the targets."""
    return any(agree(value, target) for target in targets)


def same_amount(a: Decimal, b: Decimal) -> bool:
    """Two readings of one printed amount: equal to the cent."""
    return abs(a - b) < CENT / 2


def line_rounding_tolerance(quantity: Decimal | None) -> Decimal:
    """A cent, plus half a cent per unit: what a unit price with more than two decimals, rounded per line,
    may add to quantity x unit price."""
    return CENT + HALF_CENT * abs(quantity or ZERO)


def printed_line_tolerance(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """How far a printed line amount may be from quantity x unit price: a cent, and per-unit rounding only
    when the unit price is printed with more than two decimals."""
    exponent = unit_price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return line_rounding_tolerance(quantity)
    return CENT


# --- the sums -----------------------------------------------------------------------------------------


def net_tax_gross(net: Decimal, tax: Decimal, gross: Decimal) -> bool:
    """Three amounts printed side by side are net, tax and gross: a tax below its net, and net + tax = gross."""
    return ZERO <= tax < net and agree(net + tax, gross)


def net_of_tax(total: Decimal, tax: Decimal | None) -> Decimal:
    """The total less the tax (no tax: the total)."""
    return total - (tax or ZERO)


def totals_agree(
    subtotal: Decimal | None, tax: Decimal | None, total: Decimal | None, adjustments: Decimal | None = None
) -> bool:
    """Subtotal + adjustments + tax = total (a missing tax or adjustment counts as zero) within a cent.

    Adjustments are the rows an invoice prints between its subtotal and its tax base, summed with their
    signs: a discount is negative, a charge such as shipping positive."""
    if subtotal is None or total is None:
        return False
    return agree(subtotal + (adjustments or ZERO) + (tax or ZERO), total)


def signed_adjustment(kind: str, printed: Decimal) -> Decimal:
    """A discount lowers the tax base whether or not it is printed with a minus; a charge is taken as printed."""
    return -abs(printed) if kind == "discount" else printed


def line_product(quantity: Decimal | None, unit_price: Decimal | None) -> Decimal | None:
    """Quantity x unit price in cents, when both are known."""
    if quantity is None or unit_price is None:
        return None
    return to_cents(quantity * unit_price)


def sum_amounts(amounts: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the amounts; None when there are none or any is unknown."""
    known = list(amounts)
    if not known or any(amount is None for amount in known):
        return None
    return sum((amount for amount in known if amount is not None), ZERO)


def sums_hold(subtotal: Decimal | None, tax: Decimal | None, total: Decimal | None, items: Decimal | None) -> bool:
    """The amounts confirm each other: subtotal + tax = total where a subtotal is read, and the items add
    up to the subtotal (or to total - tax without one). At least one of the two checks must apply."""
    if total is None:
        return False
    if subtotal is not None and not totals_agree(subtotal, tax, total):
        return False
    if items is not None and not agree(items, subtotal if subtotal is not None else net_of_tax(total, tax)):
        return False
    return subtotal is not None or items is not None


# Each amount as implied by the other two and the adjustments: subtotal + adjustments + tax = total.
IMPLIED_BY: dict[str, tuple[str, str, Callable[[Decimal, Decimal, Decimal], Decimal]]] = {
    "subtotal": ("total", "tax", lambda total, tax, adjustments: total - tax - adjustments),
    "tax": ("total", "subtotal", lambda total, subtotal, adjustments: total - subtotal - adjustments),
    "total": ("subtotal", "tax", lambda subtotal, tax, adjustments: subtotal + tax + adjustments),
}


# --- what OCR confuses --------------------------------------------------------------------------------


def amount_digits(value: Decimal) -> str:
    """The digits of an amount as printed with cents: what OCR may garble while keeping most of them."""
    return "".join(ch for ch in f"{value:.2f}" if ch.isdigit())


def digits_look_alike(read: Decimal, implied: Decimal) -> bool:
    """Most of the digits OCR read survive in the implied amount, in order (digits lost or added count)."""
    left, right = amount_digits(read), amount_digits(implied)
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio() >= MIN_DIGIT_SIMILARITY


def confusable_with(digit: str) -> list[str]:
    """The digits OCR reads for this one and back ("0" -> "6", "8", "9"); none for a non-digit."""
    return [b if a == digit else a for a, b in sorted(OCR_CONFUSABLE_DIGITS) if digit in (a, b)]


def same_digits_modulo_ocr(read: str, implied: str) -> bool:
    """Equal, or equal but for one digit in a pair OCR confuses ("6.00" read where "0.00" is printed).

    Stricter than ``digits_look_alike``: the digit count must match and only one confusable digit may differ.
    It vouches for a header amount on the arithmetic alone, where no second printed number confirms it."""
    if len(read) != len(implied):
        return False
    differences = [(a, b) for a, b in zip(read, implied, strict=True) if a != b]
    return not differences or (
        len(differences) == 1
        and len(read) >= MIN_DIGITS_TO_REPAIR
        and tuple(sorted(differences[0])) in OCR_CONFUSABLE_DIGITS
    )


def reads_as_zero(read_digits: str, implied: Decimal) -> bool:
    """A zero amount OCR garbled around its zeros ("CASO .00" for "CA$0.00"): every digit read is a 0, at
    least the cents, and the arithmetic implies exactly zero."""
    return implied == 0 and len(read_digits) >= 2 and set(read_digits) == {"0"}


def lost_decimal_point(read_digits: str, amount: Decimal) -> bool:
    """An amount printed with cents that OCR read as a whole number: its cents dropped ("39" for 39.70), or
    its decimal point dropped with at most one confusable digit ("600" for 5.00)."""
    if not read_digits.isdigit() or amount <= 0:
        return False
    whole = str(int(amount))
    return read_digits == whole or same_digits_modulo_ocr(read_digits, amount_digits(amount))
