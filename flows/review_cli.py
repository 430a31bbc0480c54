"""`ledgerlens review …` and `ledgerlens export`: the terminal side of the review queue.

OUT may be a local folder or an s3:// prefix; the queue is wherever LEDGERLENS_REVIEW_DB (or --review-db) says:
a SQLite file (default OUT/review.sqlite) or a postgresql:// URL shared by a team.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.errors import ConfigError, LedgerlensError, ReviewError
from pipeline.review import ReviewStore, approve, export_reviewed, open_review_store, reject, review_db_location
from pipeline.review.database import is_postgres
from pipeline.review.location import redact
from pipeline.review.outputs import ReviewOutput
from schemas import DECIDED_STATES, HEADER_FIELDS, OPEN_STATES, ReviewItem, ReviewState

if TYPE_CHECKING:
    from flows.review_app import ReviewUIConfig

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_OUTPUT = 3
EXIT_REVIEW = 4


def _fail(command: str, message: str, code: int) -> int:
    print(f"ledgerlens {command}: {printable(message)}", file=sys.stderr)
    return code


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters (ESC, NUL, bidi overrides…) shown as escapes."""
    return "".join(
        ch
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
        else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in text
    )


def _reviewer(args: argparse.Namespace, settings: Settings) -> str:
    return getattr(args, "reviewer", None) or settings.reviewer or getpass.getuser()


def _settings(args: argparse.Namespace) -> Settings:
    configured = getattr(args, "review_db", None)
    return Settings(review_db=configured) if configured else Settings()


def _open_store(out: str, settings: Settings) -> ReviewStore | None:
    """The queue for OUT; None when it is a SQLite file that does not exist yet (nothing was ever queued)."""
    location = review_db_location(out, settings.review_db)
    if not is_postgres(location) and not Path(location).is_file():
        return None
    return open_review_store(location)


def _amount(item: ReviewItem) -> str:
    return f"{item.amount} {item.currency or ''}".strip() if item.amount is not None else "-"


def list_line(item: ReviewItem) -> str:
    holder = f"({item.claimed_by})" if item.state is ReviewState.IN_REVIEW and item.claimed_by else ""
    return printable(
        "\t".join(
            [
                item.document_id,
                item.state.value + holder,
                _amount(item),
                item.source,
                ",".join(item.reason_codes) or "-",
            ]
        )
    )


def _field_lines(item: ReviewItem) -> list[str]:
    shown = item.corrected or item.draft or item.invoice
    lines = ["fields (value | confidence | page | box x0,y0,x1,y1 | raw text):"]
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
    return lines


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
    lines.extend(_field_lines(item))
    for change in item.changes:
        lines.append(f"changed {change.field}: {change.old_value} -> {change.new_value}")
    if item.page_images:
        lines.append("page images: " + ", ".join(item.page_images))
    return "\n".join(printable(line) for line in lines)


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


def _check_out(out: str) -> str | None:
    """Why OUT cannot be used, or None."""
    if not ReviewOutput(out).exists():
        return f"output folder not found: {out}"
    return None


def run_review_command(args: argparse.Namespace) -> int:
    if args.review_command == "users":
        return run_users_command(args)
    command = f"review {args.review_command}"
    out = str(args.out)
    try:
        settings = _settings(args)
        problem = _check_out(out)
        if problem:
            return _fail(command, problem, EXIT_USAGE)
        store = _open_store(out, settings)
    except LedgerlensError as exc:
        return _fail(command, str(exc), EXIT_USAGE)
    if store is None:
        where = redact(review_db_location(out, settings.review_db))
        return _fail(command, f"no review queue at {where}; run `ledgerlens run INPUT --out {out}` first", EXIT_USAGE)
    try:
        return _review_action(args, store, ReviewOutput(out, settings), settings)
    except ReviewError as exc:
        return _fail(command, str(exc), EXIT_REVIEW)
    except LedgerlensError as exc:
        return _fail(command, str(exc), EXIT_OUTPUT)


def _review_action(args: argparse.Namespace, store: ReviewStore, output: ReviewOutput, settings: Settings) -> int:
    if args.review_command == "serve":
        return _serve(args, store, output, settings)
    if args.review_command == "list":
        groups = {"open": OPEN_STATES, "decided": DECIDED_STATES, "all": None}
        states = groups[args.state] if args.state in groups else {ReviewState(args.state)}
        for item in store.list_items(states, reason=args.reason, summary=True):
            print(list_line(item))
        return EXIT_OK
    document_id = store.resolve_id(args.id)
    if args.review_command == "show":
        print(show_text(store.get(document_id)))
        return EXIT_OK
    reviewer = _reviewer(args, settings)
    if args.review_command == "approve":
        item = approve(store, output, document_id, reviewer, _parse_sets(args.set))
    else:
        item = reject(store, output, document_id, reviewer, args.reason)
    print(printable(f"{item.document_id}\t{item.state.value}\t{item.reviewer}"))
    return EXIT_OK


def run_users_command(args: argparse.Namespace) -> int:
    """`review users add|revoke|list`: accounts live in the queue's database."""
    command = f"review users {args.users_command}"
    try:
        settings = _settings(args)
        if args.out is None and settings.review_db is None:
            return _fail(command, "say which queue: --out OUT, or --review-db / LEDGERLENS_REVIEW_DB", EXIT_USAGE)
        accounts = open_review_store(review_db_location(args.out or "", settings.review_db)).accounts()
        if args.users_command == "add":
            token = accounts.add(args.name)
            print(f"Reviewer {args.name} added. Their token (shown once, not stored; hand it over privately):")
            print(token)
        elif args.users_command == "revoke":
            if not accounts.revoke(args.name):
                return _fail(command, f"no active reviewer named {args.name!r}", EXIT_REVIEW)
            print(f"Reviewer {args.name}: token revoked, sessions ended.")
        else:
            for user in accounts.users():
                print(printable(f"{user.name}\t{'revoked ' + user.revoked_at if user.revoked_at else 'active'}"))
    except ReviewError as exc:
        return _fail(command, str(exc), EXIT_REVIEW)
    except LedgerlensError as exc:
        return _fail(command, str(exc), EXIT_USAGE)
    return EXIT_OK


def _token(host: str, settings: Settings) -> str | None:
    """The shared token: none on loopback unless set; beyond loopback the one set (long enough) or a new one."""
    from flows.review_app import MIN_TOKEN_LENGTH, is_loopback

    token = settings.review_token
    if token is not None and (len(token.strip()) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable()):
        raise ConfigError(
            f"LEDGERLENS_REVIEW_TOKEN is {'empty' if not token.strip() else 'too short or has odd characters'}: use "
            f"at least {MIN_TOKEN_LENGTH} printable ASCII characters (e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`), or unset it to have one generated."
        )
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    return token


def ui_config(host: str, out: Path | str, reviewer: str, settings: Settings) -> ReviewUIConfig:
    """Loopback needs no token (but answers only loopback Host names); any other address requires one."""
    from flows.review_app import LOOPBACK_HOSTS, ReviewUIConfig, is_loopback

    return ReviewUIConfig(
        out_dir=str(out) if str(out).startswith("s3://") else Path(out).resolve(),
        reviewer=reviewer,
        token=_token(host, settings),
        allowed_hosts=[*LOOPBACK_HOSTS, "[::1]"] if is_loopback(host) else None,
        lease=timedelta(minutes=settings.review_lease_minutes),
        low_confidence=settings.accept_threshold,
        proxy_header=settings.review_proxy_header,
        proxy_addresses=tuple(settings.review_proxy_addresses),
        session_lifetime=timedelta(hours=settings.review_session_hours),
        settings=settings,
    )


def _serve(args: argparse.Namespace, store: ReviewStore, output: ReviewOutput, settings: Settings) -> int:
    from flows.review_app import serve

    try:
        config = ui_config(args.host, output.location, _reviewer(args, settings), settings)
    except ConfigError as exc:
        return _fail("review serve", str(exc), EXIT_USAGE)
    try:
        serve(store, config, args.host, args.port)
    except OSError as exc:
        return _fail("review serve", f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    out = str(args.out)
    try:
        settings = _settings(args)
        problem = _check_out(out)
        if problem:
            return _fail("export", problem, EXIT_USAGE)
        store = open_review_store(review_db_location(out, settings.review_db))
        result = export_reviewed(store, ReviewOutput(out, settings))
    except LedgerlensError as exc:
        return _fail("export", str(exc), EXIT_OUTPUT)
    print(
        f"Exported {result.rows} invoices ({result.reviewed} reviewed, {result.rejected} rejected) to "
        f"{result.invoices_path} and line items to {result.line_items_path}"
    )
    return EXIT_OK
