"""Leave-one-family-out: calibration measured on layouts it was not fitted on.

For each layout family in the truth (the generator's ``layout`` key), the calibration table is fitted on
the documents of every other family, the held-out family's records are routed again with that table,
and acceptance is counted against the truth. Pooled over families, this is the figure a user's unseen
invoices get; the worst family says how bad one unfamiliar layout can be. The shipped threshold and
table are chosen from it (``ledgerlens calibrate --lofo``), not from an in-family seed.

Routing again needs only what OUT holds: each field's raw score (``fields/``), and per record its
status, text source and the codes of what blocked it or warned (``invoices/``). A record that was
blocked (a blocking issue or the corroboration veto) stays in review whatever the table says.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from devtools.evaluate import (
    DEFAULT_TARGET_ERROR_RATE,
    SCORED_HEADER_FIELDS,
    AcceptanceCounts,
    ThresholdChoice,
    _load_truth,
    _read_dataset,
    _TruthIndex,
    choose_threshold,
    values_match,
)
from pipeline.calibration import DEFAULT_PRIOR_STRENGTH, CalibrationTable
from pipeline.route import record_confidence
from schemas import BoundingBox, FieldValue, Severity, ValidationIssue

UNKNOWN_FAMILY = "unknown"


class FamilyRouting(AcceptanceCounts):
    """Acceptance of one held-out family (or of all of them pooled) at one threshold."""

    family: str


class LofoReport(BaseModel):
    threshold: float
    families: list[FamilyRouting]
    pooled: FamilyRouting
    suggested: ThresholdChoice  # the lowest threshold meeting the target on the pooled held-out confidences

    @property
    def worst(self) -> FamilyRouting:
        """The family with the highest auto-accept error; of equal errors, the lowest straight-through."""
        return max(self.families, key=lambda f: (f.error_rate, -f.straight_through_rate))


@dataclass
class _Document:
    document_id: str
    family: str
    truth: dict[str, Any]
    row: dict[str, Any]
    correct: bool
    fields: dict[str, FieldValue] = field(default_factory=dict)

    @property
    def eligible(self) -> bool:
        """Could be accepted at some threshold: not failed, nothing blocking, no field vetoed."""
        return self.row["status"] != "failed" and not (self.row.get("blocking_codes") or [])


def _all_header_fields_right(row: dict[str, Any], truth: dict[str, Any]) -> bool:
    return all(values_match(name, row.get(name), truth[name]) for name in SCORED_HEADER_FIELDS if name in truth)


def load_documents(truth_dir: Path, out_dir: Path) -> list[_Document]:
    """Every output row with a truth file, its family, its correctness and its fields' raw scores."""
    index = _TruthIndex(truth_dir)
    documents: dict[str, _Document] = {}
    for row in _read_dataset(out_dir / "invoices"):
        if "blocking_codes" not in row:
            raise ValueError(f"{out_dir} was written before records kept their blocking codes; run it again")
        truth_file = index.find(str(row["source"]))
        if truth_file is None:
            continue
        truth = _load_truth(truth_file)
        family = str(truth.get("layout") or UNKNOWN_FAMILY)
        document_id = str(row["document_id"])
        documents[document_id] = _Document(document_id, family, truth, row, _all_header_fields_right(row, truth))
    for item in _read_dataset(out_dir / "fields"):
        document = documents.get(str(item["document_id"]))
        if document is not None:
            document.fields[str(item["field"])] = _field_value(item)
    return list(documents.values())


def _field_value(item: dict[str, Any]) -> FieldValue:
    """A field as the run routed it: its score, and where it was printed (a till receipt's total, cash and
    change must be three printings for the cash to confirm the total: pipeline/corroboration.py)."""
    corners = {name: item.get(name) for name in ("x0", "y0", "x1", "y1")}
    box = BoundingBox.model_validate(corners) if None not in corners.values() else None
    return FieldValue(
        name=str(item["field"]),
        value=item.get("value"),
        confidence=float(item["confidence"]),
        extractor=item["extractor"],
        page=item.get("page"),
        bbox=box,
    )


def fit_table(documents: list[_Document], prior_strength: float = DEFAULT_PRIOR_STRENGTH) -> CalibrationTable:
    """Per key field, text source and raw-score bin: how often the field was right (see ``calibrate``)."""
    table = CalibrationTable(prior_strength=prior_strength)
    for document in documents:
        for name, value in document.fields.items():
            if name not in SCORED_HEADER_FIELDS or name not in document.truth or value.extractor != table.extractor:
                continue
            correct = values_match(name, value.value, document.truth[name])
            table.add(name, document.row.get("text_source"), value.confidence, correct)
    return table


def held_out_confidence(document: _Document, table: CalibrationTable) -> float:
    """The record's confidence routed again with `table`; its warnings lower it as they did at run time."""
    warnings = [
        ValidationIssue(code=code, message=code, severity=Severity.WARNING)
        for code in document.row.get("warning_codes") or []
    ]
    return record_confidence(document.fields, warnings, table, document.row.get("text_source"))


def _count(family: str, scored: list[tuple[_Document, float]], threshold: float) -> FamilyRouting:
    routing = FamilyRouting(family=family, documents=len(scored))
    for document, confidence in scored:
        if document.eligible and confidence >= threshold:
            routing.accepted += 1
            routing.accepted_wrong += int(not document.correct)
    return routing


def leave_one_family_out(
    truth_dir: Path,
    out_dir: Path,
    threshold: float,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    target_error_rate: float = DEFAULT_TARGET_ERROR_RATE,
) -> LofoReport:
    """Fit on all families but one, route the held-out one, repeat; count acceptance at `threshold`."""
    documents = load_documents(Path(truth_dir), Path(out_dir))
    by_family: dict[str, list[_Document]] = defaultdict(list)
    for document in documents:
        by_family[document.family].append(document)
    if len(by_family) < 2:
        raise ValueError(f"Leave-one-family-out needs at least two layout families; found {sorted(by_family)}")
    scored: dict[str, list[tuple[_Document, float]]] = {}
    for family, held_out in sorted(by_family.items()):
        table = fit_table([d for d in documents if d.family != family], prior_strength)
        scored[family] = [(document, held_out_confidence(document, table)) for document in held_out]
    everything = [pair for pairs in scored.values() for pair in pairs]
    # Blocked records are never accepted, whatever the threshold: only the others enter the search.
    pairs = [(confidence, document.correct) for document, confidence in everything if document.eligible]
    suggested = choose_threshold(pairs, target_error_rate).model_copy(update={"documents": len(everything)})
    return LofoReport(
        threshold=threshold,
        families=[_count(family, pairs_, threshold) for family, pairs_ in scored.items()],
        pooled=_count("pooled", everything, threshold),
        suggested=suggested,
    )


def lofo_lines(report: LofoReport) -> list[str]:
    """The report as plain text lines: one per family, then pooled, worst and the suggested threshold."""
    lines = [
        f"Leave-one-family-out at threshold {report.threshold:.3f}:",
        "family        docs  accepted  wrong  error  straight-through",
    ]
    for routing in [*report.families, report.pooled]:
        lines.append(
            f"{routing.family:<12} {routing.documents:>5} {routing.accepted:>9} {routing.accepted_wrong:>6} "
            f"{routing.error_rate:>6.1%} {routing.straight_through_rate:>17.1%}"
        )
    worst = report.worst
    lines.append(
        f"Worst family: {worst.family} (error {worst.error_rate:.1%}, "
        f"straight-through {worst.straight_through_rate:.1%})"
    )
    choice = report.suggested
    if choice.threshold is None:
        lines.append(f"No threshold keeps held-out auto-accept errors at or below {choice.target_error_rate:.0%}.")
    else:
        lines.append(
            f"Lowest threshold with held-out errors <= {choice.target_error_rate:.0%}: {choice.threshold:.4f} "
            f"({choice.accepted}/{choice.documents} accepted, {choice.accepted_wrong} wrong)"
        )
    return lines


def lofo_text(
    truth_dir: Path, out_dir: Path, threshold: float, prior_strength: float, target: float, as_json: bool
) -> str:
    """The report for ``ledgerlens eval/calibrate --lofo``: text lines, or one JSON object."""
    report = leave_one_family_out(truth_dir, out_dir, threshold, prior_strength, target)
    if not as_json:
        return "\n".join(lofo_lines(report))
    figures = report.model_dump()
    figures["worst"] = report.worst.family
    return json.dumps(figures, indent=2)
