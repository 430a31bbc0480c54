"""Issue 12, start-up: a one-invoice run loads only what its path needs. A born-digital page needs no OpenCV,
a record that goes straight through needs no review queue (SQLAlchemy), and without a key or an s3:// location
neither the Anthropic SDK nor boto3 is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_ON_A_BORN_DIGITAL_RUN = ("cv2", "sqlalchemy", "anthropic", "boto3", "botocore", "pandas", "devtools")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


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
