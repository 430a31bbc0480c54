"""Tier-1 requests of a backfill chunk sent as one Anthropic Message Batch (half price, asynchronous).

The answer cache is the seam: phase 1 (plan_requests) reads each document once, works out the exact tier-1
request the hybrid path would make for it and its cache key; phase 2 (run_batch) submits the uncached ones
as one batch (custom_id = cache key), polls until it has ended, and puts every valid answer in the cache at
the batch price; phase 3 is the chunk's normal processing, whose tier-1 lookups then hit the cache. A
request the batch did not answer (errored, expired, canceled, invalid) is simply not cached: phase 3 asks
the model directly, or falls back to OCR and review, so nothing is lost. Tier-2 escalations stay direct.

The batch id is recorded under the cache folder (vlm-cache/batches/<id>.json) as soon as it is created, so a
backfill killed while a batch is processing resumes polling that batch instead of paying for a new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
from pydantic import ValidationError

from pipeline.config import Settings
from pipeline.errors import ConfigError, DocumentError, TransientError
from pipeline.reading import first_reading
from pipeline.vlm.cascade import VlmSession, model_wanted, page_images
from pipeline.vlm.client import estimate_input_tokens, first_request, read_answer
from pipeline.vlm.cost import Usage
from pipeline.vlm.prompt import PROMPT_VERSION, ocr_hints
from schemas import Document

BATCHES_DIR = "batches"

Log = Callable[[str], None]


@dataclass(frozen=True)
class PlannedRequest:
    """The tier-1 request the hybrid path will make for one document, and the cache key of its answer."""

    key: str
    model: str
    params: dict[str, Any]
    worst_case_usd: Decimal  # at the batch price: estimated input plus all the output tokens


@dataclass
class BatchReport:
    batch_ids: list[str]
    submitted: int = 0
    resumed: int = 0
    succeeded: int = 0
    cached: int = 0
    not_answered: int = 0
    cost_usd: Decimal = Decimal(0)


def batch_price_factor(settings: Settings) -> Decimal:
    return settings.vlm_batch_price_factor


def plan_document(document: Document, session: VlmSession, scratch: Path) -> PlannedRequest | None:
    """Read the document (kept in the session for its processing) and the tier-1 request it needs, if any."""
    settings = session.settings
    folder = scratch / document.document_id[:24]
    try:
        pages, cleaned_images, routed = first_reading(document, folder, settings)
    except (DocumentError, TransientError):
        return None  # processing meets the same error and writes the failed row (or retries)
    session.keep_reading(document.document_id, pages, cleaned_images)
    if routed is None or not model_wanted(settings, routed) or len(pages) > settings.vlm_max_pages:
        return None
    try:
        images = page_images(Path(document.local_path), pages, cleaned_images, folder, settings)
    except DocumentError:
        return None
    hints = ocr_hints(pages)
    model = settings.vlm_tier1_model
    pngs = [image.png for image in images]
    estimate = estimate_input_tokens([(image.width, image.height) for image in images], hints)
    worst_case = Usage(model, estimate, settings.vlm_max_output_tokens).cost(settings.price_of(model))
    return PlannedRequest(
        key=session.key_for(model, images, hints),
        model=model,
        params=first_request(model, pngs, hints, settings),
        worst_case_usd=worst_case * batch_price_factor(settings),
    )


def plan_requests(
    documents: Iterable[Document], session: VlmSession, scratch: Path, workers: int
) -> list[PlannedRequest]:
    """Phase 1 for a chunk, `workers` documents at a time; one request per distinct cache key."""

    def plan(document: Document) -> PlannedRequest | None:
        try:
            return plan_document(document, session, scratch)
        except ConfigError:
            raise  # e.g. no price for the model: the run cannot go on
        except Exception:  # phase 1 only saves work: processing meets the same problem and writes the row
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        planned = [item for item in pool.map(plan, documents) if item is not None]
    return list({item.key: item for item in planned}.values())


def _state_dir(session: VlmSession) -> Path:
    return session.cache.directory / BATCHES_DIR


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(state), encoding="utf-8")
    os.replace(temporary, path)


def pending_batches(session: VlmSession) -> list[dict[str, Any]]:
    """Batches submitted and not yet collected (by this run or one that was killed)."""
    states: list[dict[str, Any]] = []
    folder = _state_dir(session)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(state, dict) and isinstance(state.get("batch_id"), str) and isinstance(state.get("models"), dict):
            states.append(state)
    return states


def _forget(session: VlmSession, batch_id: str) -> None:
    (_state_dir(session) / f"{batch_id}.json").unlink(missing_ok=True)


def _uncached(session: VlmSession, requests: list[PlannedRequest]) -> list[PlannedRequest]:
    return [request for request in requests if session.cache.get(request.key) is None]


def run_batch(session: VlmSession, requests: list[PlannedRequest], log: Log) -> BatchReport:
    """Phase 2: collect any recorded batch that holds some of these requests, submit the rest as one batch,
    poll it until it has ended and cache its answers. Never raises for API trouble: what the batch does not
    answer is asked directly in phase 3."""
    report = BatchReport(batch_ids=[])
    wanted = {request.key for request in _uncached(session, requests)}
    for recorded in pending_batches(session):
        if wanted & set(recorded["models"]):
            log(f"Resuming Message Batch {recorded['batch_id']} recorded by an earlier run (not submitting a new one).")
            report.resumed += 1
            report.batch_ids.append(recorded["batch_id"])
            _wait_and_collect(session, recorded, Decimal(0), report, log)
    submitted = submit_batch(session, _uncached(session, requests), log)
    if submitted is not None:
        report.submitted = len(submitted["models"])
        report.batch_ids.append(submitted["batch_id"])
        _wait_and_collect(session, submitted, Decimal(submitted["reserved_usd"]), report, log)
    return report


def submit_batch(session: VlmSession, requests: list[PlannedRequest], log: Log) -> dict[str, Any] | None:
    """Reserve the worst case of each request in the run budget, submit those admitted as one batch and
    record its id (vlm-cache/batches/<id>.json); None if nothing was submitted."""
    if not requests:
        return None
    budget = session.budget
    admitted = [request for request in requests if budget.reserve(request.worst_case_usd)]
    if len(admitted) < len(requests):
        log(f"The VLM budget admits {len(admitted)} of {len(requests)} batch requests; the rest keep OCR's reading.")
    if not admitted:
        return None
    reserved = sum((request.worst_case_usd for request in admitted), Decimal(0))
    try:
        created = session.client.create_batch(
            [{"custom_id": request.key, "params": request.params} for request in admitted]
        )
    except anthropic.APIError as exc:
        budget.settle(reserved, Decimal(0))
        log(f"The Message Batch could not be created ({type(exc).__name__}: {exc}); the model is asked directly.")
        return None
    state = {
        "batch_id": created.id,
        "prompt_version": PROMPT_VERSION,
        "models": {request.key: request.model for request in admitted},
        "reserved_usd": str(reserved),
        "submitted_at": time.time(),
    }
    _write_state(_state_dir(session) / f"{created.id}.json", state)
    log(f"Submitted Message Batch {created.id} with {len(admitted)} requests (batch price).")
    return state


def _wait_and_collect(
    session: VlmSession, state: dict[str, Any], reserved: Decimal, report: BatchReport, log: Log
) -> None:
    settings, client, batch_id = session.settings, session.client, state["batch_id"]
    delay = settings.vlm_batch_poll_s
    started = time.monotonic()
    while True:
        try:
            batch = client.retrieve_batch(batch_id)
        except anthropic.NotFoundError:
            log(f"Message Batch {batch_id} no longer exists; its requests are asked directly.")
            _forget(session, batch_id)
            session.budget.settle(reserved, Decimal(0))
            return
        except anthropic.APIError as exc:  # the SDK already retried; keep polling until the max wait
            batch = None
            log(f"Polling Message Batch {batch_id} failed ({type(exc).__name__}); trying again.")
        if batch is not None and batch.processing_status == "ended":
            break
        waited = time.monotonic() - started
        if waited >= settings.vlm_batch_max_wait_s:
            log(
                f"Message Batch {batch_id} did not end within {settings.vlm_batch_max_wait_s:.0f} s "
                "(LEDGERLENS_VLM_BATCH_MAX_WAIT_S); it is canceled and its requests are asked directly."
            )
            with contextlib.suppress(anthropic.APIError):
                client.cancel_batch(batch_id)
            _forget(session, batch_id)
            session.budget.settle(reserved, Decimal(0))
            return
        if batch is not None:
            counts = batch.request_counts
            log(
                f"Message Batch {batch_id}: {batch.processing_status}, {counts.processing} requests processing; "
                f"waited {waited:.0f} s, next poll in {delay:.0f} s."
            )
        time.sleep(delay)
        delay = min(delay * 2, settings.vlm_batch_poll_max_s)
    _collect(session, state, reserved, report, log)


def _collect(session: VlmSession, state: dict[str, Any], reserved: Decimal, report: BatchReport, log: Log) -> None:
    settings, batch_id = session.settings, state["batch_id"]
    models: dict[str, str] = state["models"]
    factor = batch_price_factor(settings)
    spent, input_tokens, output_tokens, succeeded = Decimal(0), 0, 0, 0
    outcomes: Counter[str] = Counter()
    try:
        for item in session.client.batch_results(batch_id):
            model = models.get(item.custom_id)
            result = item.result
            if model is None:
                continue
            if result.type != "succeeded":
                outcomes[result.type] += 1
                continue
            message = result.message
            usage = Usage(model, message.usage.input_tokens, message.usage.output_tokens)
            cost = usage.cost(settings.price_of(model)) * factor
            spent += cost
            succeeded += 1
            input_tokens += usage.input_tokens
            output_tokens += usage.output_tokens
            try:
                answer = read_answer(message)
            except (ValidationError, ValueError):
                outcomes["invalid"] += 1
                continue
            entry = {
                "model": model,
                "prompt_version": state.get("prompt_version", PROMPT_VERSION),
                "answer": answer.model_dump(mode="json"),
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": str(cost),
                "batch_id": batch_id,
            }
            if session.cache.put(item.custom_id, entry):
                session.expect_batch_answer(item.custom_id, cost)
                report.cached += 1
    except anthropic.APIError as exc:
        # Kept on record: the next run collects it; this one asks directly for what is not cached.
        log(f"The results of Message Batch {batch_id} could not be read ({type(exc).__name__}); asked directly.")
        session.budget.settle(reserved, Decimal(0))
        return
    session.budget.settle(reserved, spent)
    session.count_batch(succeeded, input_tokens, output_tokens, spent)
    report.succeeded += succeeded
    report.not_answered += sum(outcomes.values())
    report.cost_usd += spent
    _forget(session, batch_id)
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(outcomes.items())) or "none"
    log(
        f"Message Batch {batch_id} ended: {succeeded} answered (${spent:.4f} at the batch price); "
        f"not usable, asked directly: {detail}."
    )
