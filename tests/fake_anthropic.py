"""A scripted stand-in for the Anthropic Messages API on loopback, for the real SDK to talk to.

Each test scripts what POST /v1/messages answers, in order (the last script entry repeats), and reads back
the requests the server saw. ``usage`` is computed from the actual request the way the API counts it:
image tokens = decoded width x height / 750, text tokens ~ characters / 4, output ~ answer characters / 4.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from schemas.vlm import TOOL_NAME

Answer = dict[str, Any]


@dataclass
class Reply:
    """One scripted response: a tool answer (dict), an HTTP error, a text-only answer, or a slow one."""

    tool_input: Answer | None = None
    status: int = 200
    error_type: str = ""
    delay_s: float = 0.0
    text: str | None = None


def answer(tool_input: Answer, delay_s: float = 0.0) -> Reply:
    return Reply(tool_input=tool_input, delay_s=delay_s)


def error(status: int, error_type: str) -> Reply:
    return Reply(status=status, error_type=error_type)


def request_usage(body: dict[str, Any]) -> tuple[int, int]:
    """(image tokens, text tokens) of a Messages API request body."""
    images = 0
    chars = len(body.get("system") or "") + len(json.dumps(body.get("tools") or []))
    for message in body.get("messages", []):
        content = message["content"]
        if isinstance(content, str):
            chars += len(content)
            continue
        for block in content:
            if block["type"] == "image":
                with Image.open(io.BytesIO(base64.b64decode(block["source"]["data"]))) as image:
                    images += math.ceil(image.width * image.height / 750)
            elif block["type"] == "text":
                chars += len(block["text"])
            else:
                chars += len(json.dumps(block.get("input") or block.get("content") or ""))
    return images, math.ceil(chars / 4)


@dataclass
class Seen:
    body: dict[str, Any]
    image_tokens: int
    text_tokens: int
    usage: dict[str, int] | None = None

    @property
    def model(self) -> str:
        return str(self.body["model"])

    def text(self) -> str:
        parts = [self.body.get("system") or ""]
        for message in self.body["messages"]:
            for block in message["content"]:
                if block["type"] == "text":
                    parts.append(block["text"])
        return "\n".join(parts)


@dataclass
class FakeBatch:
    id: str
    created_at: str
    lines: list[dict[str, Any]]  # one per request, in the results file's shape
    polls: int = 0
    canceled: bool = False

    def counts(self, ended: bool) -> dict[str, int]:
        kinds = [line["result"]["type"] for line in self.lines]
        if not ended:
            return {"processing": len(kinds), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        return {
            "processing": 0,
            **{kind: kinds.count(kind) for kind in ("succeeded", "errored", "canceled", "expired")},
        }


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass
class FakeAnthropic:
    script: list[Reply | Callable[[Seen], Reply]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    base_url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0
    # Message Batches: what each batch request answers (default: `script`), how many status polls say
    # in_progress before the batch has ended, and what the server saw.
    batch_script: list[Reply | Callable[[Seen], Reply]] = field(default_factory=list)
    polls_before_end: int = 2
    batch_requests: list[Seen] = field(default_factory=list)
    batches: dict[str, FakeBatch] = field(default_factory=dict)
    batch_creates: list[str] = field(default_factory=list)
    batch_polls: list[str] = field(default_factory=list)
    batch_cancels: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def next_reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            index = min(len(self.requests) - 1, len(self.script) - 1)
            step = self.script[index]
        return step(seen) if callable(step) else step

    @property
    def answered(self) -> list[Seen]:
        """Requests that got a 200 answer (the ones that cost money)."""
        return [seen for seen in self.requests if seen.usage is not None]

    def next_batch_reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.batch_requests.append(seen)
            script = self.batch_script or self.script
            step = script[min(len(self.batch_requests) - 1, len(script) - 1)]
        return step(seen) if callable(step) else step

    @property
    def batch_answered(self) -> list[Seen]:
        """Batch requests that succeeded (billed at the batch price)."""
        return [seen for seen in self.batch_requests if seen.usage is not None]


def _message(seen: Seen, reply: Reply, number: int) -> dict[str, Any]:
    """A Messages API answer to `seen` (usage computed from the request), recorded on `seen`."""
    if reply.text is not None:
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
        stop, out_chars = "end_turn", len(reply.text)
    else:
        tool_input = reply.tool_input or {}
        content = [{"type": "tool_use", "id": f"toolu_{number:04d}", "name": TOOL_NAME, "input": tool_input}]
        stop, out_chars = "tool_use", len(json.dumps(tool_input))
    usage = {
        "input_tokens": seen.image_tokens + seen.text_tokens,
        "output_tokens": math.ceil(out_chars / 4) + 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    seen.usage = usage
    return {
        "id": f"msg_{number:06d}",
        "type": "message",
        "role": "assistant",
        "model": seen.body["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        def do_POST(self) -> None:
            fake.enter()
            try:
                self._answer()
            finally:
                fake.leave()

        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.loads(raw) if raw else {}  # a batch cancel has no body
            path = self.path.split("?")[0]
            if path == "/v1/messages/batches":
                self._create_batch(body)
                return
            if path.startswith("/v1/messages/batches/") and path.endswith("/cancel"):
                self._cancel_batch(path.split("/")[4])
                return
            if path != "/v1/messages":
                self._not_found()
                return
            images, text = request_usage(body)
            seen = Seen(body, images, text)
            reply = fake.next_reply(seen)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                # a tiny retry-after keeps the SDK's backoff short (it honours retry-after-ms up to 60 s)
                self._send(
                    reply.status,
                    {"type": "error", "error": {"type": reply.error_type, "message": "scripted failure"}},
                    {"retry-after-ms": "20", "x-should-retry": "true"},
                )
                return
            self._send(200, _message(seen, reply, len(fake.requests)))

        def _not_found(self) -> None:
            self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

        def _create_batch(self, body: dict[str, Any]) -> None:
            lines: list[dict[str, Any]] = []
            for entry in body["requests"]:
                images, text = request_usage(entry["params"])
                seen = Seen(entry["params"], images, text)
                reply = fake.next_batch_reply(seen)
                if reply.status != 200:
                    error = {"type": "error", "error": {"type": reply.error_type, "message": "scripted failure"}}
                    result: dict[str, Any] = {"type": "errored", "error": error}
                else:
                    result = {"type": "succeeded", "message": _message(seen, reply, len(fake.batch_requests))}
                lines.append({"custom_id": entry["custom_id"], "result": result})
            batch = FakeBatch(id=f"msgbatch_{len(fake.batches) + 1:04d}", created_at=_iso(time.time()), lines=lines)
            fake.batches[batch.id] = batch
            fake.batch_creates.append(batch.id)
            self._send(200, self._batch_json(batch))

        def _cancel_batch(self, batch_id: str) -> None:
            batch = fake.batches.get(batch_id)
            if batch is None:
                self._not_found()
                return
            fake.batch_cancels.append(batch_id)
            batch.canceled = True
            for line in batch.lines:
                line["result"] = {"type": "canceled"}
            self._send(200, self._batch_json(batch))

        def _batch_json(self, batch: FakeBatch, ended: bool = False) -> dict[str, Any]:
            return {
                "id": batch.id,
                "type": "message_batch",
                "processing_status": "ended" if ended else ("canceling" if batch.canceled else "in_progress"),
                "request_counts": batch.counts(ended),
                "created_at": batch.created_at,
                "expires_at": _iso(time.time() + 86_400),
                "ended_at": _iso(time.time()) if ended else None,
                "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{fake.base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
            }

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")  # v1 messages batches ID [results]
            batch = (
                fake.batches.get(parts[3]) if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"] else None
            )
            if batch is None:
                self._not_found()
                return
            if len(parts) == 4:
                fake.batch_polls.append(batch.id)
                batch.polls += 1
                self._send(200, self._batch_json(batch, ended=batch.canceled or batch.polls > fake.polls_before_end))
                return
            data = "".join(json.dumps(line) + "\n" for line in batch.lines).encode()
            self.send_response(200)
            self.send_header("content-type", "application/binary")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(fake: FakeAnthropic) -> Iterator[FakeAnthropic]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _field(value: Any, printed: str | None = None) -> dict[str, Any]:
    return {"value": value, "printed": printed if printed is not None else value}


def invoice_answer(truth: dict[str, Any], **overrides: Any) -> Answer:
    """A tool answer built from a truth record (the samples' *.truth.json shape); overrides replace fields."""
    built: Answer = {}
    for name in ("vendor_name", "customer_name", "invoice_number", "invoice_date", "due_date", "currency",
                 "subtotal", "tax", "total"):  # fmt: skip
        built[name] = _field(truth.get(name))
    built["line_items"] = [
        {
            "description": item.get("description"),
            "quantity": item.get("quantity"),
            "unit_price": item.get("unit_price"),
            "amount": item.get("amount"),
        }
        for item in truth.get("line_items", [])
    ]
    for name, value in overrides.items():
        built[name] = value if name == "line_items" or isinstance(value, dict) else _field(value)
    return built


def truth_responder(truths: list[dict[str, Any]]) -> Callable[[Seen], Reply]:
    """Answers each request with the truth of the sample whose identifying text its OCR hints share most."""

    def words(text: str) -> set[str]:
        return {w.strip(".,:;()").casefold() for w in text.split() if len(w.strip(".,:;()")) >= 3}

    def respond(seen: Seen) -> Reply:
        asked = words(seen.text())

        def overlap(truth: dict[str, Any]) -> int:
            keys = " ".join(str(truth.get(n) or "") for n in ("vendor_name", "customer_name", "invoice_number"))
            items = " ".join(str(item.get("description") or "") for item in truth.get("line_items", []))
            return len(words(keys + " " + items) & asked)

        return answer(invoice_answer(max(truths, key=overlap)))

    return respond
