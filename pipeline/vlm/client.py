"""One model call with the official SDK: structured output by forced tool use, a re-ask on an invalid answer,
the run's concurrency limit and request-rate cap, and the cost of every attempt counted.

The SDK retries 429, 529, 5xx and timeouts with backoff (settings.vlm_max_retries). What still fails after
that comes back as an outcome with a reason, never as an exception: a VLM outage must not stop a batch.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.config import Settings
from pipeline.engines.vlm import VLM_CLIENTS, VlmClient
from pipeline.errors import ConfigError
from pipeline.vlm.cost import RunBudget, Usage
from pipeline.vlm.image import image_tokens
from pipeline.vlm.prompt import SYSTEM_PROMPT, tool_definition, user_content
from schemas.vlm import TOOL_NAME, VlmInvoice

if TYPE_CHECKING:  # the SDK is imported where a model is called (pipeline/engines/vlm.py), not by every run
    import anthropic


class CallLimiter:
    """The run's cap on model calls in this process: at most `concurrency` at once, and at most
    `per_minute` starting per minute, evenly spaced. One per VlmSession (each worker process of a run has
    its own, so the caps apply per process)."""

    def __init__(self, concurrency: int, per_minute: int | None) -> None:
        self.concurrency, self.per_minute = concurrency, per_minute
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._next = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "per_minute": self.per_minute}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["concurrency"], state["per_minute"])  # type: ignore[misc]

    def _wait_turn(self) -> None:
        if self.per_minute is None:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 60.0 / self.per_minute
        time.sleep(max(0.0, start - now))

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._wait_turn()
        with self._slots:
            yield


def require_api_key() -> None:
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        raise ConfigError(
            "The vlm and hybrid extractors need an Anthropic API key: set ANTHROPIC_API_KEY "
            "(and ANTHROPIC_BASE_URL for a gateway), or run with --extractor ocr."
        )


def make_client(settings: Settings, kind: str = "messages") -> VlmClient:
    """The model client from the registry (pipeline/engines/vlm.py); the Messages API reads ANTHROPIC_API_KEY
    and ANTHROPIC_BASE_URL (a gateway) from the environment."""
    require_api_key()
    return VLM_CLIENTS[kind](settings)


@dataclass
class CallOutcome:
    model: str
    answer: VlmInvoice | None = None
    error: str | None = None
    usages: list[Usage] = field(default_factory=list)
    cost_usd: Decimal = Decimal(0)
    budget_stopped: bool = False

    @property
    def input_tokens(self) -> int:
        return sum(usage.input_tokens for usage in self.usages)

    @property
    def output_tokens(self) -> int:
        return sum(usage.output_tokens for usage in self.usages)


def estimate_input_tokens(image_sizes: list[tuple[int, int]], hints: str) -> int:
    text = len(SYSTEM_PROMPT) + len(hints) + len(json.dumps(tool_definition()))
    return sum(image_tokens(w, h) for w, h in image_sizes) + text // 4 + 50


def _tool_input(message: anthropic.types.Message) -> tuple[str | None, Any]:
    for block in message.content:
        if block.type == "tool_use" and block.name == TOOL_NAME:
            return block.id, block.input
    return None, None


def _replayable(block: Any) -> dict[str, Any]:
    """An answer block as the API accepts it back in the conversation."""
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if block.type == "text":
        return {"type": "text", "text": block.text}
    return dict(block.model_dump(exclude_none=True))


def _describe(exc: Exception) -> str:
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, anthropic.APIStatusError):
        return f"HTTP {exc.status_code} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def request_params(model: str, messages: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """The Messages API request for `messages`: the same for a direct call and a Message Batch entry."""
    return {
        "model": model,
        "max_tokens": settings.vlm_max_output_tokens,
        "system": SYSTEM_PROMPT,
        "tools": [tool_definition()],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
        "messages": messages,
    }


def first_request(model: str, images: list[bytes], hints: str, settings: Settings) -> dict[str, Any]:
    """The first (and usually only) request ask_model makes for these pages."""
    return request_params(model, [{"role": "user", "content": user_content(images, hints)}], settings)


def read_answer(message: anthropic.types.Message) -> VlmInvoice:
    """The invoice in a message's tool call; ValueError (or ValidationError) if there is none or it is invalid."""
    _tool_id, tool_input = _tool_input(message)
    if _tool_id is None:
        raise ValueError(f"the answer did not call the {TOOL_NAME} tool")
    return VlmInvoice.model_validate(tool_input)


def _reask(message: anthropic.types.Message, tool_id: str | None, problem: str) -> list[dict[str, Any]]:
    """The turns that replay an invalid answer and ask again with what was wrong."""
    reply: list[dict[str, Any]] = [{"type": "text", "text": f"Call the {TOOL_NAME} tool with the invoice."}]
    if tool_id is not None:
        reply = [
            {
                "type": "tool_result",
                "tool_use_id": tool_id,
                "is_error": True,
                "content": f"The input did not match the schema: {problem}. Call {TOOL_NAME} again, corrected.",
            }
        ]
    return [
        {"role": "assistant", "content": [_replayable(block) for block in message.content]},
        {"role": "user", "content": reply},
    ]


def ask_model(
    client: VlmClient,
    model: str,
    images: list[bytes],
    image_sizes: list[tuple[int, int]],
    hints: str,
    settings: Settings,
    budget: RunBudget,
    limiter: CallLimiter | None = None,
) -> CallOutcome:
    """Ask `model` for the invoice; re-ask once with the validation error if the answer breaks the schema."""
    import anthropic

    price = settings.price_of(model)
    limiter = limiter or CallLimiter(settings.vlm_concurrency, settings.vlm_requests_per_minute)
    outcome = CallOutcome(model=model)
    messages: list[dict[str, Any]] = first_request(model, images, hints, settings)["messages"]
    worst_case = Usage(model, estimate_input_tokens(image_sizes, hints), settings.vlm_max_output_tokens).cost(price)
    for attempt in (1, 2):
        if not budget.reserve(worst_case):
            outcome.budget_stopped = True
            outcome.error = (
                f"The VLM budget (--max-cost ${budget.max_cost_usd}) is spent; the model was not asked "
                "and the record keeps its OCR reading."
            )
            return outcome
        actual = Decimal(0)
        try:
            with limiter.slot():
                message = client.create_message(request_params(model, messages, settings))
            usage = Usage(model, message.usage.input_tokens, message.usage.output_tokens)
            actual = usage.cost(price)
            outcome.usages.append(usage)
            outcome.cost_usd += actual
        except anthropic.APIError as exc:
            outcome.error = (
                f"The model ({model}) could not be reached after {settings.vlm_max_retries} retries: "
                f"{_describe(exc)}; the record keeps its OCR reading."
            )
            return outcome
        finally:
            budget.settle(worst_case, actual)
        tool_id, _ = _tool_input(message)
        try:
            outcome.answer = read_answer(message)
            return outcome
        except (ValidationError, ValueError) as exc:
            problem = str(exc)
        if attempt == 2:
            break
        messages += _reask(message, tool_id, problem)
    outcome.error = (
        f"The model's answer ({model}) did not match the invoice schema twice and was dropped "
        f"({problem.splitlines()[0]}); the record keeps its OCR reading."
    )
    return outcome
