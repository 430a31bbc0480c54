"""Score output records against ground truth files and measure how well confidence predicts correctness.

``evaluate(truth_dir, out_dir)`` is the one entry point: header-field accuracy by document kind and by
layout family, line-item precision/recall/F1, straight-through and auto-accept error rates, the
inconsistent invoices' routing, and (confidence, all header fields right) pairs for calibration.
``choose_threshold`` turns those pairs into a threshold (devtools/diagram.py draws them; devtools/calibrate.py
fits the calibration table from the same matching).
"""

from __future__ import annotations

import difflib
import glob
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
from pydantic import BaseModel, Field

from schemas import HEADER_FIELDS

# The header fields the foundation issue scores; the customer is kept out, as the benchmarks rarely give it.
SCORED_HEADER_FIELDS: tuple[str, ...] = tuple(name for name in HEADER_FIELDS if name != "customer_name")
# Reported beside the scored fields, but never part of header accuracy or the auto-accept error rate.
REPORTED_FIELDS: tuple[str, ...] = (*SCORED_HEADER_FIELDS, "customer_name")
_MONEY_FIELDS = frozenset({"subtotal", "tax", "total"})
_DATE_FIELDS = frozenset({"invoice_date", "due_date"})

TRUTH_SUFFIX = ".truth.json"
KIND_ORDER: tuple[str, ...] = ("all", "born_digital", "clean_scan", "hard_scan", "scanned")
_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
# About one OCR slip per ten characters: one wrong character in ten scores 0.9, two score 0.8.
DESCRIPTION_MATCH_RATIO = 0.9
DEFAULT_TARGET_ERROR_RATE = 0.01


class FieldScore(BaseModel):
    correct: int = 0
    scored: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else 0.0


class GroupScore(BaseModel):
    documents: int = 0
    fields: dict[str, FieldScore] = Field(default_factory=dict)

    @property
    def header_accuracy(self) -> float:
        scored_fields = [score for name, score in self.fields.items() if name in SCORED_HEADER_FIELDS]
        correct = sum(score.correct for score in scored_fields)
        scored = sum(score.scored for score in scored_fields)
        return correct / scored if scored else 0.0

    def add(self, field: str, correct: bool) -> None:
        score = self.fields.setdefault(field, FieldScore())
        score.scored += 1
        score.correct += int(correct)


class LineItemScore(BaseModel):
    """Micro-averaged over the documents whose truth lists line items."""

    documents: int = 0
    truth_items: int = 0
    predicted_items: int = 0
    matched_items: int = 0

    @property
    def precision(self) -> float:
        return self.matched_items / self.predicted_items if self.predicted_items else 0.0

    @property
    def recall(self) -> float:
        return self.matched_items / self.truth_items if self.truth_items else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def add(self, truth_items: int, predicted_items: int, matched_items: int) -> None:
        self.documents += 1
        self.truth_items += truth_items
        self.predicted_items += predicted_items
        self.matched_items += matched_items


class CalibrationPoint(BaseModel):
    source: str
    confidence: float
    correct: bool = Field(description="Every scored header field in the truth was extracted right")
    status: str


class ReliabilityBin(BaseModel):
    lower: float
    upper: float
    count: int = 0
    correct: int = 0
    confidence_sum: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else 0.0

    @property
    def mean_confidence(self) -> float:
        return self.confidence_sum / self.count if self.count else 0.0


class AcceptanceCounts(BaseModel):
    """Documents routed, how many were auto-accepted, and how many of those had a header field wrong."""

    documents: int = 0
    accepted: int = 0
    accepted_wrong: int = 0

    @property
    def straight_through_rate(self) -> float:
        return self.accepted / self.documents if self.documents else 0.0

    @property
    def error_rate(self) -> float:
        return self.accepted_wrong / self.accepted if self.accepted else 0.0


class ThresholdChoice(AcceptanceCounts):
    """The lowest auto-accept threshold whose measured error rate meets the target, and what it yields."""

    target_error_rate: float
    threshold: float | None = Field(description="None when no threshold accepts anything within the target")


class EvaluationReport(BaseModel):
    groups: dict[str, GroupScore] = Field(default_factory=dict)
    layouts: dict[str, GroupScore] = Field(default_factory=dict)
    line_items: dict[str, LineItemScore] = Field(default_factory=dict)
    mismatches: list[dict[str, Any]] = Field(default_factory=list)
    scored_documents: int = 0
    accepted_documents: int = 0
    accepted_with_wrong_field: int = 0
    missing: list[str] = Field(default_factory=list, description="Truth files with no output row")
    unscored_rows: int = Field(default=0, description="Output rows that no truth file matches")
    inconsistent_documents: int = 0
    inconsistent_routed_to_review: int = 0
    inconsistent_not_routed: list[str] = Field(default_factory=list)
    calibration: list[CalibrationPoint] = Field(default_factory=list)

    @property
    def straight_through_rate(self) -> float:
        return self.accepted_documents / self.scored_documents if self.scored_documents else 0.0

    @property
    def auto_accept_error_rate(self) -> float:
        """Share of auto-accepted records with any scored header field wrong: the number that matters."""
        return self.accepted_with_wrong_field / self.accepted_documents if self.accepted_documents else 0.0

    @property
    def calibration_pairs(self) -> list[tuple[float, bool]]:
        return [(point.confidence, point.correct) for point in self.calibration]

    def field_failures(self) -> list[tuple[str, int, int]]:
        """(field, wrong, scored) over all documents, most failures first."""
        overall = self.groups.get("all", GroupScore())
        failures = [(name, score.scored - score.correct, score.scored) for name, score in overall.fields.items()]
        return sorted(failures, key=lambda item: (-item[1], item[0]))

    def to_json_dict(self, target_error_rate: float = DEFAULT_TARGET_ERROR_RATE, bins: int = 10) -> dict[str, Any]:
        """Every figure as plain JSON types, for `ledgerlens eval --json` and benchmark files."""

        def group_json(group: GroupScore) -> dict[str, Any]:
            return {
                "documents": group.documents,
                "header_accuracy": round(group.header_accuracy, 4),
                "fields": {
                    name: {"accuracy": round(score.accuracy, 4), "correct": score.correct, "scored": score.scored}
                    for name, score in group.fields.items()
                },
            }

        return {
            "scored_documents": self.scored_documents,
            "missing_documents": self.missing,
            "unscored_rows": self.unscored_rows,
            "by_kind": {name: group_json(self.groups[name]) for name in ordered_kinds(self.groups)},
            "by_layout": {name: group_json(group) for name, group in sorted(self.layouts.items())},
            "line_items": {
                name: {
                    "documents": score.documents,
                    "truth_items": score.truth_items,
                    "predicted_items": score.predicted_items,
                    "matched_items": score.matched_items,
                    "precision": round(score.precision, 4),
                    "recall": round(score.recall, 4),
                    "f1": round(score.f1, 4),
                }
                for name, score in ((n, self.line_items[n]) for n in ordered_kinds(self.line_items))
            },
            "accepted_documents": self.accepted_documents,
            "accepted_with_wrong_field": self.accepted_with_wrong_field,
            "straight_through_rate": round(self.straight_through_rate, 4),
            "auto_accept_error_rate": round(self.auto_accept_error_rate, 4),
            "inconsistent": {
                "documents": self.inconsistent_documents,
                "routed_to_review": self.inconsistent_routed_to_review,
                "not_routed": self.inconsistent_not_routed,
            },
            "calibration": self._calibration_json(target_error_rate, bins),
            "field_failures": [
                {"field": name, "wrong": wrong, "scored": scored} for name, wrong, scored in self.field_failures()
            ],
            "mismatches": self.mismatches,
        }

    def _calibration_json(self, target_error_rate: float, bins: int) -> dict[str, Any]:
        choice = choose_threshold(self.calibration_pairs, target_error_rate)
        return {
            "expected_calibration_error": round(expected_calibration_error(self.calibration_pairs, bins), 4),
            "bins": [
                {
                    "lower": round(item.lower, 4),
                    "upper": round(item.upper, 4),
                    "count": item.count,
                    "accuracy": round(item.accuracy, 4),
                    "mean_confidence": round(item.mean_confidence, 4),
                }
                for item in reliability_bins(self.calibration_pairs, bins)
            ],
            "suggested_threshold": {
                "target_error_rate": choice.target_error_rate,
                "threshold": choice.threshold,
                "straight_through_rate": round(choice.straight_through_rate, 4),
                "error_rate": round(choice.error_rate, 4),
                "accepted": choice.accepted,
                "documents": choice.documents,
            },
            "points": [point.model_dump() for point in self.calibration],
        }


def ordered_kinds(groups: Iterable[str]) -> list[str]:
    """Known kinds in a fixed order (aggregate last), any other kind after them alphabetically."""
    names = set(groups)
    known = [name for name in KIND_ORDER if name in names]
    return known + sorted(names - set(KIND_ORDER))


def truth_path_for(source: str) -> Path:
    path = Path(source)
    return path.with_name(f"{path.stem}{TRUTH_SUFFIX}")


def _normalise_text(value: object) -> str:
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return re.sub(r"\s+", " ", text).strip(" .,:;")


def values_match(field: str, predicted: object, expected: object) -> bool:
    if predicted is None or expected is None:
        return predicted is None and expected is None
    if field in _MONEY_FIELDS:
        return _amounts_equal(predicted, expected)
    if field in _DATE_FIELDS:
        predicted_text = predicted.isoformat() if isinstance(predicted, date) else str(predicted)
        return predicted_text[:10] == str(expected)[:10]
    return _normalise_text(predicted) == _normalise_text(expected)


def _amounts_equal(predicted: object, expected: object) -> bool:
    if predicted is None or expected is None:
        return predicted is None and expected is None
    try:
        return Decimal(str(predicted)) == Decimal(str(expected))
    except InvalidOperation:
        return False


def document_kind(truth: Mapping[str, Any], document: str | None = None) -> str:
    """The truth's kind; otherwise images and documents described as scans are "scanned", PDFs born-digital.

    Real benchmark truth has no kind key, and its scanned PDFs (a DocILE archive scan) say so only in
    `doc_type`, so the file extension alone would call them born-digital.
    """
    kind = truth.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    name = str(truth.get("document") or document or "")
    doc_type = str(truth.get("doc_type") or "").casefold()
    if Path(name).suffix.lower() in _IMAGE_SUFFIXES or "scan" in doc_type:
        return "scanned"
    return "born_digital"


def kind_groups(kind: str) -> list[str]:
    """Every group a document of this kind counts in: all, its own kind and, for any scan, "scanned"."""
    groups = ["all", kind]
    if kind != "born_digital" and kind != "scanned":
        groups.append("scanned")
    return groups


def normalise_description(value: object) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def descriptions_match(predicted: object, expected: object) -> bool:
    left, right = normalise_description(predicted), normalise_description(expected)
    if left == right:
        return True
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio() >= DESCRIPTION_MATCH_RATIO


def line_items_match(predicted: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    return _amounts_equal(predicted.get("amount"), expected.get("amount")) and descriptions_match(
        predicted.get("description"), expected.get("description")
    )


def match_line_items(predicted: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> int:
    """Size of a maximum one-to-one matching between predicted and truth items (augmenting paths).

    Greedy can pair a predicted item with the wrong one of two similar truth items and strand the other;
    an optimal matching counts every pair that can be matched at once.
    """
    candidates = [[j for j, item in enumerate(predicted) if line_items_match(item, truth)] for truth in expected]
    owner: dict[int, int] = {}

    def augment(truth_index: int, seen: set[int]) -> bool:
        for j in candidates[truth_index]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = truth_index
                return True
        return False

    return sum(augment(index, set()) for index in range(len(expected)))


def _truth_stem(path: Path) -> str:
    return path.name[: -len(TRUTH_SUFFIX)]


def _read_dataset(path: Path) -> list[dict[str, Any]]:
    if not path.is_dir() or not any(path.rglob("*.parquet")):
        return []
    return ds.dataset(str(path), format="parquet").to_table().to_pylist()


def _common_suffix_length(left: Path, right: Path) -> int:
    count = 0
    for a, b in zip(reversed(left.parts), reversed(right.parts), strict=False):
        if a != b:
            break
        count += 1
    return count


class _TruthIndex:
    """Finds a source's truth file: beside the source, or by file name stem anywhere in a truth folder."""

    def __init__(self, truth_dir: Path | None) -> None:
        self.truth_dir = truth_dir
        self.by_stem: dict[str, list[Path]] = {}
        if truth_dir is not None:
            for path in sorted(truth_dir.rglob(f"*{TRUTH_SUFFIX}")):
                self.by_stem.setdefault(_truth_stem(path), []).append(path.resolve())

    def all_truth_files(self) -> list[Path]:
        return sorted(path for paths in self.by_stem.values() for path in paths)

    def find(self, source: str) -> Path | None:
        beside = truth_path_for(source)
        if self.truth_dir is None:
            return beside.resolve() if beside.is_file() else None
        candidates = self.by_stem.get(Path(source).stem, [])
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        # The same stem in two sub-folders: the truth beside the source wins, else the closest path.
        resolved = beside.resolve()
        if resolved in candidates:
            return resolved
        source_path = Path(source).resolve()
        return max(candidates, key=lambda path: _common_suffix_length(path.parent, source_path.parent))


def _document_beside(truth_file: Path) -> str | None:
    """The document a truth file describes, when its truth does not name it and no row points to it."""
    stem = _truth_stem(truth_file)
    for path in sorted(truth_file.parent.glob(f"{glob.escape(stem)}.*")):
        if path.name != truth_file.name and not path.name.endswith(".json"):
            return path.name
    return None


def _load_truth(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a truth file must hold a JSON object")
    return data


def evaluate(truth_dir: Path | None, out_dir: Path) -> EvaluationReport:
    """Score every truth document against OUT's rows.

    With `truth_dir`, the documents are its `*.truth.json` files (searched recursively) and one without
    an output row counts as missing: every field wrong, not accepted, all its line items unfound. Without
    it, only rows whose source has a truth file beside it are scored and nothing can be missing.
    When several rows match one truth file (the document was regenerated into the same OUT), the
    latest processed one is scored.
    """
    out_dir = Path(out_dir)
    index = _TruthIndex(Path(truth_dir) if truth_dir is not None else None)
    rows = sorted(_read_dataset(out_dir / "invoices"), key=lambda row: str(row.get("processed_at") or ""))
    items_by_document: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(_read_dataset(out_dir / "line_items"), key=lambda item: item.get("line_no") or 0):
        items_by_document.setdefault(str(item["document_id"]), []).append(item)

    row_for_truth: dict[Path, dict[str, Any]] = {}
    unscored = 0
    for row in rows:
        matched = False
        # Identical bytes under another name are one row, so that name's truth is scored against it too.
        for source in [row["source"], *(row.get("duplicate_sources") or [])]:
            truth_file = index.find(source)
            if truth_file is not None:
                row_for_truth[truth_file] = row
                matched = True
        unscored += int(not matched)

    truth_files = index.all_truth_files() if truth_dir is not None else sorted(row_for_truth)
    report = EvaluationReport(unscored_rows=unscored)
    for truth_file in truth_files:
        _score_document(report, truth_file, _load_truth(truth_file), row_for_truth.get(truth_file), items_by_document)
    return report


def evaluate_output(out_dir: Path) -> EvaluationReport:
    """Header-field accuracy per document kind for every output row whose source has a truth file."""
    return evaluate(None, out_dir)


def _score_fields(
    report: EvaluationReport,
    groups: list[GroupScore],
    truth: dict[str, Any],
    row: dict[str, Any] | None,
    where: dict[str, str],
) -> bool:
    """Score each header field of one document; true when a scored field is wrong (mismatches noted)."""
    any_wrong = False
    for field in REPORTED_FIELDS:
        if field not in truth:
            continue
        correct = row is not None and values_match(field, row.get(field), truth[field])
        for group in groups:
            group.add(field, correct)
        if correct:
            continue
        if field in SCORED_HEADER_FIELDS:
            any_wrong = True
        if row is not None:
            report.mismatches.append(
                {
                    **where,
                    "field": field,
                    "predicted": None if row.get(field) is None else str(row.get(field)),
                    "expected": truth[field],
                }
            )
    return any_wrong


def _score_document(
    report: EvaluationReport,
    truth_file: Path,
    truth: dict[str, Any],
    row: dict[str, Any] | None,
    items_by_document: Mapping[str, list[dict[str, Any]]],
) -> None:
    source = str(row["source"]) if row is not None else str(truth_file)
    kind = document_kind(truth, Path(source).name if row is not None else _document_beside(truth_file))
    layout = str(truth.get("layout") or "unknown")
    groups = [report.groups.setdefault(name, GroupScore()) for name in kind_groups(kind)]
    groups.append(report.layouts.setdefault(layout, GroupScore()))
    for group in groups:
        group.documents += 1
    report.scored_documents += 1
    if row is None:
        report.missing.append(str(truth.get("document") or truth_file.name))
    status = str(row["status"]) if row is not None else "missing"
    accepted = status == "accepted"
    report.accepted_documents += int(accepted)

    any_wrong = _score_fields(report, groups, truth, row, {"source": source, "kind": kind, "layout": layout})
    report.accepted_with_wrong_field += int(accepted and any_wrong)

    truth_items = truth.get("line_items")
    if isinstance(truth_items, list):
        predicted = items_by_document.get(str(row["document_id"]), []) if row is not None else []
        matched = match_line_items(predicted, truth_items)
        for name in kind_groups(kind):
            report.line_items.setdefault(name, LineItemScore()).add(len(truth_items), len(predicted), matched)

    if truth.get("inconsistent") is True:
        report.inconsistent_documents += 1
        if status == "needs_review":
            report.inconsistent_routed_to_review += 1
        else:
            report.inconsistent_not_routed.append(source)

    if row is not None:
        report.calibration.append(
            CalibrationPoint(
                source=source, confidence=float(row.get("confidence") or 0.0), correct=not any_wrong, status=status
            )
        )


# ----------------------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------------------


def choose_threshold(
    pairs: Iterable[tuple[float, bool]], target_error_rate: float = DEFAULT_TARGET_ERROR_RATE
) -> ThresholdChoice:
    """The lowest threshold t such that records with confidence >= t are wrong at most `target_error_rate`.

    Candidates are the measured confidences themselves (a threshold between two of them accepts the same
    records as the higher one). The error rate need not fall monotonically as t rises, so every candidate
    is checked and the lowest that meets the target wins: it accepts the most records.
    Only confidence is simulated: a record with a blocking validation issue goes to review whatever the
    threshold, so on real routing the error rate can only be lower and straight-through lower too.
    """
    ordered = sorted(((float(confidence), bool(correct)) for confidence, correct in pairs), reverse=True)
    best = ThresholdChoice(
        target_error_rate=target_error_rate, threshold=None, documents=len(ordered), accepted=0, accepted_wrong=0
    )
    accepted = wrong = 0
    position = 0
    while position < len(ordered):
        threshold = ordered[position][0]
        # Records tied at the threshold are all accepted together (route_record accepts at equality).
        while position < len(ordered) and ordered[position][0] == threshold:
            accepted += 1
            wrong += int(not ordered[position][1])
            position += 1
        if wrong <= target_error_rate * accepted:
            best = ThresholdChoice(
                target_error_rate=target_error_rate,
                threshold=threshold,
                documents=len(ordered),
                accepted=accepted,
                accepted_wrong=wrong,
            )
    return best


def reliability_bins(pairs: Iterable[tuple[float, bool]], bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width confidence bins over [0, 1]; a confidence of exactly 1 falls in the last bin."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    result = [ReliabilityBin(lower=i / bins, upper=(i + 1) / bins) for i in range(bins)]
    for confidence, correct in pairs:
        position = min(max(int(confidence * bins), 0), bins - 1)
        result[position].count += 1
        result[position].correct += int(correct)
        result[position].confidence_sum += confidence
    return result


def expected_calibration_error(pairs: Iterable[tuple[float, bool]], bins: int = 10) -> float:
    """Count-weighted mean gap between each bin's mean confidence and its measured accuracy."""
    filled = [item for item in reliability_bins(pairs, bins) if item.count]
    total = sum(item.count for item in filled)
    if not total:
        return 0.0
    return sum(item.count * abs(item.accuracy - item.mean_confidence) for item in filled) / total
