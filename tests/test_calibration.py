"""Field scores mapped to measured accuracy, and the record confidence built from them."""

from __future__ import annotations

import json
from pathlib import Path

from devtools.calibrate import calibrate
from pipeline.calibration import CalibrationTable, FieldCalibration, load_calibration
from pipeline.route import record_confidence
from pipeline.sinks import ParquetSink
from schemas import ExtractionRecord, FieldValue, Invoice, RecordStatus, TextSource


def test_bins_are_made_monotone_and_smoothed_toward_the_raw_score() -> None:
    calibration = FieldCalibration()
    for _ in range(20):
        calibration.add(0.65, True)  # a low-score bin that was always right
    for index in range(20):
        calibration.add(0.85, index < 15)  # a higher bin that was right 75% of the time
    low, high = calibration.probability(0.65, 10.0), calibration.probability(0.85, 10.0)
    assert low <= high  # isotonic: a higher score never maps lower
    pooled = 35 / 40
    assert abs(high - (pooled * 20 + 10 * 0.85) / 30) < 1e-9
    assert calibration.probability(0.97, 10.0) == 0.97  # an unseen bin keeps its raw score


def test_unknown_field_keeps_its_raw_score() -> None:
    assert CalibrationTable().probability("vendor_name", "ocr", 0.42) == 0.42


def _fields(confidence: float) -> dict[str, FieldValue]:
    values = {"vendor_name": "Acme", "invoice_number": "7", "invoice_date": "2024-01-02", "currency": "EUR"}
    values["total"] = "10.00"
    return {
        name: FieldValue(name=name, value=value, confidence=confidence, extractor="rules")
        for name, value in values.items()
    }


def test_record_confidence_uses_the_measured_accuracy_of_each_field() -> None:
    table = CalibrationTable(prior_strength=0.0)
    for name in ("vendor_name", "invoice_number", "invoice_date", "currency", "total"):
        for index in range(10):
            table.add(name, "text_layer", 0.7, index < 9)
    assert record_confidence(_fields(0.7), [], table, "text_layer") == record_confidence(_fields(0.9), [])
    # Scores from a text source the table has not seen keep their raw value.
    assert record_confidence(_fields(0.7), [], table, "ocr") == record_confidence(_fields(0.7), [])


def test_calibrate_counts_right_and_wrong_fields_against_truth(tmp_path: Path) -> None:
    out = tmp_path / "out"
    records = []
    for index, vendor in enumerate(["Acme", "Wrong Name"]):
        source = tmp_path / f"doc{index}.pdf"
        source.write_bytes(b"%PDF")
        (tmp_path / f"doc{index}.truth.json").write_text(json.dumps({"vendor_name": "Acme", "total": "10.00"}))
        fields = _fields(0.72)
        fields["vendor_name"] = FieldValue(name="vendor_name", value=vendor, confidence=0.72, extractor="rules")
        records.append(
            ExtractionRecord(
                document_id=f"{index:064d}", source=str(source), status=RecordStatus.ACCEPTED,
                invoice=Invoice(vendor_name=vendor), fields=fields, text_source=TextSource.OCR,
            )
        )  # fmt: skip
    ParquetSink(out).write(records)
    table = calibrate(tmp_path, out, prior_strength=0.0)
    vendor = table.fields["vendor_name/ocr"]
    assert sum(vendor.total) == 2 and sum(vendor.correct) == 1
    assert sum(table.fields["total/ocr"].correct) == 2
    assert "invoice_number/ocr" not in table.fields  # not in the truth: not scored
    table.write(tmp_path / "table.json")
    assert load_calibration(tmp_path / "table.json").fields["vendor_name/ocr"].total == vendor.total


def test_calibrate_command_writes_the_table_and_refuses_missing_folders(tmp_path: Path) -> None:
    from flows.cli import EXIT_OK, EXIT_USAGE, main

    test_calibrate_counts_right_and_wrong_fields_against_truth(tmp_path)
    target = tmp_path / "fitted.json"
    assert main(["calibrate", str(tmp_path), str(tmp_path / "out"), "--write", str(target)]) == EXIT_OK
    assert sum(load_calibration(target).fields["vendor_name/ocr"].total) == 2
    assert main(["calibrate", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == EXIT_USAGE
