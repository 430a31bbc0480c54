"""The arguments of `ledgerlens review …`, `export` and `vendors …`, apart from their handlers
(flows/review_cli.py, flows/vendors_cli.py), so that building the parser imports nothing heavy: a `run` starts
its Prefect server before it imports the pipeline.
"""

from __future__ import annotations

from typing import Any

STATE_CHOICES = ["open", "decided", "all", "pending", "in_review", "approved", "corrected", "rejected"]


def add_review_commands(commands: Any) -> None:
    """`review serve|list|show|approve|reject|users` and `export` on the main parser's subcommands."""
    review = commands.add_parser("review", help="the human-review queue: web UI and terminal commands")
    actions = review.add_subparsers(dest="review_command", required=True)
    serve = actions.add_parser("serve", help="serve the reviewer web UI")
    serve.add_argument("--host", default="127.0.0.1", help="bind address; beyond loopback a token is required")
    serve.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    listing = actions.add_parser("list", help="one item per line, document id first, highest priority first")
    listing.add_argument("--state", default="open", choices=STATE_CHOICES)
    listing.add_argument("--reason", help="only items with this reason code, e.g. total_mismatch, low_confidence")
    show = actions.add_parser("show", help="reasons, fields with confidence and evidence, line items")
    approve_cmd = actions.add_parser("approve", help="approve an item (with --set: corrected)")
    approve_cmd.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="correct a header field (repeatable)"
    )
    reject_cmd = actions.add_parser("reject", help="reject an item with a reason")
    reject_cmd.add_argument("--reason", required=True)
    for sub in (show, approve_cmd, reject_cmd):
        sub.add_argument("id", metavar="ID", help="document id or a unique prefix (6+ characters)")
    for sub in (serve, listing, show, approve_cmd, reject_cmd):
        sub.add_argument("--out", required=True, help="output of `ledgerlens run`: a folder or s3://bucket/prefix")
    for sub in (serve, approve_cmd, reject_cmd):
        sub.add_argument("--reviewer", help="name recorded with decisions (default: LEDGERLENS_REVIEWER or login)")
    _add_users_command(actions)
    for sub in (serve, listing, show, approve_cmd, reject_cmd):
        sub.add_argument("--review-db", help="queue database: a path or postgresql:// URL (LEDGERLENS_REVIEW_DB)")
    export = commands.add_parser("export", help="write OUT/export/: invoices with review decisions applied")
    export.add_argument("--out", required=True, help="output of `ledgerlens run`: a folder or s3://bucket/prefix")
    export.add_argument("--review-db", help="queue database: a path or postgresql:// URL (LEDGERLENS_REVIEW_DB)")


def _add_users_command(actions: Any) -> None:
    users = actions.add_parser("users", help="reviewer accounts: add (prints a token once), revoke, list")
    verbs = users.add_subparsers(dest="users_command", required=True)
    for verb, text in (("add", "create an account and print its token once"), ("revoke", "revoke a token")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("name", metavar="NAME")
    verbs.add_parser("list", help="accounts and whether they are active")
    for sub in verbs.choices.values():
        sub.add_argument("--out", help="output whose queue holds the accounts (default queue location)")
        sub.add_argument("--review-db", help="queue database: a path or postgresql:// URL (LEDGERLENS_REVIEW_DB)")


def add_vendors_command(commands: Any) -> None:
    """Register `vendors` and its actions on the CLI's subcommands."""
    vendors = commands.add_parser("vendors", help="vendor profiles learned from review decisions")
    actions = vendors.add_subparsers(dest="vendors_command", required=True)
    listing = actions.add_parser("list", help="one profile per line: id, documents learned, name, identifiers")
    show = actions.add_parser("show", help="a profile in full: identifiers, layout words, learned fields")
    forget = actions.add_parser("forget", help="remove a profile; its documents are never learned from again")
    learn = actions.add_parser("learn", help="apply the review decisions not yet learned (runs also do this)")
    for sub in (show, forget):
        sub.add_argument("id", metavar="ID", help="profile id or a unique prefix")
    for sub in (listing, show, forget, learn):
        sub.add_argument("--out", required=True, help="output folder or s3:// prefix of `ledgerlens run`")
