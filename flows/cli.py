"""The `ledgerlens` command: run a batch, make sample invoices, score output against ground truth."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flows.runtime import configure_prefect_environment

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


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{value!r} is not an amount in US dollars") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError("--max-cost must be zero or more US dollars")
    return amount


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledgerlens", description="Invoice PDFs in, validated Parquet out.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="process invoices into OUT/invoices and a review queue")
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--workers", type=int, help="documents processed at once (default: settings)")
    run.add_argument("--dpi", type=int, help="render resolution for scanned pages")
    run.add_argument("--accept-threshold", type=float, help="confidence needed to auto-accept")
    run.add_argument("--no-text-layer", action="store_true", help="OCR every page, ignoring PDF text")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--extractor",
        choices=["ocr", "vlm", "hybrid"],
        help="ocr: rules only; hybrid: OCR plus Claude where it helps; vlm: Claude on every record "
        "(default: hybrid when ANTHROPIC_API_KEY is set, else ocr)",
    )
    run.add_argument(
        "--vlm-mode", choices=["always", "below_threshold"], help="hybrid: ask the model for every record, or only "
        "for records OCR alone would not accept (default: below_threshold)",
    )  # fmt: skip
    run.add_argument("--max-cost", type=_usd, metavar="USD", help="stop model calls once this much is spent")

    check = commands.add_parser("vlm-check", help="send one page image to the Anthropic API and show the answer")
    check.add_argument("image", metavar="IMAGE", help="a page image (PNG/JPEG) or a PDF (its first page)")
    check.add_argument("--model", help="model to ask (default: the tier-1 model from settings)")

    samples = commands.add_parser("samples", help="write generated sample invoices with ground truth")
    samples.add_argument("directory")
    samples.add_argument("--count", type=int, default=24)
    samples.add_argument("--seed", type=int, default=0)

    evaluate = commands.add_parser("eval", help="score OUT against *.truth.json files; suggest a threshold")
    evaluate.add_argument("truth_dir", metavar="TRUTH_DIR", help="folder searched recursively for *.truth.json")
    evaluate.add_argument("out_dir", metavar="OUT_DIR", help="output folder of `ledgerlens run`")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    evaluate.add_argument("--diagram", help="reliability diagram PNG (default: OUT_DIR/reliability.png)")
    evaluate.add_argument(
        "--target-error-rate", type=float, default=0.01, help="auto-accept error rate the threshold must meet"
    )
    return parser


def _settings_from(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pipeline.config import Settings

    overrides: dict[str, object] = {}
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.dpi is not None:
        overrides["render_dpi"] = args.dpi
    if args.accept_threshold is not None:
        overrides["accept_threshold"] = args.accept_threshold
    if args.no_text_layer:
        overrides["use_text_layer"] = False
    if args.extractor is not None:
        overrides["extractor"] = args.extractor
    if args.vlm_mode is not None:
        overrides["vlm_mode"] = args.vlm_mode
    if args.max_cost is not None:
        overrides["vlm_max_cost_usd"] = args.max_cost
    return Settings(**overrides)  # type: ignore[arg-type]


def command_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from pipeline.errors import LedgerlensError

    try:
        out = _writable_dir(args.out)
        settings = _settings_from(args)
    except (argparse.ArgumentTypeError, ValidationError) as exc:
        print(f"ledgerlens run: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValidationError) else EXIT_OUTPUT
    if settings.resolved_extractor() != "ocr":
        from pipeline.vlm.client import require_api_key

        try:
            require_api_key()
        except LedgerlensError as exc:
            print(f"ledgerlens run: {exc}", file=sys.stderr)
            return EXIT_USAGE
    missing = [item for item in args.inputs if not Path(item).exists() and not any(ch in item for ch in "*?[")]
    if missing:
        print(f"ledgerlens run: input not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE

    configure_prefect_environment()
    from flows.ingest import run_ingest
    from flows.report import print_summary, progress_bar

    try:
        with progress_bar(enabled=not args.quiet) as on_progress:
            summary = run_ingest(list(args.inputs), str(out), settings, on_progress)
    except LedgerlensError as exc:
        print(f"ledgerlens run: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print_summary(summary)
    return EXIT_OK


def command_samples(args: argparse.Namespace) -> int:
    from pipeline.samples import generate_samples

    if args.count < 1:
        print("ledgerlens samples: --count must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    directory = _writable_dir(args.directory)
    paths = generate_samples(directory, args.count, args.seed)
    print(f"Wrote {len(paths)} sample invoices with ground truth to {directory}")
    return EXIT_OK


def command_eval(args: argparse.Namespace) -> int:
    truth_dir, out_dir = Path(args.truth_dir), Path(args.out_dir)
    missing = [str(path) for path in (truth_dir, out_dir) if not path.is_dir()]
    if missing:
        print(f"ledgerlens eval: folder not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.target_error_rate <= 1:
        print("ledgerlens eval: --target-error-rate must be between 0 and 1", file=sys.stderr)
        return EXIT_USAGE

    import json

    from pydantic import ValidationError

    from pipeline.config import Settings
    from pipeline.evaluate import choose_threshold, evaluate, write_reliability_diagram

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
    from flows.eval_report import print_evaluation

    print_evaluation(report, choice, diagram, current)
    return EXIT_OK


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
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"run": command_run, "samples": command_samples, "eval": command_eval, "vlm-check": command_vlm_check}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
