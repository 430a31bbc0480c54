"""E-invoices through the real `ledgerlens run` (CLI, Prefect flow, Parquet): one row each, rerun adds none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from devtools.einvoice_samples import HOSTILE_XML, Spec, cii_xml, contradicted, facturx_pdf, page_pdf, ubl_xml

pytestmark = pytest.mark.e2e


def _run(inputs: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(inputs), "--out", str(out), "--quiet"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_ledgerlens_run_reads_einvoices(tmp_path: Path) -> None:
    spec = Spec()
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "agrees.pdf").write_bytes(facturx_pdf(page_pdf(spec), cii_xml(spec)))
    (inbox / "cent-apart.pdf").write_bytes(facturx_pdf(page_pdf(contradicted(spec, "total_cent")), cii_xml(spec)))
    (inbox / "peppol.xml").write_bytes(ubl_xml(Spec(number="PEP-1")))
    (inbox / "xxe.xml").write_bytes(HOSTILE_XML["xxe"])
    out = tmp_path / "out"
    result = _run(inbox, out)
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out / "invoices")
    by_name = {Path(source).name: row for source, row in zip(rows["source"], rows.itertuples(), strict=True)}
    assert {name: row.status for name, row in by_name.items()} == {
        "agrees.pdf": "accepted",
        "cent-apart.pdf": "needs_review",
        "peppol.xml": "accepted",
        "xxe.xml": "failed",
    }
    assert by_name["agrees.pdf"].extractor == "einvoice" and by_name["agrees.pdf"].text_source == "text_layer"
    assert any("1,702.31" in r and "1,702.30" in r for r in by_name["cent-apart.pdf"].review_reasons)
    assert by_name["peppol.xml"].einvoice_profile == "ubl:peppol"
    lines = pd.read_parquet(out / "line_items")
    assert len(lines) == 3 * len(spec.lines)  # agrees, cent-apart and peppol carry their lines

    again = _run(inbox, out)
    assert again.returncode == 0, again.stderr
    assert len(pd.read_parquet(out / "invoices")) == 4
