"""Line items checked against their own arithmetic: quantity x unit price = amount, items sum to the subtotal.

Table reconstruction reads each cell on its own; arithmetic ties the cells together. It settles which of
two price columns is the unit price, fills an amount the scan lost, and restores an amount OCR garbled
when the quantity, the unit price and the subtotal all agree on what it must be. Text-layer amounts are
never changed: they are what the issuer printed, however wrong, and validation reports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from pipeline.extract.tables import ItemRows
from pipeline.money import (
    agree,
    agrees_with_any,
    digits_look_alike,
    line_product,
    line_rounding_tolerance,
    net_tax_gross,
    sum_amounts,
    to_cents,
)
from schemas import IssueCode, LineItem, Severity, ValidationIssue


def _product(item: LineItem) -> Decimal | None:
    return line_product(item.quantity, item.unit_price)


def _tolerance(item: LineItem) -> Decimal:
    # OCR may have lost a unit price's third decimal: allow per-line rounding of up to half a cent per unit.
    return line_rounding_tolerance(item.quantity)


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
        if agree(line_product(item.quantity, item.amount), item.unit_price, _tolerance(item)):
            swapped += 1
        elif agree(_product(item), item.amount, _tolerance(item)):
            kept += 1
    if swapped == 0 or swapped <= kept:
        return rows
    return [_with_item(row, unit_price=row.item.amount, amount=row.item.unit_price) for row in rows]


def read_net_tax_gross(rows: list[ItemRows], targets: list[Decimal]) -> list[ItemRows]:
    """Rows of a table with net, tax and gross columns ("Abonnements  24.99  5.00  29.99") are read as
    quantity x unit price = amount, which fails; when the "quantity" has cents and quantity + unit price
    is the amount, the three are net + tax = gross. The line's amount is its net when the nets add up to
    what the items should (the subtotal), else its gross as printed."""
    if not any(_is_net_tax_gross(row.item) for row in rows):
        return rows
    marked = [_is_net_tax_gross(row.item) or _all_zero(row.item) for row in rows]
    nets = [_with_item(row, amount=row.item.quantity) if net else row for row, net in zip(rows, marked, strict=True)]
    chosen = nets if _agrees(nets, targets) else rows
    return [
        _with_item(row, quantity=None, unit_price=None) if net else row for row, net in zip(chosen, marked, strict=True)
    ]


def _is_net_tax_gross(item: LineItem) -> bool:
    net, tax, gross = item.quantity, item.unit_price, item.amount
    if net is None or tax is None or gross is None or net == net.to_integral_value():
        return False
    return net_tax_gross(net, tax, gross) and not agree(_product(item), gross, _tolerance(item))


def _all_zero(item: LineItem) -> bool:
    return item.quantity == 0 and item.unit_price == 0 and item.amount == 0


def drop_running_sums(rows: list[ItemRows], targets: list[Decimal]) -> list[ItemRows]:
    """A row whose amount is the sum of the rows since the last such row ("Cloud Service Charges 4.11" over
    "Charges 4.11", "PURCHASES" under its lines) closes a group: it is no item, and neither is the same sum
    repeated atop the next page (a running total carried over). Dropped only when the items then add up to
    what they should and did not before.

    A sum of every item above it, where those items print a quantity or unit price and no row after it does,
    closes the table: it is the subtotal an unread label stood beside, and the priceless rows under it are the
    totals block's charges (tax, shipping) beside notes, not items. Only the items above are kept then, even
    though they no longer add up to the total: validation reports the gap rather than a tax taken for an item."""
    if not rows or not targets or _agrees(rows, targets):
        return rows
    kept: list[ItemRows] = []
    group = Decimal(0)
    carried: ItemRows | None = None  # the running sum just dropped, which the next page may repeat
    closes_all_above = 0  # how many kept rows the last running sum summed, when it summed them all
    for row in rows:
        amount = row.item.amount
        if kept and amount and group and agree(amount, group):
            closes_all_above = len(kept) if agree(amount, _sum(kept)) else 0
            group, carried = Decimal(0), row
            continue
        if carried is not None and _page(row) > _page(carried) and agree(amount, carried.item.amount):
            carried = None  # "Transport 8 103,21" brought forward atop the next page
            continue
        carried = None
        kept.append(row)
        group += amount or Decimal(0)
    if closes_all_above and _priced(kept[:closes_all_above]) and not _priced(kept[closes_all_above:]):
        return kept[:closes_all_above]
    return kept if len(kept) < len(rows) and _agrees(kept, targets) else rows


def _priced(rows: list[ItemRows]) -> bool:
    return any(row.item.quantity is not None or row.item.unit_price is not None for row in rows)


def _page(row: ItemRows) -> int:
    return row.phrases[0].page_no if row.phrases else 0


def fill_missing_amounts(rows: list[ItemRows]) -> list[ItemRows]:
    """A line whose amount could not be read but whose quantity and unit price could: the product."""
    return [
        _with_item(row, amount=_product(row.item)) if row.item.amount is None and _product(row.item) else row
        for row in rows
    ]


def _sum(rows: Iterable[ItemRows]) -> Decimal | None:
    return sum_amounts(row.item.amount for row in rows)


def _agrees(rows: list[ItemRows], targets: list[Decimal]) -> bool:
    total = _sum(rows)
    return total is not None and agrees_with_any(total, targets)


def _repair_issue(position: int, read: Decimal | None, restored: Decimal, how: str, blocking: bool) -> ValidationIssue:
    shown = "could not be read" if read is None else f"was read as {read}"
    check = " Check which one the page shows." if blocking else ""
    return ValidationIssue(
        code=IssueCode.LINE_AMOUNT_REPAIRED,
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
            and not agree(product, read, _tolerance(row.item))
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
            and not agree(_product(item), item.amount, _tolerance(item))
        ):
            implied = to_cents(item.amount / item.quantity)
            if implied * item.quantity == item.amount and digits_look_alike(item.unit_price, implied):
                row = _with_item(row, unit_price=implied)
        fixed.append(row)
    return fixed
