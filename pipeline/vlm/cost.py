"""Token usage in US dollars, and the run budget that stops VLM calls once --max-cost is reached."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from pipeline.config import ModelPrice

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Usage:
    model: str
    input_tokens: int
    output_tokens: int

    def cost(self, price: ModelPrice) -> Decimal:
        return (self.input_tokens * price.input_per_mtok + self.output_tokens * price.output_per_mtok) / MILLION


class RunBudget:
    """Thread-safe spend counter. A call reserves its worst case (estimated input, all max output tokens)
    before it is sent, so concurrent calls together never pass the cap; the actual cost is settled after."""

    def __init__(self, max_cost_usd: Decimal | None) -> None:
        self.max_cost_usd = max_cost_usd
        self._lock = threading.Lock()
        self._spent = Decimal(0)
        self._reserved = Decimal(0)
        self.stopped = False

    @property
    def spent(self) -> Decimal:
        with self._lock:
            return self._spent

    def reserve(self, worst_case: Decimal) -> bool:
        with self._lock:
            if self.max_cost_usd is not None and self._spent + self._reserved + worst_case > self.max_cost_usd:
                self.stopped = True
                return False
            self._reserved += worst_case
            return True

    def settle(self, reserved: Decimal, actual: Decimal) -> None:
        with self._lock:
            self._reserved -= reserved
            self._spent += actual
