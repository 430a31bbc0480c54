"""The VLM client seam: what Ledgerlens asks of a vision-language model service, and the implementations.

`MessagesApiClient` is Anthropic's Messages API (and its Message Batches) through the official SDK; the
SDK's own retries apply. Every method may raise `anthropic.APIError`; callers turn that into a reason on
the record, never into a failed batch. Replies are the SDK's types, which tests get from the loopback
stand-in (tests/fake_anthropic.py) through the same SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.config import Settings

if TYPE_CHECKING:
    from anthropic.types import Message
    from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse


class VlmClient(Protocol):
    def create_message(self, params: dict[str, Any]) -> Message: ...
    def create_batch(self, requests: list[dict[str, Any]]) -> MessageBatch: ...
    def retrieve_batch(self, batch_id: str) -> MessageBatch: ...
    def batch_results(self, batch_id: str) -> Iterable[MessageBatchIndividualResponse]: ...
    def cancel_batch(self, batch_id: str) -> None: ...


class MessagesApiClient:
    """Anthropic's Messages API; reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL (a gateway) from the environment."""

    def __init__(self, settings: Settings) -> None:
        # Imported when a model is used: the SDK was a third of the imports of every run, OCR-only ones too.
        import anthropic

        self.sdk = anthropic.Anthropic(max_retries=settings.vlm_max_retries, timeout=settings.vlm_timeout_s)

    def create_message(self, params: dict[str, Any]) -> Message:
        return self.sdk.messages.create(**params)

    def create_batch(self, requests: list[dict[str, Any]]) -> MessageBatch:
        return self.sdk.messages.batches.create(requests=requests)  # type: ignore[arg-type]

    def retrieve_batch(self, batch_id: str) -> MessageBatch:
        return self.sdk.messages.batches.retrieve(batch_id)

    def batch_results(self, batch_id: str) -> Iterable[MessageBatchIndividualResponse]:
        return self.sdk.messages.batches.results(batch_id)

    def cancel_batch(self, batch_id: str) -> None:
        self.sdk.messages.batches.cancel(batch_id)


VLM_CLIENTS: dict[str, Callable[[Settings], VlmClient]] = {"messages": MessagesApiClient}
