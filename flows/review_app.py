"""The reviewer web UI: a FastAPI app with server-rendered Jinja2 pages over the review queue store.

Who is reviewing (``AuthMode``, chosen when the server starts):

- ``accounts``: reviewer accounts exist (`ledgerlens review users add NAME`); a browser signs in once with its
  personal token and gets a session kept in the review database, so it survives a server restart. Leases and
  decisions belong to the account, never to a name the browser sends.
- ``proxy``: an authenticating reverse proxy names the user in a header (``LEDGERLENS_REVIEW_PROXY_HEADER``);
  the header is believed only on connections from the proxy's addresses (``LEDGERLENS_REVIEW_PROXY_ADDRESSES``),
  every other connection is refused.
- ``shared_token`` / ``single_user``: no accounts. On loopback, today's single-user mode: the name in the header
  box is recorded with decisions and is not verified (the page says so). Bound beyond loopback a shared token
  (LEDGERLENS_REVIEW_TOKEN, at least 16 characters, or a generated one printed at start) is required.

Also: on loopback only Host headers naming loopback are answered (against DNS rebinding); every page is
autoescaped (OCR and VLM text is untrusted); page images are looked up through the queue item (never a path
from the URL) and read by the server, also from S3; form posts must carry the session's CSRF token and, when
the browser sends one, a same-origin Origin header; bodies are capped; viewing changes nothing (state changes
only on POST).
"""

from __future__ import annotations

import hmac
import re
import secrets
import socket
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.middleware.trustedhost import TrustedHostMiddleware

from pipeline.config import Settings
from pipeline.errors import OutputError, ReviewError, ReviewInputError, ReviewItemNotFoundError
from pipeline.review import DEFAULT_LEASE, ReviewAccounts, ReviewStore, approve, reject, save_draft
from pipeline.review.accounts import DEFAULT_SESSION_LIFETIME, WebSession, check_name
from pipeline.review.corrections import LINE_COLUMNS, check_text, value_text
from pipeline.review.outputs import ReviewOutput
from schemas import DECIDED_STATES, HEADER_FIELDS, OPEN_STATES, ReviewItem

TEMPLATES = Path(__file__).with_name("review_templates")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SESSION_COOKIE = "ll_session"
TOKEN_COOKIE = "ll_token"
MAX_FLASHES = 10_000
MAX_BODY_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 4_000
MIN_TOKEN_LENGTH = 16
QUEUE_PAGE_ROWS = 100  # the queue page lists the first rows in priority order; counts cover the whole queue
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
_CSP_PAGE = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class AuthMode(StrEnum):
    SINGLE_USER = "single_user"
    SHARED_TOKEN = "shared_token"
    ACCOUNTS = "accounts"
    PROXY = "proxy"


@dataclass
class ReviewUIConfig:
    out_dir: Path | str
    reviewer: str
    token: str | None = None
    allowed_hosts: list[str] | None = None
    lease: timedelta = DEFAULT_LEASE
    low_confidence: float = 0.8
    accounts: bool | None = None  # None: accounts mode when the database has an active account
    proxy_header: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    session_lifetime: timedelta = DEFAULT_SESSION_LIFETIME
    settings: Settings = field(default_factory=Settings)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison that never accepts an empty secret and never raises on odd characters."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _age(created: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _refuse(message: str, status_code: int) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status_code)


async def read_form(request: Request) -> FormData | Response:
    """The url-encoded form of a POST, read with a size cap; odd bodies get a 4xx, never a 500."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("", "application/x-www-form-urlencoded"):
        return _refuse("Send the form url-encoded (the review pages do).", 415)
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return _refuse(f"The form is larger than {MAX_BODY_BYTES // 1024} KiB.", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return _refuse(f"The form is larger than {MAX_BODY_BYTES // 1024} KiB.", 413)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return _refuse("The form could not be read (not UTF-8, or too many fields).", 400)
    return FormData(list[tuple[str, str | UploadFile]](pairs))


class ReviewUI:
    """Everything the routes share: the store, accounts, output location, templates and the flash messages."""

    def __init__(self, store: ReviewStore, config: ReviewUIConfig) -> None:
        self.store = store
        self.accounts: ReviewAccounts = store.accounts()
        self.config = config
        self.output = ReviewOutput(config.out_dir, config.settings)
        self.mode = self._mode()
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self.env.globals.update(labels=FIELD_LABELS, value_text=value_text)
        self.flashes: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()

    def _mode(self) -> AuthMode:
        if self.config.proxy_header:
            return AuthMode.PROXY
        accounts = self.config.accounts
        if accounts is None:
            accounts = self.accounts.has_active_users()
        if accounts:
            return AuthMode.ACCOUNTS
        return AuthMode.SHARED_TOKEN if self.config.token is not None else AuthMode.SINGLE_USER

    # -- sessions and identity --------------------------------------------------------------------------------

    def flash(self, session: WebSession, kind: str, message: str) -> None:
        self.flashes.setdefault(session.session_id, []).append((kind, message))
        self.flashes.move_to_end(session.session_id)
        while len(self.flashes) > MAX_FLASHES:  # forget the oldest rather than grow without bound
            self.flashes.popitem(last=False)

    def gate(self, request: Request) -> Response | None:
        """The shared token (shared_token mode) or the proxy's address (proxy mode); None lets the request on."""
        if self.mode is AuthMode.PROXY:
            client = request.client.host if request.client else ""
            if client not in self.config.proxy_addresses:
                return _refuse("Connect through the authenticating proxy.", 403)
        if self.mode is not AuthMode.SHARED_TOKEN:
            return None
        given = request.query_params.get("token")
        if same_secret(given, self.config.token):
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.config.token or "", httponly=True, samesite="strict")
            return response
        if not same_secret(request.cookies.get(TOKEN_COOKIE), self.config.token):
            return _refuse("A token is required: open the URL that `ledgerlens review serve` printed.", 401)
        return None

    def session_for(self, request: Request) -> tuple[WebSession | None, bool]:
        """The request's session (and whether it is new); None when it must sign in first (accounts mode)."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        found = self.accounts.session(cookie) if cookie.isascii() and 20 <= len(cookie) <= 100 else None
        if self.mode is AuthMode.PROXY:
            identity = request.headers.get(self.config.proxy_header or "", "")
            try:
                check_name(identity)
            except ReviewInputError:
                return None, False
            if found is not None and found.identity == identity:
                return found, False
            return self.accounts.open_session(identity, self.config.session_lifetime), True
        if found is not None or self.mode is AuthMode.ACCOUNTS:
            return found, False
        return self.accounts.open_session(self.config.reviewer, self.config.session_lifetime), True

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session: WebSession | None = getattr(request.state, "session", None)
        flash = self.flashes.pop(session.session_id, []) if session else []
        nonce = secrets.token_urlsafe(16)
        html = self.env.get_template(name).render(
            reviewer=session.identity if session else "",
            csrf_token=session.csrf if session else "",
            identity_mode=self.mode.value if session else "login",
            flash=flash,
            nonce=nonce,
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        # Only our own nonce'd scripts run: an injected <script> would not, even if escaping failed.
        response.headers["Content-Security-Policy"] = _CSP_PAGE.format(nonce=nonce)
        return response

    # -- the queue --------------------------------------------------------------------------------------------

    def item_or_none(self, document_id: str) -> ReviewItem | None:
        if not _DOCUMENT_ID.fullmatch(document_id):
            return None
        try:
            return self.store.get(document_id)
        except ReviewItemNotFoundError:
            return None

    def next_target(self, request: Request, after: str | None = None) -> RedirectResponse:
        session: WebSession = request.state.session
        reason = request.query_params.get("reason") or None
        item = self.store.claim_next(session.identity, self.config.lease, reason=reason, skip=after)
        if item is None:
            self.flash(session, "info", "No more items to review.")
            return RedirectResponse("/", status_code=303)
        return RedirectResponse(f"/items/{item.document_id}", status_code=303)

    def item_page(
        self, request: Request, item: ReviewItem, values: FormData | None = None, status_code: int = 200
    ) -> HTMLResponse:
        session: WebSession = request.state.session
        shown = item.corrected or item.draft or item.invoice
        header = {name: value_text(getattr(shown, name)) or "" for name in HEADER_FIELDS}
        lines: list[dict[str, str | None]] = [
            {column: value_text(getattr(line, column)) or "" for column in LINE_COLUMNS} for line in shown.line_items
        ]
        if values is not None:  # a refused post: show what the reviewer typed
            header = {name: str(values.get(name) or "") for name in HEADER_FIELDS}
            lines = _line_rows(values)
        holder = item.holder(datetime.now(UTC))
        return self.render(
            request,
            "item.html",
            status_code=status_code,
            item=item,
            header=header,
            lines=lines,
            fields=item.fields,
            flagged={issue.field for issue in item.issues if issue.field},
            boxes=self._boxes(item),
            pages=list(range(1, len(item.page_images) + 1)),
            low_confidence=self.config.low_confidence,
            editable=item.state in OPEN_STATES and holder in (None, session.identity),
            holding=holder == session.identity,
            columns=LINE_COLUMNS,
        )

    def _boxes(self, item: ReviewItem) -> dict[int, list[dict[str, Any]]]:
        boxes: dict[int, list[dict[str, Any]]] = {}
        for name, value in item.fields.items():
            if value.page is not None and value.bbox is not None:
                low = value.confidence < self.config.low_confidence
                boxes.setdefault(value.page, []).append({"name": name, "box": value.bbox, "low": low, "value": value})
        return boxes

    def act(self, request: Request, document_id: str, act: str) -> Response:
        """save | approve | reject | skip | claim on one item, as the session's identity."""
        item = self.item_or_none(document_id)
        if item is None:
            return _refuse("No such item in the review queue.", 404)
        session: WebSession = request.state.session
        form: FormData = request.state.form
        try:
            message = self._apply(act, item, session.identity, form)
        except ReviewInputError as exc:
            self.flash(session, "error", str(exc))
            return self.item_page(request, self.store.get(document_id), values=form, status_code=400)
        except OutputError as exc:  # the decision is in the queue; only its copy in OUT/reviews/ is late
            self.flash(
                session, "error", f"Decision saved, but {exc}; the next decision or `ledgerlens export` retries."
            )
            return RedirectResponse("/", status_code=303)
        except ReviewError as exc:  # conflicts (held by someone else, already decided) and the rest
            self.flash(session, "error", str(exc))
            return RedirectResponse("/", status_code=303)
        if message:
            self.flash(session, "info", message)
        if act in ("save", "claim"):
            return RedirectResponse(f"/items/{document_id}", status_code=303)
        return self.next_target(request, after=document_id)

    def _apply(self, act: str, item: ReviewItem, identity: str, form: FormData) -> str | None:
        header = {name: str(form.get(name) or "") for name in HEADER_FIELDS if name in form}
        lines = _line_rows(form) if "line_count" in form else None
        if act == "claim":
            self.store.claim(item.document_id, identity, self.config.lease)
            return None
        if act == "save":
            save_draft(self.store, item.document_id, identity, header, lines)
            return "Corrections saved (not yet approved)."
        if act == "approve":
            decided = approve(self.store, self.output, item.document_id, identity, header, lines)
            return f"{decided.source}: {decided.state.value}."
        if act == "reject":
            reject(self.store, self.output, item.document_id, identity, str(form.get("reason") or ""))
            return f"{item.source}: rejected."
        self.store.release(item.document_id, identity)
        return None

    def page_image(self, document_id: str, page_no: int) -> Response:
        item = self.item_or_none(document_id)
        if item is None or not 1 <= page_no <= len(item.page_images):
            return _refuse("No such page.", 404)
        data = self.output.read_preview(item.page_images[page_no - 1])
        if data is None:
            return _refuse("No such page.", 404)
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


def _line_rows(form: FormData) -> list[dict[str, str | None]]:
    try:
        count = min(int(str(form.get("line_count") or "0")), 500)
    except ValueError:
        count = 0
    return [{column: str(form.get(f"li-{n}-{column}") or "") for column in LINE_COLUMNS} for n in range(count)]


def _security_headers(response: Response) -> Response:
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


async def _csrf_refusal(request: Request, session: WebSession | None) -> Response | None:
    """Read the form of a POST and check it came from one of our pages in this session."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return _refuse("Cross-site form post refused.", 403)
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    request.state.form = form
    if request.url.path == "/login":
        return None  # no session yet: the token itself is the proof
    if session is None or not same_secret(str(form.get("csrf_token") or ""), session.csrf):
        return _refuse("The form's security token is missing or stale; reload the page and try again.", 403)
    return None


def _add_guard(app: FastAPI, ui: ReviewUI) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        refusal = ui.gate(request)
        if refusal is not None:
            return _security_headers(refusal)
        session, fresh = await run_in_threadpool(ui.session_for, request)
        if session is None and request.url.path != "/login":
            if ui.mode is AuthMode.PROXY:
                return _security_headers(_refuse("The proxy sent no valid user name.", 403))
            if request.method == "GET" and not request.url.path.startswith("/items/"):
                return _security_headers(RedirectResponse("/login", status_code=303))
            return _security_headers(_refuse("Sign in first: open /login.", 401))
        request.state.session = session
        if request.method == "POST":
            refusal = await _csrf_refusal(request, session)
            if refusal is not None:
                return _security_headers(refusal)
        response: Response = await call_next(request)
        if fresh and session is not None:
            response.set_cookie(SESSION_COOKIE, session.session_id, httponly=True, samesite="strict")
        return _security_headers(response)


def _add_queue_routes(app: FastAPI, ui: ReviewUI) -> None:
    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, reason: str | None = None, view: str = "open") -> HTMLResponse:
        states = {"open": OPEN_STATES, "decided": DECIDED_STATES}.get(view)
        items = ui.store.list_items(states, reason=reason or None, limit=QUEUE_PAGE_ROWS, summary=True)
        now = datetime.now(UTC)
        rows = [
            {"item": item, "holder": item.holder(now), "age": _age(item.created_at, now), "rank": rank}
            for rank, item in enumerate(items, start=1)
        ]
        counts = ui.store.counts()
        return ui.render(
            request, "queue.html", rows=rows, counts=counts, reason=reason, view=view, page_rows=QUEUE_PAGE_ROWS
        )

    @app.post("/next")
    def claim_next(request: Request) -> RedirectResponse:
        return ui.next_target(request)

    @app.post("/reviewer")
    def set_reviewer(request: Request) -> Response:
        """Single-user mode only: the name recorded with decisions (not verified, and labelled so)."""
        if ui.mode not in (AuthMode.SINGLE_USER, AuthMode.SHARED_TOKEN):
            return _refuse("Your name comes from your account.", 403)
        session: WebSession = request.state.session
        name = str(request.state.form.get("reviewer") or "").strip()[:80]
        try:
            check_text("reviewer", name, 80)
        except ReviewInputError as exc:
            ui.flash(session, "error", str(exc))
            return RedirectResponse("/", status_code=303)
        if name:
            ui.accounts.rename_session(session.session_id, name)
        return RedirectResponse("/", status_code=303)


def _add_item_routes(app: FastAPI, ui: ReviewUI) -> None:
    @app.get("/items/{document_id}", response_class=HTMLResponse)
    def review_page(request: Request, document_id: str) -> Response:
        """Shows the item; claims nothing (claiming is a POST: the queue's Review button or any decision)."""
        item = ui.item_or_none(document_id)
        if item is None:
            return _refuse("No such item in the review queue.", 404)
        holder = item.holder(datetime.now(UTC))
        if item.state in OPEN_STATES and holder not in (None, request.state.session.identity):
            ui.flash(request.state.session, "error", f"This item is being reviewed by {holder}.")
        return ui.item_page(request, item)

    @app.get("/items/{document_id}/pages/{page_no}")
    def page_image(document_id: str, page_no: int) -> Response:
        return ui.page_image(document_id, page_no)

    for act in ("claim", "save", "approve", "reject", "skip"):
        app.add_api_route(f"/items/{{document_id}}/{act}", _action_route(ui, act), methods=["POST"])


def _action_route(ui: ReviewUI, act: str) -> Any:
    def route(request: Request, document_id: str) -> Response:
        return ui.act(request, document_id, act)

    route.__name__ = f"{act}_item"
    return route


def _add_login_routes(app: FastAPI, ui: ReviewUI) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        if ui.mode is not AuthMode.ACCOUNTS:
            return RedirectResponse("/", status_code=303)
        return ui.render(request, "login.html")

    @app.post("/login")
    def login(request: Request) -> Response:
        if ui.mode is not AuthMode.ACCOUNTS:
            return RedirectResponse("/", status_code=303)
        identity = ui.accounts.authenticate(str(request.state.form.get("token") or "").strip())
        if identity is None:
            return ui.render(request, "login.html", status_code=401, error="That token is unknown or revoked.")
        session = ui.accounts.open_session(identity, ui.config.session_lifetime)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session.session_id, httponly=True, samesite="strict")
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        ui.accounts.close_session(request.state.session.session_id)
        response = RedirectResponse("/login" if ui.mode is AuthMode.ACCOUNTS else "/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


def create_app(store: ReviewStore, config: ReviewUIConfig) -> FastAPI:
    """The review app: a guard (token or proxy, session, CSRF), then the queue, item and sign-in routes."""
    app = FastAPI(title="Ledgerlens review", docs_url=None, redoc_url=None, openapi_url=None)
    ui = ReviewUI(store, config)
    app.state.ui = ui
    _add_guard(app, ui)
    if config.allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)
    _add_queue_routes(app, ui)
    _add_item_routes(app, ui)
    _add_login_routes(app, ui)
    return app


def serve(
    store: ReviewStore, config: ReviewUIConfig, host: str, port: int, announce: Any = print
) -> None:  # pragma: no cover - exercised through the CLI in the browser test
    """Bind (port 0 picks a free one), print the URL, and serve until interrupted."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/"
    app = create_app(store, config)
    mode: AuthMode = app.state.ui.mode
    if mode is AuthMode.SHARED_TOKEN:
        url += f"?token={config.token}"
    who = {
        AuthMode.SINGLE_USER: f"single-user mode, names not verified; reviewer: {config.reviewer}",
        AuthMode.SHARED_TOKEN: f"shared token, names not verified; reviewer: {config.reviewer}",
        AuthMode.ACCOUNTS: "reviewer accounts: sign in with your token",
        AuthMode.PROXY: f"user from the proxy's {config.proxy_header} header",
    }[mode]
    announce(f"Review UI for {config.out_dir} at {url} ({who}; Ctrl+C stops)", flush=True)
    # Browsers (and a team's worth of them) keep connections open between clicks: 5 s (uvicorn's default) made
    # idle keep-alive connections close under clients that were about to reuse them.
    # proxy_headers=False: the peer address is the connection's own, never one a client wrote into
    # X-Forwarded-For (the trusted-proxy check in proxy mode depends on it).
    options = {"log_level": "warning", "access_log": False, "timeout_keep_alive": 75, "proxy_headers": False}
    server = uvicorn.Server(uvicorn.Config(app, **options))  # type: ignore[arg-type]
    server.run(sockets=[sock])
