"""The run summary: its shape and its one renderer, used by the terminal (flows/report.py) and the Prefect
artifacts (ingest and backfill) alike."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

STATUSES = ("accepted", "needs_review", "failed")


class RunSummary(BaseModel):
    out_dir: str
    discovered: int
    skipped_existing: int
    processed: int
    written: int
    counts: dict[str, int] = Field(default_factory=dict)
    pages: int = 0
    seconds: float = 0.0
    unmatched_inputs: list[str] = Field(default_factory=list)
    queued_for_review: int = 0
    not_queued: list[str] = Field(default_factory=list)  # needs_review documents the queue refused: run again
    duplicate_inputs: int = 0
    review_db: str = ""
    archived: int = 0
    deferred: list[str] = Field(default_factory=list)
    extractor: str = "ocr"
    vlm_calls: int = 0
    vlm_cache_hits: int = 0
    vlm_input_tokens: int = 0
    vlm_output_tokens: int = 0
    vlm_cost_usd: Decimal = Decimal(0)
    vlm_max_cost_usd: Decimal | None = None
    vlm_fallbacks: int = 0
    vlm_budget_stopped: bool = False
    vlm_batches: int = 0  # Message Batches submitted or resumed (backfill --vlm-batch)
    vlm_batch_requests: int = 0  # model answers that came from them (included in vlm_calls)
    vendor_profiles: int = 0  # vendor profiles known when the run started (after learning)
    vendor_decisions_learned: int = 0  # review decisions applied to profiles at the start of the run
    vendor_profile_matches: int = 0  # records a profile was applied to
    vlm_calls_saved: int = 0  # records the model would have read without their vendor profile
    compacted_files: int = 0  # part files of closed days merged away at the end of the run
    compaction_skipped: str | None = None  # why that merge stopped (tried again by the next run)

    @property
    def pages_per_minute(self) -> float:
        return 60.0 * self.pages / self.seconds if self.seconds > 0 else 0.0

    @property
    def title(self) -> str:
        return "Ledgerlens run"


class BackfillSummary(RunSummary):
    """The run's own totals (RunSummary) plus what a backfill adds: where from, how much was listed, in
    how many chunks."""

    source: str
    listed: int = 0
    chunks: int = 0

    @property
    def documents_per_minute(self) -> float:
        return 60.0 * self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def title(self) -> str:
        return f"Ledgerlens backfill of {self.source}"


def count_rows(summary: RunSummary) -> list[tuple[str, int]]:
    """Documents per status, then those skipped because OUT already had their row."""
    rows = [(status, summary.counts.get(status, 0)) for status in STATUSES]
    return [*rows, ("skipped (already in output)", summary.skipped_existing)]


def _volume(summary: RunSummary) -> list[str]:
    lines = [f"output: `{summary.out_dir}`"]
    if isinstance(summary, BackfillSummary):
        lines.append(f"source: `{summary.source}`; inputs listed: {summary.listed} in {summary.chunks} chunks")
    lines += [
        f"discovered: {summary.discovered}; processed: {summary.processed}; rows written: {summary.written}",
        f"pages: {summary.pages} in {summary.seconds:.1f} s ({summary.pages_per_minute:.1f} pages/minute)",
    ]
    if isinstance(summary, BackfillSummary):
        lines.append(f"documents per minute: {summary.documents_per_minute:.1f}")
    lines.append(f"queued for review: {summary.queued_for_review} (review queue: `{summary.review_db}`)")
    if summary.archived:
        lines.append(f"inputs moved to the archive: {summary.archived}")
    return lines


def _vlm(summary: RunSummary) -> list[str]:
    if summary.extractor == "ocr":
        return ["Extractor: ocr (rules over OCR / the PDF text layer; no model calls)"]
    batches = (
        f" ({summary.vlm_batch_requests} through {summary.vlm_batches} Message Batches)" if summary.vlm_batches else ""
    )
    budget = f" of the --max-cost ${summary.vlm_max_cost_usd}" if summary.vlm_max_cost_usd is not None else ""
    lines = [
        f"Extractor: {summary.extractor}; VLM calls: {summary.vlm_calls}{batches}, cache hits: "
        f"{summary.vlm_cache_hits}, tokens: {summary.vlm_input_tokens} in / {summary.vlm_output_tokens} out, "
        f"cost: ${summary.vlm_cost_usd:.4f}{budget}; OCR fallbacks: {summary.vlm_fallbacks}"
    ]
    if summary.vlm_budget_stopped:
        lines.append("The --max-cost budget was reached: later records kept their OCR reading and went to review.")
    return lines


def _warnings(summary: RunSummary) -> list[str]:
    lines = []
    if summary.duplicate_inputs:
        lines.append(
            f"{summary.duplicate_inputs} input(s) had the same bytes as another input: one row each, their paths "
            "in the duplicate_sources column"
        )
    if summary.not_queued:
        lines.append(
            f"{len(summary.not_queued)} document(s) for review could not be queued (the review queue refused the "
            "write); they have no row yet and are processed again by the next run: run again"
        )
    if summary.deferred:
        lines.append(f"{len(summary.deferred)} input(s) deferred (S3 kept throttling): run again")
    if summary.unmatched_inputs:
        lines.append(f"inputs that matched no file: {', '.join(summary.unmatched_inputs)}")
    if summary.compaction_skipped:
        lines.append(
            f"earlier days' part files were not all merged ({summary.compaction_skipped}); the next run tries again"
        )
    return lines


def summary_lines(summary: RunSummary) -> list[str]:
    """Every line of the summary below the counts, in Markdown (backticks around locations)."""
    return [*_volume(summary), *_vlm(summary), *_vendors(summary), *_warnings(summary)]


def _vendors(summary: RunSummary) -> list[str]:
    if not summary.vendor_profiles:
        return []
    saved = f"; model calls made unnecessary: {summary.vlm_calls_saved}" if summary.extractor != "ocr" else ""
    return [
        f"vendor profiles: {summary.vendor_profiles} ({summary.vendor_decisions_learned} new decisions learned), "
        f"applied to {summary.vendor_profile_matches} record(s){saved}"
    ]


def summary_markdown(summary: RunSummary) -> str:
    """The Prefect artifact: a title, the counts table and the summary lines."""
    table = "\n".join(f"| {label} | {count} |" for label, count in count_rows(summary))
    items = "\n".join(f"- {line}" for line in summary_lines(summary))
    return f"# {summary.title}\n\n| status | documents |\n|---|---|\n{table}\n\n{items}\n"
