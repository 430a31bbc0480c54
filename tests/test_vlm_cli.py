"""`ledgerlens run --extractor hybrid` end to end against the loopback Messages API, and `vlm-check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import Settings
from pipeline.vlm.cache import CACHE_DIR
from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf
from tests.fake_anthropic import FakeAnthropic, serve, truth_responder

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with serve(FakeAnthropic()) as server:
        yield server


def cli_env(fake: FakeAnthropic, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ANTHROPIC_BASE_URL": fake.base_url,
            "ANTHROPIC_API_KEY": "test-key",
            "LEDGERLENS_VLM_MAX_RETRIES": "1",
            "LEDGERLENS_VLM_TIMEOUT_S": "30",
        }
    )
    env.update(extra)
    return env


def test_run_hybrid_processes_the_sample_batch(fake: FakeAnthropic, tmp_path: Path) -> None:
    from devtools.samples import generate_samples

    samples = tmp_path / "samples"
    pdfs = generate_samples(samples, 4, seed=7)
    truths = [json.loads(p.with_suffix(".truth.json").read_text()) for p in pdfs]
    fake.script = [truth_responder(truths)]
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(samples), "--out", str(out), "--extractor", "hybrid",
         "--vlm-mode", "always", "--quiet"],
        capture_output=True, text=True, check=False, env=cli_env(fake), timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Extractor: hybrid" in result.stdout and "cost: $" in result.stdout
    invoices = pd.read_parquet(out / "invoices")
    assert len(invoices) == len(pdfs)
    assert set(invoices["extractor"]) == {"hybrid"}
    assert all(list(models)[:1] == ["claude-haiku-4-5"] for models in invoices["vlm_models"])
    settings = Settings()
    expected = Decimal(0)
    for seen in fake.answered:
        assert seen.usage is not None
        price = settings.price_of(seen.model)
        expected += (
            seen.usage["input_tokens"] * price.input_per_mtok + seen.usage["output_tokens"] * price.output_per_mtok
        ) / 1_000_000
    assert sum(invoices["vlm_cost_usd"], Decimal(0)) == expected.quantize(Decimal("1e-8")) > 0
    assert int(invoices["vlm_input_tokens"].sum()) == sum(s.usage["input_tokens"] for s in fake.answered if s.usage)
    assert len(list((out / CACHE_DIR).rglob("*.json"))) == len(fake.answered)
    assert all(seen.image_tokens <= 1600 for seen in fake.requests)
    fields = pd.read_parquet(out / "fields")
    assert fields["extractor"].str.contains("vlm:claude-haiku-4-5").any()


def test_run_hybrid_without_a_key_says_what_to_do(tmp_path: Path) -> None:
    pdf = make_invoice_pdf(tmp_path / "a.pdf", SIMPLE_INVOICE)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANTHROPIC_")}
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(pdf), "--out", str(tmp_path / "o"), "--extractor", "hybrid"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_vlm_check_prints_answer_tokens_and_cost(fake: FakeAnthropic, tmp_path: Path) -> None:
    truth = {"vendor_name": "Acme Widgets Ltd", "invoice_number": "INV-2024-0042", "total": "1573.55",
             "currency": "USD", "line_items": []}  # fmt: skip
    fake.script = [truth_responder([truth])]
    pdf = make_invoice_pdf(tmp_path / "a.pdf", SIMPLE_INVOICE)
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "vlm-check", str(pdf)],
        capture_output=True, text=True, check=False, env=cli_env(fake), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(fake.requests) == 1
    usage = fake.requests[0].usage
    assert usage is not None
    assert f"tokens: {usage['input_tokens']} in / {usage['output_tokens']} out" in result.stdout
    assert '"invoice_number"' in result.stdout and "INV-2024-0042" in result.stdout
    assert "cost: $0.00" in result.stdout
