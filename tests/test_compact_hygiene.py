"""Compaction hygiene: a part Parquet cannot read skips its partition with a coded reason (the others are still
merged), and staging folders left by crashed local compactions are cleared. Local disk and moto S3 on loopback."""

from __future__ import annotations

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
