"""Fuse the OCR reading with the model's answer, field by field, on evidence from the page itself.

- Both agree: the OCR field (with its box) is kept and its doubt shrinks.
- Only the model has a value: it is accepted only if the page text shows it (then its box is where).
- They disagree: amounts are decided by the arithmetic (subtotal + tax = total, items = subtotal); other
  fields by where each value stands on the page; with no deciding evidence the record goes to review.
- A model value found nowhere in the page text is flagged as a possible hallucination and never used.
  This is also the defence against instructions printed on the page ("set the total to 0").
- Line items: the model's list may replace OCR's only when it adds up (to the subtotal, or total - tax) and
  each of its amounts is printed on the page or stands, with the line's description, on an OCR'd page line
  whose amount OCR read with resembling digits (a scan slip). A line with no counterpart on the page keeps
  the whole list out; text-layer amounts are exact and never taken as slips.
- OCR's own issues that the fused reading resolves (no items, a repaired line, an amount it could not read
  that the model read and the arithmetic confirms) are dropped; validation then runs on the fused invoice.
Each field's ``extractor`` says which source won: ``rules``, ``vlm:<model>`` or ``rules+vlm:<model>``.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pipeline.extract.evidence import party_doubts
from pipeline.extract.labels import match_label
from pipeline.extract.layout import Phrase, Row, build_layout, horizontal_overlap
from pipeline.extract.rules import EXTRACTOR_NAME
from pipeline.money import digits_look_alike, format_money, same_amount, sum_amounts, sums_hold
from pipeline.parsing import find_amounts, find_currencies, find_dates, infer_decimal_separator
from pipeline.validate import validate_invoice
from schemas import (
    HEADER_FIELDS,
    ExtractionResult,
    FieldEvidence,
    FieldValue,
    Invoice,
    IssueCode,
    LineItem,
    PageText,
    Severity,
    Support,
    TextSource,
    ValidationIssue,
)
from schemas.vlm import VlmInvoice

AMOUNT_FIELDS = ("subtotal", "tax", "total")
# Share of the OCR field's doubt left when the model read the same value independently.
AGREEMENT_DOUBT_KEPT = 0.4
# Confidence of a value only the model read, found on the page beside its label / elsewhere on the page.
VLM_ONLY_NEAR_LABEL = 0.85
VLM_ONLY_ELSEWHERE = 0.6
ARITHMETIC_DECIDED = 0.9
UNDECIDED_FACTOR = 0.6
# A disagreement the labels settle: the model's value under its own label / OCR's value kept, a little doubted.
LABEL_DECIDED = 0.8
LABEL_DECIDED_OCR_FACTOR = 0.9
UNRESOLVED_CODES = frozenset(
    {
        IssueCode.EXTRACTORS_DISAGREE,
        IssueCode.POSSIBLE_HALLUCINATION,
        IssueCode.TOTAL_MISMATCH,
        IssueCode.LINE_ITEMS_SUM_MISMATCH,
    }
)
# Settled, but only by where the values stand on the page: worth a stronger model's reading when there is one.
WEAKLY_SETTLED_CODES = frozenset({IssueCode.EXTRACTORS_DISAGREE_BY_LABEL})
# A model line whose amount the page text does not show may still stand on a page line OCR misread: that
# line must carry (most of) the model's description, in order, and an amount whose digits resemble it.
MIN_DESCRIPTION_COVERAGE = 0.8
MIN_DESCRIPTION_CHARS = 4


def _alnum(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


@dataclass(frozen=True)
class Hit:
    """Where the page shows a value: its phrase (or whole row) and the fields the labels around it name."""

    row: Row
    phrase: Phrase
    labels: frozenset[str]
    field: str

    @property
    def near_label(self) -> bool:
        return self.field in self.labels

    @property
    def under_other_label(self) -> bool:
        return bool(self.labels) and self.field not in self.labels

    def bbox_field(self, name: str, value: str, model: str, confidence: float) -> FieldValue:
        # The model's value stands on the page: its evidence is where it stands (beside this field's
        # label or not) and, for a party, whether it reads as a name; routing decides from it.
        support = [Support.SHAPE, *([Support.LABEL] if self.near_label else [])]
        doubts = party_doubts(name, value, None) if name in ("vendor_name", "customer_name") else []
        return FieldValue(
            evidence=FieldEvidence(support=support, doubts=doubts),
            name=name,
            value=value,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            extractor=f"vlm:{model}",
            page=self.row.page_no,
            bbox=self.phrase.bbox(),
            raw_text=self.phrase.text,
        )


class PageEvidence:
    """Looks values up in the page text and says which labels stand beside or above them."""

    def __init__(self, pages: list[PageText]) -> None:
        self.rows = [row for page in pages for row in build_layout(page).rows]
        self.decimal_sep = infer_decimal_separator(row.text for row in self.rows)
        self.ocr_pages = {page.page_no for page in pages if page.source is not TextSource.TEXT_LAYER}

    def misread_line(self, item: LineItem) -> Row | None:
        """An OCR'd row that carries the item's description and an amount whose digits resemble the item's:
        the line the model read, where OCR slipped on the amount. Never a text-layer row (printed exactly)."""
        if item.amount is None or not item.description:
            return None
        for row in self.rows:
            if row.page_no not in self.ocr_pages or not _covers(item.description, row.text):
                continue
            if any(digits_look_alike(read, item.amount) for _, _, read in find_amounts(row.text, self.decimal_sep)):
                return row
        return None

    def _labels(self, index: int, phrase: Phrase) -> frozenset[str]:
        """Labels at the start of the phrase, in the nearest phrase to its left, or in a phrase just above it."""
        row = self.rows[index]
        nearby = [phrase]
        left = [p for p in row.phrases if p.x1 <= phrase.x0]
        if left:
            nearby.append(max(left, key=lambda p: p.x1))
        if index > 0 and self.rows[index - 1].page_no == row.page_no:
            above = self.rows[index - 1]
            nearby += [p for p in above.phrases if horizontal_overlap(p.x0, p.x1, phrase.x0, phrase.x1) > 0.3]
        found = (match_label(p.text) for p in nearby)
        return frozenset(label.field for label in found if label is not None)

    def _matches(self, name: str, value: Any, text: str) -> bool:
        if name in AMOUNT_FIELDS:
            return any(same_amount(amount, value) for _, _, amount in find_amounts(text, self.decimal_sep))
        if isinstance(value, date):
            return any(found == value for order in (None, True, False) for _, _, found in find_dates(text, order))
        if name == "currency":
            return value in find_currencies(text) or re.search(rf"\b{re.escape(str(value))}\b", text) is not None
        wanted = _alnum(str(value))
        if len(wanted) < 4:  # a short value counts only as a whole word, not inside any longer one
            return wanted in {_alnum(word) for word in text.split()}
        return wanted in _alnum(text)

    def find(self, name: str, value: Any) -> Hit | None:
        """Where the page shows the value: first a place its own label names, else the first place at all."""
        first: Hit | None = None
        for index, row in enumerate(self.rows):
            if not self._matches(name, value, row.text):
                continue
            phrases = [p for p in row.phrases if self._matches(name, value, p.text)]
            if not phrases:  # the value spans phrases: the row is the place
                first_phrase = row.phrases[0]
                phrases = [Phrase(row.words, row.page_no, first_phrase.page_width, first_phrase.page_height, index)]
            for phrase in phrases:
                hit = Hit(row, phrase, self._labels(index, phrase), name)
                if hit.near_label:
                    return hit
                first = first or hit
        return first


def _covers(description: str, text: str) -> bool:
    """Most of the description stands in the text, in order, in runs of three or more characters."""
    wanted = _alnum(description)
    if len(wanted) < MIN_DESCRIPTION_CHARS:
        return False
    matcher = difflib.SequenceMatcher(None, wanted, _alnum(text), autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks() if block.size >= 3)
    return matched >= MIN_DESCRIPTION_COVERAGE * len(wanted)


def _ocr_counterpart(item: LineItem, ocr_items: list[LineItem]) -> bool:
    """OCR read a line with the item's description and an amount that resembles the item's digit for digit."""
    if item.amount is None or not item.description:
        return False
    return any(
        other.amount is not None
        and other.description
        and _covers(item.description, other.description)
        and digits_look_alike(other.amount, item.amount)
        for other in ocr_items
    )


def _line_problems(items: list[LineItem]) -> int:
    """Lines whose quantity x unit price is not their amount."""
    return sum(issue.code == IssueCode.LINE_ITEM_ARITHMETIC for issue in validate_invoice(Invoice(line_items=items)))


def _label_score(hit: Hit) -> int:
    """+1 under the field's own label, -1 under another field's label, 0 with no label around."""
    return 1 if hit.near_label else -1 if hit.under_other_label else 0


def _same(name: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return same_amount(a, b)
    if isinstance(a, str) and isinstance(b, str):
        return _alnum(a) == _alnum(b)
    return bool(a == b)


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass
class Fusion:
    result: ExtractionResult
    issues: list[ValidationIssue] = field(default_factory=list)
    amounts_agreed: bool = False  # both readers saw the same amounts and line amounts

    @property
    def unresolved(self) -> bool:
        return any(issue.code in UNRESOLVED_CODES for issue in self.issues)

    def needs_stronger_model(self, checks: list[ValidationIssue]) -> bool:
        """Worth asking tier 2: readings disagree or a value is unsupported, or the sums fail while the
        readers disagree on the amounts. Sums that fail on amounts both read alike are the document's own
        error (a person decides); a stronger model would only read them alike again."""
        if self.unresolved or any(issue.code in WEAKLY_SETTLED_CODES for issue in self.issues):
            return True
        return not self.amounts_agreed and any(issue.code in UNRESOLVED_CODES for issue in checks)


def _issue(code: IssueCode, name: str, message: str, severity: Severity = Severity.BLOCKING) -> ValidationIssue:
    return ValidationIssue(code=code, field=name, message=message, severity=severity)


@dataclass
class _Draft:
    """The fused reading as it is built: fields and values so far, fusion's issues, undecided disagreements."""

    model: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)
    conflicts: dict[str, tuple[Any, Any, Hit]] = field(default_factory=dict)

    @property
    def both(self) -> str:
        return f"{EXTRACTOR_NAME}+vlm:{self.model}"

    def keep(self, name: str, ocr_field: FieldValue | None, ocr_value: Any) -> None:
        if ocr_field is not None and ocr_value is not None:
            self.fields[name], self.values[name] = ocr_field, ocr_value

    def take_model(self, name: str, value: Any, hit: Hit, confidence: float) -> None:
        self.fields[name] = hit.bbox_field(name, _text(value), self.model, confidence)
        self.values[name] = value

    def doubt(self, name: str, confidence: float) -> None:
        self.fields[name] = self.fields[name].model_copy(update={"confidence": confidence})


def _fuse_header(draft: _Draft, name: str, ocr: ExtractionResult, vlm_value: Any, evidence: PageEvidence) -> None:
    """One header field: agreement raises OCR's confidence, a model-only value must be on the page, a
    disagreement waits for the arithmetic or the labels."""
    ocr_field, ocr_value = ocr.fields.get(name), getattr(ocr.invoice, name)
    if vlm_value is None:
        draft.keep(name, ocr_field, ocr_value)
        return
    if _same(name, ocr_value, vlm_value) and ocr_field is not None:
        doubt = 1.0 - ocr_field.confidence
        draft.fields[name] = ocr_field.model_copy(
            update={"confidence": round(1.0 - doubt * AGREEMENT_DOUBT_KEPT, 4), "extractor": draft.both}
        )
        draft.values[name] = ocr_value
        return
    hit = evidence.find(name, vlm_value)
    if hit is None:
        draft.issues.append(
            _issue(
                IssueCode.POSSIBLE_HALLUCINATION,
                name,
                f"The model read the {name} as {_text(vlm_value)!r}, which the page text does not show; "
                "it was not used. Check the page.",
                Severity.WARNING,
            )
        )
        draft.keep(name, ocr_field, ocr_value)
        return
    if ocr_value is None or ocr_field is None:
        draft.take_model(name, vlm_value, hit, VLM_ONLY_NEAR_LABEL if hit.near_label else VLM_ONLY_ELSEWHERE)
        return
    draft.conflicts[name] = (ocr_value, vlm_value, hit)
    draft.keep(name, ocr_field, ocr_value)


@dataclass(frozen=True)
class _ItemChoice:
    """The line-item lists fusion may choose between (OCR's first) and which one it leans to."""

    options: list[list[LineItem]]
    default: list[LineItem]  # the list kept when the arithmetic settles nothing
    prefer_model: bool


def _item_choice(
    ocr: ExtractionResult, vlm_items: list[LineItem], pages: list[PageText], evidence: PageEvidence
) -> _ItemChoice:
    ocr_items = ocr.invoice.line_items
    options = [ocr_items]
    printed = [item.amount is not None and evidence.find("total", item.amount) is not None for item in vlm_items]
    # A line amount the page text does not show counts only where OCR read that line with a resembling amount
    # (a slip on a scan); a line with no counterpart on the page is never used. Such items must also add up.
    all_ocr = all(page.source is not TextSource.TEXT_LAYER for page in pages)  # text-layer items are exact
    supported = all(
        seen or (all_ocr and _ocr_counterpart(item, ocr_items)) or evidence.misread_line(item) is not None
        for item, seen in zip(vlm_items, printed, strict=True)
    )
    if vlm_items and supported:
        options.append(vlm_items)
    default = ocr_items or (vlm_items if vlm_items and all(printed) else [])
    # Among item lists that both add up, OCR's comes first unless it has none (an empty list checks nothing)
    # or the model's has fewer broken lines (OCR's slips count as broken).
    ocr_slips = sum(issue.code == IssueCode.LINE_AMOUNT_REPAIRED for issue in ocr.issues)
    prefer_model = len(options) > 1 and (
        not ocr_items or _line_problems(vlm_items) < _line_problems(ocr_items) + ocr_slips
    )
    return _ItemChoice(options, default, prefer_model)


def _arithmetic_mixes(amount_conflicts: list[str], choice: _ItemChoice) -> list[tuple[tuple[str, str], ...]]:
    """Every mix of readings (OCR's or the model's per disputed amount, and per item list), fewest model
    values first."""
    choices = [[(name, "ocr"), (name, "vlm")] for name in amount_conflicts]
    choices.append([("items", "ocr"), ("items", "vlm")][: len(choice.options)])
    preferred_items = "vlm" if choice.prefer_model else "ocr"

    def departures(mix: tuple[tuple[str, str], ...]) -> int:
        header = sum(pick == "vlm" for name, pick in mix if name != "items")
        return header + sum(pick != preferred_items for name, pick in mix if name == "items")

    return sorted(itertools.product(*choices), key=departures)


def _arithmetic_settles(draft: _Draft, name: str, use_model: bool) -> None:
    ocr_value, vlm_value, hit = draft.conflicts.pop(name)
    if use_model:
        draft.take_model(name, vlm_value, hit, ARITHMETIC_DECIDED)
        winner = f"the model's {format_money(vlm_value)}"
    else:
        draft.doubt(name, min(draft.fields[name].confidence, ARITHMETIC_DECIDED))
        winner = f"OCR's {format_money(ocr_value)}"
    draft.issues.append(
        _issue(
            IssueCode.EXTRACTORS_DISAGREE_RESOLVED,
            name,
            f"OCR read the {name} as {format_money(ocr_value)}, the model as {format_money(vlm_value)}; "
            f"the arithmetic confirms {winner}.",
            Severity.WARNING,
        )
    )


def _settle_by_arithmetic(draft: _Draft, choice: _ItemChoice) -> list[LineItem]:
    """The first mix of readings the arithmetic confirms decides the disputed amounts and the item list;
    returns the items kept."""
    amount_conflicts = [name for name in AMOUNT_FIELDS if name in draft.conflicts]
    if not amount_conflicts and len(choice.options) < 2:
        return choice.default
    for mix in _arithmetic_mixes(amount_conflicts, choice):
        picks = dict(mix)
        trial = {
            name: draft.conflicts[name][1] if picks.get(name) == "vlm" else draft.values.get(name)
            for name in AMOUNT_FIELDS
        }
        items = choice.options[1] if picks["items"] == "vlm" else choice.options[0]
        if sums_hold(trial["subtotal"], trial["tax"], trial["total"], sum_amounts(i.amount for i in items)):
            for name in amount_conflicts:
                _arithmetic_settles(draft, name, picks[name] == "vlm")
            return items
    return choice.default


def _settle_by_labels(draft: _Draft, evidence: PageEvidence) -> None:
    """No arithmetic to decide: the labels around each value on the page do, when they point one way."""
    for name, (ocr_value, vlm_value, hit) in list(draft.conflicts.items()):
        ocr_hit = evidence.find(name, ocr_value)
        vlm_score = _label_score(hit)
        ocr_score = _label_score(ocr_hit) if ocr_hit is not None else 0
        if vlm_score == ocr_score:
            continue
        del draft.conflicts[name]
        if vlm_score > ocr_score:
            draft.take_model(name, vlm_value, hit, LABEL_DECIDED)
            winner = f"the model's {_text(vlm_value)!r}"
        else:
            draft.doubt(name, round(draft.fields[name].confidence * LABEL_DECIDED_OCR_FACTOR, 4))
            winner = f"OCR's {_text(ocr_value)!r}"
        draft.issues.append(
            _issue(
                IssueCode.EXTRACTORS_DISAGREE_BY_LABEL,
                name,
                f"OCR read the {name} as {_text(ocr_value)!r}, the model as {_text(vlm_value)!r}; the labels on "
                f"the page support {winner}.",
                Severity.WARNING,
            )
        )


def _leave_undecided(draft: _Draft, prefer_vlm: bool) -> None:
    """No evidence either way: confidence drops and a person decides (the model's value with prefer_vlm)."""
    for name, (ocr_value, vlm_value, hit) in draft.conflicts.items():
        confidence = draft.fields[name].confidence
        if prefer_vlm:
            draft.take_model(name, vlm_value, hit, confidence * UNDECIDED_FACTOR)
        else:
            draft.doubt(name, round(confidence * UNDECIDED_FACTOR, 4))
        draft.issues.append(
            _issue(
                IssueCode.EXTRACTORS_DISAGREE,
                name,
                f"OCR read the {name} as {_text(ocr_value)!r}, the model as {_text(vlm_value)!r}, and the page "
                "gives no evidence which is right; check the page.",
            )
        )


def _set_items_field(draft: _Draft, ocr: ExtractionResult, items: list[LineItem], vlm_items: list[LineItem]) -> None:
    """The line_items field follows the list kept: OCR's field for OCR's items, a new one for the model's."""
    if not items:
        return
    draft.fields.pop("line_items", None)
    base = ocr.fields.get("line_items")
    if items is not vlm_items and base is not None:
        draft.fields["line_items"] = base
        return
    same = [item.amount for item in ocr.invoice.line_items] == [item.amount for item in vlm_items]
    draft.fields["line_items"] = FieldValue(
        name="line_items",
        value=str(len(items)),
        confidence=0.9,
        extractor=draft.both if same else f"vlm:{draft.model}",
    )


def _resolved(issue: ValidationIssue, draft: _Draft, items: list[LineItem], from_model_items: bool) -> bool:
    """An OCR issue the fused reading no longer has: items now read, or the model's reading (confirmed by
    the arithmetic) replaced what OCR misread or could not read."""
    values = draft.values
    confirmed = sums_hold(
        values.get("subtotal"), values.get("tax"), values.get("total"), sum_amounts(i.amount for i in items)
    )
    fused_field = draft.fields.get(issue.field) if issue.field else None
    from_model = fused_field is not None and f"vlm:{draft.model}" in fused_field.extractor
    return (
        (issue.code == IssueCode.NO_LINE_ITEMS and bool(items))
        or (issue.code == IssueCode.LINE_AMOUNT_REPAIRED and from_model_items and confirmed)
        or (issue.code == IssueCode.AMOUNT_REPAIRED and fused_field is not None and fused_field.extractor == draft.both)
        or (
            issue.code in (IssueCode.AMOUNT_REPAIRED, IssueCode.UNREADABLE_VALUE)
            and issue.field in AMOUNT_FIELDS
            and from_model
            and confirmed
        )
    )


def _amounts_agreed(ocr: ExtractionResult, answer: VlmInvoice, vlm_items: list[LineItem]) -> bool:
    """Both readers saw the same amounts and the same line amounts."""
    agreed = all(
        _same(name, getattr(ocr.invoice, name), answer.value(name))
        for name in AMOUNT_FIELDS
        if getattr(ocr.invoice, name) is not None or answer.value(name) is not None
    )
    return agreed and [i.amount for i in ocr.invoice.line_items] == [i.amount for i in vlm_items]


def fuse(
    ocr: ExtractionResult, answer: VlmInvoice, pages: list[PageText], model: str, *, prefer_vlm: bool = False
) -> Fusion:
    """The fused extraction and the issues fusion raised (disagreements, possible hallucinations)."""
    evidence = PageEvidence(pages)
    draft = _Draft(model)
    for name in HEADER_FIELDS:
        _fuse_header(draft, name, ocr, answer.value(name), evidence)
    vlm_items = answer.to_invoice().line_items
    items = _settle_by_arithmetic(draft, _item_choice(ocr, vlm_items, pages, evidence))
    _settle_by_labels(draft, evidence)
    _leave_undecided(draft, prefer_vlm)
    _set_items_field(draft, ocr, items, vlm_items)

    from_model_items = bool(items) and items is vlm_items
    kept_issues = [issue for issue in ocr.issues if not _resolved(issue, draft, items, from_model_items)]
    invoice = Invoice.model_validate({**draft.values, "line_items": items})
    fused = ExtractionResult(
        invoice=invoice, fields=draft.fields, extractor=ocr.extractor, text_source=ocr.text_source, issues=kept_issues
    )
    return Fusion(fused, draft.issues, amounts_agreed=_amounts_agreed(ocr, answer, vlm_items))
