"""Line items checked against their own arithmetic: quantity x unit price = amount, items sum to the subtotal.

Table reconstruction reads each cell on its own; arithmetic ties the cells together. It settles which of
two price columns is the unit price, fills an amount the scan lost, and restores an amount OCR garbled
when the quantity, the unit price and the subtotal all agree on what it must be. Text-layer amounts are
never changed: they are what the issuer printed, however wrong, and validation reports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from pipeline.extract.tables import ItemRows
from schemas import LineItem, Severity, ValidationIssue

CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")
# An implied amount must keep most of the digits OCR read: "57552" for 157.52 (a lost "1" and a decimal
# point read as "5") is a slip; "9000" for 157.52 is a different number.
_MIN_DIGIT_SIMILARITY = 0.6


def _product(item: LineItem) -> Decimal | None:
    if item.quantity is None or item.unit_price is None:
        return None
    return (item.quantity * item.unit_price).quantize(CENT)


def _tolerance(item: LineItem) -> Decimal:
    # A unit price with more than two decimals is rounded per line: up to half a cent per unit.
    return CENT + HALF_CENT * abs(item.quantity or Decimal(0))


def _matches(expected: Decimal | None, value: Decimal | None, tolerance: Decimal) -> bool:
    return expected is not None and value is not None and abs(expected - value) <= tolerance


def amount_digits(value: Decimal) -> str:
    """The digits of an amount as printed with cents: what OCR may garble while keeping most of them."""
    return "".join(ch for ch in f"{value:.2f}" if ch.isdigit())


def digits_look_alike(read: Decimal, implied: Decimal) -> bool:
    left, right = amount_digits(read), amount_digits(implied)
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio() >= _MIN_DIGIT_SIMILARITY


def _from_ocr(row: ItemRows) -> bool:
    return any(word.confidence < 1.0 for phrase in row.phrases for word in phrase.words)


def _with_item(row: ItemRows, **changes: Decimal | None) -> ItemRows:
    return replace(row, item=row.item.model_copy(update=changes))


def swap_misassigned_prices(rows: list[ItemRows]) -> list[ItemRows]:
    """Swap unit price and amount when the rows' arithmetic says the two columns were read the wrong way."""
    swapped = kept = 0
    for row in rows:
        item = row.item
        if item.quantity is None or item.quantity in (0, 1) or item.unit_price is None or item.amount is None:
            continue  # a quantity of one cannot tell the two prices apart
        if _matches((item.quantity * item.amount).quantize(CENT), item.unit_price, _tolerance(item)):
            swapped += 1
        elif _matches(_product(item), item.amount, _tolerance(item)):
            kept += 1
    if swapped == 0 or swapped <= kept:
        return rows
    return [_with_item(row, unit_price=row.item.amount, amount=row.item.unit_price) for row in rows]


def fill_missing_amounts(rows: list[ItemRows]) -> list[ItemRows]:
    """A line whose amount could not be read but whose quantity and unit price could: the product."""
    return [
        _with_item(row, amount=_product(row.item)) if row.item.amount is None and _product(row.item) else row
        for row in rows
    ]


def _sum(rows: Iterable[ItemRows]) -> Decimal | None:
    amounts = [row.item.amount for row in rows]
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum((amount for amount in amounts if amount is not None), Decimal(0))


def _agrees(rows: list[ItemRows], targets: list[Decimal]) -> bool:
    total = _sum(rows)
    return total is not None and any(abs(total - target) <= CENT for target in targets)


def _repair_issue(position: int, read: Decimal | None, restored: Decimal, how: str, blocking: bool) -> ValidationIssue:
    shown = "could not be read" if read is None else f"was read as {read}"
    check = " Check which one the page shows." if blocking else ""
    return ValidationIssue(
        code="line_amount_repaired",
        field="line_items",
        severity=Severity.BLOCKING if blocking else Severity.WARNING,
        message=f"Line {position} amount {shown}; {how} gives {restored}.{check}",
    )


def repair_misread_amounts(
    rows: list[ItemRows], targets: list[Decimal]
) -> tuple[list[ItemRows], list[ValidationIssue]]:
    """Restore OCR-garbled line amounts when the items' sum confirms the repair.

    ``targets`` are the values the items may sum to (subtotal candidates, total - tax). First, OCR'd amounts
    that disagree with their line's quantity x unit price, and resemble it, take the product (two printed
    numbers and the subtotal agree: a warning). If the items still do not add up, one remaining line may
    take the subtotal less the other lines when its digits resemble what was read (one cue only: a
    blocking issue, so a person checks it).
    """
    if not rows or not targets or _agrees(rows, targets):
        return rows, []
    repaired = list(rows)
    issues: list[ValidationIssue] = []
    for position, row in enumerate(rows):
        read, product = row.item.amount, _product(row.item)
        if (
            _from_ocr(row)
            and read is not None
            and product is not None
            and not _matches(product, read, _tolerance(row.item))
            and digits_look_alike(read, product)
        ):
            repaired[position] = _with_item(row, amount=product)
            issues.append(_repair_issue(position + 1, read, product, "quantity x unit price", blocking=False))
    if _agrees(repaired, targets):
        return repaired, issues

    for position, row in enumerate(repaired):
        read = row.item.amount
        others = _sum(repaired[:position] + repaired[position + 1 :])
        if others is None or not _from_ocr(row):
            continue
        for target in targets:
            implied = target - others
            if implied > 0 and (read is None or (implied != read and digits_look_alike(read, implied))):
                repaired[position] = _with_item(row, amount=implied)
                issues.append(_repair_issue(position + 1, read, implied, "the subtotal less the other lines", True))
                return repaired, issues
    return rows, []


def repair_misread_unit_prices(rows: list[ItemRows], targets: list[Decimal]) -> list[ItemRows]:
    """Once the amounts add up, an OCR'd unit price that disagrees with amount / quantity, and resembles it,
    takes that value ("12525" read where 12.25 is printed, for 8 x 12.25 = 98.00)."""
    if not _agrees(rows, targets):
        return rows
    fixed = []
    for row in rows:
        item = row.item
        if (
            _from_ocr(row)
            and item.quantity
            and item.unit_price is not None
            and item.amount is not None
            and not _matches(_product(item), item.amount, _tolerance(item))
        ):
            implied = (item.amount / item.quantity).quantize(CENT)
            if implied * item.quantity == item.amount and digits_look_alike(item.unit_price, implied):
                row = _with_item(row, unit_price=implied)
        fixed.append(row)
    return fixed
