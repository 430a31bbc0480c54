"""Throughput against the OCR limit: ledgerlens versus bare Tesseract on the same scanned pages and cores.

    .venv/bin/python benchmarks/throughput.py --pages 100 --workers 2
    .venv/bin/python benchmarks/throughput.py --pages 1000 --workers 2
    .venv/bin/python benchmarks/throughput.py --one-invoice-only --repeat 3   # start-up only: one invoice, both servers

In one run: pages per minute for scanned and born-digital pages; time per stage (images, preprocess, OCR,
extract, validate, previews, write) with shares; orchestration overhead and start-up time; peak RSS of the
whole process tree (the run, its Prefect server, every tool it starts); and the reference, bare `tesseract`
(`OMP_THREAD_LIMIT=1`, TSV output, the same number of processes) on the page images embedded in the same PDFs.
The reference is read before the run and again after it, and the two are pooled: this machine's speed drifts
by up to a quarter within half an hour, and a reference on one side only compared the run with another speed.
It also times a one-invoice `ledgerlens run` with a temporary server and with a server already running.

Every time is given as wall time and as CPU time (user + sys of the run's process and every tool it ran,
and, apart, of its Prefect server): on a shared, loaded machine wall times stretch with the neighbours' load,
while the CPU ratio to bare Tesseract on the same pages holds.

The scanned set is image-only PDFs of JPEG scans from the sample generator (clean and hard scans, 150-300
dpi). Beyond `--distinct-pages` generated pages, the set repeats them with one trailing PDF comment per
copy, so each copy is a new document (its own sha256) with the same OCR work. Generated sets are cached
under --work. Prints a table and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results_file import write_result  # noqa: E402

STAGES = ("images", "preprocess", "ocr", "extract", "validate", "previews", "write")


def _generator() -> Callable[[Path, int, int], Path]:
    from devtools.samples import generate_sample

    return generate_sample


def pdf_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[-1]) for line in out.splitlines() if line.startswith("Pages:"))


def make_scanned_set(folder: Path, originals_dir: Path, pages: int, distinct_pages: int, seed: int) -> list[Path]:
    """Image-only PDFs of JPEG scans totalling `pages` pages (generated up to distinct_pages, then copies)."""
    folder.mkdir(parents=True, exist_ok=True)
    originals_dir.mkdir(parents=True, exist_ok=True)
    generate = _generator()
    originals: list[tuple[Path, int]] = []
    index, total = 0, 0
    while total < min(pages, distinct_pages):
        if index % 2 == 1:  # the generator's cycle: odd indices are clean and hard scans
            cached = sorted(originals_dir.glob(f"inv-{index + 1:04d}-*.pdf"))
            pdf = cached[0] if cached else generate(originals_dir, index, seed)
            originals.append((pdf, pdf_pages(pdf)))
            total += originals[-1][1]
        index += 1
    return _copies(folder, originals, pages)


def _copies(folder: Path, originals: list[tuple[Path, int]], pages: int) -> list[Path]:
    chosen: list[Path] = []
    total, copy = 0, 0
    while total < pages:
        for pdf, count in originals:
            if total >= pages:
                break
            target = folder / f"c{copy:03d}-{pdf.name}"
            if not target.exists():  # written whole under a unique name, then renamed: a concurrent run never
                partial = target.with_name(f".{target.name}.{os.getpid()}")  # reads half a file
                partial.write_bytes(pdf.read_bytes() + f"\n% benchmark copy {copy}\n".encode())
                partial.replace(target)
            chosen.append(target)
            total += count
        copy += 1
    return chosen


def make_born_digital_set(folder: Path, documents: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    generate = _generator()
    made = sorted(folder.glob("*.pdf"))
    for index in range(len(made) * 2, documents * 2, 2):  # even indices are born-digital
        made.append(generate(folder, index, seed))
    return made[:documents]


def cpu_seconds(children: bool = True) -> float:
    """User + sys CPU of this process (all threads) and, with children, of every child process it has waited for."""
    times = os.times()
    own = times.user + times.system
    return own + times.children_user + times.children_system if children else own


def tools_cpu_seconds() -> float:
    """User + sys CPU of the child processes this process has waited for (Tesseract, poppler)."""
    times = os.times()
    return times.children_user + times.children_system


def tree_cpu_seconds(pid: int) -> float:
    """User + sys CPU of a running process and its live descendants (psutil)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            cpu = process.cpu_times()
            total += cpu.user + cpu.system + cpu.children_user + cpu.children_system
    except psutil.Error:
        pass
    return total


def bare_tesseract(pdfs: list[Path], scratch: Path, workers: int) -> dict[str, float]:
    """The reference: each page's embedded image (extracted untimed) read by `tesseract`, `workers` at a time."""
    scratch.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []
    for number, pdf in enumerate(pdfs):
        prefix = scratch / f"d{number:05d}"
        subprocess.run(["pdfimages", "-j", str(pdf), str(prefix)], check=True)
        images += sorted(scratch.glob(f"{prefix.name}-*"))
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def read(image: Path) -> None:
        command = ["tesseract", str(image), "stdout", "--oem", "1", "--psm", "3", "tsv"]
        subprocess.run(command, capture_output=True, env=env, check=True)

    started, cpu_started = time.perf_counter(), cpu_seconds()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(read, images))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    return {"pages": len(images), "seconds": seconds, "pages_per_minute": 60 * len(images) / seconds,
            "cpu_seconds": cpu}  # fmt: skip


def bracketed(before: dict[str, float], after: dict[str, float] | None) -> dict[str, Any]:
    """The reference read before the run and again after it, pooled: this machine's speed drifts by up to a
    quarter within half an hour, so a reference read on one side of the run alone compares the run with another
    speed of the machine. Each side's own figures are kept, with how far they differ."""
    if after is None:
        return {**before, "sides": {"before": before}}
    pooled = {key: before[key] + after[key] for key in ("pages", "seconds", "cpu_seconds")}
    pooled["pages_per_minute"] = 60 * pooled["pages"] / pooled["seconds"]
    drift = after["cpu_seconds"] / after["pages"] / (before["cpu_seconds"] / before["pages"]) - 1
    return {**pooled, "sides": {"before": before, "after": after}, "cpu_per_page_drift": drift}


def process_kind(process: Any) -> str:
    """What a process of the run's tree is, for the memory breakdown: the run, its Prefect server, or a tool."""
    try:
        command = process.cmdline()
    except Exception:  # gone, or not ours to read
        return "gone"
    if any("uvicorn" in part or "prefect.server" in part for part in command):
        return "prefect server"
    if any(part.endswith("tesseract_worker.py") for part in command):
        return "ocr worker"  # the tesseract-lib engine's worker processes (pipeline/engines/tesseract_lib.py)
    if command and Path(command[0]).name.startswith("python"):
        return "python"
    return Path(command[0]).name if command else "unknown"


class TreeRss:
    """Samples the summed RSS of a process and all its descendants every `interval` seconds, and where it was:
    at the peak, each kind of process (the run, its Prefect server, each tool) and when (seconds after the start);
    and each kind's own peak over the run.

    A child caught between fork and exec (the run starting a tool: its command line is still its parent's) shares
    its parent's pages, yet reports all of them as its own RSS: counted, it doubled the run's memory in whichever
    sample landed in that window (the 1,137 MB peak of a 100-page run against 785 MB for 1,000 pages). Such a child
    is left out of the sum; the largest one seen is reported apart."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.started = time.perf_counter()
        self.peak, self.peak_at = 0, 0.0
        self.at_peak: dict[str, int] = {}
        self.kind_peaks: dict[str, int] = {}
        self.unexecd_fork_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self) -> dict[str, int]:
        import psutil

        by_kind: dict[str, int] = {}
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                rss = process.memory_info().rss
                if process.pid != self.root.pid and process.cmdline() == process.parent().cmdline():
                    self.unexecd_fork_peak = max(self.unexecd_fork_peak, rss)  # its parent's pages, not its own
                    continue
                kind = "run" if process.pid == self.root.pid else process_kind(process)
            except (psutil.Error, AttributeError):  # gone meanwhile (parent() is then None)
                continue
            by_kind[kind] = by_kind.get(kind, 0) + rss
        return by_kind

    def _loop(self, interval: float) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                by_kind = self._sample()
            except psutil.Error:
                return
            total = sum(by_kind.values())
            for kind, rss in by_kind.items():
                self.kind_peaks[kind] = max(self.kind_peaks.get(kind, 0), rss)
            if total > self.peak:
                self.peak, self.peak_at, self.at_peak = total, time.perf_counter() - self.started, by_kind
            self._stop.wait(interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def breakdown(self) -> dict[str, Any]:
        """Where the peak was: MB per kind of process at the peak and when, and each kind's own peak in MB."""
        return {
            "peak_at_seconds": self.peak_at,
            "at_peak_mb": {kind: rss / 2**20 for kind, rss in sorted(self.at_peak.items())},
            "kind_peaks_mb": {kind: rss / 2**20 for kind, rss in sorted(self.kind_peaks.items())},
            "unexecd_fork_peak_mb_not_counted": self.unexecd_fork_peak / 2**20,
        }


class StageClock:
    """Wall time per stage, summed over every call from every worker thread of the run, and the CPU time of
    the calling thread in it (the stage's own work in this process; a tool it waits for, as Tesseract, is
    counted in the run's CPU time, not here). A stage entered again inside itself on the same thread (one
    module's name for a function calling another's, the library engine falling back to the command line) is
    timed once, by its outermost call."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.thread_cpu: dict[str, float] = {}
        self._lock = threading.Lock()
        self._inside = threading.local()

    def clear(self) -> None:
        self.seconds.clear()
        self.thread_cpu.clear()

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)
        inside = self._inside

        def timed(*args: Any, **kwargs: Any) -> Any:
            active: set[str] = inside.__dict__.setdefault("stages", set())
            if stage in active:
                return original(*args, **kwargs)
            active.add(stage)
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                active.discard(stage)
                with self._lock:
                    self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
                    cpu = time.thread_time() - cpu_started
                    self.thread_cpu[stage] = self.thread_cpu.get(stage, 0.0) + cpu

        setattr(owner, name, timed)


# The functions of each stage, timed under every name a pipeline module holds them by: extraction also runs inside
# the reading (the second look extracts each candidate reading), so timing only the composer's names left it at 0.
STAGE_FUNCTIONS = {
    "images": ("check_pdf_complete", "pdf_page_count", "read_text_layer", "pdf_page_images", "render_image"),
    "preprocess": ("preprocess_page",),
    "extract": ("extract_invoice",),
    "validate": ("validate_invoice", "route_record"),
    "previews": ("write_page_previews",),
}
# Imported before wrapping: the reading imports these where a page image is read (a born-digital run never does).
STAGE_MODULES = ("pipeline.process", "pipeline.reading", "pipeline.preprocess", "pipeline.second_look")


def instrument() -> StageClock:
    """Time the stages wherever a pipeline module calls them (this benchmark's process only)."""
    import importlib

    from pipeline.engines.ocr import TesseractEngine
    from pipeline.engines.tesseract_lib import TesseractLibEngine
    from pipeline.review import SqlReviewStore
    from pipeline.sinks import ParquetSink

    for module_name in STAGE_MODULES:
        importlib.import_module(module_name)
    clock = StageClock()
    modules = [module for name, module in sorted(sys.modules.items()) if name.startswith("pipeline.") and module]
    for stage, names in STAGE_FUNCTIONS.items():
        for module in modules:
            for name in names:
                if callable(getattr(module, name, None)):
                    clock.wrap(module, name, stage)
    clock.wrap(TesseractEngine, "read", "ocr")  # the command line, and the library engine's fallback to it
    clock.wrap(TesseractLibEngine, "_recognise", "ocr")
    clock.wrap(ParquetSink, "write", "write")
    clock.wrap(SqlReviewStore, "enqueue", "write")
    return clock


def run_child(args: argparse.Namespace) -> int:
    """The measured run: start-up (imports, Prefect API), then the scanned and the born-digital batch."""
    import psutil

    born = psutil.Process().create_time()
    from flows.runtime import configure_prefect_environment, keep_pandas_unloaded, long_lived_imports, use_prefect_api

    configure_prefect_environment()
    api = use_prefect_api()
    with long_lived_imports():  # as `ledgerlens run` does
        keep_pandas_unloaded()
        from flows.ingest import run_ingest
        from pipeline.config import Settings

    clock = instrument()
    ready = time.time()
    figures: dict[str, Any] = {"startup_seconds": ready - born, "api": api.origin, "api_seconds": api.startup_seconds}
    server = api.process.pid if api.process is not None else None
    for kind, folder in (("scanned", args.scanned), ("born_digital", args.born_digital_dir)):
        clock.clear()
        out = Path(tempfile.mkdtemp(prefix=f"ll-throughput-{kind}-"))
        started, cpu_started, tools_started = time.perf_counter(), cpu_seconds(), tools_cpu_seconds()
        server_started = tree_cpu_seconds(server) if server else 0.0
        phase_started = time.time() - born
        summary = run_ingest([str(folder)], str(out), Settings(workers=args.workers))
        figures[kind] = {
            "started_after_seconds": phase_started,  # since the process started: places the memory peak
            "ended_after_seconds": time.time() - born,
            "documents": summary.processed,
            "pages": summary.pages,
            "counts": summary.counts,
            "processing_seconds": summary.seconds,
            "flow_wall_seconds": time.perf_counter() - started,
            "cpu_seconds": cpu_seconds() - cpu_started,  # the run's process and every tool it ran
            "tools_cpu_seconds": tools_cpu_seconds() - tools_started,  # of which the tools (Tesseract, poppler)
            "server_cpu_seconds": (tree_cpu_seconds(server) - server_started) if server else None,
            "stage_seconds": dict(clock.seconds),
            "stage_thread_cpu_seconds": dict(clock.thread_cpu),
        }
        subprocess.run(["rm", "-rf", str(out)], check=False)
    args.result.write_text(json.dumps(figures))
    api.stop()
    return 0


def one_invoice_seconds(invoice: Path, workers: int, api_url: str | None) -> tuple[float, float]:
    """Wall and CPU time of `ledgerlens run` on one born-digital invoice, with a given server or a temporary
    one (the CPU of a temporary server included: it is the run's child)."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["LEDGERLENS_PREFECT_LOCAL_URL"] = api_url or ""
    out = Path(tempfile.mkdtemp(prefix="ll-throughput-one-"))
    started, cpu_started = time.perf_counter(), cpu_seconds()
    command = [sys.executable, "-m", "flows.cli", "run", str(invoice), "--out", str(out), "--workers", str(workers)]
    subprocess.run(command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, check=True)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    subprocess.run(["rm", "-rf", str(out)], check=False)
    return seconds, cpu


def measure_run(args: argparse.Namespace, scanned: Path, born: Path) -> dict[str, Any]:
    """Run the measured child process and sample its process tree's memory while it works. The child's figures
    go through a file in this run's own scratch folder, so concurrent benchmarks never read each other's."""
    scratch = Path(tempfile.mkdtemp(prefix="ll-throughput-run-"))
    result = scratch / "child.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--scanned", str(scanned),
               "--born-digital-dir", str(born), "--workers", str(args.workers), "--result", str(result)]  # fmt: skip
    child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    sampler = TreeRss(child.pid)
    try:
        if child.wait() != 0:
            raise SystemExit(f"the measured run failed with exit code {child.returncode}")
        figures: dict[str, Any] = json.loads(result.read_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figures["peak_rss_mb_process_tree"] = sampler.stop() / 2**20
    figures["peak_rss"] = sampler.breakdown()
    return figures


def one_invoice_figures(invoice: Path, workers: int) -> dict[str, float]:
    from flows.runtime import configure_prefect_environment, start_temporary_server

    configure_prefect_environment()
    temporary, temporary_cpu = one_invoice_seconds(invoice, workers, None)
    server = start_temporary_server()
    try:
        running, running_cpu = one_invoice_seconds(invoice, workers, server.url)
    finally:
        server.stop()
    return {"temporary_server_seconds": temporary, "running_server_seconds": running,
            "temporary_server_cpu_seconds": temporary_cpu, "running_server_cpu_seconds": running_cpu,
            "server_start_seconds": server.startup_seconds}  # fmt: skip


def one_invoice_only(args: argparse.Namespace) -> int:
    """The one-invoice runs alone, `--repeat` times each (alternating), with their medians: start-up figures in a
    minute rather than the batch's hour."""
    born = make_born_digital_set(args.work / f"born-digital-{args.born_digital}", args.born_digital, args.seed)
    runs = [one_invoice_figures(born[0], args.workers) for _ in range(max(1, args.repeat))]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    figures = {"one_invoice": median, "one_invoice_runs": runs, "invoice": born[0].name,
               "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
               "load_average_1min": os.getloadavg()[0]}  # fmt: skip
    print_rows([*one_invoice_rows(median), ("load average (1 min) at the end", f"{figures['load_average_1min']:.1f}")])
    write_result("throughput-one-invoice", figures)
    return 0


def summarise(run: dict[str, Any], reference: dict[str, float], workers: int) -> dict[str, Any]:
    """The figures of the issue: rates, the ratio to bare Tesseract, stage shares and overheads."""
    scanned, born = run["scanned"], run["born_digital"]
    scanned_rate = 60 * scanned["pages"] / scanned["processing_seconds"]
    born_rate = 60 * born["pages"] / born["processing_seconds"]
    stages = {stage: scanned["stage_seconds"].get(stage, 0.0) for stage in STAGES}
    busy = sum(stages.values())
    scanned_cpu_per_page = scanned["cpu_seconds"] / scanned["pages"]
    born_cpu_per_page = born["cpu_seconds"] / born["pages"]
    return {
        "workers": workers,
        "scanned_pages": scanned["pages"],
        "scanned_pages_per_minute": scanned_rate,
        "bare_tesseract_pages_per_minute": reference["pages_per_minute"],
        "ratio_to_bare_tesseract": scanned_rate / reference["pages_per_minute"],
        "scanned_cpu_seconds_per_page": scanned_cpu_per_page,
        "bare_tesseract_cpu_seconds_per_page": reference["cpu_seconds"] / reference["pages"],
        "scanned_tools_cpu_seconds_per_page": scanned["tools_cpu_seconds"] / scanned["pages"],
        # Bare Tesseract's CPU per page over ours on the same pages: what the wall ratio is on idle cores.
        "ratio_to_bare_tesseract_cpu": reference["cpu_seconds"] / reference["pages"] / scanned_cpu_per_page,
        "scanned_server_cpu_seconds": scanned["server_cpu_seconds"],
        "born_digital_pages": born["pages"],
        "born_digital_pages_per_minute": born_rate,
        "born_digital_vs_scanned": born_rate / scanned_rate,
        "born_digital_cpu_seconds_per_page": born_cpu_per_page,
        "born_digital_vs_scanned_cpu": scanned_cpu_per_page / born_cpu_per_page,
        "stage_seconds_scanned": stages,
        "stage_shares_scanned": {stage: seconds / busy for stage, seconds in stages.items()} if busy else {},
        "stage_thread_cpu_seconds_scanned": {
            stage: scanned["stage_thread_cpu_seconds"].get(stage, 0.0) for stage in STAGES
        },
        # Worker time not spent in a stage: Prefect task submission, scheduling gaps, idle workers at the end.
        "orchestration_overhead_seconds": scanned["processing_seconds"] - busy / workers,
        "flow_start_seconds": scanned["flow_wall_seconds"] - scanned["processing_seconds"],
        "startup_seconds": run["startup_seconds"],
        "api": run["api"],
        "api_startup_seconds": run["api_seconds"],
        "peak_rss_mb_process_tree": run["peak_rss_mb_process_tree"],
        "peak_rss": run["peak_rss"],
        "phases_after_start_seconds": {
            kind: [run[kind]["started_after_seconds"], run[kind]["ended_after_seconds"]]
            for kind in ("scanned", "born_digital")
        },
        "status_counts_scanned": scanned["counts"],
    }


def _reference_sides(reference: dict[str, Any]) -> str:
    sides = [side["cpu_seconds"] / side["pages"] for side in reference.get("sides", {}).values()]
    return " / ".join(f"{cpu:.2f}" for cpu in sides) + (" (not read after)" if len(sides) == 1 else "")


def _megabytes(by_kind: dict[str, float]) -> str:
    return ", ".join(f"{kind} {mb:.0f} MB" for kind, mb in by_kind.items())


def _peak_when(figures: dict[str, Any]) -> str:
    phases = figures["phases_after_start_seconds"]
    spans = "; ".join(f"{start:.0f}-{end:.0f} s" for start, end in phases.values())
    return f"{figures['peak_rss']['peak_at_seconds']:.0f} s ({spans})"


def print_table(figures: dict[str, Any]) -> None:
    rows = [
        ("scanned pages", f"{figures['scanned_pages']}"),
        ("scanned pages/min (ledgerlens)", f"{figures['scanned_pages_per_minute']:.1f}"),
        ("scanned pages/min (bare tesseract, same pages and processes)",
         f"{figures['bare_tesseract_pages_per_minute']:.1f}"),
        ("ratio to bare tesseract (wall)", f"{figures['ratio_to_bare_tesseract']:.2f}x"),
        ("scanned CPU s/page: ledgerlens (run + tools) / bare tesseract",
         f"{figures['scanned_cpu_seconds_per_page']:.2f} / {figures['bare_tesseract_cpu_seconds_per_page']:.2f}"),
        # With the default engine, tesseract-lib, Tesseract runs inside the run's processes (stage ocr below).
        ("scanned CPU s/page in child processes (poppler, OCR workers or tesseract) / in the run's own",
         f"{figures['scanned_tools_cpu_seconds_per_page']:.2f} / "
         f"{figures['scanned_cpu_seconds_per_page'] - figures['scanned_tools_cpu_seconds_per_page']:.2f}"),
        ("ratio to bare tesseract (CPU)", f"{figures['ratio_to_bare_tesseract_cpu']:.2f}x"),
        ("bare tesseract CPU s/page, read before / after the run", _reference_sides(figures["reference"])),
        ("born-digital pages/min", f"{figures['born_digital_pages_per_minute']:.1f}"),
        ("born-digital vs scanned (wall)", f"{figures['born_digital_vs_scanned']:.1f}x"),
        ("born-digital vs scanned (CPU per page)", f"{figures['born_digital_vs_scanned_cpu']:.1f}x"),
    ]  # fmt: skip
    if figures["scanned_server_cpu_seconds"] is not None:
        rows.append(("Prefect server CPU during the scanned run", f"{figures['scanned_server_cpu_seconds']:.1f} s"))
    for stage, seconds in figures["stage_seconds_scanned"].items():
        share = figures["stage_shares_scanned"].get(stage, 0.0)
        cpu = figures["stage_thread_cpu_seconds_scanned"].get(stage, 0.0)
        label = f"stage {stage} (scanned, summed over workers): wall (share), thread CPU"
        rows.append((label, f"{seconds:.1f} s ({share:.0%}), {cpu:.1f} s"))
    rows += [
        ("orchestration overhead (scanned run)", f"{figures['orchestration_overhead_seconds']:.1f} s"),
        ("flow start (flow call to first task)", f"{figures['flow_start_seconds']:.1f} s"),
        (f"start-up: process start to API ready ({figures['api']})", f"{figures['startup_seconds']:.1f} s"),
        ("peak RSS, whole process tree", f"{figures['peak_rss_mb_process_tree']:.0f} MB"),
        ("  at the peak, per process kind", _megabytes(figures["peak_rss"]["at_peak_mb"])),
        ("  at the peak: seconds after start (scanned run; born-digital run)", _peak_when(figures)),
        ("  each kind's own peak", _megabytes(figures["peak_rss"]["kind_peaks_mb"])),
        (
            "  largest child seen between fork and exec (its parent's pages: not counted)",
            f"{figures['peak_rss']['unexecd_fork_peak_mb_not_counted']:.0f} MB",
        ),
    ]
    rows += one_invoice_rows(figures.get("one_invoice", {}))
    print_rows(rows)


def one_invoice_rows(one: dict[str, float]) -> list[tuple[str, str]]:
    if not one:
        return []
    return [
        (
            "one born-digital invoice, temporary server (wall, CPU)",
            f"{one['temporary_server_seconds']:.1f} s, {one['temporary_server_cpu_seconds']:.1f} s",
        ),
        (
            "one born-digital invoice, server running (wall, CPU)",
            f"{one['running_server_seconds']:.1f} s, {one['running_server_cpu_seconds']:.1f} s",
        ),
        ("temporary server start", f"{one['server_start_seconds']:.1f} s"),
    ]


def print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"| {'figure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value} |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="scanned pages in the batch")
    parser.add_argument("--distinct-pages", type=int, default=100, help="generated pages; the rest are copies")
    parser.add_argument("--born-digital", type=int, default=20, help="born-digital documents")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ledgerlens-throughput")
    parser.add_argument("--skip-one-invoice", action="store_true", help="skip the one-invoice start-up runs")
    parser.add_argument(
        "--no-bracket",
        dest="bracket",
        action="store_false",
        help="read the reference only before the run, not again after it (half the reference's time)",
    )
    parser.add_argument(
        "--one-invoice-only", action="store_true", help="only the one-invoice start-up runs (no batch, no reference)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="one-invoice runs of each kind (the median is shown)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scanned", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--born-digital-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.child:
        return run_child(args)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.one_invoice_only:
        return one_invoice_only(args)
    scanned = make_scanned_set(args.work / f"scanned-{args.pages}", args.work / "originals", args.pages,
                               args.distinct_pages, args.seed)  # fmt: skip
    born = make_born_digital_set(args.work / f"born-digital-{args.born_digital}", args.born_digital, args.seed)
    with tempfile.TemporaryDirectory(prefix="ll-reference-") as scratch:
        before = bare_tesseract(scanned, Path(scratch) / "before", args.workers)
        run = measure_run(args, scanned[0].parent, born[0].parent)
        after = bare_tesseract(scanned, Path(scratch) / "after", args.workers) if args.bracket else None
    reference = bracketed(before, after)
    figures = summarise(run, reference, args.workers)
    figures["reference"] = reference
    if not args.skip_one_invoice:
        figures["one_invoice"] = one_invoice_figures(born[0], args.workers)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["load_average_1min"] = os.getloadavg()[0]
    print_table(figures)
    write_result(f"throughput-{args.pages}p", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
