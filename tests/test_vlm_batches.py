"""Backfill --vlm-batch: tier-1 requests go through the Message Batches API of the scripted stand-in, which
the real anthropic SDK talks to on loopback. Born-digital PDFs (no OCR) keep these fast."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from flows.backfill import BackfillSummary, backfill
from flows.cli import _settings_from, build_parser
from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.vlm.batches import BATCHES_DIR, plan_requests, submit_batch
from pipeline.vlm.cache import CACHE_DIR
from pipeline.vlm.cascade import VlmSession
from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf
from tests.fake_anthropic import FakeAnthropic, Seen, answer, error, invoice_answer, serve
from tests.test_vlm import TIER1, TRUTH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    with serve(FakeAnthropic(script=[answer(invoice_answer(TRUTH))])) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        yield server


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Three invoices that differ in one line, so each has its own request and cache key."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for number in range(3):
        make_invoice_pdf(
            folder / f"invoice-{number}.pdf", [*SIMPLE_INVOICE, (50, 400, f"Purchase order PO-77{number}")]
        )
    return folder


def batch_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "extractor": "hybrid",
        "vlm_mode": "always",
        "vlm_tier2_model": None,
        "vlm_use_batches": True,
        "vlm_batch_poll_s": 0.01,
        "vlm_batch_poll_max_s": 0.04,
        "vlm_max_retries": 0,
        "vlm_timeout_s": 10.0,
        "keep_page_images": "none",
        "workers": 2,
        "review_db": tmp_path / "review.sqlite",
    }
    values.update(overrides)
    return Settings(**values)


def price(seen: list[Seen], config: Settings, factor: Decimal = Decimal(1)) -> Decimal:
    total = Decimal(0)
    for item in seen:
        assert item.usage is not None
        rate = config.price_of(item.model)
        tokens = item.usage["input_tokens"] * rate.input_per_mtok + item.usage["output_tokens"] * rate.output_per_mtok
        total += tokens * factor / 1_000_000
    return total


def invoices(out: Path) -> list[dict[str, Any]]:
    return ds.dataset(str(out / "invoices"), format="parquet").to_table().to_pylist()


def run(inbox: Path, out: Path, config: Settings) -> BackfillSummary:
    return backfill(str(inbox), str(out), chunk_size=10, settings=config)


def cache_entries(out: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((out / CACHE_DIR).glob("??/*.json"))]


def test_a_chunk_goes_as_one_batch_at_half_price_and_a_rerun_pays_nothing(
    fake: FakeAnthropic, inbox: Path, tmp_path: Path
) -> None:
    out, config = tmp_path / "out", batch_settings(tmp_path)
    summary = run(inbox, out, config)

    assert len(fake.batch_creates) == 1 and len(fake.batch_requests) == 3
    assert fake.requests == []  # no direct /v1/messages call for tier 1
    # polled until it ended (in_progress twice, then ended), plus the SDK's own look-up in results()
    assert fake.batch_polls == fake.batch_creates * (fake.polls_before_end + 2)
    assert {seen.model for seen in fake.batch_requests} == {TIER1}
    entries = cache_entries(out)
    assert len(entries) == 3 and {entry["batch_id"] for entry in entries} == set(fake.batch_creates)
    assert not list((out / CACHE_DIR / BATCHES_DIR).glob("*.json"))  # collected: nothing left to resume

    rows = invoices(out)
    assert len(rows) == 3 and {row["status"] for row in rows} == {"accepted"}
    batch_cost, direct_cost = price(fake.batch_answered, config, Decimal("0.5")), price(fake.batch_answered, config)
    assert batch_cost > 0 and batch_cost * 2 == direct_cost
    assert sum(Decimal(str(row["vlm_cost_usd"])) for row in rows) == pytest.approx(batch_cost)
    assert all(Decimal(str(row["vlm_cost_usd"])) > 0 for row in rows)  # each record charged for its answer
    assert summary.vlm_cost_usd == batch_cost
    assert summary.vlm_batches == 1 and summary.vlm_batch_requests == 3 and summary.vlm_cache_hits == 0

    # The same backfill again: everything is done, nothing is asked.
    again = run(inbox, out, config)
    assert again.skipped_existing == 3 and again.processed == 0
    # Rows lost but the cache kept (a fresh output with the old cache): answers from the cache, no request.
    for name in out.iterdir():
        if name.name != CACHE_DIR:
            shutil.rmtree(name) if name.is_dir() else name.unlink()
    (tmp_path / "review.sqlite").unlink()
    rebuilt = run(inbox, out, config)
    assert len(fake.batch_creates) == 1 and len(fake.batch_requests) == 3 and fake.requests == []
    assert rebuilt.processed == 3 and rebuilt.vlm_cache_hits == 3 and rebuilt.vlm_cost_usd == 0
    assert {row["status"] for row in invoices(out)} == {"accepted"}
    assert all(Decimal(str(row["vlm_cost_usd"])) == 0 for row in invoices(out))


@pytest.mark.parametrize("direct_works", [True, False])
def test_an_errored_batch_result_is_asked_directly_or_goes_to_review(
    fake: FakeAnthropic, inbox: Path, tmp_path: Path, direct_works: bool
) -> None:
    fake.batch_script = [
        answer(invoice_answer(TRUTH)),
        error(529, "overloaded_error"),
        answer(invoice_answer(TRUTH)),
    ]
    if not direct_works:
        fake.script = [error(500, "api_error")]
    out, config = tmp_path / "out", batch_settings(tmp_path)
    summary = run(inbox, out, config)

    assert len(fake.batch_creates) == 1 and len(fake.batch_requests) == 3
    assert len(fake.requests) == 1  # only the errored one is asked directly
    assert len(cache_entries(out)) == (3 if direct_works else 2)
    rows = invoices(out)
    assert sorted(Path(str(row["source"])).name for row in rows) == sorted(p.name for p in inbox.iterdir())
    statuses = sorted(str(row["status"]) for row in rows)
    assert statuses == (["accepted"] * 3 if direct_works else ["accepted", "accepted", "needs_review"])
    expected = price(fake.batch_answered, config, Decimal("0.5")) + price(fake.answered, config)
    assert summary.vlm_cost_usd == expected
    assert sum(Decimal(str(row["vlm_cost_usd"])) for row in rows) == pytest.approx(expected)
    if not direct_works:
        review = next(row for row in rows if row["status"] == "needs_review")
        assert any("HTTP 500" in reason for reason in review["review_reasons"]), review["review_reasons"]


def test_a_backfill_killed_while_its_batch_runs_resumes_polling_that_batch(
    fake: FakeAnthropic, inbox: Path, tmp_path: Path
) -> None:
    out, config = tmp_path / "out", batch_settings(tmp_path)
    # The run that was killed: it read the chunk, submitted the batch and recorded its id, then died.
    killed = VlmSession(config, out)
    documents, _ = discover_documents([str(inbox)])
    requests = plan_requests(documents, killed, tmp_path / "scratch", 2)
    state = submit_batch(killed, requests, lambda line: None)
    assert state is not None and len(fake.batch_creates) == 1
    recorded = out / CACHE_DIR / BATCHES_DIR / f"{state['batch_id']}.json"
    assert recorded.is_file()

    summary = run(inbox, out, config)
    assert fake.batch_creates == [state["batch_id"]]  # no second batch, no second bill
    assert set(fake.batch_polls) == {state["batch_id"]} and len(fake.batch_polls) == fake.polls_before_end + 2
    assert fake.requests == [] and len(fake.batch_requests) == 3
    assert not recorded.exists()
    rows = invoices(out)
    assert len(rows) == 3 and {row["status"] for row in rows} == {"accepted"}
    assert summary.vlm_cost_usd == price(fake.batch_answered, config, Decimal("0.5")) > 0
    assert sum(Decimal(str(row["vlm_cost_usd"])) for row in rows) == pytest.approx(summary.vlm_cost_usd)


def test_the_budget_is_reserved_before_submitting(fake: FakeAnthropic, inbox: Path, tmp_path: Path) -> None:
    out, config = tmp_path / "out", batch_settings(tmp_path, vlm_max_cost_usd=Decimal("0.000001"))
    summary = run(inbox, out, config)
    assert fake.batch_creates == [] and fake.requests == []
    rows = invoices(out)
    assert len(rows) == 3 and {row["status"] for row in rows} == {"needs_review"}
    assert summary.vlm_cost_usd == 0


def test_the_cli_flag_turns_batches_on() -> None:
    parser = build_parser()
    on = _settings_from(parser.parse_args(["backfill", "in", "--out", "o", "--vlm-batch"]))
    off = _settings_from(parser.parse_args(["backfill", "in", "--out", "o"]))
    assert on.vlm_use_batches is True and off.vlm_use_batches is False


def test_a_batch_that_does_not_end_in_time_is_canceled_and_asked_directly(
    fake: FakeAnthropic, inbox: Path, tmp_path: Path
) -> None:
    fake.polls_before_end = 10**6
    out, config = tmp_path / "out", batch_settings(tmp_path, vlm_batch_max_wait_s=0.1)
    summary = run(inbox, out, config)
    assert fake.batch_cancels == fake.batch_creates and len(fake.batch_creates) == 1
    assert len(fake.requests) == 3  # every record asked directly instead
    assert not list((out / CACHE_DIR / BATCHES_DIR).glob("*.json"))
    rows = invoices(out)
    assert len(rows) == 3 and {row["status"] for row in rows} == {"accepted"}
    assert summary.vlm_cost_usd == price(fake.answered, config)
