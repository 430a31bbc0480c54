"""The reviewer web UI: a FastAPI app with server-rendered Jinja2 pages over the review queue store.

Security: loopback by default (and then only Host headers naming loopback are answered, against DNS
rebinding); any other bind address needs a token (LEDGERLENS_REVIEW_TOKEN or a generated one, printed at
start), given once as ``?token=`` and then kept in an HttpOnly cookie. Every page is autoescaped (OCR and VLM
text is untrusted), page images are looked up through the queue item (never a path from the URL), and each
form post must carry the session's CSRF token and, when the browser sends one, a same-origin Origin header.
"""

from __future__ import annotations

import hmac
import re
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.middleware.trustedhost import TrustedHostMiddleware

from pipeline.errors import ReviewConflictError, ReviewError, ReviewInputError, ReviewItemNotFoundError
from pipeline.previews import PREVIEWS_DIR
from pipeline.review import DEFAULT_LEASE, ReviewStore, approve, reject, save_draft
from pipeline.review.corrections import LINE_COLUMNS, value_text
from schemas import DECIDED_STATES, HEADER_FIELDS, OPEN_STATES, ReviewItem

TEMPLATES = Path(__file__).with_name("review_templates")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SESSION_COOKIE = "ll_session"
MAX_SESSIONS = 10_000
TOKEN_COOKIE = "ll_token"
_DOCUMENT_ID = re.compile(r"[0-9a-f]{64}")
FIELD_LABELS = {
    "vendor_name": "Vendor",
    "customer_name": "Customer",
    "invoice_number": "Invoice number",
    "invoice_date": "Invoice date",
    "due_date": "Due date",
    "currency": "Currency",
    "subtotal": "Subtotal",
    "tax": "Tax",
    "total": "Total",
}


@dataclass
class Session:
    reviewer: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    flash: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReviewUIConfig:
    out_dir: Path
    reviewer: str
    token: str | None = None
    allowed_hosts: list[str] | None = None
    lease: timedelta = DEFAULT_LEASE
    low_confidence: float = 0.8


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _age(created: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def create_app(store: ReviewStore, config: ReviewUIConfig) -> FastAPI:
    app = FastAPI(title="Ledgerlens review", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals.update(labels=FIELD_LABELS, value_text=value_text)
    sessions: dict[str, Session] = {}
    pages_root = (config.out_dir / PREVIEWS_DIR).resolve()

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session: Session = request.state.session
        flash, session.flash = session.flash, []
        nonce = secrets.token_urlsafe(16)
        html = env.get_template(name).render(
            reviewer=session.reviewer, csrf_token=session.csrf, flash=flash, nonce=nonce, **context
        )
        response = HTMLResponse(html, status_code=status_code)
        # Only our own nonce'd scripts run: an injected <script> would not, even if escaping failed.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if config.token is not None:
            given = request.query_params.get("token")
            if given is not None and hmac.compare_digest(given, config.token):
                response: Response = RedirectResponse(request.url.path, status_code=303)
                response.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="strict")
                return response
            cookie = request.cookies.get(TOKEN_COOKIE, "")
            if not hmac.compare_digest(cookie, config.token):
                return PlainTextResponse(
                    "A token is required: open the URL that `ledgerlens review serve` printed.", status_code=401
                )
        session_id = request.cookies.get(SESSION_COOKIE, "")
        session = sessions.get(session_id)
        fresh = session is None
        if session is None:
            if len(sessions) >= MAX_SESSIONS:  # forget the oldest rather than grow without bound
                del sessions[next(iter(sessions))]
            session_id = secrets.token_urlsafe(32)
            session = sessions[session_id] = Session(reviewer=config.reviewer)
        request.state.session = session
        if request.method == "POST":
            refusal = await _csrf_refusal(request, session)
            if refusal is not None:
                return refusal
        response = await call_next(request)
        if fresh:
            response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        return response

    async def _csrf_refusal(request: Request, session: Session) -> Response | None:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            return PlainTextResponse("Cross-site form post refused.", status_code=403)
        form = await request.form()
        request.state.form = form
        token = str(form.get("csrf_token") or "")
        if not hmac.compare_digest(token, session.csrf):
            return PlainTextResponse(
                "The form's security token is missing or stale; reload the page and try again.", status_code=403
            )
        return None

    if config.allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)

    def item_or_404(document_id: str) -> ReviewItem | None:
        if not _DOCUMENT_ID.fullmatch(document_id):
            return None
        try:
            return store.get(document_id)
        except ReviewItemNotFoundError:
            return None

    def next_target(request: Request, after: str | None = None) -> RedirectResponse:
        session: Session = request.state.session
        reason = request.query_params.get("reason") or None
        item = store.claim_next(session.reviewer, config.lease, reason=reason, skip=after)
        if item is None:
            session.flash.append(("info", "No more items to review."))
            return RedirectResponse("/", status_code=303)
        return RedirectResponse(f"/items/{item.document_id}", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, reason: str | None = None, view: str = "open") -> HTMLResponse:
        states = {"open": OPEN_STATES, "decided": DECIDED_STATES}.get(view)
        items = store.list_items(states, reason=reason or None)
        now = datetime.now(UTC)
        rows = [
            {"item": item, "holder": item.holder(now), "age": _age(item.created_at, now), "rank": rank}
            for rank, item in enumerate(items, start=1)
        ]
        return render(request, "queue.html", rows=rows, counts=store.counts(), reason=reason, view=view)

    @app.post("/next")
    def claim_next(request: Request) -> RedirectResponse:
        return next_target(request)

    @app.post("/reviewer")
    def set_reviewer(request: Request) -> RedirectResponse:
        session: Session = request.state.session
        name = str(request.state.form.get("reviewer") or "").strip()[:80]
        if name:
            session.reviewer = name
        return RedirectResponse("/", status_code=303)

    @app.get("/items/{document_id}", response_class=HTMLResponse)
    def review_page(request: Request, document_id: str) -> Response:
        item = item_or_404(document_id)
        if item is None:
            return PlainTextResponse("No such item in the review queue.", status_code=404)
        session: Session = request.state.session
        if item.state in OPEN_STATES:
            try:
                item = store.claim(document_id, session.reviewer, config.lease)
            except ReviewConflictError as exc:
                session.flash.append(("error", str(exc)))
        return item_page(request, item)

    def item_page(
        request: Request, item: ReviewItem, values: FormData | None = None, status_code: int = 200
    ) -> HTMLResponse:
        session: Session = request.state.session
        shown = item.corrected or item.draft or item.invoice
        header = {name: value_text(getattr(shown, name)) or "" for name in HEADER_FIELDS}
        lines: list[dict[str, str | None]] = [
            {column: value_text(getattr(line, column)) or "" for column in LINE_COLUMNS} for line in shown.line_items
        ]
        if values is not None:  # a refused post: show what the reviewer typed
            header = {name: str(values.get(name) or "") for name in HEADER_FIELDS}
            lines = _line_rows(values)
        flagged = {issue.field for issue in item.issues if issue.field}
        boxes: dict[int, list[dict[str, Any]]] = {}
        for name, value in item.fields.items():
            if value.page is not None and value.bbox is not None:
                boxes.setdefault(value.page, []).append(
                    {"name": name, "box": value.bbox, "low": value.confidence < config.low_confidence, "value": value}
                )
        editable = item.state in OPEN_STATES and item.holder(datetime.now(UTC)) in (None, session.reviewer)
        return render(
            request,
            "item.html",
            status_code=status_code,
            item=item,
            header=header,
            lines=lines,
            fields=item.fields,
            flagged=flagged,
            boxes=boxes,
            pages=list(range(1, len(item.page_images) + 1)),
            low_confidence=config.low_confidence,
            editable=editable,
            columns=LINE_COLUMNS,
        )

    @app.get("/items/{document_id}/pages/{page_no}")
    def page_image(document_id: str, page_no: int) -> Response:
        item = item_or_404(document_id)
        if item is None or not 1 <= page_no <= len(item.page_images):
            return PlainTextResponse("No such page.", status_code=404)
        path = (config.out_dir / item.page_images[page_no - 1]).resolve()
        if not path.is_relative_to(pages_root) or path.suffix.lower() != ".png" or not path.is_file():
            return PlainTextResponse("No such page.", status_code=404)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    def _action(request: Request, document_id: str, act: str) -> Response:
        item = item_or_404(document_id)
        if item is None:
            return PlainTextResponse("No such item in the review queue.", status_code=404)
        session: Session = request.state.session
        form: FormData = request.state.form
        header = {name: str(form.get(name) or "") for name in HEADER_FIELDS if name in form}
        lines = _line_rows(form) if "line_count" in form else None
        try:
            if act == "save":
                save_draft(store, document_id, session.reviewer, header, lines)
                session.flash.append(("info", "Corrections saved (not yet approved)."))
                return RedirectResponse(f"/items/{document_id}", status_code=303)
            if act == "approve":
                decided = approve(store, config.out_dir, document_id, session.reviewer, header, lines)
                session.flash.append(("info", f"{decided.source}: {decided.state.value}."))
            elif act == "reject":
                reject(store, config.out_dir, document_id, session.reviewer, str(form.get("reason") or ""))
                session.flash.append(("info", f"{item.source}: rejected."))
            else:
                store.release(document_id, session.reviewer)
        except ReviewInputError as exc:
            session.flash.append(("error", str(exc)))
            return item_page(request, store.get(document_id), values=form, status_code=400)
        except ReviewConflictError as exc:
            session.flash.append(("error", str(exc)))
            return RedirectResponse("/", status_code=303)
        except ReviewError as exc:
            session.flash.append(("error", str(exc)))
            return RedirectResponse("/", status_code=303)
        return next_target(request, after=document_id)

    @app.post("/items/{document_id}/save")
    def save(request: Request, document_id: str) -> Response:
        return _action(request, document_id, "save")

    @app.post("/items/{document_id}/approve")
    def approve_item(request: Request, document_id: str) -> Response:
        return _action(request, document_id, "approve")

    @app.post("/items/{document_id}/reject")
    def reject_item(request: Request, document_id: str) -> Response:
        return _action(request, document_id, "reject")

    @app.post("/items/{document_id}/skip")
    def skip(request: Request, document_id: str) -> Response:
        return _action(request, document_id, "skip")

    return app


def _line_rows(form: FormData) -> list[dict[str, str | None]]:
    try:
        count = min(int(str(form.get("line_count") or "0")), 500)
    except ValueError:
        count = 0
    return [{column: str(form.get(f"li-{n}-{column}") or "") for column in LINE_COLUMNS} for n in range(count)]


def serve(
    store: ReviewStore, config: ReviewUIConfig, host: str, port: int, announce: Any = print
) -> None:  # pragma: no cover - exercised through the CLI in the browser test
    """Bind (port 0 picks a free one), print the URL, and serve until interrupted."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/"
    if config.token is not None:
        url += f"?token={config.token}"
    announce(f"Review UI for {config.out_dir} at {url} (reviewer: {config.reviewer}; Ctrl+C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(store, config), log_level="warning", access_log=False))
    server.run(sockets=[sock])
