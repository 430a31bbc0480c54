"""Terminal tables for `ledgerlens eval`: accuracy, line items, rates, the suggested threshold, failures.

Also the accuracy table `ledgerlens run --score-truth` prints after a run. Kept apart from flows/report.py,
which imports the Prefect flow: evaluating finished output needs no Prefect, and a production run no
dev tooling.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from devtools.evaluate import (
    REPORTED_FIELDS,
    SCORED_HEADER_FIELDS,
    EvaluationReport,
    GroupScore,
    ThresholdChoice,
    evaluate_output,
    expected_calibration_error,
    ordered_kinds,
)

EXAMPLES_PER_FIELD = 3
FAILING_FIELDS_SHOWN = 5
MISSING_SHOWN = 10


def _accuracy_table(title: str, groups: Mapping[str, GroupScore], names: list[str]) -> Table:
    table = Table(title=title)
    table.add_column("field", no_wrap=True)
    for name in names:
        table.add_column(f"{name} ({groups[name].documents})", justify="right")
    for field in REPORTED_FIELDS:
        cells = [groups[name].fields.get(field) for name in names]
        if not any(cells):
            continue
        label = field
        if field not in SCORED_HEADER_FIELDS:
            label = f"[dim]{field}*[/dim]"
            table.caption = "* reported only: not part of header accuracy or the auto-accept error rate"
        table.add_row(label, *(f"{c.accuracy:.3f}" if c else "-" for c in cells))
    table.add_row("[bold]header fields[/bold]", *(f"[bold]{groups[name].header_accuracy:.3f}[/bold]" for name in names))
    return table


def _line_item_table(report: EvaluationReport) -> Table:
    table = Table(title="Line items: truth, found (predicted), matched (same amount, description alike)")
    for column in ("kind", "docs", "truth", "found", "matched", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "kind" else "right", no_wrap=True)
    for name in ordered_kinds(report.line_items):
        score = report.line_items[name]
        table.add_row(
            name,
            str(score.documents),
            str(score.truth_items),
            str(score.predicted_items),
            str(score.matched_items),
            f"{score.precision:.3f}",
            f"{score.recall:.3f}",
            f"{score.f1:.3f}",
        )
    return table


def _layout_table(report: EvaluationReport) -> Table:
    table = Table(title="Header accuracy by layout family")
    for column in ("layout", "documents", "header accuracy", "weakest field"):
        table.add_column(column, justify="left" if column in ("layout", "weakest field") else "right")
    for name, group in sorted(report.layouts.items()):
        scored = [(field, score) for field, score in group.fields.items() if field in SCORED_HEADER_FIELDS]
        weakest = min(scored, key=lambda item: item[1].accuracy, default=None)
        weakest_text = f"{weakest[0]} {weakest[1].accuracy:.3f}" if weakest and weakest[1].accuracy < 1 else "-"
        table.add_row(name, str(group.documents), f"{group.header_accuracy:.3f}", weakest_text)
    return table


def _failures_table(report: EvaluationReport) -> Table:
    table = Table(title="Fields that fail most (missing documents not shown as examples)")
    table.add_column("field")
    table.add_column("wrong", justify="right")
    table.add_column("examples: predicted != expected")
    for field, wrong, scored in report.field_failures()[:FAILING_FIELDS_SHOWN]:
        if not wrong:
            break
        examples = [m for m in report.mismatches if m["field"] == field][:EXAMPLES_PER_FIELD]
        text = "\n".join(f"{Path(m['source']).name}: {m['predicted']!r} != {m['expected']!r}" for m in examples)
        table.add_row(field, f"{wrong}/{scored}", text)
    return table


def print_evaluation(
    report: EvaluationReport,
    choice: ThresholdChoice,
    diagram: Path | None,
    current_threshold: float | None,
    console: Console | None = None,
) -> None:
    console = console or Console()
    if not report.scored_documents:
        console.print("[yellow]No document was scored: no truth file matched an output row.[/yellow]")
    kinds = ordered_kinds(report.groups)
    if kinds:
        console.print(_accuracy_table("Header-field accuracy by document kind", report.groups, kinds))
    if report.line_items:
        console.print(_line_item_table(report))
    if report.layouts:
        console.print(_layout_table(report))

    console.print(
        f"Scored documents: {report.scored_documents}; output rows with no truth: {report.unscored_rows}; "
        f"missing (truth but no output row): {len(report.missing)}"
    )
    if report.missing:
        shown = ", ".join(report.missing[:MISSING_SHOWN])
        more = f" and {len(report.missing) - MISSING_SHOWN} more" if len(report.missing) > MISSING_SHOWN else ""
        console.print(f"[yellow]Missing:[/yellow] {shown}{more}")
    console.print(
        f"Straight-through: {report.accepted_documents}/{report.scored_documents} "
        f"([bold]{report.straight_through_rate:.1%}[/bold]); auto-accept error rate: "
        f"{report.accepted_with_wrong_field}/{report.accepted_documents} "
        f"([bold]{report.auto_accept_error_rate:.1%}[/bold] of accepted have a wrong header field)"
    )
    colour = "green" if report.inconsistent_routed_to_review == report.inconsistent_documents else "red"
    console.print(
        f"Inconsistent invoices routed to review: [{colour}]{report.inconsistent_routed_to_review}/"
        f"{report.inconsistent_documents}[/{colour}]"
        + (f" (not routed: {', '.join(report.inconsistent_not_routed)})" if report.inconsistent_not_routed else "")
    )

    ece = expected_calibration_error(report.calibration_pairs)
    current = f" (current setting {current_threshold:.2f})" if current_threshold is not None else ""
    if choice.threshold is None:
        console.print(
            f"Suggested threshold: [red]none[/red]: no confidence cut-off keeps the auto-accept error rate at or "
            f"below {choice.target_error_rate:.1%} on these {choice.documents} documents{current}"
        )
    else:
        console.print(
            f"Suggested threshold for <= {choice.target_error_rate:.1%} auto-accept errors: "
            f"[bold]{choice.threshold:.4f}[/bold]{current} -> straight-through {choice.straight_through_rate:.1%} "
            f"({choice.accepted}/{choice.documents}), measured error {choice.error_rate:.1%}"
        )
    console.print(f"Expected calibration error (10 bins): {ece:.3f}")
    if diagram is not None:
        console.print(f"Reliability diagram: {diagram}")
    if report.mismatches:
        console.print(_failures_table(report))


def print_run_accuracy(out_dir: Path, console: Console | None = None) -> None:
    """Header-field accuracy of every row in a local OUT whose source has a truth file (run --score-truth)."""
    console = console or Console()
    report = evaluate_output(out_dir)
    if not report.groups:
        console.print(f"[yellow]--score-truth: no row in {out_dir} has a <stem>.truth.json beside its source[/yellow]")
        return
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
