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
from pipeline.evaluate import SCORED_HEADER_FIELDS, evaluate_output
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
        console.print(line.replace("`", ""), markup=False, highlight=False)


def print_summary(summary: RunSummary) -> None:
    _print_summary(summary)
    if summary.out_dir.startswith("s3://"):
        console.print(f"Parquet: {summary.out_dir}/{{invoices,line_items,fields}}/")
        console.print(f"Review queue (local, OUT is on S3): {summary.review_db}")
        return
    report = evaluate_output(Path(summary.out_dir))
    if report.groups:
        names = sorted(report.groups, key=lambda n: (n != "all", n))
        accuracy = Table(title="Header-field accuracy against the samples' ground truth (every row in OUT)")
        accuracy.add_column("field")
        for name in names:
            accuracy.add_column(f"{name.removeprefix('kind:')} ({report.groups[name].documents})", justify="right")
        for field in SCORED_HEADER_FIELDS:
            cells = [report.groups[n].fields.get(field) for n in names]
            accuracy.add_row(field, *(f"{c.accuracy:.3f}" if c else "-" for c in cells))
        accuracy.add_row(
            "[bold]all header fields[/bold]", *(f"[bold]{report.groups[n].header_accuracy:.3f}[/bold]" for n in names)
        )
        console.print(accuracy)
        console.print(
            f"Auto-accepted: {report.accepted_documents}/{report.scored_documents} "
            f"({report.straight_through_rate:.0%}); accepted with a wrong header field: "
            f"{report.accepted_with_wrong_field} ({report.auto_accept_error_rate:.1%} of accepted)"
        )
    out = Path(summary.out_dir).resolve()
    console.print(f"Parquet: {out / 'invoices'}  {out / 'line_items'}  {out / 'fields'}")
    console.print(
        f"Review queue: {summary.review_db or out / 'review.sqlite'}  (to review: ledgerlens review serve --out {out})"
    )


def print_backfill_summary(summary: BackfillSummary) -> None:
    _print_summary(summary)
