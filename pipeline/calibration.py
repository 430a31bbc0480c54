"""Field confidence calibrated against measured accuracy.

Extraction scores a field from its cues (OCR confidence, label strength, agreement, arithmetic); those
scores rank well but are not probabilities. A calibration table, fitted on documents with ground truth,
maps each (field, text source, score bin) to how often such a field was right. The fit is isotonic
(a higher score never maps lower) and smoothed toward the raw score with a prior worth
``prior_strength`` documents, so a bin seen a handful of times keeps most of its raw score and only
plenty of evidence moves it far. The record's confidence (pipeline/route.py) is built from these
measured accuracies, and the auto-accept threshold is chosen on documents the table was not fitted on.

This module loads and applies the table; fitting it is dev tooling (devtools/calibrate.py). Refit with
``ledgerlens calibrate TRUTH_DIR OUT_DIR --write pipeline/calibration.json`` on an output produced from
documents that are not the ones the threshold is then measured on.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from pydantic import BaseModel, Field

BUILTIN_TABLE = Path(__file__).with_name("calibration.json")
# Lower edges of the raw-score bins; the last bin holds 0.95..1.0.
BIN_EDGES: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
DEFAULT_PRIOR_STRENGTH = 10.0


def _bin(raw: float) -> int:
    return max(index for index, edge in enumerate(BIN_EDGES) if raw >= edge)


def _pool_adjacent_violators(rates: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to `rates` (weighted least squares)."""
    blocks: list[tuple[float, float, int]] = []  # (mean, weight, length)
    for rate, weight in zip(rates, weights, strict=True):
        blocks.append((rate, weight, 1))
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, w1, n1), (m2, w2, n2) = blocks[-2], blocks[-1]
            total = w1 + w2
            merged = (m1 * w1 + m2 * w2) / total if total > 0 else (m1 + m2) / 2
            blocks[-2:] = [(merged, total, n1 + n2)]
    fitted: list[float] = []
    for mean, _weight, length in blocks:
        fitted.extend([mean] * length)
    return fitted


class FieldCalibration(BaseModel):
    correct: list[int] = Field(default_factory=lambda: [0] * len(BIN_EDGES))
    total: list[int] = Field(default_factory=lambda: [0] * len(BIN_EDGES))

    def add(self, raw: float, correct: bool) -> None:
        index = _bin(raw)
        self.total[index] += 1
        self.correct[index] += int(correct)

    def probability(self, raw: float, prior_strength: float) -> float:
        observed = [index for index, count in enumerate(self.total) if count]
        if not observed:
            return raw
        rates = [self.correct[i] / self.total[i] for i in observed]
        weights = [float(self.total[i]) for i in observed]
        fitted = dict(zip(observed, _pool_adjacent_violators(rates, weights), strict=True))
        index = _bin(raw)
        if index not in fitted:
            return raw
        count = self.total[index]
        return (fitted[index] * count + prior_strength * raw) / (count + prior_strength)


class CalibrationTable(BaseModel):
    extractor: str = Field(default="rules", description="Scores of fields from this extractor only were measured")
    prior_strength: float = DEFAULT_PRIOR_STRENGTH
    fitted_on: str = ""
    fields: dict[str, FieldCalibration] = Field(default_factory=dict)

    @staticmethod
    def key(field: str, text_source: str | None) -> str:
        return f"{field}/{text_source or 'ocr'}"

    def probability(self, field: str, text_source: str | None, raw: float) -> float:
        calibration = self.fields.get(self.key(field, text_source))
        return raw if calibration is None else calibration.probability(raw, self.prior_strength)

    def add(self, field: str, text_source: str | None, raw: float, correct: bool) -> None:
        self.fields.setdefault(self.key(field, text_source), FieldCalibration()).add(raw, correct)

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")


@functools.lru_cache(maxsize=8)
def load_calibration(path: Path | None = None) -> CalibrationTable:
    """The table at `path`, else the one shipped with Ledgerlens; an identity table when there is none."""
    target = path or BUILTIN_TABLE
    if not target.exists():
        return CalibrationTable()
    return CalibrationTable.model_validate(json.loads(target.read_text(encoding="utf-8")))
