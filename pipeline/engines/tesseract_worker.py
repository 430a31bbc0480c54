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
from collections.abc import Callable
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
    tesseract.TessBaseAPISetImage.argtypes = [pointer, pointer, *[ctypes.c_int] * 4]
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
    for name, value in request.get("variables", {}).items():  # TESSERACT_VARIABLES (pipeline/engines/ocr.py)
        library.tesseract.TessBaseAPISetVariable(handle, name.encode(), value.encode())
    library.tesseract.TessBaseAPISetPageSegMode(handle, request["psm"])
    pix = set_image(library, handle, request["image"])
    monitor = library.tesseract.TessMonitorCreate()
    try:
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
        if pix.value:
            library.leptonica.pixDestroy(ctypes.byref(pix))


def set_image(library: Library, handle: int, image: str) -> ctypes.c_void_p:
    """Give Tesseract the page: an 8-bit PGM (every cleaned page and crop strip) as its pixels, anything else
    through leptonica's reader. Returns the leptonica image to free (null for pixels).

    Leptonica 1.82 reads a PGM one byte per fread call: 0.16 s of CPU for a 2400 x 3400 page, a sixth of
    reading it; here the file is read at once and Tesseract copies the pixels in (the same words, the same
    resolution estimate: nothing but the decoder changes). The file goes straight into the buffer Tesseract
    is given (`readinto`): reading it as bytes and copying those cost 10 ms of CPU a page, now 1.5."""
    with open(image, "rb") as file:  # read into one buffer: read() then bytearray() copied the page twice
        content = bytearray(os.fstat(file.fileno()).st_size)
        del content[file.readinto(content) :]
    found = pgm_pixels(content)
    if found is not None:
        width, height, offset = found
        pixels = (ctypes.c_ubyte * (width * height)).from_buffer(content, offset)
        library.tesseract.TessBaseAPISetImage(handle, ctypes.cast(pixels, ctypes.c_void_p), width, height, 1, width)
        return ctypes.c_void_p(None)
    pix = ctypes.c_void_p(library.leptonica.pixRead(image.encode()))
    if not pix.value:
        raise Refused("unreadable")
    library.tesseract.TessBaseAPISetImage2(handle, pix)
    return pix


def pgm_pixels(content: bytes | bytearray) -> tuple[int, int, int] | None:
    """Width, height and where the pixels start, for a complete binary 8-bit PGM ("P5 W H 255", comments
    allowed); None for anything else (leptonica reads it, or says it cannot)."""
    fields: list[bytes] = []
    position = 0
    while len(fields) < 4:
        while position < len(content) and content[position : position + 1].isspace():
            position += 1
        if content[position : position + 1] == b"#":
            position = content.find(b"\n", position)
            if position < 0:
                return None
            continue
        end = position
        while end < len(content) and not content[end : end + 1].isspace():
            end += 1
        if end == position:
            return None
        fields.append(bytes(content[position:end]))
        position = end
    position += 1  # the single white space after the maximum value
    if fields[0] != b"P5" or not all(field.isdigit() for field in fields[1:]) or fields[3] != b"255":
        return None
    width, height = int(fields[1]), int(fields[2])
    if width <= 0 or height <= 0 or len(content) - position < width * height:
        return None
    return width, height, position


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


def heap_trimmer() -> Callable[[], None]:
    """Hands the heap's free pages back to the system (glibc's malloc_trim). A page's recognition allocates
    and frees hundreds of MB in pieces; without this the worker keeps the high-water mark of every page it
    read, and each worker process grew to several hundred MB over a 100-page batch."""
    try:
        trim = ctypes.CDLL(find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim with
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def trim_heap() -> None:
        trim(0)

    return trim_heap


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    worker = Worker()
    trim_heap = heap_trimmer()
    for line in requests:
        replies.write(answer(worker, line))
        replies.flush()
        trim_heap()  # after the reply: the reader is not kept waiting for it


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the run's to handle; end of input ends this process
    serve(sys.stdin.buffer, sys.stdout.buffer)
