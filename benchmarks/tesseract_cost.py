"""Where Tesseract's CPU goes per scanned page: first readings, second looks, OCR worker restarts, by the
page's resolution class; Tesseract's CPU against the page's pixel count at other OCR scales; and what each
re-read of a page costs and buys.

Every OCR'd page under INPUT... (image-only PDFs and images; pages with a text layer are skipped) is
rendered and cleaned as a run does (`pipeline/preprocess.py`), read by the `tesseract-lib` engine (its OCR
worker process), and given the second look when its document's first reading fails its checks. The CPU of
each reading is the worker process's own (user + sys from /proc, read before and after): the same figure
on a loaded machine as on a quiet one, up to cache effects. A reading on a worker started for it also
counts the worker's start (interpreter and model), which is measured once apart and reported as the
restart cost; restarts happen when a worker grows past `WORKER_RSS_LIMIT_BYTES`.

    .venv/bin/python benchmarks/tesseract_cost.py /tmp/ledgerlens-throughput/originals
    .venv/bin/python benchmarks/tesseract_cost.py DIR --short-sides 0,1800,2400   # first reading at each scale

The re-reads (the reading path's, `pipeline/reading.py`): the second look's strip of crops
(`pipeline/second_look.py`, when the first reading fails its cross-checks), the invoice number's confusable
character read again (`settle_id_slip`) and a party name's unread ink read enlarged (`pipeline/party_ink.py`).
For each: how many documents it fired on, the OCR worker's CPU and the run process's thread CPU (cropping,
decoding, the extra extractions) per OCR'd page, the megapixels the worker read per firing (Tesseract's CPU
on a strip of crops grows with its pixels), and, where a `<stem>.truth.json` lies beside the input,
what it bought: header fields turned right or wrong, and records it moved between accepted and review
(routed as a run routes a first reading: `reading.routed_record`), wrong accepts among them.

Resolution class: the scan's dots per inch, from its short side on a Letter/A4 page (8.5/8.27 in).
`--short-sides`: the cleaned page's short side for each extra first reading (0: the scan's own size).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.evaluate import SCORED_HEADER_FIELDS, values_match
from pipeline import second_look
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.engines import tesseract_lib
from pipeline.engines.ocr import TESSERACT_VARIABLES, OcrOptions
from pipeline.engines.tesseract_lib import TesseractLibEngine
from pipeline.errors import DocumentError
from pipeline.extract import extract_invoice
from pipeline.party_ink import settle_party_ink
from pipeline.preprocess import PreprocessOptions, load_gray, preprocess_page
from pipeline.reading import ocr_options, page_limits, routed_record, second_look_options
from pipeline.render import pdf_page_count, pdf_page_images, read_text_layer, render_image
from pipeline.second_look import DecodedImages, Look, look_again
from schemas import ExtractionResult, PageText, RecordStatus

SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_WIDTH_IN = 8.4  # between Letter (8.5 in) and A4 (8.27 in)
# The re-reads, by the function that asks for each (found on the call stack of a reading), in reading order.
RE_READS = {"reread_page": "second_look", "settle_id_slip": "id_reread", "_settle_one": "party_ink"}


def worker_cpu() -> tuple[int | None, float]:
    """This thread's OCR worker: its pid (None: none running) and its CPU seconds so far."""
    worker = getattr(tesseract_lib._workers, "worker", None)
    if worker is None or not worker.alive:
        return None, 0.0
    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return worker.process.pid, (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class MeasuredEngine:
    """The tesseract-lib engine, with the worker's CPU of each reading written down."""

    options: OcrOptions
    readings: list[dict[str, float | int | bool | str]] = field(default_factory=list)
    name: str = "tesseract-lib"
    bookkeeping_s: float = 0.0  # this process's thread CPU spent measuring (not the reading's)

    def read(self, image_path: Path, page_no: int) -> PageText:
        kind = re_read_kind()
        pid, before = worker_cpu()
        page = TesseractLibEngine(self.options).read(image_path, page_no)
        after_pid, after = worker_cpu()
        started, counting = after_pid != pid, time.thread_time()
        height, width = load_gray(image_path).shape[:2]
        self.bookkeeping_s += time.thread_time() - counting
        self.readings.append(
            {"page_no": page_no, "psm": self.options.psm, "cpu_s": after - (0.0 if started else before),
             "pixels": width * height, "started": started, "words": len(page.words), "kind": kind}
        )  # fmt: skip
        return page


@dataclass
class PageCost:
    document: str
    page_no: int
    dpi_class: int
    source_pixels: int
    cleaned_pixels: int
    first_cpu_s: float
    second_cpu_s: float = 0.0
    second_readings: int = 0
    restarts: int = 0
    at_scale: dict[str, dict[str, float]] = field(default_factory=dict)
    variables: dict[str, float | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What is measured besides the reading as a run makes it: the first reading at other short sides
    (0: the scan's own size), and with other Tesseract variables (against their defaults)."""

    short_sides: list[int] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)


def re_read_kind() -> str:
    """Which re-read asks for the reading being made (RE_READS), from the call stack; "first" for none."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in RE_READS:
            return RE_READS[frame.f_code.co_name]
        frame = frame.f_back  # type: ignore[assignment]
    return "first"


def dpi_class(short_side: int) -> int:
    """The scan's dots per inch, to the nearest 25."""
    return int(round(short_side / PAGE_WIDTH_IN / 25) * 25)


def page_images(path: Path, scratch: Path, settings: Settings) -> dict[int, Path]:
    """The images of the document's pages that would be OCR'd (none for a page with a text layer)."""
    if path.suffix.lower() != ".pdf":
        rendered, _ = render_image(path, scratch / "raw", settings.max_pages, page_limits(settings))
        return dict(enumerate(rendered, start=1))
    count = pdf_page_count(path)
    text = {p.page_no for p in read_text_layer(path, count) if len(p.words) >= settings.min_text_layer_words}
    missing = [n for n in range(1, count + 1) if n not in text]
    if not missing:
        return {}
    return pdf_page_images(path, scratch / "raw", settings.render_dpi, missing, page_limits(settings))


def measure_document(path: Path, scratch: Path, settings: Settings, plan: Plan) -> tuple[list[PageCost], DocValue]:
    images = page_images(path, scratch, settings)
    first = MeasuredEngine(ocr_options(settings))
    options = PreprocessOptions(target_short_side_px=settings.ocr_target_short_side_px)
    pages, cleaned, costs = [], {}, []
    for page_no, image in sorted(images.items()):
        source = load_gray(image)
        report = preprocess_page(image, scratch / f"clean-{page_no}.pgm", options)
        cleaned[page_no] = Path(report.image_path)
        pages.append(first.read(cleaned[page_no], page_no))
        reading = first.readings[-1]
        cost = PageCost(path.name, page_no, dpi_class(min(source.shape[:2])), source.size,
                        int(reading["pixels"]), float(reading["cpu_s"]), restarts=int(reading["started"]))  # fmt: skip
        cost.at_scale = scale_costs(image, scratch, plan.short_sides, settings)
        if plan.variables:
            cost.variables = variable_costs(cleaned[page_no], plan.variables, plan.defaults)
        costs.append(cost)
    value = DocValue(path.name, len(costs))
    if not pages:
        return costs, value
    second = MeasuredEngine(second_look_options(settings))
    results = looks_by_stage(pages, cleaned, second, value)
    by_page = {cost.page_no: cost for cost in costs}
    for reading in second.readings:
        cost, kind = by_page[int(reading["page_no"])], str(reading["kind"])
        cost.second_cpu_s += float(reading["cpu_s"])
        cost.second_readings += 1
        cost.restarts += int(reading["started"])
        value.worker_cpu_s[kind] = value.worker_cpu_s.get(kind, 0.0) + float(reading["cpu_s"])
        value.worker_mpx[kind] = value.worker_mpx.get(kind, 0.0) + int(reading["pixels"]) / 1e6
    score_stages(path, len(pages), results, settings, value)
    return costs, value


@dataclass
class DocValue:
    """One document's re-reads: worker and run-process CPU by kind, and per stage of the reading (the first
    reading, then after each re-read) the header fields right, the routed status and whether it is wrong."""

    document: str
    ocr_pages: int
    worker_cpu_s: dict[str, float] = field(default_factory=dict)
    worker_mpx: dict[str, float] = field(default_factory=dict)  # megapixels of the images it read
    run_cpu_s: dict[str, float] = field(default_factory=dict)
    right: dict[str, list[str]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    wrong: dict[str, bool] = field(default_factory=dict)


def looks_by_stage(
    pages: list[PageText], cleaned: dict[int, Path], engine: MeasuredEngine, value: DocValue
) -> dict[str, ExtractionResult]:
    """The extraction after each stage of the reading path (first, second_look, id_reread, party_ink), the
    run process's thread CPU of each re-read written into `value` (the first extraction, which a run makes
    anyway, is not the second look's)."""
    started = time.thread_time()
    results = {"first": extract_invoice(pages)}
    extracting = time.thread_time() - started
    caught: dict[str, Look | float] = {}
    settle = second_look.settle_id_slip

    def caught_settle(look: Look, images: dict[int, Path], ocr: MeasuredEngine, decoded: DecodedImages) -> Look:
        caught["look"], begun = look, time.thread_time()
        settled = settle(look, images, ocr, decoded)
        caught["cpu"] = time.thread_time() - begun
        return settled

    second_look.settle_id_slip = caught_settle  # type: ignore[assignment]
    try:
        started = time.thread_time()
        decoded = DecodedImages()  # as pipeline/reading.py shares it
        looked = look_again(pages, cleaned, engine, decoded)
        looked_cpu = time.thread_time() - started - engine.bookkeeping_s
        inked = settle_party_ink(looked, cleaned, engine, decoded)
        inked_cpu = time.thread_time() - started - looked_cpu - engine.bookkeeping_s
    finally:
        second_look.settle_id_slip = settle
    strip = caught.get("look", looked)
    id_cpu = float(caught.get("cpu", 0.0))  # type: ignore[arg-type]
    value.run_cpu_s = {"second_look": max(looked_cpu - id_cpu - extracting, 0.0), "id_reread": id_cpu,
                       "party_ink": inked_cpu}  # fmt: skip
    for stage, look in (("second_look", strip), ("id_reread", looked), ("party_ink", inked)):
        assert isinstance(look, Look)
        results[stage] = look.extraction or results["first"]
    return results


def score_stages(
    path: Path, page_count: int, results: dict[str, ExtractionResult], settings: Settings, value: DocValue
) -> None:
    """Each stage's header fields right, routed status and wrongness against `<stem>.truth.json` (none: not
    scored)."""
    truth_file = path.with_name(f"{path.stem}.truth.json")
    if not truth_file.exists():
        return
    truth = json.loads(truth_file.read_text())
    scored = [name for name in SCORED_HEADER_FIELDS if name in truth]
    document = describe_file(path)
    for stage, result in results.items():
        right = [name for name in scored if values_match(name, getattr(result.invoice, name, None), truth[name])]
        record = routed_record(document, page_count, result, [], settings)
        value.right[stage] = right
        value.status[stage] = record.status.value
        value.wrong[stage] = record.status is RecordStatus.ACCEPTED and len(right) < len(scored)


def summarise_value(values: list[DocValue]) -> dict[str, dict[str, float | int]]:
    """Per re-read: documents it fired on, CPU per OCR'd page (worker, run process), megapixels it had
    the worker read per firing, and against the stage
    before it the header fields turned right and wrong, records moved to accepted and to review, wrong
    accepts made and avoided."""
    pages = max(sum(v.ocr_pages for v in values), 1)
    table: dict[str, dict[str, float | int]] = {}
    stages = ["first", *RE_READS.values()]
    for before, kind in itertools.pairwise(stages):
        fired = [v for v in values if kind in v.worker_cpu_s]
        scored = [v for v in values if kind in v.right]
        worker = sum(v.worker_cpu_s.get(kind, 0.0) for v in values)
        row: dict[str, float | int] = {
            "fired_documents": len(fired),
            "fired_pages": sum(v.ocr_pages for v in fired),
            "worker_cpu_s_per_page": worker / pages,
            "worker_cpu_s_per_firing": worker / max(len(fired), 1),
            "mpx_per_firing": sum(v.worker_mpx.get(kind, 0.0) for v in values) / max(len(fired), 1),
            "run_cpu_s_per_page": sum(v.run_cpu_s.get(kind, 0.0) for v in values) / pages,
            "fields_fixed": sum(len(set(v.right[kind]) - set(v.right[before])) for v in scored),
            "fields_broken": sum(len(set(v.right[before]) - set(v.right[kind])) for v in scored),
            "to_accepted": sum(v.status[kind] == "accepted" != v.status[before] for v in scored),
            "to_review": sum(v.status[before] == "accepted" != v.status[kind] for v in scored),
            "wrong_accepts_made": sum(v.wrong[kind] and not v.wrong[before] for v in scored),
            "wrong_accepts_avoided": sum(v.wrong[before] and not v.wrong[kind] for v in scored),
        }
        table[kind] = row
    return table


def print_value(table: dict[str, dict[str, float | int]], documents: int) -> None:
    print(
        f"re-reads on {documents} OCR'd documents (CPU s per OCR'd page; fields and records against the stage before)"
    )
    print(f"{'re-read':<12} {'fired':>5} {'worker':>6} {'/firing':>7} {'Mpx':>5} {'run':>6} {'fixed':>5} {'broken':>6} "
          f"{'->acc':>5} {'->rev':>5} {'wrong+':>6} {'wrong-':>6}")  # fmt: skip
    for kind, row in table.items():
        print(f"{kind:<12} {row['fired_documents']:>5} {row['worker_cpu_s_per_page']:>6.3f} "
              f"{row['worker_cpu_s_per_firing']:>7.2f} {row['mpx_per_firing']:>5.1f} {row['run_cpu_s_per_page']:>6.3f} "
              f"{row['fields_fixed']:>5} {row['fields_broken']:>6} {row['to_accepted']:>5} {row['to_review']:>5} "
              f"{row['wrong_accepts_made']:>6} {row['wrong_accepts_avoided']:>6}")  # fmt: skip


def scale_costs(image: Path, scratch: Path, short_sides: list[int], settings: Settings) -> dict[str, dict[str, float]]:
    """The first reading's CPU, pixels and words with the page cleaned at each short side (0: its own)."""
    found = {}
    for side in short_sides:
        target = side or min(load_gray(image).shape[:2])
        report = preprocess_page(image, scratch / f"scale-{side}.pgm", PreprocessOptions(target_short_side_px=target))
        engine = MeasuredEngine(ocr_options(settings))
        engine.read(Path(report.image_path), 1)
        reading = engine.readings[-1]
        found[str(side)] = {"cpu_s": float(reading["cpu_s"]), "pixels": int(reading["pixels"]),
                            "words": int(reading["words"]), "started": bool(reading["started"])}  # fmt: skip
    return found


def variable_costs(cleaned: Path, variables: dict[str, str], defaults: dict[str, str]) -> dict[str, float | bool]:
    """The first reading of a cleaned page with Tesseract's defaults for `variables` and with `variables`
    (one warm worker, alternately): CPU of each and whether the TSV is the same, byte for byte."""
    found: dict[str, float | bool] = {}
    bodies = []
    # The variables stay set on the worker's handle: the defaults go last, for the readings that follow.
    for name, chosen in (("changed", variables), ("default", defaults)):
        request = {"image": str(cleaned), "lang": "eng", "psm": 3, "timeout_ms": 120_000, "memory_limit": None,
                   "variables": {**TESSERACT_VARIABLES, **chosen}}  # fmt: skip
        tesseract_lib._thread_worker()  # a grown worker is replaced before, not during, the measured reading
        pid, before = worker_cpu()
        _, body = tesseract_lib._thread_worker().ask(request, time.monotonic() + 300)
        after_pid, after = worker_cpu()
        found[f"{name}_cpu_s"] = after - (before if after_pid == pid else 0.0)
        bodies.append(body)
    found["same_tsv"] = bodies[0] == bodies[1]
    return found


def parameter_defaults(names: list[str]) -> dict[str, str]:
    """Tesseract's default value of each named parameter (`tesseract --print-parameters`)."""
    printed = subprocess.run(["tesseract", "--print-parameters"], capture_output=True, text=True, check=True).stdout
    values = dict(line.split("\t")[:2] for line in printed.splitlines() if line.count("\t") >= 2)
    return {name: values[name] for name in names}


def restart_cost(scratch: Path) -> float:
    """CPU of starting an OCR worker and loading the model: a fresh worker reading a blank page, minus the
    same page on the warm worker."""
    blank = scratch / "blank.pgm"
    blank.write_bytes(b"P5 64 64 255\n" + bytes([255]) * 64 * 64)
    tesseract_lib._workers.worker = None  # this thread's next reading starts a new worker
    engine = MeasuredEngine(OcrOptions())
    engine.read(blank, 1)
    engine.read(blank, 1)
    return float(engine.readings[0]["cpu_s"]) - float(engine.readings[1]["cpu_s"])


def summarise(costs: list[PageCost], restart_s: float, plan: Plan) -> dict[str, object]:
    """Per resolution class and overall: CPU per page of first readings, second looks and restarts."""
    classes: dict[str, list[PageCost]] = defaultdict(list)
    for cost in costs:
        classes[f"{cost.dpi_class} dpi"].append(cost)
    classes["all"] = costs
    table: dict[str, object] = {}
    for name, group in sorted(classes.items(), key=lambda item: (item[0] == "all", item[0])):
        n = len(group)
        restarts = sum(c.restarts for c in group)
        row: dict[str, float | int] = {
            "pages": n,
            "first_cpu_s": sum(c.first_cpu_s for c in group) / n,
            "second_look_cpu_s": sum(c.second_cpu_s for c in group) / n,
            "second_look_pages": sum(1 for c in group if c.second_readings),
            "restarts": restarts,
            "restart_cpu_s": restarts * restart_s / n,
            "cleaned_mpx": sum(c.cleaned_pixels for c in group) / n / 1e6,
            "source_mpx": sum(c.source_pixels for c in group) / n / 1e6,
        }
        for side in plan.short_sides:
            at = [c.at_scale[str(side)] for c in group]
            row[f"cpu_s@{side}"] = sum(a["cpu_s"] for a in at) / n
            row[f"mpx@{side}"] = sum(a["pixels"] for a in at) / n / 1e6
        if plan.variables:
            row["vars_default_cpu_s"] = sum(float(c.variables["default_cpu_s"]) for c in group) / n
            row["vars_changed_cpu_s"] = sum(float(c.variables["changed_cpu_s"]) for c in group) / n
            row["vars_same_tsv_pages"] = sum(1 for c in group if c.variables["same_tsv"])
        table[name] = row
    return {"restart_cpu_s": restart_s, "classes": table}


def print_table(summary: dict[str, object], plan: Plan) -> None:
    print(f"OCR worker start (interpreter + model): {summary['restart_cpu_s']:.2f} s CPU")
    short_sides = plan.short_sides
    extra = "".join(f" {'@' + str(s):>7} {'Mpx':>5}" for s in short_sides)
    extra += f" {'default':>7} {'vars':>6} {'same':>4}" if plan.variables else ""
    print(f"{'class':<9} {'pages':>5} {'Mpx':>5} {'first':>6} {'second':>6} {'(pages)':>7} {'restart':>7}{extra}")
    classes = summary["classes"]
    assert isinstance(classes, dict)
    for name, row in classes.items():
        scales = "".join(f" {row[f'cpu_s@{s}']:>7.2f} {row[f'mpx@{s}']:>5.1f}" for s in short_sides)
        if plan.variables:
            scales += (f" {row['vars_default_cpu_s']:>7.2f} {row['vars_changed_cpu_s']:>6.2f}"
                       f" {row['vars_same_tsv_pages']:>4}")  # fmt: skip
        looks = f"{row['second_look_cpu_s']:>6.2f} {row['second_look_pages']:>7} {row['restart_cpu_s']:>7.3f}"
        print(f"{name:<9} {row['pages']:>5} {row['cleaned_mpx']:>5.1f} {row['first_cpu_s']:>6.2f} {looks}{scales}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", type=Path, nargs="+", help="folders (searched recursively) or files")
    parser.add_argument("--short-sides", default="", help="comma-separated short sides for extra first readings")
    parser.add_argument("--variables", default="", help="name=value,...: Tesseract variables to compare")
    parser.add_argument("--limit", type=int, default=0, help="at most this many documents (0: all)")
    parser.add_argument("--json", type=Path, help="also write the per-page figures here")
    args = parser.parse_args()
    variables = dict(item.split("=", 1) for item in args.variables.split(",") if item.strip())
    plan = Plan([int(s) for s in args.short_sides.split(",") if s.strip()], variables, parameter_defaults([*variables]))
    files = [p for arg in args.inputs for p in (sorted(arg.rglob("*")) if arg.is_dir() else [arg])]
    files = [p for p in files if p.suffix.lower() in SUFFIXES][: args.limit or None]
    settings = Settings()
    costs: list[PageCost] = []
    values: list[DocValue] = []
    with tempfile.TemporaryDirectory() as folder:
        restart_s = restart_cost(Path(folder))
        for path in files:
            scratch = Path(tempfile.mkdtemp(dir=folder))
            try:
                found, value = measure_document(path, scratch, settings, plan)
            except DocumentError as exc:
                print(f"skipped {path.name}: {exc}", file=sys.stderr)
                continue
            costs += found
            values += [value] if found else []
            if args.json:  # one line a document as it goes: a long run interrupted keeps what it measured
                with args.json.with_suffix(".pages.jsonl").open("a") as log:
                    log.writelines(json.dumps(asdict(cost)) + "\n" for cost in found)
                    log.write(json.dumps(asdict(value)) + "\n" if found else "")
    summary = summarise(costs, restart_s, plan)
    print_table(summary, plan)
    value_table = summarise_value(values)
    print_value(value_table, len(values))
    if args.json:
        figures = {**summary, "re_reads": value_table, "pages": [asdict(c) for c in costs]}
        args.json.write_text(json.dumps({**figures, "documents": [asdict(v) for v in values]}, indent=1))


if __name__ == "__main__":
    main()
