"""Score output records against ground truth files (<stem>.truth.json beside each input)."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
from pydantic import BaseModel, Field

from schemas import HEADER_FIELDS

# The header fields the foundation issue scores; the customer is kept out, as the benchmarks rarely give it.
SCORED_HEADER_FIELDS: tuple[str, ...] = tuple(name for name in HEADER_FIELDS if name != "customer_name")
_MONEY_FIELDS = frozenset({"subtotal", "tax", "total"})
_DATE_FIELDS = frozenset({"invoice_date", "due_date"})


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
        correct = sum(score.correct for score in self.fields.values())
        scored = sum(score.scored for score in self.fields.values())
        return correct / scored if scored else 0.0

    def add(self, field: str, correct: bool) -> None:
        score = self.fields.setdefault(field, FieldScore())
        score.scored += 1
        score.correct += int(correct)


class EvaluationReport(BaseModel):
    groups: dict[str, GroupScore] = Field(default_factory=dict)
    mismatches: list[dict[str, Any]] = Field(default_factory=list)
    scored_documents: int = 0
    accepted_documents: int = 0
    accepted_with_wrong_field: int = 0

    @property
    def straight_through_rate(self) -> float:
        return self.accepted_documents / self.scored_documents if self.scored_documents else 0.0

    @property
    def auto_accept_error_rate(self) -> float:
        """Share of auto-accepted records with any scored header field wrong: the number that matters."""
        return self.accepted_with_wrong_field / self.accepted_documents if self.accepted_documents else 0.0


def truth_path_for(source: str) -> Path:
    path = Path(source)
    return path.with_name(f"{path.stem}.truth.json")


def _normalise_text(value: object) -> str:
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return re.sub(r"\s+", " ", text).strip(" .,:;")


def values_match(field: str, predicted: object, expected: object) -> bool:
    if predicted is None or expected is None:
        return predicted is None and expected is None
    if field in _MONEY_FIELDS:
        try:
            return Decimal(str(predicted)) == Decimal(str(expected))
        except InvalidOperation:
            return False
    if field in _DATE_FIELDS:
        predicted_text = predicted.isoformat() if isinstance(predicted, date) else str(predicted)
        return predicted_text[:10] == str(expected)[:10]
    return _normalise_text(predicted) == _normalise_text(expected)


def kind_group(kind: str | None) -> str:
    if kind is None:
        return "kind not given"
    return "born_digital" if kind == "born_digital" else "scanned"


def evaluate_output(out_dir: Path) -> EvaluationReport:
    """Header-field accuracy per document kind for every output row whose source has a truth file."""
    report = EvaluationReport()
    invoices = Path(out_dir) / "invoices"
    if not invoices.is_dir():
        return report
    rows = ds.dataset(str(invoices), format="parquet").to_table().to_pylist()
    for row in rows:
        truth_file = truth_path_for(row["source"])
        if not truth_file.is_file():
            continue
        truth = json.loads(truth_file.read_text())
        groups = [report.groups.setdefault("all", GroupScore())]
        groups.append(report.groups.setdefault(kind_group(truth.get("kind")), GroupScore()))
        if truth.get("kind") and truth["kind"] != kind_group(truth["kind"]):
            groups.append(report.groups.setdefault(f"kind:{truth['kind']}", GroupScore()))
        for group in groups:
            group.documents += 1
        report.scored_documents += 1
        accepted = row.get("status") == "accepted"
        report.accepted_documents += int(accepted)
        any_wrong = False
        for field in SCORED_HEADER_FIELDS:
            if field not in truth:
                continue
            correct = values_match(field, row.get(field), truth[field])
            for group in groups:
                group.add(field, correct)
            if not correct:
                any_wrong = True
                report.mismatches.append(
                    {
                        "source": row["source"],
                        "field": field,
                        "predicted": str(row.get(field)),
                        "expected": truth[field],
                    }
                )
        report.accepted_with_wrong_field += int(accepted and any_wrong)
    return report
