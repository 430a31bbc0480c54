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
from pipeline.extract.reconcile import digits_look_alike
from pipeline.extract.rules import EXTRACTOR_NAME
from pipeline.parsing import find_amounts, find_currencies, find_dates, infer_decimal_separator
from pipeline.validate import money, validate_invoice
from schemas import (
    HEADER_FIELDS,
    ExtractionResult,
    FieldEvidence,
    FieldValue,
    Invoice,
    LineItem,
    PageText,
    Severity,
    Support,
    TextSource,
    ValidationIssue,
)
from schemas.vlm import VlmInvoice

AMOUNT_FIELDS = ("subtotal", "tax", "total")
CENT = Decimal("0.01")
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
    {"extractors_disagree", "possible_hallucination", "total_mismatch", "line_items_sum_mismatch"}
)
# Settled, but only by where the values stand on the page: worth a stronger model's reading when there is one.
WEAKLY_SETTLED_CODES = frozenset({"extractors_disagree_by_label"})
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
            return any(abs(amount - value) < CENT / 2 for _, _, amount in find_amounts(text, self.decimal_sep))
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
    return sum(issue.code == "line_item_arithmetic" for issue in validate_invoice(Invoice(line_items=items)))


def _label_score(hit: Hit) -> int:
    """+1 under the field's own label, -1 under another field's label, 0 with no label around."""
    return 1 if hit.near_label else -1 if hit.under_other_label else 0


def _same(name: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return abs(a - b) < CENT / 2
    if isinstance(a, str) and isinstance(b, str):
        return _alnum(a) == _alnum(b)
    return bool(a == b)


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _sums_hold(subtotal: Decimal | None, tax: Decimal | None, total: Decimal | None, items: Decimal | None) -> bool:
    if total is None:
        return False
    if subtotal is not None and abs(subtotal + (tax or Decimal(0)) - total) > CENT:
        return False
    if items is not None:
        net = subtotal if subtotal is not None else total - (tax or Decimal(0))
        if abs(items - net) > CENT:
            return False
    return subtotal is not None or items is not None


def _items_sum(items: list[LineItem]) -> Decimal | None:
    amounts = [item.amount for item in items]
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum((amount for amount in amounts if amount is not None), Decimal(0))


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


def _issue(code: str, name: str, message: str, severity: Severity = Severity.BLOCKING) -> ValidationIssue:
    return ValidationIssue(code=code, field=name, message=message, severity=severity)


def fuse(
    ocr: ExtractionResult, answer: VlmInvoice, pages: list[PageText], model: str, *, prefer_vlm: bool = False
) -> Fusion:
    """The fused extraction and the issues fusion raised (disagreements, possible hallucinations)."""
    evidence = PageEvidence(pages)
    fields: dict[str, FieldValue] = {}
    values: dict[str, Any] = {}
    issues: list[ValidationIssue] = []
    conflicts: dict[str, tuple[Any, Any, Hit]] = {}
    both = f"{EXTRACTOR_NAME}+vlm:{model}"

    for name in HEADER_FIELDS:
        ocr_field = ocr.fields.get(name)
        ocr_value = getattr(ocr.invoice, name)
        vlm_value = answer.value(name)
        if vlm_value is None:
            if ocr_field is not None and ocr_value is not None:
                fields[name], values[name] = ocr_field, ocr_value
            continue
        if _same(name, ocr_value, vlm_value) and ocr_field is not None:
            doubt = 1.0 - ocr_field.confidence
            fields[name] = ocr_field.model_copy(
                update={"confidence": round(1.0 - doubt * AGREEMENT_DOUBT_KEPT, 4), "extractor": both}
            )
            values[name] = ocr_value
            continue
        hit = evidence.find(name, vlm_value)
        if hit is None:
            issues.append(
                _issue(
                    "possible_hallucination",
                    name,
                    f"The model read the {name} as {_text(vlm_value)!r}, which the page text does not show; "
                    "it was not used. Check the page.",
                    Severity.WARNING,
                )
            )
            if ocr_field is not None and ocr_value is not None:
                fields[name], values[name] = ocr_field, ocr_value
            continue
        if ocr_value is None or ocr_field is None:
            confidence = VLM_ONLY_NEAR_LABEL if hit.near_label else VLM_ONLY_ELSEWHERE
            fields[name] = hit.bbox_field(name, _text(vlm_value), model, confidence)
            values[name] = vlm_value
            continue
        conflicts[name] = (ocr_value, vlm_value, hit)
        fields[name], values[name] = ocr_field, ocr_value

    ocr_items = ocr.invoice.line_items
    vlm_items = answer.to_invoice().line_items
    item_options = [ocr_items]
    printed = [item.amount is not None and evidence.find("total", item.amount) is not None for item in vlm_items]
    # A line amount the page text does not show counts only where OCR read that line with a resembling amount
    # (a slip on a scan); a line with no counterpart on the page is never used. Such items must also add up.
    all_ocr = all(page.source is not TextSource.TEXT_LAYER for page in pages)  # text-layer items are exact
    supported = all(
        seen or (all_ocr and _ocr_counterpart(item, ocr_items)) or evidence.misread_line(item) is not None
        for item, seen in zip(vlm_items, printed, strict=True)
    )
    if vlm_items and supported:
        item_options.append(vlm_items)
    items_source = ocr_items or (vlm_items if vlm_items and all(printed) else [])
    # Among item lists that both add up, OCR's comes first unless it has none (an empty list checks nothing)
    # or the model's has fewer broken lines (OCR's slips count as broken).
    ocr_slips = sum(issue.code == "line_amount_repaired" for issue in ocr.issues)
    prefer_model_items = len(item_options) > 1 and (
        not ocr_items or _line_problems(vlm_items) < _line_problems(ocr_items) + ocr_slips
    )
    amount_conflicts = [name for name in AMOUNT_FIELDS if name in conflicts]
    if amount_conflicts or len(item_options) > 1:
        # Try every mix of readings; the first mix the arithmetic confirms wins, fewest model values first.
        choices = [[(name, "ocr"), (name, "vlm")] for name in amount_conflicts]
        choices.append([("items", "ocr"), ("items", "vlm")][: len(item_options)])
        preferred_items = "vlm" if prefer_model_items else "ocr"

        def departures(mix: tuple[tuple[str, str], ...]) -> int:
            header = sum(pick == "vlm" for name, pick in mix if name != "items")
            return header + sum(pick != preferred_items for name, pick in mix if name == "items")

        mixes = sorted(itertools.product(*choices), key=departures)
        for mix in mixes:
            picks = dict(mix)
            trial = {
                name: conflicts[name][1] if picks.get(name) == "vlm" else values.get(name) for name in AMOUNT_FIELDS
            }
            items = item_options[1] if picks["items"] == "vlm" else ocr_items
            if not _sums_hold(trial["subtotal"], trial["tax"], trial["total"], _items_sum(items)):
                continue
            items_source = items
            for name in amount_conflicts:
                ocr_value, vlm_value, hit = conflicts.pop(name)
                if picks[name] == "vlm":
                    fields[name] = hit.bbox_field(name, _text(vlm_value), model, ARITHMETIC_DECIDED)
                    values[name] = vlm_value
                    winner = f"the model's {money(vlm_value)}"
                else:
                    confidence = min(fields[name].confidence, ARITHMETIC_DECIDED)
                    fields[name] = fields[name].model_copy(update={"confidence": confidence})
                    winner = f"OCR's {money(ocr_value)}"
                issues.append(
                    _issue(
                        "extractors_disagree_resolved",
                        name,
                        f"OCR read the {name} as {money(ocr_value)}, the model as {money(vlm_value)}; "
                        f"the arithmetic confirms {winner}.",
                        Severity.WARNING,
                    )
                )
            break

    for name, (ocr_value, vlm_value, hit) in list(conflicts.items()):
        # No arithmetic to decide: the labels around each value on the page do, when they point one way.
        ocr_hit = evidence.find(name, ocr_value)
        vlm_score = _label_score(hit)
        ocr_score = _label_score(ocr_hit) if ocr_hit is not None else 0
        if vlm_score == ocr_score:
            continue
        del conflicts[name]
        if vlm_score > ocr_score:
            fields[name] = hit.bbox_field(name, _text(vlm_value), model, LABEL_DECIDED)
            values[name] = vlm_value
            winner = f"the model's {_text(vlm_value)!r}"
        else:
            lowered = round(fields[name].confidence * LABEL_DECIDED_OCR_FACTOR, 4)
            fields[name] = fields[name].model_copy(update={"confidence": lowered})
            winner = f"OCR's {_text(ocr_value)!r}"
        issues.append(
            _issue(
                "extractors_disagree_by_label",
                name,
                f"OCR read the {name} as {_text(ocr_value)!r}, the model as {_text(vlm_value)!r}; the labels on "
                f"the page support {winner}.",
                Severity.WARNING,
            )
        )

    for name, (ocr_value, vlm_value, hit) in conflicts.items():
        ocr_field = fields[name]
        if prefer_vlm:
            fields[name] = hit.bbox_field(name, _text(vlm_value), model, ocr_field.confidence * UNDECIDED_FACTOR)
            values[name] = vlm_value
        else:
            lowered = round(ocr_field.confidence * UNDECIDED_FACTOR, 4)
            fields[name] = ocr_field.model_copy(update={"confidence": lowered})
        issues.append(
            _issue(
                "extractors_disagree",
                name,
                f"OCR read the {name} as {_text(ocr_value)!r}, the model as {_text(vlm_value)!r}, and the page "
                "gives no evidence which is right; check the page.",
            )
        )

    items_from_model = bool(items_source) and items_source is vlm_items
    if items_source:
        fields.pop("line_items", None)
        base = ocr.fields.get("line_items")
        if not items_from_model and base is not None:
            fields["line_items"] = base
        else:
            same = [item.amount for item in ocr_items] == [item.amount for item in vlm_items]
            fields["line_items"] = FieldValue(
                name="line_items",
                value=str(len(items_source)),
                confidence=0.9,
                extractor=both if same else f"vlm:{model}",
            )
    confirmed = _sums_hold(values.get("subtotal"), values.get("tax"), values.get("total"), _items_sum(items_source))

    def resolved(issue: ValidationIssue) -> bool:
        """An OCR issue the fused reading no longer has: items now read, or the model's reading (confirmed by
        the arithmetic) replaced what OCR misread or could not read."""
        fused_field = fields.get(issue.field) if issue.field else None
        from_model = fused_field is not None and f"vlm:{model}" in fused_field.extractor
        return (
            (issue.code == "no_line_items" and bool(items_source))
            or (issue.code == "line_amount_repaired" and items_from_model and confirmed)
            or (issue.code == "amount_repaired" and fused_field is not None and fused_field.extractor == both)
            or (
                issue.code in ("amount_repaired", "unreadable_value")
                and issue.field in AMOUNT_FIELDS
                and from_model
                and confirmed
            )
        )

    kept_issues = [issue for issue in ocr.issues if not resolved(issue)]
    invoice = Invoice.model_validate({**values, "line_items": items_source})
    fused = ExtractionResult(
        invoice=invoice, fields=fields, extractor=ocr.extractor, text_source=ocr.text_source, issues=kept_issues
    )
    agreed = all(
        _same(name, getattr(ocr.invoice, name), answer.value(name))
        for name in AMOUNT_FIELDS
        if getattr(ocr.invoice, name) is not None or answer.value(name) is not None
    )
    agreed = agreed and [i.amount for i in ocr_items] == [i.amount for i in vlm_items]
    return Fusion(fused, issues, amounts_agreed=agreed)
