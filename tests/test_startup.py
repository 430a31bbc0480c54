"""What a run's process loads at start-up: pyarrow without pandas, which still loads when it is really asked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUN_WITHOUT_PANDAS = """
import sys
from flows.runtime import keep_pandas_unloaded
keep_pandas_unloaded()
import pyarrow.dataset as ds
from pipeline.sinks import ParquetSink
from schemas import ExtractionRecord, Invoice, RecordStatus

out = sys.argv[1]
record = ExtractionRecord(
    document_id="a", source="/in/a.pdf", page_count=1, status=RecordStatus.ACCEPTED, confidence=0.9,
    invoice=Invoice(vendor_name="Acme", invoice_number="A-1", currency="EUR"),
)
ParquetSink(out).write([record])
assert "a" in ParquetSink(out).processed_ids  # written, then read back through pyarrow.dataset
assert "pandas" not in sys.modules, "pyarrow loaded pandas"
frame = ds.dataset(out + "/invoices", format="parquet").to_table(columns=["document_id"]).to_pandas()
assert list(frame["document_id"]) == ["a"], frame
"""


def test_a_run_writes_and_reads_parquet_without_loading_pandas_which_still_loads_on_demand(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _RUN_WITHOUT_PANDAS, str(tmp_path / "out")],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
