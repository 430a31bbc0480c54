"""Assemble an invoice from label candidates, the line-item table and the document's arithmetic."""

from __future__ import annotations

import difflib
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from pipeline.extract.due_date import unread_due_date_issues
from pipeline.extract.evidence import EvidenceInputs, field_evidence
from pipeline.extract.fields import (
    ADJUSTMENTS,
    PAYMENT_FIELDS,
    Candidate,
    DocumentStyle,
    PageIndex,
    country_currency,
    customer_block_rows,
    document_currency,
    label_candidates,
    names_a_country,
    parse_amount_value,
    place_date_candidates,
    vendor_candidates,
)
from pipeline.extract.headerless import headerless_line_items
from pipeline.extract.labels import is_credit_note_title
from pipeline.extract.layout import Phrase, Row, build_layout
from pipeline.extract.misreads import misread_month_doubts
from pipeline.extract.reconcile import (
    drop_running_sums,
    fill_missing_amounts,
    read_net_tax_gross,
    repair_misread_amounts,
    repair_misread_unit_prices,
    swap_misassigned_prices,
)
from pipeline.extract.tables import ItemRows, extract_line_items
from pipeline.extract.till import misread_without_cents, preferred_totals, restore_lost_decimals
from pipeline.extract.vendor import choose_vendor, window_recipient
from pipeline.money import (
    IMPLIED_BY,
    MIN_DIGITS_TO_REPAIR,
    agree,
    amount_digits,
    net_of_tax,
    net_tax_gross,
    reads_as_zero,
    same_amount,
    same_digits_modulo_ocr,
    signed_adjustment,
    tax_fits_rate,
    totals_agree,
)
from pipeline.parsing import (
    dates_one_digit_off,
    find_amounts,
    find_dates,
    infer_day_first,
    infer_decimal_separator,
)
from schemas import (
    DocumentType,
    ExtractionResult,
    FieldEvidence,
    FieldValue,
    Invoice,
    IssueCode,
    PageText,
    Support,
    TextSource,
    ValidationIssue,
)
from schemas.currency import CURRENCY_SYMBOLS

EXTRACTOR_NAME = "rules"
# Currencies a bare "$" also stands for ("A$", "C$", "S$" when spelled out).
_OTHER_DOLLARS = frozenset(code for symbol, code in CURRENCY_SYMBOLS.items() if symbol.endswith("$")) - {"USD"}
_US_DOLLAR = re.compile(r"USD|US\s?\$", re.IGNORECASE)
_PRINTED_RATE = re.compile(r"(?<![\d.,])(\d{1,2}(?:[.,]\d{1,2})?)\s*%")


def rates_printed(text: str) -> set[Decimal]:
    """The distinct tax rates a line prints ("BTW 9%", "7,7 %")."""
    return {Decimal(match.group(1).replace(",", ".")) for match in _PRINTED_RATE.finditer(text)}


_AMOUNT_FIELDS = ("subtotal", "tax", "total")
_IDENTIFYING_FIELDS = ("invoice_number", "invoice_date", "due_date")


def _best(candidates: list[Candidate]) -> Candidate | None:
    return max(candidates, key=lambda c: c.score, default=None)


def _top_distinct(candidates: list[Candidate], limit: int = 4) -> list[Candidate]:
    chosen: dict[object, Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: -c.score):
        chosen.setdefault(candidate.value, candidate)
    return list(chosen.values())[:limit]


def repair_from_arithmetic(
    by_field: dict[str, list[Candidate]], unread: list[Candidate], adjustment_rows: list[Candidate]
) -> list[Candidate]:
    """An amount OCR garbled is restored when subtotal + adjustments + tax = total implies a value with its
    digits (the adjustments printed between the subtotal and the total that pair encloses)."""
    repaired: list[Candidate] = []
    for broken in unread:
        assert isinstance(broken.value, str)
        if len(broken.value) < MIN_DIGITS_TO_REPAIR and not reads_as_zero(broken.value, Decimal(0)):
            continue  # too few digits left to vouch for anything (a zero's cents still vouch for a zero)
        first_name, second_name, combine = IMPLIED_BY[broken.field]
        for first, second in itertools.product(by_field.get(first_name, []), by_field.get(second_name, [])):
            assert isinstance(first.value, Decimal) and isinstance(second.value, Decimal)
            subtotal, total = _enclosing(broken, first, second)
            adjustments = adjustment_sum(_between(adjustment_rows, subtotal, total)) or Decimal(0)
            implied = combine(first.value, second.value, adjustments)
            implied_digits = amount_digits(implied)
            if implied >= 0 and (
                same_digits_modulo_ocr(broken.value, implied_digits) or reads_as_zero(broken.value, implied)
            ):
                changed = broken.value != implied_digits
                repaired.append(
                    Candidate(
                        broken.field,
                        implied,
                        broken.score,
                        broken.phrase,
                        broken.words_from,
                        read_as=broken.evidence.text if changed else None,
                    )
                )
                break
    return repaired


def rate_implied_taxes(
    index: PageIndex, by_field: dict[str, list[Candidate]], style: DocumentStyle, unread: list[Candidate]
) -> list[Candidate]:
    """A tax OCR garbled to a fragment without its cents ("BUR doi) 12" for "EUR 151,12"), or to no amount at
    all ("GST 10%: 1S O35" for "1,130.35"), is restored when two independent readings agree on one value:
    subtotal + adjustments + tax = total implies it, and it is the rate printed on its row of the tax base.
    The digits OCR kept must survive, in order, in the value; the candidate keeps what was read, so a person
    confirms it."""
    adjustment_rows = [c for name in sorted(ADJUSTMENTS) for c in by_field.get(name, [])]
    garbled = [c for c in by_field.get("tax", []) if misread_without_cents(c)]
    garbled += [c for c in unread if c.field == "tax"]
    restored: list[Candidate] = []
    for broken in garbled:
        rate = _row_rate(index, broken)
        read = "".join(ch for ch in broken.evidence.text if ch.isdigit())
        for subtotal, total in itertools.product(by_field.get("subtotal", []), by_field.get("total", [])):
            base = (_amount(subtotal) or Decimal(0)) + (adjustment_sum(_between(adjustment_rows, subtotal, total)) or 0)
            implied = (_amount(total) or Decimal(0)) - base
            if (
                rate is not None
                and implied > 0
                and not (isinstance(broken.value, Decimal) and same_amount(implied, broken.value))
                and _kept_in_order(read, amount_digits(implied))
                and tax_fits_rate(implied, rate, None, base)
            ):
                restored.append(replace(broken, value=implied, read_as=broken.evidence.text))
                break
    return restored


def _row_rate(index: PageIndex, candidate: Candidate) -> Decimal | None:
    """The one tax rate printed on the candidate's row ("GST 10%: ..."); None for none or several."""
    found = rates_printed(index.row_of(candidate.phrase).text)
    return found.pop() if len(found) == 1 else None


def _kept_in_order(read: str, digits: str) -> bool:
    """Every digit OCR read appears, in order, among the value's digits ("135" in "113035")."""
    remaining = iter(digits)
    return bool(read) and all(ch in remaining for ch in read)


def _enclosing(broken: Candidate, first: Candidate, second: Candidate) -> tuple[Candidate, Candidate]:
    """The subtotal and the total among a broken amount and the two read ones that imply it."""
    by_name = {candidate.field: candidate for candidate in (broken, first, second)}
    return by_name["subtotal"], by_name["total"]


def _item_sum_targets(by_field: dict[str, list[Candidate]]) -> list[Decimal]:
    """What the line items may add up to: a subtotal read on the page, or a total less a tax."""
    subtotals = [c.value for c in by_field.get("subtotal", []) if isinstance(c.value, Decimal)]
    totals = [c.value for c in by_field.get("total", []) if isinstance(c.value, Decimal)]
    taxes = [c.value for c in by_field.get("tax", []) if isinstance(c.value, Decimal)]
    net = [total - tax for total in totals for tax in taxes if 0 <= tax < total]
    targets = [*subtotals, *net] if subtotals or net else totals
    return list(dict.fromkeys(targets))


def _lateness(candidate: Candidate, page_count: int) -> float:
    """Where the candidate stands in the document, 0..1: totals close an invoice, so of two equal "Total"
    labels the lower one is the invoice's."""
    page = candidate.phrase.page_no - 1 + candidate.phrase.y0 / candidate.phrase.page_height
    return page / max(page_count, 1)


def _amount(candidate: Candidate | None) -> Decimal | None:
    if candidate is None:
        return None
    assert isinstance(candidate.value, Decimal)
    return candidate.value


def _position(candidate: Candidate) -> tuple[int, float]:
    return candidate.phrase.page_no, candidate.phrase.y0


def _between(candidates: list[Candidate], subtotal: Candidate | None, total: Candidate | None) -> list[Candidate]:
    """Candidates printed in the totals block, below the subtotal and above the total, one per row."""
    if subtotal is None or total is None:
        return []
    rows: dict[tuple[int, int], Candidate] = {}
    for candidate in candidates:
        if _position(subtotal) < _position(candidate) < _position(total):
            rows.setdefault((candidate.phrase.page_no, candidate.phrase.row_index), candidate)
    return list(rows.values())


def adjustment_sum(found: list[Candidate]) -> Decimal | None:
    """Discounts and charges, signed and summed; None when there are none."""
    if not found:
        return None
    return sum((signed_adjustment(c.field, _amount(c) or Decimal(0)) for c in found), Decimal(0))


# Where the arithmetic settles nothing (a printed error), the sum of a block's tax rows still beats each row
# alone, which would leave the others unexplained.
_ALL_ROWS_PREFERENCE = 0.05


def combined_taxes(
    by_field: dict[str, list[Candidate]], unread_totals: list[Candidate], unlabelled: list[Candidate]
) -> list[Candidate]:
    """Several tax rates print one tax row each ("VAT 20%", "VAT 9%"): their sum, for every subtotal/total
    pair that encloses two or more of them, is a candidate for the invoice's tax. A row whose label OCR
    garbled (`unlabelled`: see `rate_rows`) joins a labelled one only when subtotal + discounts and charges
    + the sum of the rows = total: the arithmetic, not a label, then says it is a tax."""
    combined: list[Candidate] = []
    taxes = [c for c in by_field.get("tax", []) if isinstance(c.value, Decimal)]
    totals = [*by_field.get("total", []), *unread_totals]
    adjustment_rows = [c for name in sorted(ADJUSTMENTS) for c in by_field.get(name, [])]
    for subtotal, total in itertools.product(by_field.get("subtotal", []), totals):
        labelled = _between(taxes, subtotal, total)
        for rows in (labelled, [*labelled, *_between(unlabelled, subtotal, total)] if labelled else []):
            if len(rows) < 2 or len({c.value for c in rows}) < len(rows):
                continue
            value = sum((_amount(c) or Decimal(0) for c in rows), Decimal(0))
            adjustments = adjustment_sum(_between(adjustment_rows, subtotal, total))
            if len(rows) > len(labelled) and not (
                isinstance(total.value, Decimal) and totals_agree(_amount(subtotal), value, total.value, adjustments)
            ):
                continue
            first = rows[0]
            score = max(c.score for c in rows) + _ALL_ROWS_PREFERENCE
            combined.append(Candidate("tax", value, score, first.phrase, first.words_from, first.words_to))
    return list({c.value: c for c in combined}.values())


# A tax row whose label OCR garbled ("BIW 9%" for "BTW 9%") still prints its rate; no label vouches for it.
_RATE_ROW_STRENGTH = 0.6
# How alike the words before the rate must be to a labelled tax row's ("biw" / "btw": 0.67).
_SAME_LABEL_RATIO = 0.6


def rate_rows(index: PageIndex, by_field: dict[str, list[Candidate]], style: DocumentStyle) -> list[Candidate]:
    """Rows no label claimed that print one rate and one positive amount, under words that are a labelled tax
    row's up to an OCR slip ("BIW 9%  253,04" beside "BTW 10%  94,96"): the tax of a second rate. Only ever
    summed with the labelled rows, when the arithmetic holds (`combined_taxes`)."""
    rows = {(row.page_no, row.index): row for row in index.rows}
    claimed = {(c.phrase.page_no, c.phrase.row_index) for found in by_field.values() for c in found}
    tax_rows = [rows[key] for c in by_field.get("tax", []) if (key := (c.phrase.page_no, c.phrase.row_index)) in rows]
    tax_labels = {label for row in tax_rows if (label := _words_before_rate(row.text))}
    found: list[Candidate] = []
    for row in index.rows:
        label = _words_before_rate(row.text)
        if (row.page_no, row.index) in claimed or not label:
            continue
        if not any(difflib.SequenceMatcher(None, label, known).ratio() >= _SAME_LABEL_RATIO for known in tax_labels):
            continue
        if len(find_amounts(row.text, decimal_sep=style.decimal_sep)) != 1:  # type: ignore[arg-type]
            continue
        amounts = [
            Candidate("tax", parsed[0], 0.0, phrase, parsed[1], parsed[2])
            for phrase in row.phrases
            if (parsed := parse_amount_value(phrase, 0, style)) is not None
        ]
        if len(amounts) == 1 and Decimal(str(amounts[0].value)) > 0:
            found.append(replace(amounts[0], score=_RATE_ROW_STRENGTH * amounts[0].evidence.confidence))
    return found


# A row of the totals block whose label OCR could not read ("Taxi-.:  63.56" for "Tax:  63.56") vouches for
# nothing by itself: the sums place it, and its evidence says no label was read.
_UNLABELLED_ROW_STRENGTH = 0.4


def unlabelled_block_rows(
    index: PageIndex, by_field: dict[str, list[Candidate]], style: DocumentStyle
) -> list[Candidate]:
    """The amount of a row between a subtotal and the total under it, on a row no label claimed and printing
    exactly one amount, when subtotal + discounts and charges + that amount = total: the tax, found by the sum."""
    claimed = {(c.phrase.page_no, c.phrase.row_index) for found in by_field.values() for c in found}
    adjustment_rows = [c for name in sorted(ADJUSTMENTS) for c in by_field.get(name, [])]
    found: dict[tuple[int, int], Candidate] = {}
    for subtotal, total in itertools.product(by_field.get("subtotal", []), by_field.get("total", [])):
        adjustments = adjustment_sum(_between(adjustment_rows, subtotal, total))
        for row in _rows_between(index, subtotal, total):
            amounts = [
                Candidate("tax", parsed[0], 0.0, phrase, parsed[1], parsed[2], label_read=False)
                for phrase in row.phrases
                if (parsed := parse_amount_value(phrase, 0, style)) is not None
            ]
            key = (row.page_no, row.index)
            if key in claimed or len(amounts) != 1 or (_amount(amounts[0]) or 0) <= 0:
                continue
            tax, base = _amount(amounts[0]) or Decimal(0), (_amount(subtotal) or Decimal(0)) + (adjustments or 0)
            if (
                isinstance(total.value, Decimal)
                and totals_agree(base, tax, total.value)
                and _fits_its_rates(row, tax, base)
            ):
                found[key] = replace(amounts[0], score=_UNLABELLED_ROW_STRENGTH * amounts[0].evidence.confidence)
    return list(found.values())


def _fits_its_rates(row: Row, tax: Decimal, base: Decimal) -> bool:
    """A row printing a rate ("BIW 9%") is a tax only at that rate of the base; a row printing none, any."""
    rates = rates_printed(row.text)
    return not rates or any(tax_fits_rate(tax, rate, None, base) for rate in rates)


def _rows_between(index: PageIndex, upper: Candidate, lower: Candidate) -> list[Row]:
    """The rows strictly between two candidates' rows on one page."""
    page, top, bottom = upper.phrase.page_no, upper.phrase.row_index, lower.phrase.row_index
    if lower.phrase.page_no != page:
        return []
    return [row for row in index.rows if row.page_no == page and top < row.index < bottom]


def _words_before_rate(text: str) -> str | None:
    """The letters before the one rate a row prints ("btw" of "BTW 10%  94,96"); None without exactly one rate."""
    rates = list(_PRINTED_RATE.finditer(text))
    if len({match.group(1) for match in rates}) != 1:
        return None
    return re.sub(r"[^\w]|\d", "", text[: rates[0].start()]).casefold() or None


def _score_amounts(
    picked_amounts: tuple[Candidate | None, Candidate | None, Candidate | None],
    adjustments: Decimal | None,
    items_sum: Decimal | None,
    page_count: int,
) -> tuple[float, bool, bool]:
    """Label scores plus what the arithmetic says of one choice; with whether the sums and the items hold."""
    subtotal, tax, total = picked_amounts
    picked = [c for c in (subtotal, tax, total) if c is not None]
    sub_v, tax_v, total_v = _amount(subtotal), _amount(tax), _amount(total)
    score = sum(c.score for c in picked)
    if total is not None:
        score += 0.1 * _lateness(total, page_count)
    sums_ok = False
    if sub_v is not None and total_v is not None:
        sums_ok = totals_agree(sub_v, tax_v, total_v, adjustments)
        score += 1.5 if sums_ok else -0.5
        if total_v < sub_v + (adjustments or Decimal(0)):
            score -= 1.0
    items_ok = False
    if items_sum is not None:
        if sub_v is not None:
            items_ok = agree(items_sum, sub_v)
        elif total_v is not None:
            items_ok = agree(items_sum, net_of_tax(total_v, tax_v))
        score += 1.0 if items_ok else 0.0
    return score, sums_ok, items_ok


@dataclass(frozen=True)
class PrintedRate:
    """The one tax rate printed on a tax candidate's line, and the other amounts on that line (a tax
    summary prints the taxable amount beside the tax: "S 6% 100.94 6.06")."""

    rate: Decimal
    bases: tuple[Decimal, ...]


def printed_rates(index: PageIndex, candidates: list[Candidate], style: DocumentStyle) -> dict[int, PrintedRate]:
    """The rate printed on each tax candidate's line ("GST @6%: 0.46"), where the line prints just one."""
    rates: dict[int, PrintedRate] = {}
    for candidate in candidates:
        text = index.row_of(candidate.phrase).text
        found = rates_printed(text)
        tax = _amount(candidate)
        if len(found) != 1 or tax is None:
            continue
        amounts = [value for _, _, value in find_amounts(_PRINTED_RATE.sub(" ", text), style.decimal_sep)]  # type: ignore[arg-type]
        if tax in amounts:  # the tax itself, printed last: the others are what it is levied on
            del amounts[len(amounts) - 1 - amounts[::-1].index(tax)]
        rates[id(candidate)] = PrintedRate(found.pop(), tuple(amounts))
    return rates


def rate_fits(
    subtotal: Candidate | None, tax: Candidate | None, total: Candidate | None, rates: dict[int, PrintedRate]
) -> bool:
    """The chosen tax is its printed rate of the subtotal or of the amount printed beside it, or the
    share of the total it includes."""
    if tax is None or id(tax) not in rates:
        return False
    value, printed = _amount(tax) or Decimal(0), rates[id(tax)]
    if any(tax_fits_rate(value, printed.rate, None, base) for base in printed.bases):
        return True
    return tax_fits_rate(value, printed.rate, _amount(total), _amount(subtotal))


def resolve_amounts(
    by_field: dict[str, list[Candidate]],
    items_sum: Decimal | None,
    page_count: int,
    rates: dict[int, PrintedRate] | None = None,
    preferred: dict[int, float] | None = None,
) -> tuple[dict[str, Candidate | None], list[Candidate], tuple[bool, bool]]:
    """Pick subtotal, tax and total together: the combination the arithmetic confirms beats label scores
    (a tax that fits its printed rate counts too, and so do the totals a receipt's payment lines prefer:
    see pipeline/extract/till.py).

    Discounts and charges printed between the subtotal and the total count in the sum. Returns the choice,
    its adjustment rows, and whether subtotal + adjustments + tax = total holds and the items add up.
    """
    options = {name: [*_top_distinct(by_field.get(name, [])), None] for name in _AMOUNT_FIELDS}
    adjustment_rows = [c for name in sorted(ADJUSTMENTS) for c in by_field.get(name, [])]
    best_choice: dict[str, Candidate | None] = dict.fromkeys(_AMOUNT_FIELDS)
    best_score, best_adjustments, best_flags = float("-inf"), list[Candidate](), (False, False)
    for subtotal, tax, total in itertools.product(options["subtotal"], options["tax"], options["total"]):
        picked = [c for c in (subtotal, tax, total) if c is not None]
        if len({id(c.evidence.words[0]) for c in picked}) < len(picked):
            continue  # one printed number cannot be two fields
        adjustments = _between(adjustment_rows, subtotal, total)
        score, sums_ok, items_ok = _score_amounts(
            (subtotal, tax, total), adjustment_sum(adjustments), items_sum, page_count
        )
        if rates and rate_fits(subtotal, tax, total, rates):
            score += 1.0
        if preferred and total is not None:
            score += preferred.get(id(total), 0.0)
        if score > best_score:
            best_score, best_adjustments, best_flags = score, adjustments, (sums_ok, items_ok)
            best_choice = {"subtotal": subtotal, "tax": tax, "total": total}
    return best_choice, best_adjustments, best_flags


def _printed_dates(index: PageIndex, style: DocumentStyle) -> set[date]:
    """Every date the document prints, read in its own day/month order."""
    return {value for row in index.rows for _, _, value in find_dates(row.text, day_first=style.day_first)}


# What a browser prints around a web page it saves as PDF: the date and time it was printed over the page,
# and the page's address with "1/2" under it. Neither is the document's.
_PRINTED_AT = re.compile(r"^\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4},?\s+\d{1,2}:\d{2}(?::\d{2})?\s*([AaPp][Mm])?\b")
_PRINTED_FROM = re.compile(r"https?://\S+.*\b\d{1,3}\s*/\s*\d{1,3}\s*$")


def browser_print_rows(index: PageIndex) -> set[tuple[int, int]]:
    """The first and last rows of every page a browser printed: its print time, title, address and page count."""
    chrome: set[tuple[int, int]] = set()
    for layout in index.layouts:
        rows = layout.rows
        if len(rows) >= 2 and _PRINTED_AT.match(rows[0].text) and _PRINTED_FROM.search(rows[-1].text):
            chrome.update({(rows[0].page_no, rows[0].index), (rows[-1].page_no, rows[-1].index)})
    return chrome


def _fallback_invoice_date(index: PageIndex, style: DocumentStyle, exclude: set[date]) -> Candidate | None:
    """No labelled issue date: the first date printed on the first page, at low confidence."""
    chrome = browser_print_rows(index)
    for row in index.rows:
        if row.page_no != 1:
            break
        if (row.page_no, row.index) in chrome:
            continue
        for phrase in row.phrases:
            for _, _, value in find_dates(phrase.text, day_first=style.day_first):
                if value not in exclude:
                    return Candidate("invoice_date", value, 0.5 * phrase.confidence, phrase)
    return None


def _field_value(name: str, candidate: Candidate, confidence: float | None = None) -> FieldValue:
    evidence: Phrase = candidate.evidence if candidate.evidence.words else candidate.phrase
    value = candidate.value
    text = value.isoformat() if isinstance(value, date) else str(value)
    return FieldValue(
        name=name,
        value=text,
        confidence=round(min(max(confidence if confidence is not None else candidate.score, 0.0), 1.0), 4),
        extractor=EXTRACTOR_NAME,
        page=evidence.page_no,
        bbox=evidence.bbox(),
        raw_text=evidence.text,
    )


def _ambiguous_numeric_date(candidate: Candidate, style: DocumentStyle) -> bool:
    value = candidate.value
    if style.day_first_printed or not isinstance(value, date):
        return False
    raw = candidate.evidence.text
    return value.day <= 12 and value.day != value.month and not any(ch.isalpha() for ch in raw)


# Month-first numeric dates are a North American habit; nearly everywhere else writes the day first.
_MONTH_FIRST_CURRENCIES = frozenset({"USD"})


def _day_first_prior(index: PageIndex, decimal_sep: str) -> bool | None:
    """When no printed date settles the order, the document's locale is the best guess at it."""
    if decimal_sep == ",":
        return True
    currency, _, _ = document_currency(index, None, set())
    if currency is None:
        return None
    return currency not in _MONTH_FIRST_CURRENCIES


def _document_style(index: PageIndex) -> DocumentStyle:
    """Decimal separator and date order, from what the page prints (or its locale when it settles nothing)."""
    texts = [row.text for row in index.rows]
    decimal_sep = infer_decimal_separator(texts)
    day_first = infer_day_first(texts)
    printed_order = day_first is not None
    if day_first is None:
        day_first = _day_first_prior(index, decimal_sep)
    return DocumentStyle(decimal_sep=decimal_sep, day_first=day_first, day_first_printed=printed_order)


def _field_candidates(index: PageIndex, style: DocumentStyle) -> tuple[dict[str, list[Candidate]], list[Candidate]]:
    """Candidates per field (labelled, plus amounts the arithmetic restores) and the labels with no readable value."""
    by_field: dict[str, list[Candidate]] = defaultdict(list)
    labelled, unread = label_candidates(index, style)
    for candidate in [*labelled, *place_date_candidates(index, style)]:
        by_field[candidate.field].append(candidate)
    misread = [
        Candidate(c.field, amount_digits(c.value), c.score * 0.9, c.phrase, c.words_from, c.words_to)
        for name in _AMOUNT_FIELDS
        for c in by_field.get(name, [])
        # only OCR can misread a digit; a text layer prints what the issuer wrote, however wrong
        if isinstance(c.value, Decimal) and c.evidence.confidence < 1.0
    ]
    unread_amounts = [c for c in unread if c.field in _AMOUNT_FIELDS]
    # Several tax rows sum to the tax; a total OCR garbled still closes the totals block they sit in.
    unread_totals = [c for c in unread_amounts if c.field == "total"]
    by_field["tax"].extend(combined_taxes(by_field, unread_totals, rate_rows(index, by_field, style)))
    by_field["tax"].extend(unlabelled_block_rows(index, by_field, style))
    adjustment_rows = [c for name in sorted(ADJUSTMENTS) for c in by_field.get(name, [])]
    for candidate in repair_from_arithmetic(by_field, [*unread_amounts, *misread], adjustment_rows):
        by_field[candidate.field].append(candidate)
    by_field["tax"] += rate_implied_taxes(index, by_field, style, unread)
    by_field["total"] += _paid_totals(by_field)
    by_field["total"] = restore_lost_decimals(index, by_field)
    for candidate in rate_breakdown_candidates(index, style):
        by_field[candidate.field].append(candidate)
    if not by_field.get("customer_name") and (recipient := window_recipient(index)) is not None:
        by_field["customer_name"].append(recipient)
    return by_field, unread


# How sure a row of a VAT breakdown makes us, before OCR confidence: it carries no label of its own.
_BREAKDOWN_STRENGTH = 0.8


def rate_breakdown_candidates(index: PageIndex, style: DocumentStyle) -> list[Candidate]:
    """A VAT breakdown row, "21 %  41,31  8,68  49,99": one printed rate and three amounts where the
    second is that rate of the first and the first two add up to the third. Net and tax are then the
    subtotal and the tax, wherever the page prints no label beside them."""
    found: list[Candidate] = []
    for row in index.rows:
        rates = {match.group(1) for match in _PRINTED_RATE.finditer(row.text)}
        if len(rates) != 1:
            continue
        amounts = [
            Candidate("", parsed[0], 0.0, phrase, parsed[1], parsed[2])
            for phrase in row.phrases
            if (parsed := parse_amount_value(phrase, 0, style)) is not None
        ]
        if len(amounts) != 3:
            continue
        net, tax, gross = (Decimal(str(c.value)) for c in amounts)
        rate = Decimal(rates.pop().replace(",", "."))
        if tax > 0 and net_tax_gross(net, tax, gross) and tax_fits_rate(tax, rate, None, net):
            for name, candidate in zip(("subtotal", "tax"), amounts[:2], strict=True):
                score = _BREAKDOWN_STRENGTH * candidate.evidence.confidence
                found.append(replace(candidate, field=name, score=score))
    return found


def _paid_totals(by_field: dict[str, list[Candidate]]) -> list[Candidate]:
    """No total label read, but a receipt prints what was paid (cash tendered less change): the last
    labelled amount equal to it ("Net Total 10.00" above "Cash 10.00, Change 0.00") is the total."""
    tendered, change = _best(by_field.get("tendered", [])), _best(by_field.get("change", []))
    if by_field.get("total") or tendered is None:
        return []
    paid = (_amount(tendered) or Decimal(0)) - (_amount(change) or Decimal(0))
    equal = [c for c in by_field.get("subtotal", []) if agree(_amount(c), paid) and paid > 0]
    if not equal:
        return []
    last = max(equal, key=lambda c: (c.phrase.page_no, c.phrase.y0))
    score = max(last.score, tendered.score)
    return [Candidate("total", last.value, score, last.phrase, last.words_from, last.words_to)]


def _reconciled_items(
    index: PageIndex, style: DocumentStyle, by_field: dict[str, list[Candidate]]
) -> tuple[list[ItemRows], list[ValidationIssue], Decimal | None]:
    """The line-item table, reconciled with its own arithmetic; its repair issues; the items' sum if complete."""
    item_rows: list[ItemRows] = extract_line_items(index, style) or headerless_line_items(index, style)
    item_targets = _item_sum_targets(by_field)
    item_rows = fill_missing_amounts(swap_misassigned_prices(read_net_tax_gross(item_rows, item_targets)))
    item_rows = drop_running_sums(item_rows, item_targets)
    item_rows, item_issues = repair_misread_amounts(item_rows, item_targets)
    item_rows = repair_misread_unit_prices(item_rows, item_targets)
    amounts = [row.item.amount for row in item_rows if row.item.amount is not None]
    items_sum = sum(amounts, Decimal(0)) if amounts and len(amounts) == len(item_rows) else None
    return item_rows, item_issues, items_sum


def _amount_confidences(
    chosen_amounts: dict[str, Candidate | None], sums_ok: bool, items_ok: bool, items_sum: Decimal | None
) -> dict[str, float]:
    confidences: dict[str, float] = {}
    for name in _AMOUNT_FIELDS:
        picked = chosen_amounts[name]
        if picked is not None:
            # Two independent readings agreeing (labels and arithmetic) is strong evidence.
            boost = 0.98 if sums_ok and (items_ok or items_sum is None) else 0.9 if sums_ok or items_ok else 0.0
            confidences[name] = max(picked.score * (0.85 if not (sums_ok or items_ok) else 1.0), boost)
    return confidences


def _choose_dates(
    by_field: dict[str, list[Candidate]],
    unread: list[Candidate],
    index: PageIndex,
    style: DocumentStyle,
    confidences: dict[str, float],
) -> dict[str, Candidate | None]:
    """Issue and due date (a due date's phrase is never also the issue date); ambiguous ones are doubted.
    A date label whose value OCR garbled by one digit takes the date the other one's order settles."""
    due = _best(by_field.get("due_date", []))
    issued = _best([c for c in by_field.get("invoice_date", []) if due is None or c.phrase is not due.phrase])
    if issued is None and due is not None and isinstance(due.value, date):
        issued = _restored_date([c for c in unread if c.field == "invoice_date"], style, latest=due.value)
    if due is None and issued is not None and isinstance(issued.value, date):
        due = _restored_date([c for c in unread if c.field == "due_date"], style, earliest=issued.value)
    if issued is None and due is None:
        issued, due = _restored_pair(unread, style)
    if issued is None:
        issued = _fallback_invoice_date(index, style, {due.value} if due and isinstance(due.value, date) else set())
    chosen = {"invoice_date": issued, "due_date": due}
    for name, picked in chosen.items():
        if picked is not None and _ambiguous_numeric_date(picked, style):
            confidences[name] = picked.score * 0.85
    return chosen


def _restored_date(
    broken: list[Candidate], style: DocumentStyle, earliest: date | None = None, latest: date | None = None
) -> Candidate | None:
    """The one date a label's garbled value reads as with one digit OCR confuses swapped ("62/11/2025" ->
    02/11/2025) that keeps the issue date on or before the due date; None when none or several do. The
    candidate keeps what was printed, so its evidence shows the slip (see _date_doubts)."""
    for candidate in broken:
        options = {
            value
            for value in dates_one_digit_off(candidate.evidence.text, style.day_first)
            if (earliest is None or value >= earliest) and (latest is None or value <= latest)
        }
        if len(options) == 1:
            return replace(candidate, value=options.pop())
    return None


def _restored_pair(unread: list[Candidate], style: DocumentStyle) -> tuple[Candidate | None, Candidate | None]:
    """Both date labels' values garbled by a digit OCR confuses ("8 Jun 2623", "22 Jun 2823"): each takes the
    one date it reads as with that digit swapped, when each has just one and the issue date then falls on or
    before the due date; else neither."""
    issued = _restored_date([c for c in unread if c.field == "invoice_date"], style)
    due = _restored_date([c for c in unread if c.field == "due_date"], style)
    if issued is None or due is None or not isinstance(issued.value, date) or not isinstance(due.value, date):
        return None, None
    return (issued, due) if issued.value <= due.value else (None, None)


def _without_unread_labels(chosen: dict[str, Candidate | None], evidence: dict[str, FieldEvidence]) -> None:
    """A value the arithmetic placed where no label was read (see `unlabelled_block_rows`) has no label's
    support, and says so: a person confirms what its row is."""
    for name, picked in chosen.items():
        if picked is not None and not picked.label_read and name in evidence:
            found = evidence[name]
            found.support = [support for support in found.support if support is not Support.LABEL]
            found.doubts.append(f"no label was read beside {picked.evidence.text!r}; the sums place it as the {name}")


def _choose_parties(by_field: dict[str, list[Candidate]], index: PageIndex) -> dict[str, Candidate | None]:
    customer_rows = customer_block_rows(index, by_field.get("customer_name", []))
    proposals = {"label": by_field.get("vendor_name", []), "top": vendor_candidates(index, customer_rows)}
    return {
        "invoice_number": _best(by_field.get("invoice_number", [])),
        # A country alone under "Bill to" names no customer: the record is better without one than with "Germany".
        "customer_name": _best([c for c in by_field.get("customer_name", []) if not names_a_country(str(c.value))]),
        "vendor_name": choose_vendor(index, proposals, by_field.get("customer_name", [])),
    }


def _currency_field(
    index: PageIndex, total: Candidate | None, customer_rows: set[tuple[int, int]], at_till: bool = False
) -> FieldValue | None:
    """The printed currency; with none printed, the issuer's country's (see document_currency)."""
    code, confidence, phrase = document_currency(index, total, customer_rows)
    if code is None or phrase is None:
        return None
    doubts: list[str] = []
    country, _, _ = country_currency(index, customer_rows)
    bare_dollar = code == "USD" and not _US_DOLLAR.search(phrase.text) and country not in (None, "USD")
    if bare_dollar and (country in _OTHER_DOLLARS or at_till):
        # "$" alone is how an Australian or Singaporean issuer prints its own dollar too, and a till
        # receipt (cash handed over) is a sale at home: its "$" may stand for the local currency.
        doubts.append(f"only a bare '$' is printed, and the issuer's country pays in {country}")
    return FieldValue(
        name="currency",
        value=code,
        confidence=round(confidence * phrase.confidence, 4),
        extractor=EXTRACTOR_NAME,
        page=phrase.page_no,
        bbox=phrase.bbox(),
        raw_text=phrase.text,
        evidence=FieldEvidence(support=[Support.SHAPE, Support.PRINTED_MARK], doubts=doubts),
    )


def _payment_fields(by_field: dict[str, list[Candidate]]) -> dict[str, FieldValue]:
    """The cash tendered and the change a till receipt prints: routing checks the total against them."""
    fields: dict[str, FieldValue] = {}
    for name in PAYMENT_FIELDS:
        picked = _best(by_field.get(name, []))
        if picked is not None:
            evidence = FieldEvidence(support=[Support.LABEL, Support.SHAPE])
            fields[name] = _field_value(name, picked).model_copy(update={"evidence": evidence})
    return fields


def _date_doubts(chosen: dict[str, Candidate | None], style: DocumentStyle) -> dict[str, list[str]]:
    """Dates whose day/month order neither the page nor its locale settles (see _ambiguous_numeric_date), and
    dates whose month name OCR misspelt by one letter ("Apnil"): read as that month, confirmed by a person."""
    doubts: dict[str, list[str]] = {}
    for name in ("invoice_date", "due_date"):
        picked = chosen.get(name)
        if picked is None:
            continue
        if style.day_first is None and _ambiguous_numeric_date(picked, style):
            doubts.setdefault(name, []).append(f"{picked.evidence.text!r} could be read day-first or month-first")
        for doubt in misread_month_doubts(picked.evidence.text):
            doubts.setdefault(name, []).append(doubt)
        if isinstance(picked.value, date) and not _reads_as(picked, style):
            doubts.setdefault(name, []).append(
                f"{picked.evidence.text!r} is no date; one digit OCR confuses read otherwise gives {picked.value}"
            )
    return doubts


def _label_unread_doubts(
    chosen: dict[str, Candidate | None], by_field: dict[str, list[Candidate]], unread: list[Candidate]
) -> dict[str, str]:
    """A date taken from elsewhere on the page (the first date printed) while the page prints the field's
    own label with a value OCR could not read ("Date: 8 Jun 2623"): the label's value may be another date."""
    doubts: dict[str, str] = {}
    for name in ("invoice_date", "due_date"):
        picked = chosen.get(name)
        garbled = [c for c in unread if c.field == name]
        if picked is not None and garbled and not any(picked is c for c in by_field.get(name, [])):
            doubts[name] = (
                f"the {name.replace('_', ' ')} label's value reads {garbled[0].evidence.text!r}, no date; "
                f"{picked.value} is another date the page prints"
            )
    return doubts


def _reads_as(picked: Candidate, style: DocumentStyle) -> bool:
    """The date candidate's printed text reads as its value (a date restored from a garbled one does not)."""
    text = picked.evidence.text if picked.evidence.words else picked.phrase.text
    return any(value == picked.value for _, _, value in find_dates(text, day_first=style.day_first))


def _adjustments_field(rows: list[Candidate]) -> FieldValue:
    """The discounts and charges of the totals block as one signed sum, with the first row's position."""
    first = _field_value("adjustments", rows[0], min(c.score for c in rows))
    return first.model_copy(
        update={"value": str(adjustment_sum(rows)), "raw_text": " | ".join(c.evidence.text for c in rows)}
    )


def _subtotal_of_items(
    fields: dict[str, FieldValue],
    chosen_amounts: dict[str, Candidate | None],
    items_sum: Decimal | None,
    tax_labelled: bool,
) -> FieldValue | None:
    """A page that prints no subtotal still has one: the sum of its line items, when the total less its tax
    (none printed: nothing) comes to the same amount. Its provenance is the line items'."""
    total, tax = _amount(chosen_amounts["total"]), _amount(chosen_amounts["tax"])
    if items_sum is None or total is None or not agree(items_sum, net_of_tax(total, tax)):
        return None
    if tax is None and tax_labelled:
        return None  # a tax is named but none was read: the lines may be gross ("prices include VAT")
    return fields["line_items"].model_copy(
        update={
            "name": "subtotal",
            "value": str(items_sum),
            "confidence": fields["total"].confidence,
            "evidence": FieldEvidence(support=[Support.SHAPE, Support.ITEMS_SUM]),
        }
    )


def _names_a_tax(by_field: dict[str, list[Candidate]], unread: list[Candidate]) -> bool:
    """A tax label outside the line-item table's headings, whether or not its amount was read."""
    return bool(by_field.get("tax")) or any(candidate.field == "tax" for candidate in unread)


def _line_items_field(item_rows: list[ItemRows], items_ok: bool) -> FieldValue:
    first = item_rows[0].phrases[0]
    words = [w for r in item_rows for p in r.phrases for w in p.words if p.page_no == first.page_no]
    return FieldValue(
        name="line_items",
        value=str(len(item_rows)),
        confidence=0.95 if items_ok else 0.6,
        extractor=EXTRACTOR_NAME,
        page=first.page_no,
        bbox=Phrase(words, first.page_no, first.page_width, first.page_height).bbox(),
    )


def _no_items_issue() -> ValidationIssue:
    # Without items the subtotal cannot be checked against them, and a wrong subtotal would pass.
    return ValidationIssue(
        code=IssueCode.NO_LINE_ITEMS,
        field="line_items",
        message="No line items could be read, so the amounts cannot be checked against them; "
        "enter or confirm the items.",
    )


def _repaired_amount_issues(chosen_amounts: dict[str, Candidate | None]) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for name in _AMOUNT_FIELDS:
        picked = chosen_amounts[name]
        if picked is not None and picked.read_as is not None:
            # A changed digit may be an OCR slip or a real error on the invoice: a person decides.
            issues.append(
                ValidationIssue(
                    code=IssueCode.AMOUNT_REPAIRED,
                    field=name,
                    message=f"The {name} was read as {picked.read_as!r}; the other amounts imply {picked.value}. "
                    "Check which one the page shows.",
                )
            )
    return issues


def _unreadable_value_issues(
    by_field: dict[str, list[Candidate]], unread: list[Candidate], values: dict[str, object]
) -> list[ValidationIssue]:
    """A label printed on the page whose value could not be read (or did not fit the other amounts)."""
    issues: list[ValidationIssue] = []
    for name in (*_AMOUNT_FIELDS, *_IDENTIFYING_FIELDS):
        printed = [c.evidence.text for c in [*by_field.get(name, []), *unread] if c.field == name]
        if name not in values and printed:
            label = name.replace("_", " ")
            article = "an" if label[0] in "aeiou" else "a"
            fits = "fits the other amounts" if name in _AMOUNT_FIELDS else f"reads as {article} {label}"
            issues.append(
                ValidationIssue(
                    code=IssueCode.UNREADABLE_VALUE,
                    field=name,
                    message=f"The page prints {article} {label} label, but no value read beside it ({printed[0]!r}) "
                    f"{fits}; check it on the page.",
                )
            )
    return issues


def _document_type(index: PageIndex) -> DocumentType | None:
    """A credit note when the first page titles itself one; else left open (an invoice, as a rule)."""
    first_page = (phrase for row in index.rows if row.page_no == 1 for phrase in row.phrases)
    return DocumentType.CREDIT_NOTE if any(is_credit_note_title(phrase.text) for phrase in first_page) else None


def _text_source(pages: list[PageText]) -> TextSource:
    all_text_layer = bool(pages) and all(p.source is TextSource.TEXT_LAYER for p in pages)
    return TextSource.TEXT_LAYER if all_text_layer else TextSource.OCR


def extract_invoice(pages: list[PageText]) -> ExtractionResult:
    """Read the invoice: field candidates, reconciled line items, amounts chosen by the arithmetic, dates,
    parties and currency; then the issues extraction itself found."""
    index = PageIndex([build_layout(page) for page in pages])
    style = _document_style(index)
    by_field, unread = _field_candidates(index, style)
    item_rows, item_issues, items_sum = _reconciled_items(index, style, by_field)

    rates = printed_rates(index, by_field.get("tax", []), style)
    preferred = preferred_totals(index, by_field)
    chosen_amounts, adjustments, (sums_ok, items_ok) = resolve_amounts(
        by_field, items_sum, len(pages), rates, preferred
    )
    confidences = _amount_confidences(chosen_amounts, sums_ok, items_ok, items_sum)
    chosen: dict[str, Candidate | None] = {
        **chosen_amounts,
        **_choose_dates(by_field, unread, index, style, confidences),
        **_choose_parties(by_field, index),
    }

    doubts = _date_doubts(chosen, style)
    for name, doubt in _label_unread_doubts(chosen, by_field, unread).items():
        doubts.setdefault(name, []).append(doubt)
    inputs = EvidenceInputs(chosen, by_field, doubts, _printed_dates(index, style))
    evidence = field_evidence(index, inputs)
    if "tax" in evidence and rate_fits(chosen["subtotal"], chosen["tax"], chosen["total"], rates):
        evidence["tax"].support.append(Support.RATE)
    _without_unread_labels(chosen, evidence)
    fields = {
        name: _field_value(name, c, confidences.get(name)).model_copy(update={"evidence": evidence.get(name)})
        for name, c in chosen.items()
        if c is not None
    }
    values: dict[str, object] = {name: c.value for name, c in chosen.items() if c is not None}
    if adjustments:
        fields["adjustments"] = _adjustments_field(adjustments)
        values["adjustments"] = adjustment_sum(adjustments)
    values["document_type"] = _document_type(index)
    customer_rows = customer_block_rows(index, by_field.get("customer_name", []))
    currency = _currency_field(index, chosen_amounts["total"], customer_rows, bool(by_field.get("tendered")))
    if currency is not None:
        fields["currency"], values["currency"] = currency, currency.value
    if item_rows:
        fields["line_items"] = _line_items_field(item_rows, items_ok)
        if "subtotal" not in fields and (
            derived := _subtotal_of_items(fields, chosen_amounts, items_sum, _names_a_tax(by_field, unread))
        ):
            fields["subtotal"], values["subtotal"] = derived, Decimal(str(derived.value))
    fields.update(_payment_fields(by_field))

    issues: list[ValidationIssue] = [*item_issues, *([] if item_rows else [_no_items_issue()])]
    issues += _repaired_amount_issues(chosen_amounts)
    issues += _unreadable_value_issues(by_field, unread, values)
    issues += unread_due_date_issues(index, chosen, style, item_rows)
    invoice = Invoice.model_validate({**values, "line_items": [row.item for row in item_rows]})
    return ExtractionResult(
        invoice=invoice, fields=fields, extractor=EXTRACTOR_NAME, text_source=_text_source(pages), issues=issues
    )
