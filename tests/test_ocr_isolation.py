"""A crash inside libtesseract costs one page, never the run: the 'tesseract-lib' engine reads pages in a worker
process per reading thread (pipeline/engines/tesseract_lib.py). These tests send real signals to the real
worker (found as a child process running WORKER_SCRIPT) and to the `tesseract` command that reads the page
again, while a page is being read."""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import psutil
import pytest

from flows.ingest import run_ingest
from pipeline.config import Settings
from pipeline.engines.ocr import OcrOptions, TesseractEngine
from pipeline.engines.tesseract_lib import WORKER_SCRIPT, TesseractLibEngine
from pipeline.errors import OcrCrashedError, TransientError
from schemas import PageText
from schemas.codes import FailureCode

WORKER_LOG = "pipeline.engines.tesseract_lib"


def _busy_page(path: Path) -> Path:
    """A wide page packed with two columns of text: several seconds of Tesseract (about 4 s on a machine where
    a plain A4 page of 40 lines took 1.1 s, too close to the 1 s timeout), time enough to be interrupted."""
    image = np.full((3500, 3800), 255, dtype=np.uint8)
    for row in range(80):
        line = f"Item {row:02d} Consulting services March 2026 {row * 7 + 3} x 12.50 = {(row * 7 + 3) * 12.5:,.2f}"
        for x in (80, 1980):
            cv2.putText(image, line, (x, 120 + row * 42), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2, cv2.LINE_AA)
    cv2.imwrite(str(path), image)
    return path


def _children(match: Callable[[list[str]], bool]) -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if match(child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone meanwhile
            continue
    return found


def _is_worker(command: list[str]) -> bool:
    return WORKER_SCRIPT in command


def _worker_pids() -> frozenset[int]:
    """The OCR workers alive now: idle ones of threads that live on (the test runner's main thread's)."""
    return frozenset(child.pid for child in _children(_is_worker))


def _is_tesseract_command(command: list[str]) -> bool:
    return any(Path(part).name == "tesseract" for part in command)


def _wait_for(
    match: Callable[[list[str]], bool],
    busy_cpu_s: float,
    timeout_s: float = 300,
    ignore: frozenset[int] = frozenset(),
    stop: threading.Event | None = None,
) -> psutil.Process:
    """The first child process `match` accepts (but not those in `ignore`), once it has used `busy_cpu_s` of
    CPU (it is reading a page); given up when `stop` is set (its test is over)."""
    ends = time.monotonic() + timeout_s
    while time.monotonic() < ends and not (stop is not None and stop.is_set()):
        for child in _children(match):
            if child.pid in ignore:
                continue
            try:
                cpu = child.cpu_times()
                if cpu.user + cpu.system >= busy_cpu_s:
                    return child
            except psutil.Error:
                continue
        time.sleep(0.005)
    raise AssertionError("no such child process got busy in time")


def _read_in_thread(engine: TesseractLibEngine, page: Path) -> tuple[threading.Thread, list[PageText | BaseException]]:
    outcome: list[PageText | BaseException] = []

    def read() -> None:
        try:
            outcome.append(engine.read(page, 2))
        except BaseException as exc:  # the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    return thread, outcome


def _words(page: PageText) -> list[tuple[str, float, float, float]]:
    return [(word.text, word.x0, word.y0, word.confidence) for word in page.words]


def test_a_worker_killed_mid_page_costs_nothing_the_command_reads_the_page_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = _busy_page(tmp_path / "page.pgm")
    expected = _words(TesseractEngine().read(page, 2))
    engine = TesseractLibEngine()
    caplog.set_level(logging.WARNING, logger=WORKER_LOG)
    idle = _worker_pids()
    thread, outcome = _read_in_thread(engine, page)
    worker = _wait_for(_is_worker, busy_cpu_s=0.8, ignore=idle)  # past the model's load: on the page
    worker.send_signal(signal.SIGKILL)
    thread.join()
    assert isinstance(outcome[0], PageText) and _words(outcome[0]) == expected
    assert "died reading page 2 (killed by SIGKILL)" in caplog.text
    thread, outcome = _read_in_thread(engine, page)  # another thread: its own, new worker
    thread.join()
    assert isinstance(outcome[0], PageText) and _words(outcome[0]) == expected
    assert not worker.is_running()


def test_a_page_that_kills_the_worker_and_the_command_fails_alone_with_ocr_crashed(tmp_path: Path) -> None:
    page = _busy_page(tmp_path / "page.pgm")
    idle = _worker_pids()
    thread, outcome = _read_in_thread(TesseractLibEngine(OcrOptions(memory_limit_bytes=None)), page)
    _wait_for(_is_worker, busy_cpu_s=0.8, ignore=idle).send_signal(signal.SIGSEGV)
    _wait_for(_is_tesseract_command, busy_cpu_s=0.3).send_signal(signal.SIGSEGV)
    thread.join()
    failure = outcome[0]
    assert isinstance(failure, OcrCrashedError) and failure.code is FailureCode.OCR_CRASHED
    message = str(failure)
    assert "page 2" in message and "killed by SIGSEGV" in message and "re-scan" in message, message


def test_a_worker_that_stops_answering_is_killed_and_the_page_times_out(tmp_path: Path) -> None:
    page = _busy_page(tmp_path / "page.pgm")
    engine = TesseractLibEngine(OcrOptions(timeout_s=1))
    idle = _worker_pids()
    thread, outcome = _read_in_thread(engine, page)
    worker = _wait_for(_is_worker, busy_cpu_s=0.5, ignore=idle)
    started = time.monotonic()
    worker.send_signal(signal.SIGSTOP)  # hung: Tesseract's own deadline monitor cannot stop it
    thread.join(timeout=60)
    assert not thread.is_alive() and time.monotonic() - started < 30
    assert isinstance(outcome[0], TransientError) and "timed out on page 2 after 1 s" in str(outcome[0])
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert engine.read(_small_page(tmp_path / "small.pgm"), 1).words  # the thread's next page: a new worker


def test_tesseracts_own_deadline_still_times_a_page_out_and_the_worker_stays(tmp_path: Path) -> None:
    page = _busy_page(tmp_path / "page.pgm")
    engine = TesseractLibEngine(OcrOptions(timeout_s=1))
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out on page 2 after 1 s"):
        engine.read(page, 2)
    assert time.monotonic() - started < 1 + 10  # the monitor stopped it, not the hard deadline
    workers = _worker_pids()
    assert engine.read(_small_page(tmp_path / "small.pgm"), 1).words
    assert _worker_pids() == workers


def _small_page(path: Path) -> Path:
    image = np.full((600, 1200), 255, dtype=np.uint8)
    cv2.putText(image, "Total 1,008.00 EUR", (60, 300), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4, cv2.LINE_AA)
    cv2.imwrite(str(path), image)
    return path


# -- the whole flow: a worker killed mid-batch ---------------------------------------------------------------

COMPARED = ["status", "error_code", "vendor_name", "invoice_number", "invoice_date", "total"]
BATCH_DOCUMENTS = 5


def _rows(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "invoices")
    assert frame["document_id"].is_unique  # exactly one row per document
    return frame.set_index("document_id")[COMPARED].sort_index()


def _kill_when_busy(
    killed: list[int], ignore: frozenset[int], command_too: bool, stop: threading.Event
) -> threading.Thread:
    """Kill the run's OCR worker once a page is under way; with `command_too`, also the `tesseract` command
    that reads the page again (SIGSEGV). Stopped with its test: a killer left waiting killed a later test's
    worker."""

    def kill() -> None:
        # The model loaded (about 0.5 s of CPU) and a page under way; a fast machine reads these pages in
        # under a second each, so a higher mark could pass with no page left to read.
        try:
            worker = _wait_for(_is_worker, busy_cpu_s=0.9, ignore=ignore, stop=stop)
        except AssertionError:
            return  # nothing got busy before the test ended: `killed` stays empty and the test says so
        worker.send_signal(signal.SIGKILL)
        killed.append(worker.pid)
        if command_too:
            command = _wait_for(_is_tesseract_command, busy_cpu_s=0.3, stop=stop)
            command.send_signal(signal.SIGSEGV)
            killed.append(command.pid)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """Two born-digital and two scanned documents and a page of dense text, and their rows from a run where
    nothing was killed. The dense page keeps a worker busy past the killer's mark however fast the machine:
    on a quiet fast one the samples' pages were read before any worker reached it, and nothing was killed."""
    from devtools.samples import generate_samples

    folder = tmp_path_factory.mktemp("isolation")
    generate_samples(folder / "in", count=4, seed=23)
    _busy_page(folder / "in" / "zz-dense-page.png")
    summary = run_ingest([str(folder / "in")], str(folder / "before"), Settings(workers=1, decode_memory_limit_mb=None))
    assert summary.processed == BATCH_DOCUMENTS
    return folder / "in", _rows(folder / "before")


@pytest.mark.e2e
@pytest.mark.parametrize("command_too", [False, True], ids=["recovered", "failed"])
def test_a_worker_killed_mid_batch_costs_at_most_its_document(
    batch: tuple[Path, pd.DataFrame], tmp_path: Path, caplog: pytest.LogCaptureFixture, command_too: bool
) -> None:
    inputs, before = batch
    settings = Settings(workers=1, decode_memory_limit_mb=None)  # a killed command is then a crash, not memory
    caplog.set_level(logging.WARNING, logger=WORKER_LOG)
    killed: list[int] = []
    idle = _worker_pids()
    stop = threading.Event()
    killer = _kill_when_busy(killed, idle, command_too, stop)
    summary = run_ingest([str(inputs)], str(tmp_path / "out"), settings)
    killer.join(timeout=5)
    stop.set()
    assert len(killed) == 1 + command_too, "not everything was killed"
    assert {child.pid for child in _children(_is_worker)} <= idle  # the run's workers ended with it
    assert summary.processed == BATCH_DOCUMENTS
    crashed = re.findall(r"died reading page \d+ \(killed by SIGKILL\), \S*/ll-([0-9a-f]{12})-", caplog.text)
    assert len(crashed) == 1, caplog.text  # the page under way when the worker was killed, in one document
    after = _rows(tmp_path / "out")
    hit = [document_id for document_id in after.index if document_id.startswith(crashed[0])]
    assert len(hit) == 1
    if command_too:  # that document alone fails, with the crash code and what to do
        failed = pd.read_parquet(tmp_path / "out" / "invoices").set_index("document_id").loc[hit[0]]
        assert failed["status"] == "failed" and failed["error_code"] == FailureCode.OCR_CRASHED
        assert "killed by SIGKILL" in failed["error"] and "re-scan" in failed["error"], failed["error"]
        after, before = after.drop(index=hit), before.drop(index=hit)
    pd.testing.assert_frame_equal(after, before)  # every other row (all, when recovered) as without the kill
    rerun = run_ingest([str(inputs)], str(tmp_path / "out"), settings)
    assert rerun.processed == 0 and rerun.skipped_existing == BATCH_DOCUMENTS
    assert len(pd.read_parquet(tmp_path / "out" / "invoices")) == BATCH_DOCUMENTS


def test_a_worker_that_grew_past_its_memory_bound_is_replaced_between_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tesseract's process keeps what it allocated for earlier pages; a worker over the bound is replaced
    # before its thread's next page, and the new one reads the same words.
    from pipeline.engines import tesseract_lib

    page = _small_page(tmp_path / "small.pgm")
    engine = TesseractLibEngine()

    def two_reads() -> list[tuple[frozenset[int], list[tuple[str, float, float, float]]]]:
        seen = []
        for _ in range(2):
            before = _worker_pids()
            words = _words(engine.read(page, 1))
            seen.append((_worker_pids() - before, words))
        return seen

    def in_thread() -> list[tuple[frozenset[int], list[tuple[str, float, float, float]]]]:
        result: list[list[tuple[frozenset[int], list[tuple[str, float, float, float]]]]] = []
        thread = threading.Thread(target=lambda: result.append(two_reads()))
        thread.start()
        thread.join()
        return result[0]

    kept = in_thread()
    assert kept[0][0] and not kept[1][0]  # one worker started, then kept for the second page
    monkeypatch.setattr(tesseract_lib, "WORKER_RSS_LIMIT_BYTES", 1)  # every worker is over this bound
    replaced = in_thread()
    assert replaced[0][0] and replaced[1][0]  # a new worker for the second page
    assert replaced[1][1] == replaced[0][1] == kept[0][1]
