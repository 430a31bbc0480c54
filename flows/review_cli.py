"""`ledgerlens review …` and `ledgerlens export`: the terminal side of the review queue."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.errors import LedgerlensError, ReviewError
from pipeline.review import SQLiteReviewStore, approve, export_reviewed, reject, review_db_path
from schemas import DECIDED_STATES, HEADER_FIELDS, OPEN_STATES, ReviewItem, ReviewState

if TYPE_CHECKING:
    from flows.review_app import ReviewUIConfig

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_OUTPUT = 3
EXIT_REVIEW = 4


def _fail(command: str, message: str, code: int) -> int:
    print(f"ledgerlens {command}: {message}", file=sys.stderr)
    return code


def _reviewer(args: argparse.Namespace, settings: Settings) -> str:
    return getattr(args, "reviewer", None) or settings.reviewer or getpass.getuser()


def _open_store(out: Path, settings: Settings) -> SQLiteReviewStore | None:
    path = review_db_path(out, settings.review_db)
    return SQLiteReviewStore(path) if path.is_file() else None


def _amount(item: ReviewItem) -> str:
    return f"{item.amount} {item.currency or ''}".strip() if item.amount is not None else "-"


def list_line(item: ReviewItem) -> str:
    holder = f"({item.claimed_by})" if item.state is ReviewState.IN_REVIEW and item.claimed_by else ""
    return "\t".join(
        [item.document_id, item.state.value + holder, _amount(item), item.source, ",".join(item.reason_codes) or "-"]
    )


def show_text(item: ReviewItem) -> str:
    lines = [
        f"document_id  {item.document_id}",
        f"source       {item.source}",
        f"state        {item.state.value}" + (f" by {item.reviewer} at {item.decided_at}" if item.reviewer else ""),
        f"confidence   {item.confidence:.2f}",
        "reasons      " + ("; ".join(issue.message for issue in item.issues) or ", ".join(item.reasons) or "-"),
    ]
    if item.note:
        lines.append(f"note         {item.note}")
    shown = item.corrected or item.draft or item.invoice
    lines.append("fields (value | confidence | page | box x0,y0,x1,y1 | raw text):")
    for name in type(shown).model_fields:
        if name == "line_items":
            continue
        value = getattr(shown, name)
        evidence = item.fields.get(name)
        if evidence is None:
            lines.append(f"  {name:<15} {value if value is not None else '-'}")
            continue
        box = evidence.bbox
        where = f"{box.x0:.3f},{box.y0:.3f},{box.x1:.3f},{box.y1:.3f}" if box else "-"
        lines.append(
            f"  {name:<15} {value if value is not None else '-'} | {evidence.confidence:.2f} | "
            f"p{evidence.page or '-'} | {where} | {evidence.raw_text or '-'}"
        )
    lines.append(f"line items ({len(shown.line_items)}):")
    for number, line in enumerate(shown.line_items, start=1):
        lines.append(f"  {number:>3}. {line.description or '-'} | {line.quantity} x {line.unit_price} = {line.amount}")
    for change in item.changes:
        lines.append(f"changed {change.field}: {change.old_value} -> {change.new_value}")
    if item.page_images:
        lines.append("page images: " + ", ".join(item.page_images))
    return "\n".join(lines)


def _parse_sets(pairs: list[str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ReviewError(f"--set {pair!r}: write it as FIELD=VALUE, e.g. --set total=1573.55")
        if name.strip() not in HEADER_FIELDS:
            raise ReviewError(f"--set {name.strip()!r}: not a header field; use one of {', '.join(HEADER_FIELDS)}")
        values[name.strip()] = value
    return values


def run_review_command(args: argparse.Namespace) -> int:
    command = f"review {args.review_command}"
    out = Path(args.out)
    settings = Settings()
    if not out.is_dir():
        return _fail(command, f"output folder not found: {out}", EXIT_USAGE)
    store = _open_store(out, settings)
    if store is None:
        where = review_db_path(out, settings.review_db)
        return _fail(command, f"no review queue at {where}; run `ledgerlens run INPUT --out {out}` first", EXIT_USAGE)
    try:
        if args.review_command == "serve":
            return _serve(args, store, out, settings)
        if args.review_command == "list":
            groups = {"open": OPEN_STATES, "decided": DECIDED_STATES, "all": None}
            states = groups[args.state] if args.state in groups else {ReviewState(args.state)}
            for item in store.list_items(states, reason=args.reason):
                print(list_line(item))
            return EXIT_OK
        document_id = store.resolve_id(args.id)
        if args.review_command == "show":
            print(show_text(store.get(document_id)))
            return EXIT_OK
        reviewer = _reviewer(args, settings)
        if args.review_command == "approve":
            item = approve(store, out, document_id, reviewer, _parse_sets(args.set))
        else:
            item = reject(store, out, document_id, reviewer, args.reason)
        print(f"{item.document_id}\t{item.state.value}\t{item.reviewer}")
        return EXIT_OK
    except ReviewError as exc:
        return _fail(command, str(exc), EXIT_REVIEW)
    except LedgerlensError as exc:
        return _fail(command, str(exc), EXIT_OUTPUT)


def ui_config(host: str, out: Path, reviewer: str, settings: Settings) -> ReviewUIConfig:
    """Loopback needs no token (but answers only loopback Host names); any other address requires one."""
    from flows.review_app import LOOPBACK_HOSTS, ReviewUIConfig, is_loopback

    token = settings.review_token
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    return ReviewUIConfig(
        out_dir=out.resolve(),
        reviewer=reviewer,
        token=token,
        allowed_hosts=None if token else [*LOOPBACK_HOSTS, "[::1]"],
        lease=timedelta(minutes=settings.review_lease_minutes),
        low_confidence=settings.accept_threshold,
    )


def _serve(args: argparse.Namespace, store: SQLiteReviewStore, out: Path, settings: Settings) -> int:
    from flows.review_app import serve

    config = ui_config(args.host, out, _reviewer(args, settings), settings)
    try:
        serve(store, config, args.host, args.port)
    except OSError as exc:
        return _fail("review serve", f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    settings = Settings()
    if not out.is_dir():
        return _fail("export", f"output folder not found: {out}", EXIT_USAGE)
    store = SQLiteReviewStore(review_db_path(out, settings.review_db))
    try:
        result = export_reviewed(store, out)
    except LedgerlensError as exc:
        return _fail("export", str(exc), EXIT_OUTPUT)
    print(
        f"Exported {result.rows} invoices ({result.reviewed} reviewed, {result.rejected} rejected) to "
        f"{result.invoices_path} and line items to {result.line_items_path}"
    )
    return EXIT_OK
