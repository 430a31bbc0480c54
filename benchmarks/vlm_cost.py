"""Measure what the hybrid OCR + VLM path costs, on the generated sample batch, against the loopback stand-in.

    .venv/bin/python benchmarks/vlm_cost.py --count 24 --seed 7

The stand-in (tests/fake_anthropic.py) speaks the Messages API to the real SDK and reports `usage` computed
from each actual request (image tokens = decoded width x height / 750, text ~ characters / 4), so the token
figures are those of the requests Ledgerlens really sends. It answers from each sample's truth file, so fusion
is exercised on correct answers; to give the tier-2 step something to do, the "tier 1" stand-in swaps vendor
and customer on every --tier1-error-every'th document (a simulated error rate, not a measurement of any
model's accuracy). Prices come from the settings' table. Passes (each with its own output folder):
  1. cascade, every record to tier 1 (vlm_mode=always): tokens, cost, escalations
  2. the same output folder again with a fresh session: cache hit rate (must be 100%), new requests (must be 0)
  3. cascade as deployed (vlm_mode=below_threshold): only records OCR alone would not accept go to the model
Passes 1 and 3 also count accepted records that are wrong against the truth file: a header field that differs
(`accepted_with_wrong_header_field`, must be 0) and line items that do not all match one to one.
haiku-only and sonnet-only figures price pass 1's tier-1 requests at each model's price (the requests are
identical whichever model receives them; a real tokenizer may count a few per cent differently).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.evaluate import match_line_items, truth_path_for, values_match
from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.process import process_document
from pipeline.vlm.cascade import VlmSession
from schemas import HEADER_FIELDS, ExtractionRecord, RecordStatus
from tests.fake_anthropic import FakeAnthropic, Reply, Seen, answer, invoice_answer, serve, truth_responder

MILLION = Decimal(1_000_000)


def scripted(truths: list[dict[str, Any]], tier1: str, error_every: int) -> Callable[[Seen], Reply]:
    correct = truth_responder(truths)
    wrong_for = {t["invoice_number"] for i, t in enumerate(truths) if error_every and i % error_every == 0}

    def respond(seen: Seen) -> Reply:
        reply = correct(seen)
        assert reply.tool_input is not None
        if seen.model == tier1 and reply.tool_input["invoice_number"]["value"] in wrong_for:
            swapped = invoice_answer({}, **reply.tool_input)
            swapped["vendor_name"], swapped["customer_name"] = (
                reply.tool_input["customer_name"],
                reply.tool_input["vendor_name"],
            )
            return answer(swapped)
        return reply

    return respond


def run_pass(
    pdfs: list[Path], settings: Settings, out: Path, workers: int
) -> tuple[list[ExtractionRecord], VlmSession]:
    documents, _ = discover_documents([str(p) for p in pdfs])
    session = VlmSession(settings, out)
    with ThreadPoolExecutor(workers) as pool:
        records = list(pool.map(lambda d: process_document(d, settings, out, session), documents))
    return records, session


def wrongly_accepted(records: list[ExtractionRecord]) -> dict[str, Any]:
    """Accepted records whose header fields, or line items, differ from the truth file beside the sample."""
    wrong_header: list[str] = []
    wrong_items: list[str] = []
    for record in records:
        if record.status is not RecordStatus.ACCEPTED or record.invoice is None:
            continue
        truth = json.loads(truth_path_for(record.source).read_text())
        name = Path(record.source).name
        fields = [f for f in HEADER_FIELDS if not values_match(f, getattr(record.invoice, f), truth.get(f))]
        if fields:
            wrong_header.append(f"{name}: {', '.join(fields)}")
        predicted = [item.model_dump(mode="json") for item in record.invoice.line_items]
        expected = truth.get("line_items", [])
        if not (len(predicted) == len(expected) == match_line_items(predicted, expected)):
            wrong_items.append(name)
    return {
        "accepted_with_wrong_header_field": len(wrong_header),
        "accepted_with_wrong_header_field_documents": wrong_header,
        "accepted_with_wrong_line_items": len(wrong_items),
        "accepted_with_wrong_line_items_documents": wrong_items,
    }


def cost(seen: list[Seen], settings: Settings, model: str) -> Decimal:
    price = settings.price_of(model)
    total = Decimal(0)
    for request in seen:
        assert request.usage is not None
        total += (
            request.usage["input_tokens"] * price.input_per_mtok
            + request.usage["output_tokens"] * price.output_per_mtok
        ) / MILLION
    return total


STATUSES = ("accepted", "needs_review", "failed")


def status_counts(records: list[Any]) -> dict[str, int]:
    return {status: sum(r.status.value == status for r in records) for status in STATUSES}


def pass_always(
    fake: Any, pdfs: list[Path], settings: Settings, out: Path, workers: int
) -> tuple[dict[str, Any], list[Any]]:
    """Pass 1: every record to tier 1. Returns the pass's figures and the records (pass 2 compares against them)."""
    tier1, tier2 = settings.vlm_tier1_model, settings.vlm_tier2_model or settings.vlm_tier1_model
    started = time.perf_counter()
    records, session = run_pass(pdfs, settings, out, workers)
    seconds = time.perf_counter() - started
    totals = session.totals
    pages = totals.pages
    tier1_requests = [s for s in fake.answered if s.model == tier1]
    tier2_requests = [s for s in fake.answered if s.model == tier2 and tier2 != tier1]
    blocking_codes = Counter(
        i.code for r in records if len(r.vlm_models) > 1 for i in r.issues if i.severity == "blocking"
    )
    per_k = Decimal(1000) / pages
    figures = {
        "documents": len(records),
        "pages": pages,
        "seconds": round(seconds, 1),
        "image_tokens_per_page_before_resize": round(totals.source_image_tokens / pages),
        "image_tokens_per_page_after_resize": round(totals.image_tokens / pages),
        "image_tokens_per_page_measured_by_server": round(sum(s.image_tokens for s in tier1_requests) / pages),
        "input_tokens_per_page": round(sum(s.usage["input_tokens"] for s in tier1_requests if s.usage) / pages),
        "output_tokens_per_page": round(sum(s.usage["output_tokens"] for s in tier1_requests if s.usage) / pages),
        "tier1_calls": len(tier1_requests),
        "tier2_calls": len(tier2_requests),
        "escalated_documents": totals.escalations,
        "escalation_issue_codes": dict(blocking_codes),
        "status": status_counts(records),
        "cost_usd_measured": str(totals.cost_usd),
        **wrongly_accepted(records),
    }
    prices = {
        "haiku_only": float(round(cost(tier1_requests, settings, tier1) * per_k, 3)),
        "tiered_cascade_always": float(round(totals.cost_usd * per_k, 3)),
        "sonnet_only": float(round(cost(tier1_requests, settings, tier2) * per_k, 3)),
    }
    return {"pass1_always": figures, "usd_per_1000_pages": prices}, records


def pass_rerun(
    fake: Any, pdfs: list[Path], settings: Settings, out: Path, workers: int, first: list[Any]
) -> dict[str, Any]:
    """Pass 2: the same output folder again with a fresh session must be answered from the cache."""
    before = len(fake.requests)
    rerun, again = run_pass(pdfs, settings, out, workers)
    asked = again.totals.cache_hits + again.totals.calls
    return {
        "cache_hits": again.totals.cache_hits,
        "calls": again.totals.calls,
        "cache_hit_rate": again.totals.cache_hits / asked if asked else None,
        "new_requests_at_server": len(fake.requests) - before,
        "same_records": [r.invoice for r in rerun] == [r.invoice for r in first],
    }


def pass_below_threshold(fake: Any, pdfs: list[Path], settings: Settings, out: Path, workers: int) -> dict[str, Any]:
    """Pass 3: the cascade as deployed; only records OCR alone would not accept go to the model."""
    before_answered = len(fake.answered)
    records, session = run_pass(pdfs, settings, out, workers)
    doc_pages = sum(r.page_count for r in records)
    sent = [r for r in records if r.vlm_models]
    return {
        "pages_in_batch": doc_pages,
        "pages_sent": session.totals.pages,
        "documents_accepted_by_ocr_alone": len(records) - len(sent),
        "documents_sent": len(sent),
        "sent_and_then_accepted": sum(r.status.value == "accepted" for r in sent),
        "calls": len(fake.answered) - before_answered,
        "escalated_documents": session.totals.escalations,
        "cost_usd_measured": str(session.totals.cost_usd),
        "usd_per_1000_pages_of_batch": float(round(session.totals.cost_usd * 1000 / doc_pages, 3)),
        "status": status_counts(records),
        "sent_documents_left_in_review": sorted(
            Path(r.source).name for r in sent if r.status is RecordStatus.NEEDS_REVIEW
        ),
        **wrongly_accepted(records),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tier1-error-every", type=int, default=6)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from devtools.samples import generate_samples

    base = Settings(keep_page_images="none", vlm_max_retries=1)
    tier1, tier2 = base.vlm_tier1_model, base.vlm_tier2_model or base.vlm_tier1_model
    figures: dict[str, Any] = {"count": args.count, "seed": args.seed, "tier1": tier1, "tier2": tier2}
    with tempfile.TemporaryDirectory(prefix="ll-vlm-cost-") as tmp, serve(FakeAnthropic()) as fake:
        os.environ["ANTHROPIC_BASE_URL"] = fake.base_url
        os.environ["ANTHROPIC_API_KEY"] = "benchmark-stand-in"
        pdfs = generate_samples(Path(tmp) / "samples", args.count, args.seed)
        truths = [json.loads(p.with_suffix(".truth.json").read_text()) for p in pdfs]
        fake.script = [scripted(truths, tier1, args.tier1_error_every)]
        always = base.model_copy(update={"extractor": "hybrid", "vlm_mode": "always"})
        first_figures, first = pass_always(fake, pdfs, always, Path(tmp) / "out-always", args.workers)
        figures.update(first_figures)
        figures["pass2_rerun"] = pass_rerun(fake, pdfs, always, Path(tmp) / "out-always", args.workers, first)
        deployed = base.model_copy(update={"extractor": "hybrid", "vlm_mode": "below_threshold"})
        figures["pass3_below_threshold"] = pass_below_threshold(
            fake, pdfs, deployed, Path(tmp) / "out-deployed", args.workers
        )
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
