"""Terminal output: a progress bar while a batch runs and the summary after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.backfill import BackfillSummary
from flows.ingest import ProgressCallback, RunSummary
from schemas import ExtractionRecord

console = Console()


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]Processing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=False,
    ) as progress:
        task_id = progress.add_task("documents", total=None, last="")

        def update(done: int, total: int, record: ExtractionRecord | None) -> None:
            last = f"{Path(record.source).name}: {record.status.value}" if record else "starting"
            progress.update(task_id, completed=done, total=total, last=last)

        yield update


def _print_counts(title: str, counts: dict[str, int], skipped: int) -> None:
    console.print()
    table = Table(title=title, show_header=True)
    table.add_column("status")
    table.add_column("documents", justify="right")
    for status in ("accepted", "needs_review", "failed"):
        table.add_row(status, str(counts.get(status, 0)))
    table.add_row("skipped (already in output)", str(skipped))
    console.print(table)


def print_summary(summary: RunSummary) -> None:
    _print_counts("Ledgerlens run", summary.counts, summary.skipped_existing)
    console.print(
        f"Pages: {summary.pages} in {summary.seconds:.1f} s -> "
        f"[bold]{summary.pages_per_minute:.1f} pages/minute[/bold]; rows written: {summary.written}; "
        f"queued for review: {summary.queued_for_review}"
    )
    if summary.extractor == "ocr":
        console.print("Extractor: ocr (rules over OCR / the PDF text layer; no model calls)")
    else:
        console.print(
            f"Extractor: {summary.extractor}; VLM calls: {summary.vlm_calls}, cache hits: {summary.vlm_cache_hits}, "
            f"tokens: {summary.vlm_input_tokens} in / {summary.vlm_output_tokens} out, "
            f"[bold]cost: ${summary.vlm_cost_usd:.4f}[/bold]; OCR fallbacks: {summary.vlm_fallbacks}"
        )
        if summary.vlm_budget_stopped:
            console.print(
                "[yellow]The --max-cost budget was reached: later records kept their OCR reading and went to "
                "review.[/yellow]"
            )
    if summary.duplicate_inputs:
        console.print(
            f"[yellow]{summary.duplicate_inputs} input(s) had the same bytes as another input[/yellow]: "
            "one row each, their paths in the duplicate_sources column"
        )
    if summary.deferred:
        console.print(f"[yellow]{len(summary.deferred)} input(s) deferred (S3 kept throttling): run again[/yellow]")
    if summary.unmatched_inputs:
        console.print(f"[yellow]Inputs that matched no file:[/yellow] {', '.join(summary.unmatched_inputs)}")

    if summary.out_dir.startswith("s3://"):
        console.print(f"Parquet: {summary.out_dir}/{{invoices,line_items,fields}}/")
        console.print(f"Review queue (local, OUT is on S3): {summary.review_db}")
        return
    out = Path(summary.out_dir).resolve()
    console.print(f"Parquet: {out / 'invoices'}  {out / 'line_items'}  {out / 'fields'}")
    console.print(
        f"Review queue: {summary.review_db or out / 'review.sqlite'}  (to review: ledgerlens review serve --out {out})"
    )


def print_backfill_summary(summary: BackfillSummary) -> None:
    _print_counts(f"Ledgerlens backfill of {summary.source}", summary.counts, summary.skipped_existing)
    console.print(
        f"{summary.listed} inputs in {summary.chunks} chunks; processed {summary.processed} in {summary.seconds:.1f} s "
        f"-> [bold]{summary.documents_per_minute:.1f} documents/minute[/bold]; rows written: {summary.written}"
    )
    console.print(f"Output: {summary.out_dir}; review queue: {summary.review_db}")
    if summary.extractor != "ocr":
        console.print(
            f"Extractor: {summary.extractor}; VLM calls: {summary.vlm_calls} ({summary.vlm_batch_requests} through "
            f"{summary.vlm_batches} Message Batches), cache hits: {summary.vlm_cache_hits}, "
            f"[bold]cost: ${summary.vlm_cost_usd:.4f}[/bold]"
        )
    if summary.deferred:
        console.print(f"[yellow]{len(summary.deferred)} input(s) deferred (S3 kept throttling): run again[/yellow]")
