"""The tier cascade for one record: tier 1 (cheap model), tier 2 (strong model) only while unresolved.

A VlmSession is what a run shares across its documents and threads: the SDK client, the answer cache under
OUT/vlm-cache, the run budget and the totals for the summary.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import anthropic

from pipeline.config import Settings
from pipeline.previews import render_pdf_preview
from pipeline.validate import validate_invoice
from pipeline.vlm.cache import CACHE_DIR, AnswerCache, cache_key
from pipeline.vlm.client import CallOutcome, ask_model, make_client
from pipeline.vlm.cost import RunBudget, Usage
from pipeline.vlm.fusion import Fusion, fuse
from pipeline.vlm.image import BudgetImage, load_for_budget
from pipeline.vlm.prompt import PROMPT_VERSION, ocr_hints
from schemas import ExtractionResult, IssueCode, PageText, Severity, TextSource, ValidationIssue
from schemas.vlm import VlmInvoice, tool_input_schema


@dataclass
class SessionTotals:
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    fallbacks: int = 0
    escalations: int = 0
    pages: int = 0
    image_tokens: int = 0
    source_image_tokens: int = 0
    batch_requests: int = 0


class VlmSession:
    """Shared by every document of a run (thread-safe)."""

    def __init__(self, settings: Settings, out_dir: Path, client: anthropic.Anthropic | None = None) -> None:
        self.settings = settings
        self.cache = AnswerCache(out_dir / CACHE_DIR)
        self.budget = RunBudget(settings.vlm_max_cost_usd)
        self.totals = SessionTotals()
        self._client = client
        self._lock = threading.Lock()
        # A backfill with --vlm-batch reads each document once before its batch (phase 1) and keeps the
        # reading here for the document's processing; answers fresh from a batch are charged to the first
        # record that uses them (their cost is already in the run totals and the budget).
        self._readings: dict[str, tuple[list[PageText], dict[int, Path]]] = {}
        self._batch_answers: dict[str, Decimal] = {}

    @property
    def client(self) -> anthropic.Anthropic:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def _count(self, outcome: CallOutcome | None, cache_hit: bool = False, fallback: bool = False) -> None:
        with self._lock:
            self.totals.cache_hits += cache_hit
            self.totals.fallbacks += fallback
            if outcome is not None:
                self.totals.calls += len(outcome.usages)
                self.totals.input_tokens += outcome.input_tokens
                self.totals.output_tokens += outcome.output_tokens
                self.totals.cost_usd += outcome.cost_usd

    def count_fallback(self) -> None:
        self._count(None, fallback=True)

    def count_reading(self, images: list[BudgetImage], escalated: bool) -> None:
        with self._lock:
            self.totals.pages += len(images)
            self.totals.image_tokens += sum(image.tokens for image in images)
            self.totals.source_image_tokens += sum(image.source_tokens for image in images)
            self.totals.escalations += escalated

    @staticmethod
    def key_for(model: str, images: list[BudgetImage], hints: str) -> str:
        return cache_key([image.png for image in images], PROMPT_VERSION, model, tool_input_schema(), hints)

    def keep_reading(self, document_id: str, pages: list[PageText], cleaned_images: dict[int, Path]) -> None:
        with self._lock:
            self._readings[document_id] = (pages, cleaned_images)

    def take_reading(self, document_id: str) -> tuple[list[PageText], dict[int, Path]] | None:
        with self._lock:
            return self._readings.pop(document_id, None)

    def drop_readings(self) -> None:
        with self._lock:
            self._readings.clear()

    def expect_batch_answer(self, key: str, cost: Decimal) -> None:
        with self._lock:
            self._batch_answers[key] = cost

    def count_batch(self, requests: int, input_tokens: int, output_tokens: int, cost: Decimal) -> None:
        with self._lock:
            self.totals.calls += requests
            self.totals.batch_requests += requests
            self.totals.input_tokens += input_tokens
            self.totals.output_tokens += output_tokens
            self.totals.cost_usd += cost

    def answer(self, model: str, images: list[BudgetImage], hints: str) -> tuple[CallOutcome, bool]:
        """The model's answer from the cache, or from one call (cached when valid); and whether it was cached.

        An answer a Message Batch of this run put in the cache is not a cache hit for the first record that
        uses it: that record carries its (batch-priced) usage and cost."""
        key = self.key_for(model, images, hints)
        entry = self.cache.get(key)
        if entry is not None:
            try:
                outcome = CallOutcome(model=model, answer=VlmInvoice.model_validate(entry["answer"]))
            except (KeyError, ValueError):
                outcome = None  # a stale or damaged entry: ask again
            if outcome is not None:
                with self._lock:
                    batch_cost = self._batch_answers.pop(key, None)
                if batch_cost is not None:
                    outcome.usages.append(
                        Usage(model, int(entry.get("input_tokens", 0)), int(entry.get("output_tokens", 0)))
                    )
                    outcome.cost_usd = batch_cost
                    return outcome, False
                self._count(None, cache_hit=True)
                return outcome, True
        outcome = ask_model(
            self.client,
            model,
            [image.png for image in images],
            [(image.width, image.height) for image in images],
            hints,
            self.settings,
            self.budget,
        )
        self._count(outcome)
        if outcome.answer is not None:
            usage = Usage(model, outcome.input_tokens, outcome.output_tokens)
            self.cache.put(
                key,
                {
                    "model": model,
                    "prompt_version": PROMPT_VERSION,
                    "answer": outcome.answer.model_dump(mode="json"),
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cost_usd": str(outcome.cost_usd),
                },
            )
        return outcome, False


_SESSIONS: dict[str, VlmSession] = {}


def register_session(session: VlmSession) -> str:
    """A token a worker thread can look the session up by (tasks take small, hashable arguments)."""
    token = uuid.uuid4().hex
    _SESSIONS[token] = session
    return token


def lookup_session(token: str) -> VlmSession | None:
    """The run's session; None in another process (a Dask worker), where each document opens its own: the
    cache on disk is still shared, but --max-cost then only bounds each document, not the run."""
    return _SESSIONS.get(token)


def release_session(token: str) -> None:
    _SESSIONS.pop(token, None)


def page_images(
    pdf_or_image: Path, pages: list[PageText], cleaned_images: dict[int, Path], scratch: Path, settings: Settings
) -> list[BudgetImage]:
    """Each page in the geometry of its words (the cleaned OCR image, else the PDF page drawn), fitted to the
    image budget. For a drawn text-layer page, `source_*` is the page at the render resolution."""
    images: list[BudgetImage] = []
    for page in pages:
        cleaned = cleaned_images.get(page.page_no)
        if cleaned is not None:
            images.append(load_for_budget(cleaned, settings.vlm_image_long_edge_px, settings.vlm_image_max_pixels))
            continue
        drawn = render_pdf_preview(
            pdf_or_image,
            page.page_no,
            scratch / "vlm" / f"page-{page.page_no:04d}.png",
            settings.vlm_image_long_edge_px,
        )
        image = load_for_budget(drawn, settings.vlm_image_long_edge_px, settings.vlm_image_max_pixels)
        if page.source is TextSource.TEXT_LAYER:
            scale = settings.render_dpi / 72
            image = BudgetImage(
                image.png, image.width, image.height, round(page.width * scale), round(page.height * scale)
            )
        images.append(image)
    return images


@dataclass
class SecondReading:
    """What the model tiers did for one record."""

    result: ExtractionResult | None = None
    issues: list[ValidationIssue] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    cache_hits: int = 0
    image_tokens: int = 0
    source_image_tokens: int = 0


def vlm_failure(
    message: str,
    code: IssueCode = IssueCode.VLM_FAILED,
    severity: Severity = Severity.BLOCKING,
) -> ValidationIssue:
    """The model's reading could not be used; the record keeps OCR's and a person checks it."""
    return ValidationIssue(code=code, message=message, severity=severity)


def read_with_models(
    session: VlmSession,
    ocr: ExtractionResult,
    pages: list[PageText],
    images: list[BudgetImage],
    *,
    prefer_vlm: bool = False,
) -> SecondReading:
    """Tier 1, then tier 2 only if fields still disagree, a value is unsupported or the arithmetic fails.

    Without a usable answer the record keeps its OCR reading and gets a blocking issue saying why.
    """
    settings = session.settings
    reading = SecondReading(
        image_tokens=sum(image.tokens for image in images),
        source_image_tokens=sum(image.source_tokens for image in images),
    )
    if len(pages) > settings.vlm_max_pages:
        reading.issues.append(
            vlm_failure(
                f"The document has {len(pages)} pages, more than the {settings.vlm_max_pages} the model reads "
                "(LEDGERLENS_VLM_MAX_PAGES); it was read by OCR alone.",
                IssueCode.VLM_SKIPPED,
                Severity.WARNING,
            )
        )
        return reading
    hints = ocr_hints(pages)
    tiers = [settings.vlm_tier1_model]
    if settings.vlm_tier2_model and settings.vlm_tier2_model != settings.vlm_tier1_model:
        tiers.append(settings.vlm_tier2_model)
    fusion: Fusion | None = None
    for tier, model in enumerate(tiers, start=1):
        outcome, cached = session.answer(model, images, hints)
        reading.models.append(model)
        reading.input_tokens += outcome.input_tokens
        reading.output_tokens += outcome.output_tokens
        reading.cost_usd += outcome.cost_usd
        reading.cache_hits += cached
        if outcome.answer is None:
            code = IssueCode.VLM_BUDGET_SPENT if outcome.budget_stopped else IssueCode.VLM_FAILED
            message = outcome.error or "The model gave no answer."
            if fusion is None:
                session.count_fallback()
                reading.issues.append(vlm_failure(message, code))
            else:  # tier 1's reading stands; its unresolved issues already send the record to review
                reading.issues.append(vlm_failure(f"Tier {tier}: {message}", code, Severity.WARNING))
            break
        fusion = fuse(ocr, outcome.answer, pages, model, prefer_vlm=prefer_vlm)
        checks = validate_invoice(fusion.result.invoice)
        if not fusion.needs_stronger_model(checks):
            break
    session.count_reading(images, escalated=len(reading.models) > 1)
    if fusion is not None:
        reading.result = fusion.result
        reading.issues = [*fusion.issues, *reading.issues]
    return reading
