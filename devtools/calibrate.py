"""Fit the calibration table (pipeline/calibration.py applies it) on an output folder with ground truth.

Dev tooling: `ledgerlens calibrate` runs it; a production run only loads the table it writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devtools.evaluate import SCORED_HEADER_FIELDS, _load_truth, _read_dataset, _TruthIndex, values_match
from pipeline.calibration import DEFAULT_PRIOR_STRENGTH, CalibrationTable


def calibrate(
    truth_dir: Path, out_dir: Path, prior_strength: float = DEFAULT_PRIOR_STRENGTH, fitted_on: str = ""
) -> CalibrationTable:
    """Count, per key field, text source and raw-score bin, how often OUT's value equals the truth.

    A field the truth holds but extraction did not find is not counted: its record already gets
    confidence 0, whatever the table says.
    """
    index = _TruthIndex(Path(truth_dir))
    table = CalibrationTable(prior_strength=prior_strength, fitted_on=fitted_on)
    truths: dict[str, dict[str, Any]] = {}
    text_sources: dict[str, str | None] = {}
    for row in _read_dataset(Path(out_dir) / "invoices"):
        truth_file = index.find(str(row["source"]))
        if truth_file is not None:
            truths[str(row["document_id"])] = _load_truth(truth_file)
            text_sources[str(row["document_id"])] = row.get("text_source")
    for row in _read_dataset(Path(out_dir) / "fields"):
        document_id, field = str(row["document_id"]), str(row["field"])
        truth = truths.get(document_id)
        if truth is None or field not in SCORED_HEADER_FIELDS or field not in truth:
            continue
        if row.get("extractor") != table.extractor:
            continue  # a fused or model-read field's score means something else
        correct = values_match(field, row.get("value"), truth[field])
        table.add(field, text_sources[document_id], float(row["confidence"]), correct)
    return table
