"""The OCR worker process: Tesseract's library (libtesseract's C API via ctypes), loaded once, reading pages
for one reader in the run (pipeline/engines/tesseract_lib.py starts one per worker thread).

Run as a script (`python -I -S tesseract_worker.py`): it imports nothing but the standard library, so it
starts in milliseconds and a crash inside libtesseract (SIGSEGV, abort, an OOM kill) ends this process
only, never the run. The reader sends one JSON line per page, {"image", "lang", "psm", "timeout_ms",
"memory_limit"}, and gets back one JSON line, {"status", "message", "size"}, then `size` bytes of the page's
TSV rows (Tesseract's command line's TSV, minus the header line). Statuses: `ok`, `timeout` (Tesseract's
own deadline monitor stopped the page), `unreadable` (the image cannot be opened), `failed` (recognition
failed), `command` (read this page with the `tesseract` command: it could come near the memory limit, or
OpenMP holds more than one thread), `config` (the library or language data is missing; `message` says
what to install). End of input ends the process.

Every `tesseract` process spends ~0.3 s of CPU before it reads a pixel: Tesseract 5 builds its universal
ambiguity table on every start (UnicharAmbigs::LoadUniversal, a sorted-list insert per entry; measured with
perf on an empty page, ~80% of a 0.35 s start). Here one handle per language is initialised once and reused
for every page and page segmentation mode; the words are the same as the command line's (same library,
same parameters, same TSV).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from ctypes.util import find_library
from dataclasses import dataclass
from typing import Any, BinaryIO

OEM_LSTM_ONLY = 1
L_SEVERITY_NONE = 6  # leptonica's environ.h
# The command line under an address-space limit (prlimit --as): an empty page needs 65-96 MiB, an 8.7 Mpx
# page 96-128 MiB. The estimate below (96 MiB + 8 bytes a pixel: 166 MiB for that page) errs high, so every
# page the command line could be refused or stopped for goes to it, under the limit.
BASE_BYTES = 96 * 2**20
BYTES_PER_PIXEL = 8


class Refused(Exception):
    """A page this worker answers with a status other than `ok`."""

    def __init__(self, status: str, message: str = "") -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Library:
    tesseract: ctypes.CDLL
    leptonica: ctypes.CDLL
    one_thread: bool  # OpenMP holds Tesseract to one thread (else pages go to the command line)


def _load(name: str) -> ctypes.CDLL:
    found = find_library(name)
    if found is None:
        raise Refused(
            "config",
            f"The {name} library is not installed, so the 'tesseract-lib' OCR engine cannot run. Install "
            "tesseract-ocr (Debian: apt-get install tesseract-ocr), or set LEDGERLENS_OCR_ENGINE=tesseract.",
        )
    return ctypes.CDLL(found)


def load_library() -> Library:
    """The shared libraries with their signatures declared (once per worker process)."""
    # OpenMP reads its thread limit once, when it is loaded (first here: nothing else in this process uses it).
    # Tesseract's network layers ask for up to 10 threads each; without the limit one page cost 4.3 s of CPU
    # instead of 1.6. The command line engine sets the same variable for its processes.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    tesseract, leptonica = _load("tesseract"), _load("lept")
    found = find_library("gomp")
    one_thread = found is None or ctypes.CDLL(found).omp_get_thread_limit() == 1
    pointer = ctypes.c_void_p
    tesseract.TessBaseAPICreate.restype = pointer
    tesseract.TessBaseAPIInit2.argtypes = [pointer, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    tesseract.TessBaseAPISetVariable.argtypes = [pointer, ctypes.c_char_p, ctypes.c_char_p]
    tesseract.TessBaseAPISetPageSegMode.argtypes = [pointer, ctypes.c_int]
    tesseract.TessBaseAPISetImage2.argtypes = [pointer, pointer]
    tesseract.TessMonitorCreate.restype = pointer
    tesseract.TessMonitorSetDeadlineMSecs.argtypes = [pointer, ctypes.c_int]
    tesseract.TessMonitorDelete.argtypes = [pointer]
    tesseract.TessBaseAPIRecognize.argtypes = [pointer, pointer]
    tesseract.TessBaseAPIGetTsvText.argtypes = [pointer, ctypes.c_int]
    tesseract.TessBaseAPIGetTsvText.restype = ctypes.POINTER(ctypes.c_char)
    tesseract.TessDeleteText.argtypes = [ctypes.POINTER(ctypes.c_char)]
    tesseract.TessBaseAPIClear.argtypes = [pointer]
    leptonica.pixRead.argtypes = [ctypes.c_char_p]
    leptonica.pixRead.restype = pointer
    leptonica.setMsgSeverity.argtypes = [ctypes.c_int]
    # Leptonica's notes ("Error in pixScanForForeground: invalid box", harmless within Tesseract's layout
    # analysis) went to the command's captured stderr; here they would flood the run's.
    leptonica.setMsgSeverity(L_SEVERITY_NONE)
    leptonica.pixReadHeader.argtypes = [ctypes.c_char_p, *[ctypes.POINTER(ctypes.c_int)] * 6]
    leptonica.pixDestroy.argtypes = [ctypes.POINTER(pointer)]
    return Library(tesseract, leptonica, one_thread)


def image_size(library: Library, image: str) -> tuple[int, int] | None:
    """Width and height from the file's header (leptonica's pixReadHeader: nothing decoded)."""
    fields = [ctypes.c_int() for _ in range(6)]
    failed = library.leptonica.pixReadHeader(image.encode(), *(ctypes.byref(field) for field in fields))
    return None if failed else (fields[1].value, fields[2].value)


def fits_memory_limit(library: Library, image: str, limit: int | None) -> bool:
    if not limit:
        return True
    size = image_size(library, image)
    if size is None:
        return False  # let the bounded command line say what is wrong with the file
    return BASE_BYTES + BYTES_PER_PIXEL * size[0] * size[1] <= limit


def new_handle(library: Library, lang: str) -> int:
    """An initialised TessBaseAPI for `lang`, kept for the worker's life."""
    handle: int = library.tesseract.TessBaseAPICreate()
    if library.tesseract.TessBaseAPIInit2(handle, None, lang.encode(), OEM_LSTM_ONLY) != 0:
        raise Refused(
            "config",
            f"Tesseract could not load the language data {lang!r}. Install it (Debian: tesseract-ocr-{lang}) "
            "or set LEDGERLENS_TESSERACT_LANG.",
        )
    library.tesseract.TessBaseAPISetVariable(handle, b"tessedit_create_tsv", b"1")  # the CLI's `tsv`
    # Its notes ("Estimating resolution as 394") went to the command's captured stderr; not to ours.
    library.tesseract.TessBaseAPISetVariable(handle, b"debug_file", b"/dev/null")
    return handle


def recognise(library: Library, handle: int, request: dict[str, Any]) -> str:
    """The page's TSV rows as Tesseract's command line prints them, minus the header line."""
    pix = ctypes.c_void_p(library.leptonica.pixRead(request["image"].encode()))
    if not pix.value:
        raise Refused("unreadable")
    monitor = library.tesseract.TessMonitorCreate()
    try:
        library.tesseract.TessBaseAPISetPageSegMode(handle, request["psm"])
        library.tesseract.TessBaseAPISetImage2(handle, pix)
        library.tesseract.TessMonitorSetDeadlineMSecs(monitor, request["timeout_ms"])
        started = time.monotonic()
        if library.tesseract.TessBaseAPIRecognize(handle, monitor) != 0:
            overdue = time.monotonic() - started >= request["timeout_ms"] / 1000
            raise Refused("timeout" if overdue else "failed")
        text = library.tesseract.TessBaseAPIGetTsvText(handle, 0)
        try:
            return ctypes.string_at(text).decode("utf-8", "replace") if text else ""
        finally:
            library.tesseract.TessDeleteText(text)
    finally:
        library.tesseract.TessBaseAPIClear(handle)
        library.tesseract.TessMonitorDelete(monitor)
        library.leptonica.pixDestroy(ctypes.byref(pix))


class Worker:
    """The library and one handle per language, made on first use."""

    def __init__(self) -> None:
        self.library: Library | None = None
        self.handles: dict[str, int] = {}

    def read(self, request: dict[str, Any]) -> str:
        if self.library is None:
            self.library = load_library()
        library = self.library
        if not (library.one_thread and fits_memory_limit(library, request["image"], request["memory_limit"])):
            raise Refused("command")
        lang = request["lang"]
        if lang not in self.handles:
            self.handles[lang] = new_handle(library, lang)
        return recognise(library, self.handles[lang], request)


def answer(worker: Worker, line: bytes) -> bytes:
    """The reply to one request line: a JSON header line, then the TSV bytes it announces."""
    try:
        status, message, body = "ok", "", worker.read(json.loads(line)).encode()
    except Refused as refused:
        status, message, body = refused.status, str(refused), b""
    header = json.dumps({"status": status, "message": message, "size": len(body)}).encode()
    return header + b"\n" + body


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    worker = Worker()
    for line in requests:
        replies.write(answer(worker, line))
        replies.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the run's to handle; end of input ends this process
    serve(sys.stdin.buffer, sys.stdout.buffer)
