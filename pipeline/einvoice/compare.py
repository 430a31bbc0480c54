"""Check an e-invoice's XML against its printed page, and turn the pair into an extraction result.

The XML's values are exact; the page is what a person sees and may be approved from. For each compared field
the page's value is the label reading of the rule extractor (run on the text layer, or on OCR for a scan):
- agrees: the page shows the XML's value where its label is (or its printed text admits it: 03/04/2024
  is the 3rd of April or the 4th of March, the XML says which);
- printed: the label reader found nothing, but the XML's value is printed on the page;
- not printed: nothing on the page contradicts the XML, nothing confirms it;
- differs: the page shows another value; the record goes to review with both values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pipeline.einvoice.values import EInvoiceReading
from pipeline.money import HALF_CENT, format_money, sum_amounts, totals_agree
from pipeline.parsing import find_amounts, find_currencies, find_dates, normalise_text
from schemas import (
    ExtractionResult,
    FieldEvidence,
    FieldValue,
    IssueCode,
    PageText,
    Support,
    TextSource,
    ValidationIssue,
)

EXTRACTOR_NAME = "einvoice"
# The page must show these: an XML whose number or total is printed nowhere may belong to another invoice.
MUST_BE_PRINTED = frozenset({"invoice_number", "total"})
COMPARED_FIELDS = ("invoice_number", "invoice_date", "due_date", "currency", "subtotal", "tax", "total")
NAME_FIELDS = ("vendor_name", "customer_name")
AMOUNT_FIELDS = frozenset({"subtotal", "tax", "total"})
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN"})
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,2}(?:[.,]\d{1,3})?)\s?%")
_LABELS = {
    "invoice_number": "invoice number",
    "invoice_date": "invoice date",
    "due_date": "due date",
    "currency": "currency",
    "subtotal": "net total",
    "tax": "tax total",
    "total": "total",
    "vendor_name": "seller",
    "customer_name": "buyer",
}


class Outcome(StrEnum):
    AGREES = "agrees"
    IMPLIED = "implied by the page's other amounts"
    PRINTED = "printed"
    NOT_PRINTED = "not printed"
    DIFFERS = "differs"
    NO_PAGE = "no page"


# How much each outcome leaves a field to doubt. The XML is exact, so what is left is whether it is the XML
# of this document (and, for a standalone file, nothing can say more).
CONFIDENCE: dict[Outcome, float] = {
    Outcome.AGREES: 0.995,
    Outcome.IMPLIED: 0.97,
    Outcome.PRINTED: 0.98,
    Outcome.NOT_PRINTED: 0.95,
    Outcome.NO_PAGE: 0.95,
    Outcome.DIFFERS: 0.3,
}


@dataclass(frozen=True)
class FieldCheck:
    name: str
    xml_value: object
    outcome: Outcome
    page_value: object = None
    evidence: FieldValue | None = None


@dataclass
class PageFacts:
    """Every line of the page text, one string each (words joined in reading order)."""

    lines: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, pages: list[PageText]) -> PageFacts:
        rows: dict[tuple[int, tuple[int, int, int]], list[str]] = {}
        for page in pages:
            for word in page.words:
                rows.setdefault((page.page_no, word.line_key), []).append(word.text)
        return cls([" ".join(words) for words in rows.values()])


def _shown(name: str, texts: list[str], candidates: list[object]) -> bool:
    """Whether any text prints one of the candidate values, in any way it can be read."""
    if name in AMOUNT_FIELDS:
        printed = {abs(v) for t in texts for sep in ("auto", ".", ",") for _s, _e, v in find_amounts(t, sep)}
        return any(isinstance(c, Decimal) and abs(c) in printed for c in candidates)
    if name in ("invoice_date", "due_date"):
        printed_dates = {d for t in texts for first in (True, False) for _s, _e, d in find_dates(t, first)}
        return any(isinstance(c, date) and c in printed_dates for c in candidates)
    if name == "currency":
        codes = {code for t in texts for code in find_currencies(t)}
        dollar = any("$" in t for t in texts)
        return any(c in codes or (dollar and c in _DOLLAR_CURRENCIES) for c in candidates)
    return any(_contains_token(t, str(c)) for t in texts for c in candidates)


def _contains_token(text: str, value: str) -> bool:
    """`value` appears in `text` as a whole token (case and spacing ignored): "42" is not in "INV-0042"."""
    wanted = " ".join(normalise_text(value).casefold().split())
    if not wanted:
        return False
    pattern = rf"(?<![0-9a-z]){re.escape(wanted)}(?![0-9a-z])"
    return re.search(pattern, " ".join(normalise_text(text).casefold().split())) is not None


def _same(name: str, page_value: object, candidate: object) -> bool:
    if isinstance(page_value, Decimal) and isinstance(candidate, Decimal):
        return abs(page_value) == abs(candidate)
    if isinstance(page_value, str) and isinstance(candidate, str):
        return _contains_token(page_value, candidate) and _contains_token(candidate, page_value)
    return page_value == candidate


def check_field(name: str, candidates: list[object], page: ExtractionResult, facts: PageFacts) -> FieldCheck:
    """How the page bears on one XML value (candidates: the value, then other values the page may print)."""
    page_value = getattr(page.invoice, name)
    evidence = page.fields.get(name)
    xml_value = candidates[0]
    if page_value is not None and any(_same(name, page_value, c) for c in candidates):
        return FieldCheck(name, xml_value, Outcome.AGREES, page_value, evidence)
    if evidence is not None and evidence.raw_text and _shown(name, [evidence.raw_text], candidates):
        return FieldCheck(name, xml_value, Outcome.AGREES, page_value, evidence)
    if page_value is not None and name not in NAME_FIELDS:
        return FieldCheck(name, xml_value, Outcome.DIFFERS, page_value, evidence)
    outcome = Outcome.PRINTED if _shown(name, facts.lines, candidates) else Outcome.NOT_PRINTED
    return FieldCheck(name, xml_value, outcome, page_value)


def _shown_value(value: object) -> str:
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _candidates(reading: EInvoiceReading) -> dict[str, list[object]]:
    """Per field, the XML's value first, then what else the page may print for it: the amount due after a
    prepayment as the total, the sum of the lines as the net total."""
    invoice, data = reading.invoice, reading.data
    values: dict[str, list[object]] = {name: [getattr(invoice, name)] for name in (*COMPARED_FIELDS, *NAME_FIELDS)}
    values["total"].append(data.amount_due)
    values["subtotal"].append(sum_amounts(item.amount for item in invoice.line_items))
    return {name: [v for v in found if v is not None] for name, found in values.items() if found[0] is not None}


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


def _implied_rate_issue(reading: EInvoiceReading, printed: set[Decimal]) -> ValidationIssue | None:
    """Without a VAT breakdown (the Minimum profile), the rate the XML's tax and net total imply, within the
    rounding of the tax to a cent, against the page's percentages."""
    net, tax = reading.invoice.subtotal, reading.invoice.tax
    if not net or not tax:
        return None
    implied = abs(tax / net) * 100
    tolerance = HALF_CENT / abs(net) * 100 + Decimal("0.0001")
    if any(abs(rate - implied) <= tolerance for rate in printed):
        return None
    message = (
        f"The e-invoice XML's tax and net total imply a {_percent(implied.quantize(Decimal('0.01')))} tax rate "
        f"but the page prints {', '.join(_percent(rate) for rate in sorted(printed))}"
    )
    return ValidationIssue(code=IssueCode.EINVOICE_PAGE_MISMATCH, message=message, field="tax")


def _tax_rate_issue(reading: EInvoiceReading, facts: PageFacts) -> ValidationIssue | None:
    """The XML's VAT rates (those that carry tax) against the percentages the page prints, when it prints any."""
    printed = {Decimal(m.replace(",", ".")) for line in facts.lines for m in _PERCENT.findall(line)}
    if not printed:
        return None
    if not reading.data.tax_breakdown:
        return _implied_rate_issue(reading, printed)
    rates = {b.rate for b in reading.data.tax_breakdown if b.rate is not None and b.rate != 0 and b.tax_amount}
    missing = sorted(rate for rate in rates if rate not in printed)
    if not missing:
        return None
    xml_rates = ", ".join(_percent(rate) for rate in missing)
    page_rates = ", ".join(_percent(rate) for rate in sorted(printed))
    return ValidationIssue(
        code=IssueCode.EINVOICE_PAGE_MISMATCH,
        message=f"The e-invoice XML taxes at {xml_rates} but the page prints {page_rates}",
        field="tax",
    )


def settle_by_arithmetic(checks: list[FieldCheck], reading: EInvoiceReading) -> list[FieldCheck]:
    """On an OCR'd page, one amount that differs while the other two agree and the XML's net + tax = total is
    a misread digit (1,583.30 read for 1,383.30): the page's own other amounts imply the XML's value."""
    invoice = reading.invoice
    if not totals_agree(invoice.subtotal, invoice.tax, invoice.total):
        return checks
    outcomes = {check.name: check.outcome for check in checks if check.name in AMOUNT_FIELDS}
    differing = [name for name, outcome in outcomes.items() if outcome is Outcome.DIFFERS]
    agreeing = [name for name, outcome in outcomes.items() if outcome is Outcome.AGREES]
    if len(differing) != 1 or len(agreeing) != len(AMOUNT_FIELDS) - 1:
        return checks
    return [replace(c, outcome=Outcome.IMPLIED) if c.name == differing[0] else c for c in checks]


def _issue(check: FieldCheck) -> ValidationIssue | None:
    label = _LABELS[check.name]
    xml_value = _shown_value(check.xml_value)
    if check.outcome is Outcome.DIFFERS:
        message = f"The e-invoice XML says {label} {xml_value} but the page shows {_shown_value(check.page_value)}"
        return ValidationIssue(code=IssueCode.EINVOICE_PAGE_MISMATCH, message=message, field=check.name)
    if check.outcome is Outcome.NOT_PRINTED and check.name in MUST_BE_PRINTED:
        message = f"The e-invoice XML says {label} {xml_value}, which is printed nowhere on the page"
        return ValidationIssue(code=IssueCode.EINVOICE_NOT_ON_PAGE, message=message, field=check.name)
    return None


def compare_with_page(
    reading: EInvoiceReading, page: ExtractionResult, pages: list[PageText]
) -> tuple[list[FieldCheck], list[ValidationIssue]]:
    """Each XML header value checked against the page, and the issues that keep the record from acceptance."""
    facts = PageFacts.of(pages)
    checks = [check_field(name, values, page, facts) for name, values in _candidates(reading).items()]
    if page.text_source is TextSource.OCR:  # a text layer prints what the issuer wrote: no misread to settle
        checks = settle_by_arithmetic(checks, reading)
    issues = [issue for check in checks if (issue := _issue(check)) is not None]
    rate_issue = _tax_rate_issue(reading, facts)
    return checks, [*issues, *([rate_issue] if rate_issue else [])]


def without_page(reading: EInvoiceReading) -> list[FieldCheck]:
    """A standalone XML file: nothing to compare with."""
    return [FieldCheck(name, values[0], Outcome.NO_PAGE) for name, values in _candidates(reading).items()]


def _field_value(check: FieldCheck) -> FieldValue:
    """The XML's value; where the page's label reading found one, its place and printed text (which, when
    the two differ, shows the reviewer the page's value beside the XML's)."""
    evidence = check.evidence if check.outcome in (Outcome.AGREES, Outcome.IMPLIED, Outcome.DIFFERS) else None
    return FieldValue(
        name=check.name,
        value=check.xml_value.isoformat() if isinstance(check.xml_value, date) else str(check.xml_value),
        confidence=CONFIDENCE[check.outcome],
        extractor=EXTRACTOR_NAME,
        page=evidence.page if evidence else None,
        bbox=evidence.bbox if evidence else None,
        raw_text=evidence.raw_text if evidence else None,
        # An XML element names the field and types its value: label, shape and, for the currency, the code.
        evidence=FieldEvidence(support=[Support.LABEL, Support.SHAPE, Support.PRINTED_MARK]),
    )


def describe_checks(reading: EInvoiceReading, checks: list[FieldCheck], text_source: TextSource | None) -> str:
    """One sentence saying what the XML is and how the page bears on it: why the confidence is what it is."""
    data = reading.data
    valid = f", {reading.schema_note}" if reading.schema_note else ""
    head = f"{data.syntax.value.upper()} XML ({data.profile}{valid}) from {data.source}"
    if text_source is None:
        return f"{head}; a standalone file, no page to compare with"
    parts = [head, f"page read {'from its text layer' if text_source is TextSource.TEXT_LAYER else 'by OCR'}"]
    for outcome in (Outcome.AGREES, Outcome.IMPLIED, Outcome.PRINTED, Outcome.NOT_PRINTED, Outcome.DIFFERS):
        names = [check.name for check in checks if check.outcome is outcome]
        if names:
            parts.append(f"{outcome.value}: {', '.join(names)}")
    return "; ".join(parts)


def einvoice_result(
    reading: EInvoiceReading,
    checks: list[FieldCheck],
    issues: list[ValidationIssue],
    text_source: TextSource | None,
) -> ExtractionResult:
    """The XML's invoice as an extraction result: fields carry how the page bore on them."""
    return ExtractionResult(
        invoice=reading.invoice,
        fields={check.name: _field_value(check) for check in checks},
        extractor=EXTRACTOR_NAME,
        text_source=text_source or TextSource.TEXT_LAYER,
        issues=[*reading.issues, *issues],
    )
