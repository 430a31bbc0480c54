"""Amounts, dates and currencies as printed on real invoices, including OCR noise and things that only look numeric."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipeline.parsing import (
    detect_currency,
    find_amounts,
    find_currencies,
    find_dates,
    infer_day_first,
    infer_decimal_separator,
    normalise_text,
    parse_amount,
    parse_date,
)

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"
MINUS = "\u2212"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # grouping styles
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        (f"1{NBSP}234,56", "1234.56"),
        (f"1{NARROW_NBSP}234.56", "1234.56"),
        ("1'234.56", "1234.56"),
        ("1\u2019234.56", "1234.56"),
        ("1,234,567.89", "1234567.89"),
        ("1.234.567,89", "1234567.89"),
        ("12 345 678,90", "12345678.90"),
        # plain numbers keep their printed precision
        ("1234", "1234"),
        ("1234.5", "1234.5"),
        ("1.5", "1.5"),
        ("12,50", "12.50"),
        ("0.125", "0.125"),
        ("0,99", "0.99"),
        ("0", "0"),
        # currency symbols and codes before or after
        ("$1,234.56", "1234.56"),
        ("€ 1.234,56", "1234.56"),
        ("1.234,56 EUR", "1234.56"),
        ("1.234,56EUR", "1234.56"),
        ("USD 99.00", "99.00"),
        ("USD99.00", "99.00"),
        ("CHF 1'200.00", "1200.00"),
        ("£12", "12"),
        ("12.00 €", "12.00"),
        ("R$ 1.234,56", "1234.56"),
        ("US$ 5.00", "5.00"),
        ("Fr. 45.50", "45.50"),
        ("12,00 zł", "12.00"),
        ("  $ 7.25  ", "7.25"),
        # negatives
        ("-12.00", "-12.00"),
        ("(12.00)", "-12.00"),
        ("12.00-", "-12.00"),
        (f"{MINUS} 12.00", "-12.00"),
        (f"{MINUS}12.00", "-12.00"),
        ("- 12.00", "-12.00"),
        ("($1,234.56)", "-1234.56"),
        ("-$5.00", "-5.00"),
        ("$-5.00", "-5.00"),
        ("(1.234,56 EUR)", "-1234.56"),
        # ambiguous single separator before three digits: thousands in auto mode
        ("1,234", "1234"),
        ("1.234", "1234"),
        # OCR repair inside an already numeric token
        ("1,2O4.50", "1204.50"),
        ("1O0.00", "100.00"),
        ("1l5.00", "115.00"),
        ("2,5I0.00", "2510.00"),
        # fullwidth digits from some PDF text layers
        ("\uff11\uff12.\uff15\uff10", "12.50"),
    ],
)
def test_parse_amount_reads_printed_amounts(text: str, expected: str) -> None:
    value = parse_amount(text)
    assert value == Decimal(expected)
    # the exponent too: "1.5" must stay one decimal, "12,50" two
    assert value is not None and value.as_tuple() == Decimal(expected).as_tuple()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "EUR",
        "$",
        "twelve",
        "Total",
        "2024-03-15",
        "15.03.2024",
        "03/15/2024",
        "15 Mar 2024",
        "12:30",
        "1/2",
        "20%",
        "20 %",
        "(20%)",
        "+1 555 123 4567",
        "(555) 123-4567",
        "555-123-4567",
        "INV123",
        "INV-2024-0042",
        "#1234",
        "No12",
        "12abc",
        "3pcs",
        "0042",
        "12345678901234",
        "1.2.3",
        "v1.2",
        "12..50",
        "1,234,56",
        "1.234.56",
        "1,23,4",
        "lOO",
        "OO.OO",
        "12.00 45.00",
        "Total: 12.00",
        "10-20",
        "(12.00",
    ],
)
def test_parse_amount_rejects_non_amounts(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "decimal_sep", "expected"),
    [
        ("1,234", ".", "1234"),
        ("1,234", ",", "1.234"),
        ("1.234", ".", "1.234"),
        ("1.234", ",", "1234"),
        ("1.000", ",", "1000"),
        ("1.000", ".", "1.000"),
        # unambiguous structure wins over the document style (OCR swaps "," and ".")
        ("12,50", ".", "12.50"),
        ("12.50", ",", "12.50"),
        ("1.234,56", ".", "1234.56"),
        ("1,234.56", ",", "1234.56"),
        ("1,234,567", ",", "1234567"),
    ],
)
def test_parse_amount_explicit_decimal_separator(text: str, decimal_sep: str, expected: str) -> None:
    assert parse_amount(text, decimal_sep=decimal_sep) == Decimal(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Total: 1,234.56 USD", [("1,234.56 USD", "1234.56")]),
        ("Tax (20%): 24.00", [("24.00", "24.00")]),
        ("VAT 20 % 24.00", [("24.00", "24.00")]),
        (
            "Consulting services 10 150.00 1,500.00",
            [("10", "10"), ("150.00", "150.00"), ("1,500.00", "1500.00")],
        ),
        ("Date 15.03.2024 Total 12.00", [("12.00", "12.00")]),
        ("Issued 15 Mar 2024, amount due € 99,90", [("€ 99,90", "99.90")]),
        ("Tel +49 30 1234567", []),
        ("Phone (555) 123-4567", []),
        ("Invoice INV-2024-0042", []),
        ("3 pcs", [("3", "3")]),
        ("Services - 12.00", [("12.00", "12.00")]),
        ("Credit (45.00) applied", [("(45.00)", "-45.00")]),
        ("Period 01.03.2024-31.03.2024", []),
        ("Subtotal 1 234,56 TVA 246,91", [("1 234,56", "1234.56"), ("246,91", "246.91")]),
        ("Page 1 of 2", [("1", "1"), ("2", "2")]),
        ("Ref #4411 due 12:00 net 30.00", [("30.00", "30.00")]),
    ],
)
def test_find_amounts_spans_and_values(text: str, expected: list[tuple[str, str]]) -> None:
    found = find_amounts(text)
    assert [(text[start:end], value) for start, end, value in found] == [
        (printed, Decimal(value)) for printed, value in expected
    ]


def test_find_amounts_regular_space_does_not_group_point_decimals() -> None:
    # In a table row "10 150.00" is a quantity then a price, not ten thousand.
    assert [value for _, _, value in find_amounts("Widget 10 150.00")] == [Decimal("10"), Decimal("150.00")]
    assert [value for _, _, value in find_amounts(f"Widget 10{NBSP}150.00")] == [Decimal("10150.00")]


def test_find_amounts_obeys_explicit_separator() -> None:
    assert [value for _, _, value in find_amounts("Qty 1,500 kg", decimal_sep=",")] == [Decimal("1.500")]
    assert [value for _, _, value in find_amounts("Qty 1,500 kg", decimal_sep=".")] == [Decimal("1500")]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Total 1.234,56"], ","),
        (["Total 1,234.56"], "."),
        (["Net 12,50", "Qty 3"], ","),
        (["Net 12.50"], "."),
        (["1 234,56"], ","),
        (["CHF 1'234.50"], "."),
        (["1,234", "1.234"], "."),  # only ambiguous numbers: default
        ([], "."),
        (["Datum 15.03.2024", "Betrag 99,00"], ","),  # dates do not vote
        (["A 1,234.56", "B 12,50", "C 7,25", "D 1.000,00"], ","),  # majority
    ],
)
def test_infer_decimal_separator(texts: list[str], expected: str) -> None:
    assert infer_decimal_separator(texts) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15", date(2024, 3, 15)),
        ("2024/03/15", date(2024, 3, 15)),
        ("2024.03.15", date(2024, 3, 15)),
        ("03/15/2024", date(2024, 3, 15)),
        ("3/5/24", date(2024, 3, 5)),
        ("15.03.2024", date(2024, 3, 15)),
        ("05.03.2024", date(2024, 3, 5)),
        ("15.03.24", date(2024, 3, 15)),
        ("15/03/2024", date(2024, 3, 15)),
        ("15-03-2024", date(2024, 3, 15)),
        ("15 Mar 2024", date(2024, 3, 15)),
        ("15 MAR 24", date(2024, 3, 15)),
        ("15. März 2024", date(2024, 3, 15)),
        ("15. Maerz 2024", date(2024, 3, 15)),
        ("7. Okt. 2024", date(2024, 10, 7)),
        ("3 Dezember 2023", date(2023, 12, 3)),
        ("March 15, 2024", date(2024, 3, 15)),
        ("Mar 15 2024", date(2024, 3, 15)),
        ("Sept. 3, 2024", date(2024, 9, 3)),
        ("15-Mar-2024", date(2024, 3, 15)),
        ("Friday, March 15, 2024", date(2024, 3, 15)),
        ("15th March 2024", date(2024, 3, 15)),
        ("March 1st, 2024", date(2024, 3, 1)),
        ("1er mars 2024", date(2024, 3, 1)),
        ("15 février 2024", date(2024, 2, 15)),
        ("15 fevrier 2024", date(2024, 2, 15)),
        ("2 août 2024", date(2024, 8, 2)),
        ("12 déc. 2024", date(2024, 12, 12)),
        ("Date: 15.03.2024", date(2024, 3, 15)),
        ("Invoice date 2024-03-15T10:00", date(2024, 3, 15)),
        ("29.02.2024", date(2024, 2, 29)),
        ("2O24-03-15", date(2024, 3, 15)),  # OCR O for 0
        ("2024-Jun-13", date(2024, 6, 13)),  # year first with the month's name
        ("2024 June 13", date(2024, 6, 13)),
        ("Issued 2024/dec/01", date(2024, 12, 1)),
    ],
)
def test_parse_date_formats(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no date here",
        "31.02.2024",
        "29.02.2023",
        "13/13/2024",
        "2024-13-01",
        "2024-02-30",
        "32 Mar 2024",
        "15.03.1989",
        "15.03.2101",
        "March 2024",
        "INV-12-05-23",
        "12.50",
        "1,234.56",
        "Marketing 2024",
        "15/03",
        "20240315",
        "3-4- 567",
        "10-01-  16",
        "2024-Jun 13",  # the separators differ
        "2024-Jun-133",
    ],
)
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("05/03/2024", None, date(2024, 5, 3)),  # US month-first by default for slashes
        ("05/03/2024", True, date(2024, 3, 5)),
        ("05/03/2024", False, date(2024, 5, 3)),
        ("05-03-2024", True, date(2024, 3, 5)),
        ("05.03.2024", False, date(2024, 3, 5)),  # dots are always day-first
        ("13/03/2024", False, date(2024, 3, 13)),  # a part above 12 decides
        ("03/13/2024", True, date(2024, 3, 13)),
        ("10-01- 16 14:01", True, date(2016, 1, 10)),  # OCR opened a gap after the second separator
    ],
)
def test_parse_date_day_first(text: str, day_first: bool | None, expected: date) -> None:
    assert parse_date(text, day_first=day_first) == expected


def test_find_dates_spans() -> None:
    text = "Issued 01.03.2024, due March 31, 2024"
    found = find_dates(text)
    assert [(text[s:e], value) for s, e, value in found] == [
        ("01.03.2024", date(2024, 3, 1)),
        ("March 31, 2024", date(2024, 3, 31)),
    ]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Date 15/03/2024"], True),
        (["Date 03/15/2024"], False),
        (["Date 05/03/2024"], None),
        (["Datum 05.03.2024"], True),
        (["05/03/2024", "Due 28/03/2024"], True),
        (["15/03/2024", "03/28/2024"], None),  # contradicting: unknown
        (["2024-03-15", "15 March 2024"], None),  # ISO and named months say nothing about numeric order
        ([], None),
    ],
)
def test_infer_day_first(texts: list[str], expected: bool | None) -> None:
    assert infer_day_first(texts) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Total $1,234.56", ["USD"]),
        ("CAD $1,234.56", ["CAD"]),  # a bare "$" only counts when nothing more specific is printed
        ("A$ 99.00", ["AUD"]),
        ("US$ 5", ["USD"]),
        # a dollar's letters OCR set apart from its sign (a clean scan's "C $891.17" was accepted as USD)
        ("Total C $891.17", ["CAD"]),
        ("NZ $ 40.00", ["NZD"]),
        ("pay a $50 fee", ["USD"]),
        ("€12 and £5", ["EUR", "GBP"]),
        ("Amount (CHF)", ["CHF"]),
        ("EUR EUR USD", ["EUR", "EUR", "USD"]),
        ("12,00 zł", ["PLN"]),
        ("Celkem 1 250,00 Kč", ["CZK"]),
        ("¥5,000", ["JPY"]),
        ("₹ 1,200.00", ["INR"]),
        # ordinary words that are also codes count only next to an amount or after a currency label
        ("ALL items included", []),
        ("ALL 1,200.00", ["ALL"]),
        ("TOP priority support", []),
        ("1.500,00 TRY", ["TRY"]),
        ("Currency: TRY", ["TRY"]),
        ("PHP development 12.00", []),
        ("Delivered 10 KGS", []),
        ("CUP of coffee", []),
        # symbols that are also abbreviations
        ("Fr. Müller", []),
        ("Fr. 45.50", ["CHF"]),
        # no codes inside words
        ("EURO zone", []),
        ("TOTAL", []),
        ("USDX", []),
        ("no currency", []),
    ],
)
def test_find_currencies(text: str, expected: list[str]) -> None:
    assert find_currencies(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Total $1,234.56", "USD"),
        ("Total 1.234,56 EUR", "EUR"),
        ("€12, €4 and £5", "EUR"),
        ("GBP 5 EUR 6", "GBP"),  # tie: earliest
        ("Thank you for your business", None),
    ],
)
def test_detect_currency(text: str, expected: str | None) -> None:
    assert detect_currency(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  ﬁnal   invoice ", "final invoice"),
        ("\u201cQuoted\u201d \u2018single\u2019", "\"Quoted\" 'single'"),
        (f"1{NBSP}234,56\t€", "1 234,56 €"),
        (f"{MINUS}12.00", "-12.00"),
        ("soft\u00adhyphen\u200b", "softhyphen"),
        ("\uff21\uff22\uff23 123", "ABC 123"),
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected
