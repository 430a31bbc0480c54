"""Leave-one-family-out: every family is routed with a table fitted without it, from what OUT holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from devtools.evaluate import SCORED_HEADER_FIELDS
from devtools.lofo import fit_table, held_out_confidence, leave_one_family_out, load_documents
from devtools.samples import generate_sample
from pipeline.calibration import CalibrationTable
from pipeline.config import Settings
from pipeline.corroboration import is_till_receipt
from pipeline.discover import describe_file
from pipeline.process import process_document
from pipeline.route import record_confidence
from pipeline.sinks import ParquetSink
from schemas import ExtractionRecord, Severity
from tests.conftest import routed_from_lines

FAMILIES = "classic,modern,twoline,factuur"


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Born-digital samples of four families (even indices), processed in-process into a real OUT."""
    root = tmp_path_factory.mktemp("lofo")
    inbox, out = root / "in", root / "out"
    inbox.mkdir()
    settings = Settings(keep_page_images="none")
    pdfs = [generate_sample(inbox, index, seed=4, families=FAMILIES) for index in range(0, 16, 2)]
    records = [process_document(describe_file(pdf), settings) for pdf in pdfs]
    ParquetSink(out, settings).write(records)
    return inbox, out


def test_each_family_is_held_out_once_and_pooled_adds_up(processed: tuple[Path, Path]) -> None:
    inbox, out = processed
    report = leave_one_family_out(inbox, out, threshold=0.8)
    assert [f.family for f in report.families] == sorted(FAMILIES.split(","))
    assert report.pooled.documents == 8 == sum(f.documents for f in report.families)
    assert report.pooled.accepted == sum(f.accepted for f in report.families)
    assert report.pooled.accepted_wrong == sum(f.accepted_wrong for f in report.families)
    assert report.worst.family in {f.family for f in report.families}


def test_threshold_decides_only_among_records_nothing_blocked(processed: tuple[Path, Path]) -> None:
    inbox, out = processed
    documents = load_documents(inbox, out)
    eligible = sum(document.eligible for document in documents)
    assert eligible > 0
    assert leave_one_family_out(inbox, out, threshold=0.0).pooled.accepted == eligible
    assert leave_one_family_out(inbox, out, threshold=1.01).pooled.accepted == 0


def test_held_out_table_never_sees_its_own_family(processed: tuple[Path, Path]) -> None:
    inbox, out = processed
    documents = load_documents(inbox, out)
    others = [d for d in documents if d.family != "twoline"]
    table = fit_table(others)
    counted = sum(sum(calibration.total) for calibration in table.fields.values())
    scored = sum(
        1
        for d in others
        for name, value in d.fields.items()
        if name in d.truth and name in SCORED_HEADER_FIELDS and value.extractor == "rules"
    )
    assert counted == scored
    assert fit_table(documents) != table


def test_cli_lofo_prints_every_family_and_a_threshold(processed: tuple[Path, Path]) -> None:
    inbox, out = processed
    command = [sys.executable, "-m", "flows.cli", "eval", str(inbox), str(out), "--lofo", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    assert {f["family"] for f in figures["families"]} == set(FAMILIES.split(","))
    assert figures["pooled"]["documents"] == 8
    assert figures["worst"] in FAMILIES.split(",")


# A till receipt that prints no invoice number: the cash tendered less the change confirms its total, so the
# run routes it without one (pipeline/corroboration.py). Routing it again from OUT must see the same.
RECEIPT = [
    (700, 200, "BENS GROCER SDN BHD"),
    (700, 260, "No 5, Jalan Kenari 2, Puchong"),
    (150, 560, "09/03/2018 18:08:53"),
    (150, 900, "Total Sales Inclusive GST"),
    (1500, 900, "RM133.70"),
    (150, 960, "GST @6%: RM7.57"),
    (150, 1020, "Cash"),
    (1500, 1020, "140.00"),
    (150, 1080, "Change"),
    (1500, 1080, "6.30"),
]
INVOICE = [
    (150, 150, "Northwind Traders GmbH"),
    (1500, 400, "Invoice No:"),
    (1900, 400, "HS-1042"),
    (1500, 460, "Date:"),
    (1900, 460, "15.03.2024"),
    (150, 900, "Pallet rental"),
    (2150, 900, "100.00"),
    (1500, 1200, "Subtotal"),
    (2150, 1200, "100.00"),
    (1500, 1260, "VAT 19%"),
    (2150, 1260, "19.00"),
    (1500, 1320, "Total"),
    (2150, 1320, "119.00 EUR"),
]


def test_routing_again_from_out_gives_each_record_the_confidence_the_run_gave_it(tmp_path: Path) -> None:
    # With the run's own table (here the identity), LOFO's routing is the product's: same confidence, so the
    # held-out figures differ from the run's only by the table they were fitted with.
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    records: list[ExtractionRecord] = []
    for name, lines in (("receipt", RECEIPT), ("invoice", INVOICE)):
        routed = cast(ExtractionRecord, routed_from_lines(lines))
        records.append(routed.model_copy(update={"document_id": name, "source": str(inbox / f"{name}.pdf")}))
        (inbox / f"{name}.truth.json").write_text(json.dumps({"layout": name}), encoding="utf-8")
    assert is_till_receipt(records[0].fields) and records[0].invoice.invoice_number is None
    ParquetSink(out, Settings(keep_page_images="none")).write(records)
    again = {document.document_id: document for document in load_documents(inbox, out)}
    for record in records:
        warnings = [issue for issue in record.issues if issue.severity is Severity.WARNING]
        run = record_confidence(record.fields, warnings, None, record.text_source)
        assert run > 0
        assert held_out_confidence(again[record.document_id], CalibrationTable()) == run
