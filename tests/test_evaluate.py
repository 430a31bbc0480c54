"""The evaluator on a hand-built OUT folder: every figure checked against numbers worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devtools.diagram import write_reliability_diagram
from devtools.evaluate import (
    EvaluationReport,
    choose_threshold,
    descriptions_match,
    document_kind,
    evaluate,
    evaluate_output,
    match_line_items,
    reliability_bins,
)
from flows.cli import main
from pipeline.sinks import ParquetSink
from schemas import ExtractionRecord, Invoice, LineItem, RecordStatus
from tests.conftest import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]

HEADER: dict[str, Any] = {
    "vendor_name": "Acme Widgets Ltd",
    "customer_name": "Initech",
    "invoice_number": "A-1",
    "invoice_date": "2024-03-01",
    "due_date": "2024-03-31",
    "currency": "EUR",
    "subtotal": "10.00",
    "tax": "2.00",
    "total": "12.00",
}


def record(
    stem: str,
    status: RecordStatus,
    confidence: float,
    items: list[tuple[str, str]],
    source_dir: str = "/in",
    **changes: Any,
) -> ExtractionRecord:
    header = {**HEADER, **changes}
    return ExtractionRecord(
        document_id=f"id-{stem}",
        source=f"{source_dir}/{stem}.pdf",
        page_count=1,
        status=status,
        confidence=confidence,
        review_reasons=[] if status is RecordStatus.ACCEPTED else ["Total does not match"],
        invoice=Invoice(
            vendor_name=header["vendor_name"],
            customer_name=header["customer_name"],
            invoice_number=header["invoice_number"],
            invoice_date=date.fromisoformat(header["invoice_date"]),
            due_date=date.fromisoformat(header["due_date"]),
            currency=header["currency"],
            subtotal=Decimal(header["subtotal"]),
            tax=Decimal(header["tax"]),
            total=Decimal(header["total"]),
            line_items=[LineItem(description=text, amount=Decimal(amount)) for text, amount in items],
        ),
        extractor="rules",
    )


def truth(stem: str, items: list[tuple[str, str]] | None = None, **keys: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"document": f"{stem}.pdf", "doc_type": "invoice", **HEADER, **keys}
    if items is not None:
        data["line_items"] = [
            {"description": text, "quantity": None, "unit_price": None, "amount": amount} for text, amount in items
        ]
    return data


def write_truth(folder: Path, stem: str, data: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.truth.json").write_text(json.dumps(data))


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, Path]:
    """Four truth documents (one without output) and five output rows (one without truth).

    a: born-digital, accepted, header right, customer wrong; items: an OCR slip that still matches,
       a case/punctuation difference that matches, one spurious and one missing item.
    b: clean scan, accepted with a wrong total (the auto-accept error).
    c: hard scan, inconsistent, routed to review; its truth gives no line items.
    d: hard scan, inconsistent, no output row; its truth gives only vendor and total, no layout.
    """
    truth_dir, out = tmp_path / "truth", tmp_path / "out"
    write_truth(
        truth_dir,
        "inv-a",
        truth(
            "inv-a",
            [("Consulting services", "20.00"), ("BOLT.", "10.00"), ("Nuts", "3.00")],
            kind="born_digital",
            layout="classic",
        ),
    )
    write_truth(truth_dir, "inv-b", truth("inv-b", [("Bolt", "10.00")], kind="clean_scan", layout="modern"))
    write_truth(truth_dir / "sub", "inv-c", truth("inv-c", kind="hard_scan", layout="modern", inconsistent=True))
    write_truth(
        truth_dir,
        "inv-d",
        {
            "document": "inv-d.pdf",
            "kind": "hard_scan",
            "vendor_name": "Acme Widgets Ltd",
            "total": "12.00",
            "line_items": [{"description": "Widget", "amount": "1.00"}],
            "inconsistent": True,
        },
    )
    ParquetSink(out).write(
        [
            record(
                "inv-a",
                RecordStatus.ACCEPTED,
                0.95,
                [("Consulting servces", "20.00"), ("Bolt", "10.00"), ("Shipping", "5.00")],
                customer_name="Globex",
            ),
            record("inv-b", RecordStatus.ACCEPTED, 0.9, [("Bolt", "10.00")], total="13.00"),
            record("inv-c", RecordStatus.NEEDS_REVIEW, 0.5, [("Bolt", "10.00")]),
            record("stray", RecordStatus.ACCEPTED, 0.99, []),
        ]
    )
    return truth_dir, out


def test_per_field_accuracy_by_kind_and_layout(batch: tuple[Path, Path]) -> None:
    report = evaluate(*batch)
    assert report.scored_documents == 4
    assert report.missing == ["inv-d.pdf"]
    assert report.unscored_rows == 1
    overall = report.groups["all"]
    assert (overall.fields["vendor_name"].correct, overall.fields["vendor_name"].scored) == (3, 4)
    assert (overall.fields["total"].correct, overall.fields["total"].scored) == (2, 4)
    assert (overall.fields["invoice_number"].correct, overall.fields["invoice_number"].scored) == (3, 3)
    assert (overall.fields["customer_name"].correct, overall.fields["customer_name"].scored) == (2, 3)
    # 8 + 8 + 8 + 2 scored header fields; b's total and both of d's are wrong. The customer is left out.
    assert overall.header_accuracy == pytest.approx(23 / 26)
    assert report.groups["born_digital"].header_accuracy == 1.0
    assert report.groups["clean_scan"].header_accuracy == pytest.approx(7 / 8)
    assert report.groups["hard_scan"].header_accuracy == pytest.approx(8 / 10)
    assert report.groups["scanned"].header_accuracy == pytest.approx(15 / 18)
    assert report.groups["scanned"].documents == 3
    assert set(report.layouts) == {"classic", "modern", "unknown"}
    assert report.layouts["modern"].header_accuracy == pytest.approx(15 / 16)
    assert report.layouts["unknown"].header_accuracy == 0.0
    assert {(m["source"], m["field"]) for m in report.mismatches} == {
        ("/in/inv-a.pdf", "customer_name"),
        ("/in/inv-b.pdf", "total"),
    }
    assert report.field_failures()[0] == ("total", 2, 4)


def test_line_item_precision_recall_f1(batch: tuple[Path, Path]) -> None:
    report = evaluate(*batch)
    born = report.line_items["born_digital"]
    assert (born.truth_items, born.predicted_items, born.matched_items) == (3, 3, 2)
    assert (born.precision, born.recall, born.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    overall = report.line_items["all"]
    # c's truth lists no items, so its predicted item is not counted; d's item is never found.
    assert (overall.documents, overall.truth_items, overall.predicted_items, overall.matched_items) == (3, 5, 4, 3)
    assert (overall.precision, overall.recall, overall.f1) == pytest.approx((3 / 4, 3 / 5, 2 / 3))
    assert report.line_items["clean_scan"].f1 == 1.0
    assert report.line_items["hard_scan"].f1 == 0.0


def test_description_matching_forgives_about_one_ocr_slip_in_ten_characters() -> None:
    assert descriptions_match("Consulting servces", "Consulting services")
    assert descriptions_match("Cnsulting servces", "Consulting services")  # 2 slips in 19 characters
    assert descriptions_match("  bolt ", "BOLT.")
    assert not descriptions_match("Bolts", "Bolt")  # 1 slip in 4 characters
    assert not descriptions_match("Shipping", "Nuts")
    assert descriptions_match(None, "")


def test_line_item_matching_is_one_to_one_and_optimal() -> None:
    truth_items = [
        {"description": "Hex bolt M8 x 40", "amount": "5.00"},
        {"description": "Hex bolt M8 x 45", "amount": "5.00"},
    ]
    # The first predicted item is alike to both truth items, the second only to the first truth item:
    # taking the first pair greedily would strand the second truth item.
    predicted: list[dict[str, Any]] = [
        {"description": "Hex bolt M8 x 40", "amount": Decimal("5.00")},
        {"description": "Hex bolt M6 x 40", "amount": "5.00"},
    ]
    assert descriptions_match(predicted[0]["description"], truth_items[1]["description"])
    assert not descriptions_match(predicted[1]["description"], truth_items[1]["description"])
    assert match_line_items(predicted, truth_items) == 2
    assert match_line_items(predicted[:1] * 3, truth_items) == 2
    assert match_line_items([{"description": "Hex bolt M8 x 40", "amount": "5.01"}], truth_items) == 0


def test_rates_inconsistent_and_calibration(batch: tuple[Path, Path]) -> None:
    report = evaluate(*batch)
    assert report.accepted_documents == 2
    assert report.straight_through_rate == 0.5
    assert report.auto_accept_error_rate == 0.5
    assert report.inconsistent_documents == 2
    assert report.inconsistent_routed_to_review == 1
    assert [Path(path).name for path in report.inconsistent_not_routed] == ["inv-d.truth.json"]
    assert sorted(report.calibration_pairs) == [(0.5, True), (0.9, False), (0.95, True)]


def test_truth_beside_sources_without_truth_dir(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    write_truth(inputs, "inv-a", truth("inv-a", kind="born_digital"))
    write_truth(inputs, "inv-z", truth("inv-z", kind="born_digital"))
    ParquetSink(out).write([record("inv-a", RecordStatus.ACCEPTED, 0.9, [], source_dir=str(inputs), tax="3.00")])
    report = evaluate_output(out)
    assert report.scored_documents == 1
    assert report.missing == []
    assert report.auto_accept_error_rate == 1.0
    assert report.groups["born_digital"].fields["tax"].accuracy == 0.0


def test_kind_when_truth_gives_none() -> None:
    assert document_kind({"document": "X1.jpg"}) == "scanned"
    assert document_kind({"document": "a.pdf", "doc_type": "invoice (scanned specimen)"}) == "scanned"
    assert document_kind({"document": "a.pdf", "doc_type": "invoice"}) == "born_digital"
    assert document_kind({}, "scan.png") == "scanned"
    assert document_kind({"kind": "hard_scan", "document": "a.pdf"}) == "hard_scan"


def test_threshold_is_lowest_meeting_the_target() -> None:
    pairs = [(0.98, True), (0.95, True), (0.93, True), (0.90, False), (0.85, True), (0.80, True), (0.5, False)]
    strict = choose_threshold(pairs, 0.01)
    assert (strict.threshold, strict.accepted, strict.accepted_wrong) == (0.93, 3, 0)
    assert strict.straight_through_rate == pytest.approx(3 / 7)
    loose = choose_threshold(pairs, 0.2)
    assert (loose.threshold, loose.accepted, loose.accepted_wrong) == (0.80, 6, 1)
    assert loose.error_rate == pytest.approx(1 / 6)
    # A wrong record at the very top does not stop a lower threshold that dilutes it to the target.
    diluted = choose_threshold([(0.99, False)] + [(0.9, True)] * 99, 0.01)
    assert (diluted.threshold, diluted.accepted) == (0.9, 100)
    # Records tied at a threshold are accepted together.
    assert choose_threshold([(0.9, True), (0.9, False), (0.95, True)], 0.0).threshold == 0.95
    none = choose_threshold([(0.7, False)], 0.01)
    assert (none.threshold, none.straight_through_rate) == (None, 0.0)
    assert choose_threshold([]).threshold is None


def test_reliability_bins_and_diagram(tmp_path: Path) -> None:
    pairs = [(0.05, False), (0.55, True), (0.58, False), (0.92, True), (1.0, True)]
    bins = reliability_bins(pairs, 10)
    assert [item.count for item in bins] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 2]
    assert bins[5].accuracy == 0.5
    path = write_reliability_diagram(pairs, tmp_path / "plots" / "reliability.png")
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert 400 <= image.width <= 2000 and 300 <= image.height <= 2000
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 2  # bars and text drawn, not a blank canvas


def test_cli_eval_json(batch: tuple[Path, Path], tmp_path: Path) -> None:
    truth_dir, out = batch
    diagram = tmp_path / "diagram.png"
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "eval", str(truth_dir), str(out), "--json", "--diagram", str(diagram)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["scored_documents"] == 4
    assert figures["auto_accept_error_rate"] == 0.5
    assert figures["line_items"]["all"]["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["inconsistent"]["routed_to_review"] == 1
    assert figures["calibration"]["suggested_threshold"]["threshold"] == 0.95
    assert figures["reliability_diagram"] == str(diagram)
    assert diagram.is_file()


def test_cli_eval_tables_and_usage_error(
    batch: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth_dir, out = batch
    assert main(["eval", str(truth_dir), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Straight-through" in printed and "Suggested threshold" in printed and "inv-d.pdf" in printed
    assert (out / "reliability.png").is_file()
    assert main(["eval", str(tmp_path / "nope"), str(out)]) == 2
    assert "folder not found" in capsys.readouterr().err


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="real-invoice benchmark corpus not present")
def test_real_benchmark_truth_loads(tmp_path: Path) -> None:
    truth_files = sorted(BENCHMARKS.rglob("*.truth.json"))
    report: EvaluationReport = evaluate(BENCHMARKS, tmp_path)
    assert report.scored_documents == len(truth_files) > 0
    assert len(report.missing) == len(truth_files)
    assert report.groups["all"].header_accuracy == 0.0
    images = [p for p in truth_files if json.loads(p.read_text())["document"].lower().endswith((".jpg", ".png"))]
    assert report.groups["scanned"].documents >= len(images)
    assert report.groups["born_digital"].documents + report.groups["scanned"].documents == len(truth_files)
    json.dumps(report.to_json_dict())
