"""The `ledgerlens` command: run a batch, make sample invoices, score output against ground truth.

The dev commands (samples, eval, calibrate, run --score-truth) import `devtools` inside their handlers only.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from flows.cli_commands import add_review_commands, add_vendors_command
from flows.runtime import (
    PrefectApi,
    configure_prefect_environment,
    keep_pandas_unloaded,
    long_lived_imports,
    preload_flow_engine,
    use_prefect_api,
)

if TYPE_CHECKING:
    from pipeline.quarantine import QuarantineReport

    # What add_subparsers returns: each command adds its parser to it.
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_OUTPUT = 3


def _writable_dir(value: str) -> Path:
    path = Path(value)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create output folder {value}: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"output folder {value} is not writable")
    return path


def _timestamp(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {value!r} (e.g. 2024-03-01)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _output(value: str) -> str:
    """An s3:// URL as given (checked when the sink opens it) or a writable local folder."""
    return value if value.startswith("s3://") else str(_writable_dir(value))


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{value!r} is not an amount in US dollars") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError("--max-cost must be zero or more US dollars")
    return amount


def _add_extractor_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--extractor",
        choices=["ocr", "vlm", "hybrid"],
        help="ocr: rules only; hybrid: OCR plus Claude where it helps; vlm: Claude on every record "
        "(default: hybrid when ANTHROPIC_API_KEY is set, else ocr)",
    )
    command.add_argument(
        "--vlm-mode", choices=["always", "below_threshold"], help="hybrid: ask the model for every record, or only "
        "for records OCR alone would not accept (default: below_threshold)",
    )  # fmt: skip
    command.add_argument("--max-cost", type=_usd, metavar="USD", help="stop model calls once this much is spent")


def _add_run_command(commands: Subcommands) -> None:
    run = commands.add_parser("run", help="process invoices into OUT/invoices and a review queue")
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    run.add_argument("--out", required=True, help="output folder or s3://bucket/prefix")
    run.add_argument("--archive", help="move S3 inputs whose rows are written to this s3:// prefix")
    run.add_argument("--workers", type=int, help="documents processed at once (default: settings)")
    run.add_argument("--task-runner", choices=["threads", "processes", "dask"], help="default: settings")
    run.add_argument("--dpi", type=int, help="render resolution for scanned pages")
    run.add_argument("--accept-threshold", type=float, help="confidence needed to auto-accept")
    run.add_argument("--no-text-layer", action="store_true", help="OCR every page, ignoring PDF text")
    run.add_argument(
        "--no-einvoice", action="store_true", help="ignore embedded e-invoice XML (PDFs are read from the page)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--score-truth",
        action="store_true",
        default=None,
        help="dev: score a local OUT against <stem>.truth.json files beside the inputs (needs the devtools extra)",
    )
    _add_extractor_options(run)


def _add_vlm_check_command(commands: Subcommands) -> None:
    check = commands.add_parser("vlm-check", help="send one page image to the Anthropic API and show the answer")
    check.add_argument("image", metavar="IMAGE", help="a page image (PNG/JPEG) or a PDF (its first page)")
    check.add_argument("--model", help="model to ask (default: the tier-1 model from settings)")


def _add_backfill_command(commands: Subcommands) -> None:
    backfill = commands.add_parser("backfill", help="process a large folder or s3:// prefix in resumable chunks")
    backfill.add_argument("source", metavar="SOURCE", help="folder or s3://bucket/prefix")
    backfill.add_argument("--out", required=True, help="output folder or s3://bucket/prefix")
    backfill.add_argument("--since", type=_timestamp, help="only inputs modified at or after (ISO date/time, UTC)")
    backfill.add_argument("--until", type=_timestamp, help="only inputs modified before (ISO date/time, UTC)")
    backfill.add_argument("--chunk-size", type=int, default=100, help="documents per chunk subflow")
    backfill.add_argument("--max-docs", type=int, help="stop after this many listed inputs")
    backfill.add_argument("--workers", type=int, help="documents processed at once (default: settings)")
    backfill.add_argument("--task-runner", choices=["threads", "processes", "dask"], help="default: settings")
    backfill.add_argument("--quiet", action="store_true", help="no progress bar")
    backfill.add_argument(
        "--vlm-batch",
        action="store_true",
        default=None,
        help="send each chunk's model requests as one Message Batch (half price, asynchronous; polled until done)",
    )
    _add_extractor_options(backfill)


def _add_compact_command(commands: Subcommands) -> None:
    compact = commands.add_parser("compact", help="merge small Parquet part files per partition")
    compact.add_argument("--out", required=True, help="output folder or s3://bucket/prefix")
    compact.add_argument(
        "--include-today", action="store_true", help="also today's partitions (only while no ingest is running)"
    )
    compact.add_argument(
        "--quarantine",
        action="store_true",
        help="first move part files Parquet cannot read (and their siblings) to OUT/_quarantine, so runs go on; "
        "the documents they held are processed again on the next run of their batch",
    )


def _add_dev_commands(commands: Subcommands) -> None:
    samples = commands.add_parser("samples", help="write generated sample invoices with ground truth")
    samples.add_argument("directory")
    samples.add_argument("--count", type=int, default=24)
    samples.add_argument("--seed", type=int, default=0)
    samples.add_argument(
        "--families",
        default="classic",
        help="layout families: classic (the first 8, default), wide (8 with real-world variation), all (16), "
        "or comma-separated family names",
    )

    evaluate = commands.add_parser("eval", help="score OUT against *.truth.json files; suggest a threshold")
    evaluate.add_argument("truth_dir", metavar="TRUTH_DIR", help="folder searched recursively for *.truth.json")
    evaluate.add_argument("out_dir", metavar="OUT_DIR", help="output folder of `ledgerlens run`")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    evaluate.add_argument("--diagram", help="reliability diagram PNG (default: OUT_DIR/reliability.png)")
    evaluate.add_argument(
        "--target-error-rate", type=float, default=0.01, help="auto-accept error rate the threshold must meet"
    )
    _add_lofo_arguments(evaluate)
    calibrate = commands.add_parser(
        "calibrate", help="fit field confidence to measured accuracy on OUT_DIR against *.truth.json files"
    )
    calibrate.add_argument("truth_dir", metavar="TRUTH_DIR", help="folder searched recursively for *.truth.json")
    calibrate.add_argument("out_dir", metavar="OUT_DIR", help="output folder of `ledgerlens run` (raw scores)")
    calibrate.add_argument("--write", help="where to write the table (default: print it)")
    calibrate.add_argument(
        "--prior-strength", type=float, default=10.0, help="documents' worth of trust kept in the raw score"
    )
    _add_lofo_arguments(calibrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledgerlens", description="Invoice PDFs in, validated Parquet out.")
    commands = parser.add_subparsers(dest="command", required=True)

    _add_run_command(commands)
    _add_vlm_check_command(commands)
    _add_backfill_command(commands)
    _add_compact_command(commands)
    _add_dev_commands(commands)
    add_review_commands(commands)  # review serve|list|show|approve|reject|users, and export
    add_vendors_command(commands)
    return parser


def _settings_from(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pipeline.config import Settings

    overrides: dict[str, object] = {}
    if args.workers is not None:
        overrides["workers"] = args.workers
    if getattr(args, "dpi", None) is not None:
        overrides["render_dpi"] = args.dpi
    if getattr(args, "accept_threshold", None) is not None:
        overrides["accept_threshold"] = args.accept_threshold
    if getattr(args, "no_text_layer", False):
        overrides["use_text_layer"] = False
    if getattr(args, "no_einvoice", False):
        overrides["einvoice"] = False
    if getattr(args, "task_runner", None):
        overrides["task_runner"] = args.task_runner
    if args.extractor is not None:
        overrides["extractor"] = args.extractor
    if args.vlm_mode is not None:
        overrides["vlm_mode"] = args.vlm_mode
    if args.max_cost is not None:
        overrides["vlm_max_cost_usd"] = args.max_cost
    if getattr(args, "vlm_batch", None):
        overrides["vlm_use_batches"] = True
    if getattr(args, "score_truth", None):
        overrides["score_truth"] = True
    return Settings(**overrides)  # type: ignore[arg-type]


def _output_and_settings(command: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The output location and settings from the flags, or the exit code after saying what is wrong."""
    from pydantic import ValidationError

    from pipeline.errors import LedgerlensError

    try:
        out = _output(args.out)
        settings = _settings_from(args)
    except (argparse.ArgumentTypeError, ValidationError) as exc:
        print(f"ledgerlens {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValidationError) else EXIT_OUTPUT
    if settings.resolved_extractor() != "ocr":
        from pipeline.vlm.client import require_api_key

        try:
            require_api_key()
        except LedgerlensError as exc:
            print(f"ledgerlens {command}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return out, settings


def _prefect_api(command: str) -> PrefectApi | int:
    """The Prefect API this run talks to (a temporary server boots while the flows are imported), or the exit code
    after saying why there is none (a local server of another major version)."""
    from pipeline.errors import LedgerlensError

    configure_prefect_environment()
    try:
        return use_prefect_api(wait=False)
    except LedgerlensError as exc:
        print(f"ledgerlens {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def command_run(args: argparse.Namespace) -> int:

    from pipeline.errors import LedgerlensError

    prepared = _output_and_settings("run", args)
    if isinstance(prepared, int):
        return prepared
    out, settings = prepared
    missing = [
        item
        for item in args.inputs
        if not item.startswith("s3://") and not os.path.lexists(item) and not any(ch in item for ch in "*?[")
    ]
    if missing:
        print(f"ledgerlens run: input not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE

    api = _prefect_api("run")
    if isinstance(api, int):
        return api
    with long_lived_imports():
        keep_pandas_unloaded()
        from flows.ingest import run_ingest
        from flows.report import print_summary, progress_bar

        preload_flow_engine()
    try:
        api.wait_until_ready()
        with progress_bar(enabled=not args.quiet) as on_progress:
            summary = run_ingest(list(args.inputs), out, settings, on_progress, archive_prefix=args.archive)
    except LedgerlensError as exc:
        print(f"ledgerlens run: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print_summary(summary)
    if settings.score_truth:
        _score_truth(summary.out_dir)
    return EXIT_OK


def _score_truth(out_dir: str) -> None:
    """Dev tooling, imported only when asked: a production run never scores against ground truth."""
    if out_dir.startswith("s3://"):
        print("ledgerlens run: --score-truth reads a local OUT only; skipped for an s3:// output", file=sys.stderr)
        return
    from devtools.eval_report import print_run_accuracy

    print_run_accuracy(Path(out_dir))


def command_backfill(args: argparse.Namespace) -> int:

    from pipeline.errors import LedgerlensError

    if args.chunk_size < 1 or (args.max_docs is not None and args.max_docs < 1):
        print("ledgerlens backfill: --chunk-size and --max-docs must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if not args.source.startswith("s3://") and not Path(args.source).exists():
        print(f"ledgerlens backfill: source not found: {args.source}", file=sys.stderr)
        return EXIT_USAGE
    prepared = _output_and_settings("backfill", args)
    if isinstance(prepared, int):
        return prepared
    out, settings = prepared

    api = _prefect_api("backfill")
    if isinstance(api, int):
        return api
    with long_lived_imports():
        keep_pandas_unloaded()
        from flows.backfill import backfill
        from flows.report import print_backfill_summary, progress_bar

        preload_flow_engine()
    try:
        api.wait_until_ready()
        with progress_bar(enabled=not args.quiet) as on_progress:
            summary = backfill(
                source=args.source, out_dir=out, since=args.since, until=args.until, chunk_size=args.chunk_size,
                max_docs=args.max_docs, settings=settings, on_progress=on_progress,
            )  # fmt: skip
    except LedgerlensError as exc:
        print(f"ledgerlens backfill: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print_backfill_summary(summary)
    return EXIT_OK


def print_quarantine_report(report: QuarantineReport) -> None:
    print(f"Checked {report.checked} part file(s); quarantined {len(report.moved)}")
    for part in report.moved:
        why = f"unreadable: {part.reason}" if part.reason else "written with an unreadable part"
        print(f"  {part.source} -> {part.target} ({why})")
    for orphan in report.orphaned:
        print(
            f"ledgerlens compact: {orphan} held rows of documents that cannot be named (no invoices part beside it); "
            "they are not processed again by themselves. Run their batch into a new output folder, or restore the "
            "file from a backup.",
            file=sys.stderr,
        )


def command_compact(args: argparse.Namespace) -> int:
    from pipeline.compact import compact
    from pipeline.errors import LedgerlensError
    from pipeline.quarantine import quarantine_unreadable_parts

    try:
        if args.quarantine:
            print_quarantine_report(quarantine_unreadable_parts(args.out))
        report = compact(args.out, include_today=args.include_today)
    except (LedgerlensError, OSError) as exc:
        print(f"ledgerlens compact: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print(
        f"Compacted {report.partitions} partition(s): {report.files_before} part files into {report.files_after}, "
        f"{report.rows} rows"
    )
    for skipped in report.skipped:
        print(f"ledgerlens compact: partition skipped ({skipped.code}): {skipped}", file=sys.stderr)
    return EXIT_OUTPUT if report.skipped else EXIT_OK


def command_samples(args: argparse.Namespace) -> int:
    try:
        from devtools.samples import generate_samples, layouts_for
    except ImportError as exc:  # reportlab comes with the devtools extra, not with the product
        print(
            f"ledgerlens samples: the sample generator needs the devtools extra ({exc}); "
            "install it with: pip install -e '.[devtools]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.count < 1:
        print("ledgerlens samples: --count must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        layouts_for(args.families)
    except ValueError as exc:
        print(f"ledgerlens samples: {exc}", file=sys.stderr)
        return EXIT_USAGE
    directory = _writable_dir(args.directory)
    paths = generate_samples(directory, args.count, args.seed, args.families)
    print(f"Wrote {len(paths)} sample invoices with ground truth to {directory}")
    return EXIT_OK


def _report_missing_folders(command: str, *folders: Path) -> bool:
    missing = [str(path) for path in folders if not path.is_dir()]
    if missing:
        print(f"ledgerlens {command}: folder not found: {', '.join(missing)}", file=sys.stderr)
    return bool(missing)


def _add_lofo_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--lofo",
        action="store_true",
        help="leave-one-family-out: fit on all layout families but one, route the held-out one, repeat",
    )
    command.add_argument("--threshold", type=float, help="with --lofo: the threshold to count at (default: setting)")


def _print_lofo(command: str, args: argparse.Namespace, as_json: bool, lofo_text: Callable[..., str]) -> int:
    """The leave-one-family-out report of TRUTH_DIR/OUT_DIR (devtools.lofo.lofo_text), as text or JSON."""
    from pipeline.calibration import DEFAULT_PRIOR_STRENGTH
    from pipeline.config import Settings

    threshold = args.threshold if args.threshold is not None else Settings().accept_threshold
    target = getattr(args, "target_error_rate", 0.01)
    prior = getattr(args, "prior_strength", DEFAULT_PRIOR_STRENGTH)
    try:
        print(lofo_text(Path(args.truth_dir), Path(args.out_dir), threshold, prior, target, as_json))
    except (OSError, ValueError) as exc:
        print(f"ledgerlens {command}: cannot measure leave-one-family-out: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def command_eval(args: argparse.Namespace) -> int:
    truth_dir, out_dir = Path(args.truth_dir), Path(args.out_dir)
    if _report_missing_folders("eval", truth_dir, out_dir):
        return EXIT_USAGE
    if not 0 <= args.target_error_rate <= 1:
        print("ledgerlens eval: --target-error-rate must be between 0 and 1", file=sys.stderr)
        return EXIT_USAGE
    if args.lofo:
        from devtools.lofo import lofo_text

        return _print_lofo("eval", args, args.json, lofo_text)

    import json

    from pydantic import ValidationError

    from devtools.diagram import write_reliability_diagram
    from devtools.evaluate import choose_threshold, evaluate
    from pipeline.config import Settings

    try:
        report = evaluate(truth_dir, out_dir)
    except (OSError, ValueError) as exc:
        print(f"ledgerlens eval: cannot read truth or output: {exc}", file=sys.stderr)
        return EXIT_USAGE
    choice = choose_threshold(report.calibration_pairs, args.target_error_rate)
    diagram = Path(args.diagram) if args.diagram else out_dir / "reliability.png"
    try:
        write_reliability_diagram(report.calibration_pairs, diagram, title=f"Reliability: {out_dir}")
    except OSError as exc:
        print(f"ledgerlens eval: cannot write {diagram}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_OUTPUT
    try:
        current: float | None = Settings().accept_threshold
    except ValidationError:
        current = None  # a bad LEDGERLENS_ variable should not stop an evaluation that does not use it
    if args.json:
        figures = report.to_json_dict(args.target_error_rate)
        figures["reliability_diagram"] = str(diagram)
        figures["current_accept_threshold"] = current
        print(json.dumps(figures, indent=2, default=str))
        return EXIT_OK
    from devtools.eval_report import print_evaluation

    print_evaluation(report, choice, diagram, current)
    return EXIT_OK


def command_calibrate(args: argparse.Namespace) -> int:
    truth_dir, out_dir = Path(args.truth_dir), Path(args.out_dir)
    if _report_missing_folders("calibrate", truth_dir, out_dir):
        return EXIT_USAGE
    from devtools.calibrate import calibrate
    from devtools.lofo import lofo_text

    if args.lofo:
        status = _print_lofo("calibrate", args, False, lofo_text)
        if status != EXIT_OK:
            return status
    fitted_on = f"ledgerlens calibrate {truth_dir} {out_dir} --prior-strength {args.prior_strength}"
    table = calibrate(truth_dir, out_dir, args.prior_strength, fitted_on)
    if not table.fields:
        print("ledgerlens calibrate: no output row matched a truth file; nothing to fit", file=sys.stderr)
        return EXIT_USAGE
    if args.write:
        table.write(Path(args.write))
        counted = sum(sum(calibration.total) for calibration in table.fields.values())
        print(f"Wrote {args.write}: {len(table.fields)} field/source tables from {counted} field readings")
    else:
        print(table.model_dump_json(indent=1))
    return EXIT_OK


def command_review(args: argparse.Namespace) -> int:
    from flows.review_cli import run_review_command

    return run_review_command(args)


def command_export(args: argparse.Namespace) -> int:
    from flows.review_cli import run_export

    return run_export(args)


def command_vendors(args: argparse.Namespace) -> int:
    from flows.vendors_cli import run_vendors_command

    return run_vendors_command(args)


def command_vlm_check(args: argparse.Namespace) -> int:
    """One page to the real API (needs ANTHROPIC_API_KEY): the parsed answer, tokens and cost."""
    from pipeline.errors import LedgerlensError
    from pipeline.vlm.check import check_page

    image = Path(args.image)
    if not image.is_file():
        print(f"ledgerlens vlm-check: file not found: {image}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = check_page(image, args.model)
    except LedgerlensError as exc:
        print(f"ledgerlens vlm-check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    # At exit, freeze what is alive so the interpreter's teardown does not walk Prefect's and pydantic's object
    # graphs: that walk cost about 1.2 s CPU (2-3 s wall) after every one-invoice run. Exit handlers still run.
    atexit.register(gc.freeze)
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "run": command_run,
        "backfill": command_backfill,
        "compact": command_compact,
        "samples": command_samples,
        "eval": command_eval,
        "calibrate": command_calibrate,
        "review": command_review,
        "export": command_export,
        "vlm-check": command_vlm_check,
        "vendors": command_vendors,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
