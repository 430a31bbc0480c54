"""What a run's process loads at start-up: pyarrow without pandas, which still loads when it is really asked for;
and only what its path needs (issue 12): a born-digital page needs no OpenCV, a record that goes straight through
needs no review queue (SQLAlchemy), and without a key or an s3:// location neither the Anthropic SDK nor boto3
is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

ROOT = Path(__file__).resolve().parents[1]
# factur-x (and the requests it imports) only when an e-invoice's XML is checked against its schema.
NOT_ON_A_BORN_DIGITAL_RUN = (
    "cv2", "sqlalchemy", "anthropic", "boto3", "botocore", "pandas", "devtools", "facturx", "requests",
)  # fmt: skip

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


def run_cli_in_subprocess(arguments: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """`ledgerlens ARGUMENTS` in a fresh interpreter; its exit code and the top-level packages it had loaded."""
    code = (
        "import json, sys\n"
        "from flows.cli import main\n"
        f"status = main({arguments!r})\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_a_born_digital_run_loads_no_opencv_no_review_queue_and_no_sdks(
    tmp_path: Path, simple_invoice_pdf: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("PREFECT_API_URL", "ANTHROPIC_API_KEY")}
    env.update(PYTHONPATH=str(ROOT), LEDGERLENS_PREFECT_LOCAL_URL="")  # its own temporary server, a child process
    out = tmp_path / "out"

    _, loaded = run_cli_in_subprocess(["run", str(simple_invoice_pdf), "--out", str(out), "--quiet"], env)

    rows = ds.dataset(str(out / "invoices"), format="parquet").to_table().to_pylist()
    assert [(row["status"], row["text_source"]) for row in rows] == [("accepted", "text_layer")]
    assert {"prefect", "pyarrow", "pipeline"} <= set(loaded)  # the list is the run's: it ran the flow and wrote
    assert sorted(set(loaded) & set(NOT_ON_A_BORN_DIGITAL_RUN)) == []
    assert not (out / "review.sqlite").exists()  # nothing to review: the queue was never opened


_IMPORT_LONG_LIVED = """
import gc, json
from flows.runtime import long_lived_imports
before = gc.get_freeze_count()
with long_lived_imports():
    collecting_inside = gc.isenabled()
    import prefect.flows
print(json.dumps([before, collecting_inside, gc.isenabled(), gc.get_freeze_count()]))
"""


def test_a_runs_imports_are_made_without_the_collector_and_then_frozen() -> None:
    """`ledgerlens run` imports Prefect and the pipeline inside `long_lived_imports`: no collection walks that heap
    while it grows, it is frozen afterwards (later full collections skip it), and the collector is back on."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_LONG_LIVED],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    before, collecting_inside, collecting_after, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    assert (before, collecting_inside, collecting_after) == (0, False, True)
    assert frozen > 50_000  # Prefect alone: well over 100,000 tracked objects
