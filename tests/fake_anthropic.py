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
class FakeAnthropic:
    script: list[Reply | Callable[[Seen], Reply]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    base_url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0
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
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            if self.path.split("?")[0] != "/v1/messages":
                self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
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
            if reply.text is not None:
                content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
                stop, out_chars = "end_turn", len(reply.text)
            else:
                tool_input = reply.tool_input or {}
                content = [{"type": "tool_use", "id": f"toolu_{len(fake.requests):04d}", "name": TOOL_NAME,
                            "input": tool_input}]  # fmt: skip
                stop, out_chars = "tool_use", len(json.dumps(tool_input))
            usage = {
                "input_tokens": images + text,
                "output_tokens": math.ceil(out_chars / 4) + 20,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
            seen.usage = usage
            self._send(
                200,
                {
                    "id": f"msg_{len(fake.requests):06d}",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage,
                },
            )

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
