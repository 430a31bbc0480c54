"""Discounts and charges a vendor prints between its subtotal and its total ("Fracht 9,50", "Korting 10%
-63,06"): learned from a decision whose subtotal and tax do not add up to its total, read again on the
vendor's next invoices so that subtotal + adjustments + tax = total can still be checked.

Learning takes every labelled amount printed on the rows between the decided subtotal and total (tax rows
aside) and keeps them only when, signed by their kind, they make up exactly the difference the decision
leaves: total - subtotal - tax. A discount lowers the sum, a charge is taken as printed (pipeline/money.py);
a label the reader's vocabulary does not know is a discount when its amount is printed negative. Reading
finds each learned label again and signs its amount the same way; what is not printed is simply absent on
that invoice (no shipping this time).

A tax printed as one line per rate ("BTW 20% 14,46", "BTW 9% 7,41") and nowhere as one amount is learned the
same way: the rows between the decided subtotal and total that the reader's vocabulary labels as tax, kept
when their amounts add up to the decided tax exactly, and summed again on the vendor's next invoices.
"""

from __future__ import annotations

from decimal import Decimal

from pipeline.extract.labels import match_label
from pipeline.extract.layout import PageLayout
from pipeline.money import agree, signed_adjustment
from pipeline.parsing import find_amounts
from pipeline.vendors.places import Found, PageStyle, Spot, find_at_place, label_beside
from schemas import Invoice
from schemas.vendors import FieldHint

# Rows between subtotal and total that may hold adjustments; more than this is no totals block.
MAX_ADJUSTMENT_ROWS = 6


def _kind(label: str, printed: Decimal) -> str:
    known = match_label(label)
    if known is not None and known.field in ("discount", "charge"):
        return known.field
    return "discount" if printed < 0 else "charge"


def _gap(decided: Invoice) -> Decimal | None:
    """What the decision's subtotal and tax leave unexplained of its total (None: nothing to learn)."""
    if decided.subtotal is None or decided.total is None:
        return None
    gap = decided.total - decided.subtotal - (decided.tax or Decimal(0))
    return gap if not agree(gap, Decimal(0)) else None


def _rows_between(spots: dict[str, Spot]) -> range | None:
    subtotal, total = spots.get("subtotal"), spots.get("total")
    if subtotal is None or total is None or subtotal.page_no != total.page_no:
        return None
    rows = range(subtotal.row_at + 1, total.row_at)
    return rows if 0 < len(rows) <= MAX_ADJUSTMENT_ROWS else None


def _labelled_amount(layout: PageLayout, row_at: int, style: PageStyle) -> tuple[str, FieldHint, Decimal] | bool:
    """The row's amount with its label (label text, place, amount as printed); True when the row holds no
    amount, False when it prints one that no label beside it names."""
    for phrase_at, phrase in enumerate(layout.rows[row_at].phrases):
        amounts = find_amounts(phrase.text, style.decimal_sep)  # type: ignore[arg-type]
        if len(amounts) != 1:
            continue
        found = label_beside(layout, row_at, phrase_at)
        return False if found is None else (found[0], found[1], amounts[0][2])
    return True


def _is_tax(label: str) -> bool:
    known = match_label(label)
    return known is not None and known.field == "tax"


def _row_adjustment(layout: PageLayout, row_at: int, style: PageStyle) -> FieldHint | bool:
    """The row's labelled amount as a discount or charge hint; True when the row is a tax row or holds no
    amount (nothing to learn, nothing against); False when it prints an amount no label explains."""
    found = _labelled_amount(layout, row_at, style)
    if isinstance(found, bool):
        return found
    label_text, hint, printed = found
    if _is_tax(label_text):
        return True
    return hint.model_copy(update={"field": _kind(label_text, printed)})


def learn_tax_parts(
    decided: Invoice, spots: dict[str, Spot], layouts: list[PageLayout], style: PageStyle
) -> dict[str, FieldHint]:
    """The tax lines, one per rate, that add up to a decided tax no one amount prints, by label; empty when
    the tax is printed whole, or the tax rows between subtotal and total do not add up to it exactly."""
    rows = _rows_between(spots)
    if decided.tax is None or "tax" in spots or rows is None:
        return {}
    layout = next(layout for layout in layouts if layout.page_no == spots["total"].page_no)
    hints: dict[str, FieldHint] = {}
    for row_at in rows:
        found = _labelled_amount(layout, row_at, style)
        if not isinstance(found, bool) and _is_tax(found[0]):
            hints[found[1].label] = found[1].model_copy(update={"field": "tax"})
    read = read_tax_parts(hints, layouts, style)
    return hints if read is not None and agree(read[0], decided.tax) else {}


def read_tax_parts(
    hints: dict[str, FieldHint], layouts: list[PageLayout], style: PageStyle
) -> tuple[Decimal, list[Found]] | None:
    """The learned tax lines printed on the page, summed; None unless two or more are (one is the tax as
    any reader reads it)."""
    found = [place for hint in hints.values() if (place := find_at_place(hint, layouts, style))]
    if len(found) < 2:
        return None
    return sum((Decimal(place.value) for place in found), Decimal(0)), found


def learn_adjustments(
    decided: Invoice, spots: dict[str, Spot], layouts: list[PageLayout], style: PageStyle
) -> dict[str, FieldHint]:
    """The labelled discounts and charges that explain the decision's total, by label; empty when the
    rows between its subtotal and total do not add up to the difference exactly."""
    gap, rows = _gap(decided), _rows_between(spots)
    if gap is None or rows is None:
        return {}
    layout = next(layout for layout in layouts if layout.page_no == spots["total"].page_no)
    taken = {spot.row_at for spot in spots.values() if spot.page_no == layout.page_no}
    hints: dict[str, FieldHint] = {}
    for row_at in rows:
        if row_at in taken:
            continue
        found = _row_adjustment(layout, row_at, style)
        if found is False:
            return {}
        if isinstance(found, FieldHint):
            hints[found.label] = found
    found_all = read_adjustments(hints, layouts, style)
    return hints if found_all is not None and agree(found_all[0], gap) else {}


def read_adjustments(
    hints: dict[str, FieldHint], layouts: list[PageLayout], style: PageStyle
) -> tuple[Decimal, list[Found]] | None:
    """The learned discounts and charges printed on the page, signed and summed; None when none is."""
    found = [(hint.field, place) for hint in hints.values() if (place := find_at_place(hint, layouts, style))]
    if not found:
        return None
    total = sum((signed_adjustment(kind, Decimal(place.value)) for kind, place in found), Decimal(0))
    return total, [place for _, place in found]
