"""The OCR seam: stages call an `OcrEngine`; `ocr_engine(name, ...)` builds one from the registry.

Tesseract today, run as its own process on an image file it reads directly (no re-encode in between), one
process per page with `OMP_THREAD_LIMIT=1`, so pages on different workers use different cores, under a hard
memory limit (pipeline/limits.py).
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.errors import ConfigError, CorruptDocumentError, TransientError
from pipeline.limits import bounded, hit_memory_limit, out_of_memory_error
from schemas import PageText, TextSource, Word


class OcrEngine(Protocol):
    """Reads the words of one page image: text, box in image pixels, confidence in 0..1, line key."""

    @property
    def name(self) -> str: ...

    def read(self, image_path: Path, page_no: int) -> PageText: ...


# Tesseract's parameters for every engine. `tessedit_do_invert` off: Tesseract no longer reads each line it is
# unsure of a second time inverted, in case it is light on dark (3-27% of its CPU on a page); the cleaning
# turns light-on-dark bands dark on light instead (pipeline/preprocess.py: invert_dark_bands).
TESSERACT_VARIABLES: dict[str, str] = {"tessedit_do_invert": "0"}


def variable_flags() -> list[str]:
    """TESSERACT_VARIABLES as the command line's `-c name=value` flags."""
    return [flag for name, value in TESSERACT_VARIABLES.items() for flag in ("-c", f"{name}={value}")]


@dataclass(frozen=True)
class OcrOptions:
    lang: str = "eng"
    timeout_s: int = 120
    psm: int = 3
    memory_limit_bytes: int | None = None


@dataclass(frozen=True)
class TesseractEngine:
    """The `tesseract` command line with TSV output (what pytesseract's image_to_data parses, minus its
    PNG round trip: given an image object it re-encoded ~1.5 s of PNG per 2400 x 3400 page)."""

    options: OcrOptions = OcrOptions()
    name: str = "tesseract"

    def read(self, image_path: Path, page_no: int) -> PageText:
        return self.page_from_rows(self._run(image_path, page_no), page_no)

    @staticmethod
    def page_from_rows(rows: list[dict[str, str]], page_no: int) -> PageText:
        """Tesseract's TSV rows (as strings) as a page: its size from the page row, then every word."""
        width = height = 0.0
        words: list[Word] = []
        for row in rows:
            if row.get("level") == "1":
                width, height = float(row["width"]), float(row["height"])
            word = _word(row, page_no)
            if word is not None:
                words.append(word)
        return PageText(page_no=page_no, width=width, height=height, source=TextSource.OCR, words=words)

    def _run(self, image_path: Path, page_no: int) -> list[dict[str, str]]:
        command = ["tesseract", str(image_path), "stdout", "-l", self.options.lang,
                   "--oem", "1", "--psm", str(self.options.psm), *variable_flags(), "tsv"]  # fmt: skip
        # Without one thread per process, Tesseract's OpenMP threads fight the other workers: measured
        # 4.6-7.6 s per page instead of ~1 s on two cores.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        limit = self.options.memory_limit_bytes
        try:
            result = subprocess.run(
                bounded(command, limit), capture_output=True, timeout=self.options.timeout_s, env=env, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise TransientError(f"Tesseract timed out on page {page_no} after {self.options.timeout_s} s") from exc
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip()
            if limit and hit_memory_limit(result.returncode, detail):
                raise out_of_memory_error(f"Reading page {page_no} (Tesseract)", limit)
            raise CorruptDocumentError(f"Tesseract could not read page {page_no}: {detail[-300:]}")
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def _word(row: dict[str, str], page_no: int) -> Word | None:
    """A TSV row as a Word; None for structure rows, empty text and negative confidence."""
    text = (row.get("text") or "").strip()
    try:
        confidence = float(row["conf"])
        left, top = float(row["left"]), float(row["top"])
        width, height = float(row["width"]), float(row["height"])
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
    except (KeyError, TypeError, ValueError):
        return None
    if not text or confidence < 0:
        return None
    return Word(
        text=text,
        page_no=page_no,
        x0=left,
        y0=top,
        x1=left + width,
        y1=top + height,
        confidence=min(confidence / 100.0, 1.0),
        line_key=key,
    )


@dataclass(frozen=True)
class PytesseractEngine:
    """The same Tesseract through pytesseract, given the file's path (so it, too, skips the PNG round trip).
    It cannot wrap Tesseract in the decode memory limit, so the default stays `tesseract`; it is here for
    installations that point pytesseract at a Tesseract of their own (`pytesseract.pytesseract.tesseract_cmd`)."""

    options: OcrOptions = OcrOptions()
    name: str = "pytesseract"

    def read(self, image_path: Path, page_no: int) -> PageText:
        import pytesseract  # imported here: the default engine does not need it loaded

        config = " ".join(["--oem", "1", "--psm", str(self.options.psm), *variable_flags()])
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # see TesseractEngine._run
        try:
            data = pytesseract.image_to_data(
                str(image_path), lang=self.options.lang, config=config, timeout=self.options.timeout_s,
                output_type=pytesseract.Output.DICT,
            )  # fmt: skip
        except RuntimeError as exc:  # pytesseract's timeout
            raise TransientError(f"Tesseract timed out on page {page_no} after {self.options.timeout_s} s") from exc
        except pytesseract.TesseractError as exc:
            raise CorruptDocumentError(f"Tesseract could not read page {page_no}: {exc}") from exc
        rows = [{key: str(values[i]) for key, values in data.items()} for i in range(len(data["text"]))]
        return TesseractEngine.page_from_rows(rows, page_no)


def _tesseract_lib(options: OcrOptions) -> OcrEngine:
    from pipeline.engines.tesseract_lib import TesseractLibEngine  # it builds on TesseractEngine, above

    return TesseractLibEngine(options)


OCR_ENGINES: dict[str, Callable[[OcrOptions], OcrEngine]] = {
    "tesseract": TesseractEngine,
    "tesseract-lib": _tesseract_lib,
    "pytesseract": PytesseractEngine,
}


def ocr_engine(name: str = "tesseract", options: OcrOptions | None = None) -> OcrEngine:
    """The engine registered under `name`, configured with `options`."""
    try:
        factory = OCR_ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(OCR_ENGINES))
        raise ConfigError(f"Unknown OCR engine {name!r}; choose one of: {known} (LEDGERLENS_OCR_ENGINE).") from None
    return factory(options or OcrOptions())
