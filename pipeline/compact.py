"""Merge the small part files of each dataset partition into one file, never losing or duplicating a row.

How a reader is kept from seeing both the parts and the merged file (or neither):
- Local output: the merged file is written into a staging folder *outside* the dataset (OUT/_staging/,
  which neither `pandas.read_parquet(OUT/"invoices")` nor DuckDB's `OUT/invoices/**/*.parquet` glob reaches),
  then the staging folder and the partition folder are swapped in one atomic `renameat2(RENAME_EXCHANGE)`
  call (Linux). A reader lists either the old parts or the merged file; one that listed the old parts
  just before the swap and opens them after it gets "file not found" and reads again, never wrong rows.
- S3 has no multi-object transaction: the merged object is one PUT, then the parts go in one
  DeleteObjects request. Between those two calls (milliseconds) a listing reader could see both; that
  window is the price of an object store, and it is the one place where readers that must be exact
  should read the invoices once more or dedupe on document_id (which is the dataset's key).
- Where the exchange call is missing (not Linux), local output falls back to the S3 order.
- A compaction that stops between writing the merged file and deleting its parts (a crash, a failed
  DeleteObjects, a killed process) leaves both behind. The merged file records the names of the parts it replaces
  in its Parquet metadata (`REPLACES_KEY`), so the next compaction first finishes that deletion
  (`_finish_interrupted`) and never merges a merged file together with parts it already holds.
Only closed partitions (ingest_date before today, UTC) are compacted by default: writers only append to
today's partition, so no part can land in a partition while it is being swapped out. Each run compacts the closed
partitions at its end, so a dataset holds today's parts (one per flush) plus one file per earlier day. The merged
file is named after the parts it replaces: two compactions of the same parts (two runs ending together) write the
same file, never a second copy of the rows.

A partition that cannot be merged now (a part Parquet cannot read, a partition changed while being merged) is
skipped with its coded reason in the report, and the other partitions are still merged. A staging folder a
crashed local compaction left behind (OUT/_staging/compact-*) holds either an unplaced merged file or the parts
already swapped out: the next compaction deletes it once its process is gone (or, when that cannot be told, after
STALE_STAGING_SECONDS).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.config import Settings
from pipeline.errors import CorruptPartError, OutputError, PartitionChangedError
from pipeline.sinks import corrupt_part_error, parquet_files, write_table_atomically
from pipeline.storage import filesystem_for
from pipeline.vendors.store import EVIDENCE_DIR
from schemas.arrow import DATASETS, PARTITION_KEY, VENDOR_EVIDENCE_SCHEMA

COMPACTED: dict[str, pa.Schema] = {**DATASETS, EVIDENCE_DIR: VENDOR_EVIDENCE_SCHEMA}
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
REPLACES_KEY = b"ledgerlens.compact.replaces"  # JSON list of the part file names a merged file replaces
_MERGED_PREFIX = "part-compact-"
_STAGING_PREFIX = "compact-"
STALE_STAGING_SECONDS = 24 * 3600  # a staging folder whose owner cannot be checked (another host, an old name)


@dataclass
class CompactionReport:
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    merged: list[str] = field(default_factory=list)
    finished: int = 0  # parts deleted because a merged file from an interrupted compaction already held them
    skipped: list[OutputError] = field(default_factory=list)  # partitions left as they are, each with its reason
    stale_staging: int = 0  # staging folders of crashed compactions deleted


def _partitions(fs: pafs.FileSystem, dataset_dir: str) -> list[tuple[str, date]]:
    found = []
    for info in fs.get_file_info(pafs.FileSelector(dataset_dir, allow_not_found=True)):
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith(f"{PARTITION_KEY}="):
            try:
                found.append((info.path, date.fromisoformat(name.split("=", 1)[1])))
            except ValueError:
                continue
    return sorted(found)


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result != 0:
        errno = ctypes.get_errno()
        if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the filesystem cannot exchange
            return False
        raise OutputError(f"Cannot swap {a} and {b}: {os.strerror(errno)}")
    return True


def compact(out: str, settings: Settings | None = None, include_today: bool = False) -> CompactionReport:
    """Merge every partition with more than one part file into a single file per partition."""
    settings = settings or Settings()
    fs, base = filesystem_for(out, settings)
    today = datetime.now(UTC).date()
    report = CompactionReport()
    if isinstance(fs, pafs.LocalFileSystem):
        report.stale_staging = clear_stale_staging(Path(base) / "_staging")
    for dataset, schema in COMPACTED.items():
        for folder, day in _partitions(fs, f"{base}/{dataset}"):
            if day >= today and not include_today:
                continue
            try:
                _compact_partition(fs, base, (folder, day), schema, settings, report)
            except (CorruptPartError, PartitionChangedError) as exc:  # this partition waits; the others go on
                report.skipped.append(exc)
    return report


def _compact_partition(
    fs: pafs.FileSystem,
    base: str,
    partition: tuple[str, date],
    schema: pa.Schema,
    settings: Settings,
    report: CompactionReport,
) -> None:
    folder, day = partition
    listed = parquet_files(fs, folder)
    parts = _finish_interrupted(fs, listed, settings)
    report.finished += len(listed) - len(parts)
    if len(parts) < 2:
        return
    name, table = merge_parts(fs, day, parts, schema)
    _replace_parts(fs, base, folder, parts, name, table, settings)
    report.partitions += 1
    report.files_before += len(parts)
    report.files_after += 1
    report.rows += table.num_rows
    report.merged.append(folder)


def _staging_name() -> str:
    """Names the compaction that owns a staging folder (host and process), so a later one can tell it is gone."""
    return f"{_STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"


def _owner_gone(name: str, age_seconds: float) -> bool:
    """Whether the compaction that made staging folder `name` has ended: its process is gone from this host (or
    the pid is ours: compaction clears before it stages, so an earlier process had it). Otherwise (another
    host's, named before the owner was recorded, or a pid now someone else's) once older than STALE_STAGING_SECONDS."""
    parts = name.removeprefix(_STAGING_PREFIX).rsplit("-", 2)
    if len(parts) == 3 and parts[0] == socket.gethostname() and parts[1].isdigit():
        pid = int(parts[1])
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            pass
    return age_seconds > STALE_STAGING_SECONDS


def clear_stale_staging(staging_root: Path) -> int:
    """Delete the staging folders of compactions that crashed (their process is gone); returns how many.

    Such a folder holds a merged file never placed (the partition kept its parts) or the parts a swap already
    replaced (the partition holds the merged file): nothing in it is needed."""
    removed = 0
    try:
        entries = [entry for entry in staging_root.iterdir() if entry.name.startswith(_STAGING_PREFIX)]
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            age = time.time() - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if _owner_gone(entry.name, age):
            shutil.rmtree(entry, ignore_errors=True)
            removed += not entry.exists()
    return removed


def _names_hash(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def merge_parts(fs: pafs.FileSystem, day: date, parts: list[str], schema: pa.Schema) -> tuple[str, pa.Table]:
    """The rows of `parts` in one table that records their names (REPLACES_KEY), and the file name to write it
    under: derived from those names, so two compactions of the same parts write the same file."""
    names = [Path(part).name for part in parts]
    table = pa.concat_tables([read_part(fs, part, schema) for part in parts])
    metadata = {**(table.schema.metadata or {}), REPLACES_KEY: json.dumps(names).encode()}
    return f"{_MERGED_PREFIX}{day:%Y%m%d}-{_names_hash(names)}.parquet", table.replace_schema_metadata(metadata)


def read_part(fs: pafs.FileSystem, part: str, schema: pa.Schema) -> pa.Table:
    """One part file's rows; a file Parquet cannot read is a CorruptPartError naming it."""
    try:
        return pq.read_table(part, filesystem=fs, schema=schema)
    except pa.ArrowInvalid as exc:
        raise corrupt_part_error(part, exc) from exc


def _replaced_names(fs: pafs.FileSystem, merged: str, present: list[str]) -> list[str]:
    """The part names a merged file replaces. Files merged before the names were recorded carry only their hash:
    those count as replacing the other files present only when the hash of those names matches exactly."""
    try:
        metadata = pq.read_schema(merged, filesystem=fs).metadata or {}
    except pa.ArrowInvalid as exc:
        raise corrupt_part_error(merged, exc) from exc
    if REPLACES_KEY in metadata:
        return [str(name) for name in json.loads(metadata[REPLACES_KEY])]
    own = Path(merged).name
    others = [name for name in present if name != own]
    return others if own.removesuffix(".parquet").endswith(f"-{_names_hash(others)}") else []


def _finish_interrupted(fs: pafs.FileSystem, parts: list[str], settings: Settings) -> list[str]:
    """Delete the parts a merged file next to them already holds (left by a compaction that stopped before its
    delete); returns the files that remain. The merged file was written whole (atomic write), so no row is lost."""
    if len(parts) < 2:
        return parts
    names = [Path(part).name for part in parts]
    replaced: set[str] = set()
    for part, name in zip(parts, names, strict=True):
        if name.startswith(_MERGED_PREFIX):
            replaced.update(other for other in _replaced_names(fs, part, names) if other != name)
    leftovers = [part for part, name in zip(parts, names, strict=True) if name in replaced]
    if leftovers:
        _delete_many(fs, leftovers, settings)
    return [part for part in parts if part not in leftovers]


def _replace_parts(
    fs: pafs.FileSystem, base: str, folder: str, parts: list[str], name: str, table: pa.Table, settings: Settings
) -> None:
    if isinstance(fs, pafs.LocalFileSystem):
        staging = Path(base) / "_staging" / _staging_name()
        staging.mkdir(parents=True)
        try:
            write_table_atomically(fs, str(staging), name, table)
            # Files another writer might have added since listing would be lost in the swap; refuse.
            if parquet_files(fs, folder) != parts:
                raise PartitionChangedError(f"{folder} changed while it was being compacted; run compact again later")
            if _exchange(str(staging), folder):
                return
            fs.move(f"{staging}/{name}", f"{folder}/{name}")
            for part in parts:
                fs.delete_file(part)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if staging.parent.is_dir() and not any(staging.parent.iterdir()):
                staging.parent.rmdir()
        return
    write_table_atomically(fs, folder, name, table)
    _delete_many(fs, parts, settings)


def _delete_many(fs: pafs.FileSystem, paths: list[str], settings: Settings) -> None:
    if isinstance(fs, pafs.S3FileSystem):
        # pyarrow's delete_dir_contents is many calls; boto3's DeleteObjects removes up to 1000 keys in one request.
        from pipeline.storage import s3_client

        by_bucket: dict[str, list[str]] = {}
        for path in paths:
            bucket, _, key = path.partition("/")
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), 1000):
                batch = [{"Key": key} for key in keys[start : start + 1000]]
                _delete_objects(s3_client(settings), bucket, batch)
        return
    for path in paths:
        fs.delete_file(path)


def _delete_objects(client: Any, bucket: str, batch: list[dict[str, str]]) -> None:
    """One DeleteObjects request; a refused request or any key it could not delete is an OutputError (the next
    compaction finishes the deletion), never a silent leftover."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    except (BotoCoreError, ClientError) as exc:
        raise OutputError(f"Cannot delete compacted parts in s3://{bucket}: {exc}; run compact again") from exc
    errors = response.get("Errors") or []
    if errors:
        first = errors[0]
        raise OutputError(
            f"Cannot delete {len(errors)} compacted part(s) in s3://{bucket} (first: {first.get('Key')}: "
            f"{first.get('Code')} {first.get('Message')}); run compact again"
        )
