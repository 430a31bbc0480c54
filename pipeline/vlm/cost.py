"""Token usage in US dollars, and the run budget that stops VLM calls once --max-cost is reached."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pipeline.config import ModelPrice
from pipeline.vlm.ledger import Ledger, MemoryLedger, State

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Usage:
    model: str
    input_tokens: int
    output_tokens: int

    def cost(self, price: ModelPrice) -> Decimal:
        return (self.input_tokens * price.input_per_mtok + self.output_tokens * price.output_per_mtok) / MILLION


class RunBudget:
    """Spend counter of a run. A call reserves its worst case (estimated input, all max output tokens)
    before it is sent, so concurrent calls together never pass the cap; the actual cost is settled after.

    The numbers live in the run's ledger: in memory for one process, or a locked file shared by every
    worker process of the run (pipeline/vlm/ledger.py), so --max-cost holds per run under any task runner."""

    def __init__(self, max_cost_usd: Decimal | None, ledger: Ledger | None = None) -> None:
        self.max_cost_usd = max_cost_usd
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()

    @property
    def spent(self) -> Decimal:
        return self.ledger.update(lambda state: _amount(state, "spent"))

    @property
    def stopped(self) -> bool:
        return self.ledger.update(lambda state: bool(state.get("stopped", False)))

    def reserve(self, worst_case: Decimal) -> bool:
        def change(state: State) -> bool:
            committed = _amount(state, "spent") + _amount(state, "reserved")
            if self.max_cost_usd is not None and committed + worst_case > self.max_cost_usd:
                state["stopped"] = True
                return False
            state["reserved"] = str(_amount(state, "reserved") + worst_case)
            return True

        return self.ledger.update(change)

    def settle(self, reserved: Decimal, actual: Decimal) -> None:
        def change(state: State) -> None:
            state["reserved"] = str(_amount(state, "reserved") - reserved)
            state["spent"] = str(_amount(state, "spent") + actual)

        self.ledger.update(change)


def _amount(state: State, key: str) -> Decimal:
    return Decimal(state.get(key, "0"))
