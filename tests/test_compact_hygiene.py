"""Compaction hygiene: a part Parquet cannot read skips its partition with a coded reason (the others are still
merged), and staging folders left by crashed local compactions are cleared. Local disk and moto S3 on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from flows.cli import EXIT_OUTPUT, main
from pipeline.compact import STALE_STAGING_SECONDS, compact
from pipeline.errors import CorruptPartError
from pipeline.sinks import ParquetSink
from schemas.codes import OutputCode
from tests.s3_support import bucket, moto_s3, read_s3_dataset, s3  # noqa: F401
from tests.test_sinks import record

CORRUPT = "invoices/ingest_date=2024-01-02/part-20240102T000000-corrupt.parquet"


def _two_closed_days(out: str) -> None:
    """Two parts per dataset on each of two closed days."""
    for day in (date(2024, 1, 2), date(2024, 1, 3)):
        sink = ParquetSink(out, ingest_date=day)
        for name in ("a", "b"):
            sink.write([record(f"{name}-{day.day}")])


def _put_corrupt_part(out: str, where: str) -> None:
    body = b"PAR1 cut off by a crash halfway through"
    if where == "local":
        (Path(out) / CORRUPT).write_bytes(body)
    else:
        bucket_name, _, prefix = out.removeprefix("s3://").partition("/")
        s3().put_object(Bucket=bucket_name, Key=f"{prefix}/{CORRUPT}", Body=body)


def _invoice_ids(out: str, where: str) -> list[str]:
    if where == "local":
        dataset = ds.dataset(
            [str(path) for path in Path(out, "invoices").rglob("*.parquet") if "corrupt" not in path.name],
            format="parquet",
        )
        return sorted(dataset.to_table(columns=["document_id"]).column("document_id").to_pylist())
    rows = read_s3_dataset(f"{out}/invoices/ingest_date=2024-01-03", ["document_id"])
    return sorted(str(row["document_id"]) for row in rows)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_corrupt_part_skips_its_partition_with_a_coded_reason_and_the_others_are_merged(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = str(tmp_path / "out") if where == "local" else f"s3://{request.getfixturevalue('bucket')}/out"
    _two_closed_days(out)
    _put_corrupt_part(out, where)

    report = compact(out)

    (skipped,) = report.skipped
    assert isinstance(skipped, CorruptPartError) and skipped.code is OutputCode.CORRUPT_PART
    assert CORRUPT in str(skipped) and "Move the unreadable part file out" in str(skipped)
    # Every other partition is merged: line items and fields of both days, invoices of the second day.
    assert (report.partitions, report.files_before, report.files_after) == (5, 10, 5)
    assert any(folder.endswith("invoices/ingest_date=2024-01-03") for folder in report.merged)
    if where == "local":
        left = sorted(path.name for path in (Path(out) / CORRUPT).parent.glob("*.parquet"))
        assert len(left) == 3 and Path(CORRUPT).name in left  # the skipped partition is untouched
        assert _invoice_ids(out, where) == ["a-2", "a-3", "b-2", "b-3"]
    else:
        assert _invoice_ids(out, where) == ["a-3", "b-3"]


def test_the_compact_command_reports_the_skipped_partition_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    _two_closed_days(str(out))
    _put_corrupt_part(str(out), "local")

    assert main(["compact", "--out", str(out)]) == EXIT_OUTPUT
    captured = capsys.readouterr()
    assert "Compacted 5 partition(s)" in captured.out
    assert "partition skipped (corrupt_part)" in captured.err and Path(CORRUPT).name in captured.err


def test_a_run_refuses_an_output_with_a_corrupt_part_naming_it_and_its_code(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _two_closed_days(str(out))
    _put_corrupt_part(str(out), "local")
    with pytest.raises(CorruptPartError) as raised:
        ParquetSink(out)
    assert raised.value.code is OutputCode.CORRUPT_PART and Path(CORRUPT).name in str(raised.value)


def _gone_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_staging_folders_of_crashed_compactions_are_cleared_and_live_ones_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _two_closed_days(str(out))
    staging = out / "_staging"
    host = socket.gethostname()
    crashed = staging / f"compact-{host}-{_gone_pid()}-0123abcd"  # its process is gone
    live = staging / f"compact-{host}-{os.getppid()}-4567ef01"  # a compaction still running (a live process)
    old_unowned = staging / "compact-89ab23cd45ef"  # named before the owner was recorded, a day old
    new_unowned = staging / "compact-cdef01234567"  # same, but recent: may still be in use
    for folder in (crashed, live, old_unowned, new_unowned):
        folder.mkdir(parents=True)
        (folder / "part-compact-20240102-0000.parquet").write_bytes(b"merged, never placed")
    long_ago = old_unowned.stat().st_mtime - STALE_STAGING_SECONDS - 60
    os.utime(old_unowned, (long_ago, long_ago))

    report = compact(str(out))

    assert report.stale_staging == 2
    assert sorted(path.name for path in staging.iterdir()) == sorted([live.name, new_unowned.name])
    assert report.partitions == 6 and not report.skipped  # the partitions themselves are merged as usual
    assert _invoice_ids(str(out), "local") == ["a-2", "a-3", "b-2", "b-3"]


def _flush_then_cut_off(out: str, document_id: str, dataset: str) -> str:
    """One flush of `document_id` on a closed day, then its part in `dataset` truncated the way a crash leaves it.
    Returns that part's path relative to OUT."""
    from pipeline.config import Settings
    from pipeline.sinks import parquet_files
    from pipeline.storage import filesystem_for

    fs, base = filesystem_for(out, Settings())
    folder = f"{base}/{dataset}/ingest_date=2024-01-02"
    before = set(parquet_files(fs, folder))
    ParquetSink(out, ingest_date=date(2024, 1, 2)).write([record(document_id)])
    (part,) = set(parquet_files(fs, folder)) - before
    with fs.open_output_stream(part) as stream:
        stream.write(b"PAR1 cut off by a crash halfway through")
    return part[len(base) :].lstrip("/")


def _all_document_ids(out: str) -> dict[str, list[str]]:
    from pipeline.config import Settings

    sink = ParquetSink(out, Settings())
    return {name: sorted(sink.existing_document_ids(name)) for name in ("invoices", "line_items", "fields")}


@pytest.mark.parametrize("where", ["local", "s3"])
def test_quarantine_moves_an_unreadable_part_and_its_siblings_aside_and_a_rerun_restores_its_documents_once(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from pipeline.quarantine import QUARANTINE_DIR, quarantine_unreadable_parts

    out = str(tmp_path / "out") if where == "local" else f"s3://{request.getfixturevalue('bucket')}/out"
    _two_closed_days(out)
    cut = _flush_then_cut_off(out, "c-2", "invoices")
    with pytest.raises(CorruptPartError):
        ParquetSink(out)

    report = quarantine_unreadable_parts(out)

    assert report.checked == 15 and not report.orphaned
    moved = {part.source: part for part in report.moved}
    siblings = [cut.replace("invoices/", f"{name}/", 1) for name in ("invoices", "line_items", "fields")]
    assert sorted(moved) == sorted(siblings)
    assert "Parquet" in moved[cut].reason or "magic" in moved[cut].reason.lower()
    assert all(moved[path].reason == "" for path in siblings[1:])  # readable, moved because written with it
    assert all(part.target.startswith(f"{QUARANTINE_DIR}/") for part in report.moved)
    # The output opens again; c-2 is not done, so the rerun of its batch writes it back, once, everywhere.
    assert _all_document_ids(out)["invoices"] == ["a-2", "a-3", "b-2", "b-3"]
    assert ParquetSink(out, ingest_date=date(2024, 1, 2)).write([record("c-2")]) == 1
    assert ParquetSink(out, ingest_date=date(2024, 1, 2)).write([record("c-2")]) == 0
    expected = ["a-2", "a-3", "b-2", "b-3", "c-2"]
    assert _all_document_ids(out) == {"invoices": expected, "line_items": expected, "fields": expected}
    assert quarantine_unreadable_parts(out).moved == []  # nothing unreadable is left


def test_quarantine_names_an_unreadable_part_whose_documents_cannot_be_told(tmp_path: Path) -> None:
    from pipeline.quarantine import QUARANTINED_SUFFIX, quarantine_unreadable_parts

    out = str(tmp_path / "out")
    _two_closed_days(out)
    # A merged line-items file of a compacted day, cut off: no invoices part carries its name.
    (Path(out) / "line_items/ingest_date=2024-01-03/part-compact-20240103-0a1b2c3d.parquet").write_bytes(b"PAR1")

    report = quarantine_unreadable_parts(out)

    assert report.orphaned == ["line_items/ingest_date=2024-01-03/part-compact-20240103-0a1b2c3d.parquet"]
    (part,) = report.moved
    kept = Path(out) / part.target
    assert kept.name.endswith(QUARANTINED_SUFFIX) and kept.read_bytes() == b"PAR1"
    note = json.loads(Path(f"{kept}.json").read_text())
    assert note["from"] == report.orphaned[0] and note["unreadable"]


def test_the_compact_command_quarantines_then_merges_every_partition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    _two_closed_days(str(out))
    _put_corrupt_part(str(out), "local")

    assert main(["compact", "--out", str(out), "--quarantine"]) == 0
    captured = capsys.readouterr()
    assert f"{CORRUPT} -> _quarantine/{CORRUPT}.unreadable" in captured.out
    assert "Compacted 6 partition(s)" in captured.out and not captured.err
    assert _invoice_ids(str(out), "local") == ["a-2", "a-3", "b-2", "b-3"]
