"""Leave-one-family-out: every family is routed with a table fitted without it, from what OUT holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.evaluate import SCORED_HEADER_FIELDS
from devtools.lofo import fit_table, leave_one_family_out, load_documents
from devtools.samples import generate_sample
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.process import process_document
from pipeline.sinks import ParquetSink

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
