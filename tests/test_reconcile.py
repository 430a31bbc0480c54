"""Line items tied together by their arithmetic: swapped price columns, lost and garbled amounts."""

from __future__ import annotations

from decimal import Decimal

from pipeline.extract.layout import Phrase
from pipeline.extract.reconcile import (
    fill_missing_amounts,
    repair_misread_amounts,
    repair_misread_unit_prices,
    swap_misassigned_prices,
)
from pipeline.extract.tables import ItemRows
from schemas import LineItem, Severity, Word


def _row(quantity: str | None, unit: str | None, amount: str | None, ocr_confidence: float = 0.9) -> ItemRows:
    word = Word(text="x", page_no=1, x0=0, y0=0, x1=1, y1=1, confidence=ocr_confidence)
    item = LineItem(
        description="Widget",
        quantity=Decimal(quantity) if quantity else None,
        unit_price=Decimal(unit) if unit else None,
        amount=Decimal(amount) if amount else None,
    )
    return ItemRows(item=item, phrases=[Phrase([word], 1, 100.0, 100.0)])


def _amounts(rows: list[ItemRows]) -> list[Decimal | None]:
    return [row.item.amount for row in rows]


def test_price_columns_read_the_wrong_way_round_are_swapped() -> None:
    rows = [_row("8", "9200.00", "1150.00"), _row("12", "93840.00", "7820.00"), _row("1", "500.00", "500.00")]
    fixed = swap_misassigned_prices(rows)
    assert _amounts(fixed) == [Decimal("9200.00"), Decimal("93840.00"), Decimal("500.00")]
    assert [row.item.unit_price for row in fixed] == [Decimal("1150.00"), Decimal("7820.00"), Decimal("500.00")]


def test_consistent_columns_are_left_alone() -> None:
    rows = [_row("8", "1150.00", "9200.00"), _row("2", "10.00", "20.00")]
    assert swap_misassigned_prices(rows) == rows


def test_lost_amount_is_quantity_times_unit_price() -> None:
    rows = fill_missing_amounts([_row("24", "15.63", None), _row("2", "56.20", "112.40")])
    assert _amounts(rows) == [Decimal("375.12"), Decimal("112.40")]


def test_garbled_amount_takes_the_product_when_the_subtotal_confirms_it() -> None:
    rows = [_row("1", "83.37", "83737.00"), _row("24", "22.96", "591.04"), _row("2", "10.00", "20.00")]
    fixed, issues = repair_misread_amounts(rows, [Decimal("654.41")])
    assert _amounts(fixed) == [Decimal("83.37"), Decimal("551.04"), Decimal("20.00")]
    assert [issue.severity for issue in issues] == [Severity.WARNING, Severity.WARNING]


def test_amount_implied_by_the_subtotal_alone_is_repaired_but_blocks() -> None:
    rows = [_row("8", None, "57.52"), _row("2", None, "57552.00")]
    fixed, issues = repair_misread_amounts(rows, [Decimal("215.04")])
    assert _amounts(fixed) == [Decimal("57.52"), Decimal("157.52")]
    assert [issue.severity for issue in issues] == [Severity.BLOCKING]


def test_unlike_digits_are_not_repaired() -> None:
    rows = [_row("8", None, "57.52"), _row("2", None, "9000.00")]
    fixed, issues = repair_misread_amounts(rows, [Decimal("215.04")])
    assert fixed == rows and issues == []


def test_text_layer_amounts_are_never_changed() -> None:
    rows = [_row("1", "83.37", "83737.00", ocr_confidence=1.0), _row("2", "10.00", "20.00", ocr_confidence=1.0)]
    fixed, issues = repair_misread_amounts(rows, [Decimal("103.37")])
    assert fixed == rows and issues == []


def test_unit_price_follows_a_confirmed_amount() -> None:
    rows = [_row("8", "12525.00", "98.00"), _row("1", "2.00", "2.00")]
    fixed = repair_misread_unit_prices(rows, [Decimal("100.00")])
    assert fixed[0].item.unit_price == Decimal("12.25")
    assert repair_misread_unit_prices(rows, [Decimal("999.00")]) == rows
