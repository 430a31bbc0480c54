"""Terminal output: a progress bar while a batch runs and the summary after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.context import ProgressCallback
from flows.summary import BackfillSummary, RunSummary, count_rows, summary_lines
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


def _print_summary(summary: RunSummary) -> None:
    """The counts table and the summary lines: the same renderer as the Prefect artifact (flows/summary.py)."""
    console.print()
    table = Table(title=summary.title, show_header=True)
    table.add_column("status")
    table.add_column("documents", justify="right")
    for label, count in count_rows(summary):
        table.add_row(label, str(count))
    console.print(table)
    for line in summary_lines(summary):
        console.print(line.replace("`", ""), markup=False, highlight=False, soft_wrap=True)


def print_summary(summary: RunSummary) -> None:
    _print_summary(summary)
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
    _print_summary(summary)
