"""The money rules every stage shares: tolerances, the sums and what OCR confuses."""

from __future__ import annotations

from decimal import Decimal as D

from pipeline.money import (
    digits_look_alike,
    issuer_round,
    printed_line_tolerance,
    same_digits_modulo_ocr,
    sum_amounts,
    sums_hold,
    totals_agree,
)


def test_totals_agree_within_a_cent_and_without_tax() -> None:
    assert totals_agree(D("100.00"), D("19.00"), D("119.01"))
    assert not totals_agree(D("100.00"), D("19.00"), D("119.02"))
    assert totals_agree(D("100.00"), None, D("100.00"))
    assert not totals_agree(None, D("19.00"), D("119.00"))


def test_sums_hold_needs_one_check_that_applies() -> None:
    assert sums_hold(D("100"), D("19"), D("119"), None)
    assert sums_hold(None, D("19"), D("119"), D("100"))  # items against total - tax
    assert not sums_hold(D("100"), D("19"), D("119"), D("90"))
    assert not sums_hold(None, None, D("119"), None)  # nothing confirms the total


def test_sum_amounts_is_unknown_when_a_line_is() -> None:
    assert sum_amounts([D("1.50"), D("2.25")]) == D("3.75")
    assert sum_amounts([D("1.50"), None]) is None
    assert sum_amounts([]) is None


def test_per_unit_rounding_only_for_unit_prices_with_more_decimals() -> None:
    assert printed_line_tolerance(D(10), D("1.25")) == D("0.01")
    assert printed_line_tolerance(D(10), D("1.125")) == D("0.06")


def test_issuer_rounds_half_up() -> None:
    assert issuer_round(D("0.125")) == D("0.13")
    assert issuer_round(D("2.5"), D(1)) == D(3)


def test_ocr_digit_rules() -> None:
    assert same_digits_modulo_ocr("600", "000")  # 6 for 0
    assert not same_digits_modulo_ocr("200", "000")  # 2 and 0 are not confused
    assert not same_digits_modulo_ocr("6", "0")  # too few digits to vouch for anything
    assert digits_look_alike(D("575.52"), D("157.52"))  # a lost digit and a misread point
    assert not digits_look_alike(D("90.00"), D("157.52"))
