"""Tesseract through its own library (libtesseract's C API via ctypes), loaded once per worker thread.

Every `tesseract` process spends ~0.3 s of CPU before it reads a pixel: Tesseract 5 builds its universal
ambiguity table on every start (UnicharAmbigs::LoadUniversal, a sorted-list insert per entry; measured with
perf on an empty page, ~80% of a 0.35 s start). A page read twice (first reading, second look) paid it twice.
Here one handle per worker thread and language is initialised once and reused for every page and page
segmentation mode; the words are the same as the command line's (same library, same parameters, same TSV).

Limits kept from the command line: the per-page timeout (Tesseract's own deadline monitor) and one OpenMP
thread (when OpenMP was loaded before with more, pages go to the command line). The address-space limit
cannot bound part of a process, so a page whose reading could come near `memory_limit_bytes` goes to the
`tesseract` command under that limit instead (pipeline/limits.py).
"""

from __future__ import annotations

import csv
import ctypes
import os
import threading
import time
from ctypes.util import find_library
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from pipeline.engines.ocr import TESSERACT_VARIABLES, OcrOptions, TesseractEngine
from pipeline.errors import ConfigError, CorruptDocumentError, TransientError
from schemas import PageText

TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
               "left", "top", "width", "height", "conf", "text")  # fmt: skip
OEM_LSTM_ONLY = 1
L_SEVERITY_NONE = 6  # leptonica's environ.h
# The command line under an address-space limit (prlimit --as): an empty page needs 65-96 MiB, an 8.7 Mpx
# page 96-128 MiB. The estimate below (96 MiB + 8 bytes a pixel: 166 MiB for that page) errs high, so every
# page the command line could be refused or stopped for goes to it, under the limit.
BASE_BYTES = 96 * 2**20
BYTES_PER_PIXEL = 8


@dataclass(frozen=True)
class _Library:
    tesseract: ctypes.CDLL
    leptonica: ctypes.CDLL
    one_thread: bool  # OpenMP holds Tesseract to one thread (else pages go to the command line)


def _load(name: str) -> ctypes.CDLL:
    found = find_library(name)
    if found is None:
        raise ConfigError(
            f"The {name} library is not installed, so the 'tesseract-lib' OCR engine cannot run. Install "
            "tesseract-ocr (Debian: apt-get install tesseract-ocr), or set LEDGERLENS_OCR_ENGINE=tesseract."
        )
    return ctypes.CDLL(found)


@cache  # the shared libraries, loaded once per process (handles are per thread: see _handles)
def _library() -> _Library:
    # OpenMP reads its thread limit once, when it is loaded (first here: none of our other libraries use it).
    # Tesseract's network layers ask for up to 10 threads each; without the limit one page cost 4.3 s of CPU
    # instead of 1.6. The command line engine sets the same variable for its processes.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    tesseract, leptonica = _load("tesseract"), _load("lept")
    found = find_library("gomp")
    one_thread = found is None or ctypes.CDLL(found).omp_get_thread_limit() == 1
    pointer = ctypes.c_void_p
    tesseract.TessBaseAPICreate.restype = pointer
    tesseract.TessBaseAPIDelete.argtypes = [pointer]
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
    return _Library(tesseract, leptonica, one_thread)


def _image_size(library: _Library, image_path: Path) -> tuple[int, int] | None:
    """Width and height from the file's header (leptonica's pixReadHeader: nothing decoded)."""
    fields = [ctypes.c_int() for _ in range(6)]
    failed = library.leptonica.pixReadHeader(str(image_path).encode(), *(ctypes.byref(field) for field in fields))
    return None if failed else (fields[1].value, fields[2].value)


class _Api:
    """One initialised TessBaseAPI; deleted with its owner (a thread's state, dropped when the thread ends)."""

    def __init__(self, library: _Library, lang: str) -> None:
        self._tesseract = library.tesseract
        self.pointer: int = library.tesseract.TessBaseAPICreate()
        if library.tesseract.TessBaseAPIInit2(self.pointer, None, lang.encode(), OEM_LSTM_ONLY) != 0:
            raise ConfigError(
                f"Tesseract could not load the language data {lang!r}. Install it (Debian: tesseract-ocr-{lang}) "
                "or set LEDGERLENS_TESSERACT_LANG."
            )
        library.tesseract.TessBaseAPISetVariable(self.pointer, b"tessedit_create_tsv", b"1")  # the CLI's `tsv`
        for name, value in TESSERACT_VARIABLES.items():
            library.tesseract.TessBaseAPISetVariable(self.pointer, name.encode(), value.encode())
        # Its notes ("Estimating resolution as 394") went to the command's captured stderr; not to ours.
        library.tesseract.TessBaseAPISetVariable(self.pointer, b"debug_file", b"/dev/null")

    def __del__(self) -> None:
        self._tesseract.TessBaseAPIDelete(self.pointer)


_handles = threading.local()  # per thread: a TessBaseAPI is not thread-safe


def _handle(library: _Library, lang: str) -> int:
    """This thread's initialised TessBaseAPI for `lang` (created on first use, kept for the thread's life)."""
    handles: dict[str, _Api] = _handles.__dict__.setdefault("by_lang", {})
    if lang not in handles:
        handles[lang] = _Api(library, lang)
    return handles[lang].pointer


@dataclass(frozen=True)
class TesseractLibEngine:
    """Tesseract's library in this process: the command line's words without its start-up per page."""

    options: OcrOptions = field(default_factory=OcrOptions)
    name: str = "tesseract-lib"

    def read(self, image_path: Path, page_no: int) -> PageText:
        if not (_library().one_thread and self._fits_memory_limit(image_path)):
            return TesseractEngine(self.options).read(image_path, page_no)
        lines = self._recognise(image_path, page_no).splitlines()
        rows = list(csv.DictReader(lines, fieldnames=TSV_COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE))
        return TesseractEngine.page_from_rows(rows, page_no)

    def _fits_memory_limit(self, image_path: Path) -> bool:
        limit = self.options.memory_limit_bytes
        if not limit:
            return True
        size = _image_size(_library(), image_path)
        if size is None:
            return False  # let the bounded command line say what is wrong with the file
        return BASE_BYTES + BYTES_PER_PIXEL * size[0] * size[1] <= limit

    def _recognise(self, image_path: Path, page_no: int) -> str:
        """The page's TSV rows as Tesseract's command line prints them, minus the header line."""
        library = _library()
        api = _handle(library, self.options.lang)
        library.tesseract.TessBaseAPISetPageSegMode(api, self.options.psm)
        pix = _set_image(library, api, image_path, page_no)
        monitor = library.tesseract.TessMonitorCreate()
        try:
            library.tesseract.TessMonitorSetDeadlineMSecs(monitor, self.options.timeout_s * 1000)
            started = time.monotonic()
            if library.tesseract.TessBaseAPIRecognize(api, monitor) != 0:
                if time.monotonic() - started >= self.options.timeout_s:
                    raise TransientError(f"Tesseract timed out on page {page_no} after {self.options.timeout_s} s")
                raise CorruptDocumentError(f"Tesseract could not recognise page {page_no}")
            text = library.tesseract.TessBaseAPIGetTsvText(api, 0)
            try:
                return ctypes.string_at(text).decode("utf-8", "replace") if text else ""
            finally:
                library.tesseract.TessDeleteText(text)
        finally:
            library.tesseract.TessBaseAPIClear(api)
            library.tesseract.TessMonitorDelete(monitor)
            if pix.value:
                library.leptonica.pixDestroy(ctypes.byref(pix))


def _set_image(library: _Library, api: int, image_path: Path, page_no: int) -> ctypes.c_void_p:
    """Give Tesseract the page: a greyscale image (every cleaned page and crop strip) as pixels decoded by
    OpenCV, anything else through leptonica's reader. Returns the leptonica image to free (null for pixels).

    Leptonica 1.82 reads a PGM one byte per fread call: 0.16 s of CPU for a 2400 x 3400 page, a sixth of
    reading it; OpenCV decodes it in milliseconds and Tesseract copies the pixels in (the same words, the
    same resolution estimate: nothing but the decoder changes)."""
    pixels = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)
    if isinstance(pixels, np.ndarray) and pixels.ndim == 2 and pixels.dtype == np.uint8:
        height, width = pixels.shape
        data = pixels.ctypes.data_as(ctypes.c_void_p)
        library.tesseract.TessBaseAPISetImage(api, data, width, height, 1, pixels.strides[0])
        return ctypes.c_void_p(None)
    pix = ctypes.c_void_p(library.leptonica.pixRead(str(image_path).encode()))
    if not pix.value:
        raise CorruptDocumentError(f"Tesseract could not read page {page_no}: the cleaned image cannot be opened")
    library.tesseract.TessBaseAPISetImage2(api, pix)
    return pix
