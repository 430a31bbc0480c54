"""Move part files Parquet cannot read out of an output's datasets, so runs into that output can go on.

A run refuses an output holding an unreadable part (`CorruptPartError`): it could not tell which documents are
already done, and guessing would lose or duplicate rows. Quarantining is the way out that keeps both promises:
- The unreadable part moves to OUT/_quarantine/<dataset>/<partition>/<name>.unreadable, outside every
  dataset (and every `**/*.parquet` glob), kept for inspection, with a JSON note beside it saying when, why
  and from where.
- Its siblings move with it: the parts of the same name in the other datasets, written by the same flush.
  A document counts as done once its invoice row exists, so with the invoices part gone its documents are
  processed again on the next run of their batch, and their rows in every dataset come back once.
- An unreadable part with no invoices sibling (a merged file of a compacted day) held rows of documents
  nobody can name any more. The report says so, with what to do, rather than pretend they are safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.config import Settings
from pipeline.sinks import parquet_files
from pipeline.storage import filesystem_for
from pipeline.vendors.store import EVIDENCE_DIR
from schemas.arrow import DATASETS

QUARANTINE_DIR = "_quarantine"
QUARANTINED_SUFFIX = ".unreadable"
SCANNED: tuple[str, ...] = (*DATASETS, EVIDENCE_DIR)


@dataclass
class QuarantinedPart:
    source: str  # where the part was, relative to OUT
    target: str  # where it is now, relative to OUT
    reason: str  # why Parquet could not read it ("" for a readable sibling moved with it)


@dataclass
class QuarantineReport:
    checked: int = 0
    moved: list[QuarantinedPart] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)  # unreadable parts with no invoices sibling, relative to OUT


def unreadable_reason(fs: pafs.FileSystem, path: str) -> str | None:
    """Why Parquet cannot read the part at `path`, or None when every row of it reads."""
    try:
        with fs.open_input_file(path) as source:
            pq.read_table(source)
    except (pa.ArrowInvalid, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _relative(base: str, path: str) -> str:
    return path[len(base) :].lstrip("/")


def _siblings(fs: pafs.FileSystem, base: str, relative: str) -> list[str]:
    """The parts of the same partition and name in every dataset (the same flush wrote them), `relative` included."""
    _, _, rest = relative.partition("/")
    found = [f"{dataset}/{rest}" for dataset in SCANNED]
    infos = fs.get_file_info([f"{base}/{path}" for path in found])
    return [path for path, info in zip(found, infos, strict=True) if info.type == pafs.FileType.File]


def _move(fs: pafs.FileSystem, base: str, relative: str, reason: str, now: datetime) -> QuarantinedPart:
    target = f"{QUARANTINE_DIR}/{relative}{QUARANTINED_SUFFIX}"
    folder = f"{base}/{target}".rsplit("/", 1)[0]
    fs.create_dir(folder, recursive=True)
    note = {"from": relative, "quarantined_at": now.isoformat(), "unreadable": reason or None}
    with fs.open_output_stream(f"{base}/{target}.json") as stream:
        stream.write(json.dumps(note, indent=2).encode())
    fs.move(f"{base}/{relative}", f"{base}/{target}")
    return QuarantinedPart(source=relative, target=target, reason=reason)


def quarantine_unreadable_parts(out: str, settings: Settings | None = None) -> QuarantineReport:
    """Check every part file under OUT's datasets and quarantine the unreadable ones with their siblings."""
    fs, base = filesystem_for(out, settings or Settings())
    report = QuarantineReport()
    unreadable: dict[str, str] = {}
    for dataset in SCANNED:
        for path in parquet_files(fs, f"{base}/{dataset}", recursive=True):
            report.checked += 1
            reason = unreadable_reason(fs, path)
            if reason is not None:
                unreadable[_relative(base, path)] = reason
    now = datetime.now(UTC)
    moved: set[str] = set()
    for relative in sorted(unreadable):
        siblings = _siblings(fs, base, relative)
        if not any(path.startswith("invoices/") for path in siblings):
            report.orphaned.append(relative)
        for path in siblings:
            if path not in moved:
                report.moved.append(_move(fs, base, path, unreadable.get(path, ""), now))
                moved.add(path)
    return report
