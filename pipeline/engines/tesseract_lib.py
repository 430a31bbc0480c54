"""Tesseract's library, loaded once per worker PROCESS: one OCR worker process per reading thread, so a crash
inside libtesseract costs one page, never the run.

Each thread that reads pages (a task runner's worker thread, a process runner's process) starts its own
worker, `python -I -S pipeline/engines/tesseract_worker.py` (standard library only), on its first page and
keeps it for the thread's life: the model is loaded once per worker, pages go to it as file paths (never
images) and the words come back as Tesseract's TSV. The reader supervises it:

- the worker dies on a page (SIGSEGV, abort, an OOM kill, a signal from anyone): the page is read again
  once by the `tesseract` command (its own process, under the memory limit), and the thread's next page
  starts a new worker. If the command fails too, the page fails with `ocr_crashed` (or, when the command
  hit the memory limit, `decode_memory_limit`): one document's failed row, and the batch goes on;
- the page takes longer than the timeout: Tesseract's own deadline monitor stops it, and should the worker
  not answer `HARD_DEADLINE_GRACE_S` later (stuck outside recognition, or stopped), it is killed; either way
  the page raises TransientError, as the command line's timeout does;
- a page whose reading could come near `memory_limit_bytes` goes to the `tesseract` command under that
  limit (pipeline/limits.py), as do all pages when OpenMP was loaded with more than one thread.

The workers are the reading process's child processes whose command line names WORKER_SCRIPT (how the
tests find one to kill). Their figures: the same words as the command line; no start-up per page.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.engines.ocr import TESSERACT_VARIABLES, OcrOptions, TesseractEngine
from pipeline.errors import (
    ConfigError,
    CorruptDocumentError,
    DecodeMemoryError,
    DocumentError,
    OcrCrashedError,
    TransientError,
)
from schemas import PageText

logger = logging.getLogger(__name__)

TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
               "left", "top", "width", "height", "conf", "text")  # fmt: skip
WORKER_SCRIPT = str(Path(__file__).with_name("tesseract_worker.py"))
HARD_DEADLINE_GRACE_S = 10.0  # past the timeout, a worker that has not answered is killed
READ_CHUNK_BYTES = 1 << 16
# Tesseract's process keeps growing as it reads pages (by ~10-20 MB a page on 2400 px scans, freed memory it
# does not give back), so a worker is replaced once it holds this much: a new one loads the model again in
# a fraction of a second, and a 1,000-page batch peaks no higher than a 100-page one.
WORKER_RSS_LIMIT_BYTES = 200 * 1024 * 1024
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class WorkerDied(Exception):
    """The worker process ended while it held a page; the message says how (its signal or exit status)."""


class WorkerOverdue(Exception):
    """The worker did not answer before the hard deadline; it has been killed."""


class _Worker:
    """One running tesseract_worker.py and its pipes, owned by the thread that started it."""

    def __init__(self) -> None:
        self.owner = os.getpid()  # a forked copy of this object must not talk to the parent's worker
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the worker's stderr, closed in __del__
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # see TesseractEngine._run
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", WORKER_SCRIPT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env, bufsize=0,
        )  # fmt: skip

    @property
    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    @property
    def grown(self) -> bool:
        """Whether the worker holds more memory than WORKER_RSS_LIMIT_BYTES (Linux; elsewhere never)."""
        try:
            resident_pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return False
        return resident_pages * _PAGE_SIZE > WORKER_RSS_LIMIT_BYTES

    def ask(self, request: dict[str, Any], deadline: float) -> tuple[dict[str, Any], bytes]:
        """Send one page request; the reply's header and TSV. Raises WorkerDied or WorkerOverdue."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerDied(self.ended()) from None
        return self._reply(deadline)

    def _reply(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdout is not None
        descriptor, buffer = self.process.stdout.fileno(), bytearray()
        header: dict[str, Any] | None = None
        while header is None or len(buffer) < header["size"]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
                self.stop()
                raise WorkerOverdue
            chunk = os.read(descriptor, READ_CHUNK_BYTES)
            if not chunk:
                raise WorkerDied(self.ended())
            buffer += chunk
            if header is None and b"\n" in buffer:
                line, _, rest = bytes(buffer).partition(b"\n")
                header, buffer = json.loads(line), bytearray(rest)
        return header, bytes(buffer)

    def ended(self) -> str:
        """How the process ended (it has, or is about to: its pipe is closed), with the tail of its stderr."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.stop()
            code = self.process.returncode
        how = f"killed by {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        self.stderr.seek(0)
        detail = self.stderr.read().decode("utf-8", "replace").strip()[-300:]
        return f"{how}: {detail}" if detail else how

    def stop(self) -> None:
        if self.owner != os.getpid():
            return
        if self.process.stdin is not None:
            self.process.stdin.close()  # end of input: an idle worker exits by itself
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __del__(self) -> None:  # the owning thread ended, or the worker was replaced
        if hasattr(self, "process"):  # not when it could not be started
            self.stop()
        self.stderr.close()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_workers = threading.local()  # per thread: its own worker process, so threads never wait on each other


def _thread_worker() -> _Worker:
    """This thread's OCR worker process (started on first use, again after one died or grew too big)."""
    worker: _Worker | None = getattr(_workers, "worker", None)
    if worker is not None and worker.alive and worker.grown:
        worker.stop()  # between pages: it exits at the end of its input, holding no page
    if worker is None or not worker.alive:
        worker = _workers.worker = _Worker()
    return worker


@dataclass(frozen=True)
class TesseractLibEngine:
    """Tesseract's library in a worker process per reading thread: the command line's words without its
    start-up per page, and a crash costs one page."""

    options: OcrOptions = field(default_factory=OcrOptions)
    name: str = "tesseract-lib"

    def read(self, image_path: Path, page_no: int) -> PageText:
        try:
            lines = self._recognise(image_path, page_no).splitlines()
        except _UseCommand:
            return TesseractEngine(self.options).read(image_path, page_no)
        except WorkerDied as died:
            return self._after_crash(image_path, page_no, str(died))
        rows = list(csv.DictReader(lines, fieldnames=TSV_COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE))
        return TesseractEngine.page_from_rows(rows, page_no)

    def _recognise(self, image_path: Path, page_no: int) -> str:
        """The page's TSV rows as Tesseract's command line prints them, minus the header line, read by this
        thread's worker process."""
        options = self.options
        request = {"image": str(image_path), "lang": options.lang, "psm": options.psm,
                   "timeout_ms": options.timeout_s * 1000, "memory_limit": options.memory_limit_bytes,
                   "variables": TESSERACT_VARIABLES}  # fmt: skip
        deadline = time.monotonic() + options.timeout_s + HARD_DEADLINE_GRACE_S
        try:
            header, body = _thread_worker().ask(request, deadline)
        except WorkerOverdue:
            logger.warning("The OCR worker process did not answer on page %s, %s, in time; it was killed.",
                           page_no, image_path)  # fmt: skip
            raise self._timed_out(page_no) from None
        status = header["status"]
        if status == "ok":
            return body.decode("utf-8", "replace")
        if status == "timeout":
            raise self._timed_out(page_no)
        if status == "command":
            raise _UseCommand
        if status == "config":
            raise ConfigError(header["message"])
        if status == "unreadable":
            raise CorruptDocumentError(f"Tesseract could not read page {page_no}: the cleaned image cannot be opened")
        raise CorruptDocumentError(f"Tesseract could not recognise page {page_no}")

    def _timed_out(self, page_no: int) -> TransientError:
        return TransientError(f"Tesseract timed out on page {page_no} after {self.options.timeout_s} s")

    def _after_crash(self, image_path: Path, page_no: int, how: str) -> PageText:
        """The page whose worker died, read once more by the `tesseract` command; OcrCrashedError if that
        fails too (a DecodeMemoryError stands: the memory limit is then the likely cause of both)."""
        logger.warning(
            "The OCR worker process died reading page %s (%s), %s; reading it again with the tesseract command.",
            page_no, how, image_path,
        )  # fmt: skip
        try:
            return TesseractEngine(self.options).read(image_path, page_no)
        except DecodeMemoryError:
            raise
        except DocumentError as exc:
            raise OcrCrashedError(
                f"Tesseract crashed on page {page_no}: its worker process died ({how}), and the tesseract command "
                f"failed on the page too ({exc}). The page image likely trips a Tesseract bug: open the file to "
                "check it, re-scan or re-save it (300 dpi PNG or PDF) and run again; if it keeps failing, report "
                "it with the file."
            ) from exc


class _UseCommand(Exception):
    """The worker sent this page to the `tesseract` command (memory limit, OpenMP threads)."""
