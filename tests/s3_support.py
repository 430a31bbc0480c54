"""S3 on loopback for tests: moto's server (server mode) and a small fault-injecting proxy in front of it.

Import the fixtures into a test module (`from tests.s3_support import moto_s3, bucket  # noqa: F401`).
The session fixture points the standard AWS chain at moto with dummy credentials (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, ...), disables the instance metadata lookup and hides any real AWS config, so nothing
leaves 127.0.0.1. Subprocesses inherit the same environment.
"""

from __future__ import annotations

import http.client
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a free port); yields its endpoint URL, also set as AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in [*_AWS_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.pop("AWS_PROFILE", None)
    from pipeline import storage

    storage._client.cache_clear()
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        storage._client.cache_clear()
        server.stop()


def s3() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture
def bucket(moto_s3: str) -> str:
    """A fresh bucket per test."""
    name = f"ll-{uuid.uuid4().hex[:12]}"
    s3().create_bucket(Bucket=name)
    return name


class FaultProxy:
    """Forwards HTTP to moto; answers the first `throttle` requests with 503 SlowDown and any request whose path
    contains `forbidden` with 403 AccessDenied (as S3 would), so the real clients' retry and error paths run."""

    def __init__(self, upstream: str, throttle: int = 0, forbidden: str = "forbidden") -> None:
        self.upstream = upstream.removeprefix("http://")
        self.throttle = throttle
        self.forbidden = forbidden
        self.throttled = 0
        self.forwarded = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                with proxy.lock:
                    throttle = proxy.throttled < proxy.throttle
                    if throttle:
                        proxy.throttled += 1
                if throttle:
                    self._error(503, "SlowDown", "Please reduce your request rate.")
                    return
                if proxy.forbidden and proxy.forbidden in self.path:
                    self._error(403, "AccessDenied", "Access Denied")
                    return
                connection = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"transfer-encoding", "expect"}}
                headers["Content-Length"] = str(len(body))
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                with proxy.lock:
                    proxy.forwarded += 1
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in {"transfer-encoding", "content-length", "connection"}:
                        self.send_header(key, value)
                # A HEAD answer has no body: its Content-Length is the object's size, which readers need.
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                connection.close()

            def _read_chunked(self) -> bytes:
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            def _error(self, status: int, code: str, message: str) -> None:
                payload = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
                    f"<RequestId>proxy</RequestId></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_s3_dataset(uri: str, columns: list[str] | None = None) -> list[dict[str, object]]:
    """The rows of a Parquet dataset (or one file) at an s3:// URL."""
    import pyarrow.dataset as ds

    from pipeline.config import Settings
    from pipeline.storage import s3_filesystem

    path = uri.removeprefix("s3://")
    dataset = ds.dataset(path, filesystem=s3_filesystem(Settings()), format="parquet", partitioning="hive")
    return dataset.to_table(columns=columns).to_pylist()
