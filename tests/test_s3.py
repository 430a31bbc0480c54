"""S3 in and out through moto's server on loopback: ingest, unreadable objects, throttling, archive, compaction."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from devtools.samples import generate_sample
from flows.ingest import identify_objects, run_ingest
from pipeline.compact import REPLACES_KEY, compact
from pipeline.config import Settings
from pipeline.errors import OutputError
from pipeline.review import SQLiteReviewStore
from pipeline.sinks import ParquetSink
from pipeline.storage import SourceObject, download, list_sources
from pipeline.vendors import VendorStore
from schemas import RecordStatus, VendorEvidence
from tests.s3_support import FaultProxy, bucket, moto_s3, read_s3_dataset, s3  # noqa: F401
from tests.test_sinks import record

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def born_digital(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("s3-samples")
    return [generate_sample(folder, index, seed=5) for index in (0, 2, 4)]  # even indices are born-digital


def test_ingest_from_s3_to_s3_one_row_per_object_then_archive(
    bucket: str,  # noqa: F811
    born_digital: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    client = s3()
    for path in born_digital:
        client.upload_file(str(path), bucket, f"inbox/2024/{path.name}")
    client.put_object(Bucket=bucket, Key="inbox/2024/corrupt.pdf", Body=b"%PDF-1.7\n garbage, no xref")
    client.put_object(Bucket=bucket, Key="inbox/notes.txt", Body=b"not an invoice")  # unsupported: not listed
    inbox, out = f"s3://{bucket}/inbox", f"s3://{bucket}/out"
    settings = Settings(workers=2, keep_page_images="all")

    summary = run_ingest([inbox], out, settings)
    rows = read_s3_dataset(f"{out}/invoices")
    assert sorted(row["source"] for row in rows) == sorted(
        [f"{inbox}/2024/{p.name}" for p in born_digital] + [f"{inbox}/2024/corrupt.pdf"]
    )
    assert len({row["document_id"] for row in rows}) == 4
    by_source = {Path(str(row["source"])).name: row for row in rows}
    assert by_source["corrupt.pdf"]["status"] == "failed" and by_source["corrupt.pdf"]["error"]
    assert {row["ingest_date"] for row in rows} == {datetime.now(UTC).date().isoformat()}
    # Previews were uploaded to OUT/pages/<id>/ under the relative paths the rows name.
    keys = {item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix="out/pages/")["Contents"]}
    for row in rows:
        for relative in row["page_images"]:  # type: ignore[attr-defined]
            assert f"out/{relative}" in keys
    # The review queue cannot live on S3: it defaults to a local file named after the OUT URL.
    review_db = Path(summary.review_db)
    assert review_db.is_relative_to(tmp_path / "state") and bucket in review_db.name
    assert SQLiteReviewStore(review_db).count() == sum(row["status"] == "needs_review" for row in rows)

    again = run_ingest([inbox], out, settings, archive_prefix=f"s3://{bucket}/archive")
    assert again.processed == 0 and again.skipped_existing == 4
    assert len(read_s3_dataset(f"{out}/invoices")) == 4
    assert again.archived == 4
    left = client.list_objects_v2(Bucket=bucket, Prefix="inbox/")["Contents"]
    assert [item["Key"] for item in left] == ["inbox/notes.txt"]
    archived = {item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix="archive/")["Contents"]}
    assert archived == {f"archive/2024/{p.name}" for p in born_digital} | {"archive/2024/corrupt.pdf"}


def test_missing_and_forbidden_objects_become_failed_records(
    bucket: str,  # noqa: F811
    moto_s3: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    s3().put_object(Bucket=bucket, Key="in/forbidden.pdf", Body=b"%PDF-1.4 whatever")
    now = datetime.now(UTC)
    objects = [
        SourceObject(uri=f"s3://{bucket}/in/gone.pdf", size=10, modified=now),
        SourceObject(uri=f"s3://{bucket}/in/forbidden.pdf", size=17, modified=now),
    ]
    with FaultProxy(moto_s3, forbidden="forbidden.pdf") as proxy:
        found = identify_objects(objects, Settings(s3_endpoint_url=proxy.url), tmp_path)
    failures = found.failures
    assert found.documents == [] and found.deferred == []
    messages = {Path(record.source).name: record.error or "" for record in failures}
    assert "does not exist" in messages["gone.pdf"]
    assert "access denied" in messages["forbidden.pdf"] and "s3:GetObject" in messages["forbidden.pdf"]
    assert all(record.status is RecordStatus.FAILED for record in failures)
    assert len({record.document_id for record in failures}) == 2


def test_throttling_is_retried_by_boto3_and_pyarrow(
    bucket: str,  # noqa: F811
    moto_s3: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    s3().put_object(Bucket=bucket, Key="in/a.pdf", Body=b"%PDF-1.4 bytes")
    with FaultProxy(moto_s3, throttle=3) as proxy:
        settings = Settings(s3_endpoint_url=proxy.url, s3_retry_mode="standard", s3_max_attempts=6)
        assert download(f"s3://{bucket}/in/a.pdf", tmp_path / "a.pdf", settings).read_bytes() == b"%PDF-1.4 bytes"
        assert proxy.throttled == 3
        proxy.throttle += 3  # and again, now for pyarrow's S3 client writing a dataset
        sink = ParquetSink(f"s3://{bucket}/out", settings)
        assert sink.write([record("a"), record("b")]) == 2
        assert proxy.throttled == 6
    assert sorted(row["document_id"] for row in read_s3_dataset(f"s3://{bucket}/out/invoices")) == ["a", "b"]


def test_throttling_beyond_the_retry_budget_defers_inputs_and_stops_output(
    bucket: str,  # noqa: F811
    moto_s3: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    s3().put_object(Bucket=bucket, Key="in/a.pdf", Body=b"%PDF-1.4 bytes")
    listed = list(list_sources(f"s3://{bucket}/in", Settings()))
    with FaultProxy(moto_s3, throttle=1000) as proxy:
        settings = Settings(s3_endpoint_url=proxy.url, s3_retry_mode="standard", s3_max_attempts=2)
        found = identify_objects(listed, settings, tmp_path)
        # No row: a failed row would be a permanent answer to a passing problem; the next run picks it up.
        assert found.deferred == [f"s3://{bucket}/in/a.pdf"] and not found.failures and not found.documents
        with pytest.raises(OutputError, match="Cannot write to the output location"):
            ParquetSink(f"s3://{bucket}/out", settings)


def test_listing_is_lazy_page_by_page_and_filters_by_time(bucket: str, moto_s3: str) -> None:  # noqa: F811
    client = s3()
    for number in range(25):
        client.put_object(Bucket=bucket, Key=f"many/{number:05d}.pdf", Body=b"%PDF")
    client.put_object(Bucket=bucket, Key="many/readme.txt", Body=b"skip me")
    with FaultProxy(moto_s3) as proxy:
        listing = list_sources(f"s3://{bucket}/many", Settings(s3_endpoint_url=proxy.url), page_size=10)
        first = next(listing)
        assert first.uri == f"s3://{bucket}/many/00000.pdf"
        assert proxy.forwarded == 1  # one page fetched so far, not the whole listing
        assert sum(1 for _ in listing) == 24
        assert proxy.forwarded == 3
    future = datetime.now(UTC) + timedelta(hours=1)
    assert list(list_sources(f"s3://{bucket}/many", Settings(), since=future)) == []
    assert sum(1 for _ in list_sources(f"s3://{bucket}/many/", Settings(), until=future)) == 25


def test_compaction_on_s3_keeps_every_row_once(bucket: str) -> None:  # noqa: F811
    out = f"s3://{bucket}/out"
    old = ParquetSink(out, ingest_date=date(2024, 1, 2))
    for name in "abcd":
        old.write([record(name)])
    report = compact(out)
    assert report.files_before == 12 and report.files_after == 3
    rows = read_s3_dataset(f"{out}/invoices", ["document_id", "ingest_date"])
    assert sorted(row["document_id"] for row in rows) == list("abcd")
    assert len(read_s3_dataset(f"{out}/line_items")) == 4
    keys = [item["Key"] for item in s3().list_objects_v2(Bucket=bucket, Prefix="out/invoices/")["Contents"]]
    assert len([key for key in keys if key.endswith(".parquet")]) == 1


def test_compaction_stopped_before_its_delete_on_s3_is_finished_without_duplicates(
    bucket: str,  # noqa: F811
    moto_s3: str,  # noqa: F811
) -> None:
    out = f"s3://{bucket}/out"
    old = ParquetSink(out, ingest_date=date(2024, 1, 2))
    for name in "abcd":
        old.write([record(name)])
    # DeleteObjects refused (as a crash right after the merged file's PUT would leave it): the real compaction
    # writes the merged invoices file, then stops with its four parts still there.
    with FaultProxy(moto_s3, forbidden="?delete") as proxy, pytest.raises(OutputError, match="run compact again"):
        compact(out, Settings(s3_endpoint_url=proxy.url))
    stopped = read_s3_dataset(f"{out}/invoices", ["document_id"])
    assert sorted(row["document_id"] for row in stopped) == sorted("abcd" * 2)  # parts and merged file both listed

    report = compact(out)
    assert report.finished == 4  # the stopped compaction's parts deleted, not merged again
    assert (report.partitions, report.files_before, report.files_after) == (2, 8, 2)  # line_items and fields
    rows = read_s3_dataset(f"{out}/invoices", ["document_id"])
    assert sorted(row["document_id"] for row in rows) == list("abcd")
    assert len(read_s3_dataset(f"{out}/line_items")) == 4
    keys = [item["Key"] for item in s3().list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]]
    assert len([key for key in keys if key.endswith(".parquet")]) == 3  # one file per dataset
    again = compact(out)
    assert (again.partitions, again.finished) == (0, 0)


def _stopped_local_compaction(out: Path, tmp_path: Path) -> Path:
    """OUT as a local compaction stopped between placing the merged file and unlinking the parts leaves it: the
    real compaction runs on a copy, and its merged invoices file is put next to the original parts."""
    twin = tmp_path / "twin"
    shutil.copytree(out, twin)
    compact(str(twin))
    folder = "invoices/ingest_date=2024-01-02"
    (merged,) = (twin / folder).glob("*.parquet")
    shutil.copy(merged, out / folder / merged.name)
    return out / folder / merged.name


def test_local_compaction_stopped_before_unlinking_is_finished_without_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = ParquetSink(out, ingest_date=date(2024, 1, 2))
    for name in "abcd":
        old.write([record(name)])
    merged = _stopped_local_compaction(out, tmp_path)
    assert ds.dataset(str(out / "invoices"), format="parquet").count_rows() == 8  # the rows seen twice

    report = compact(str(out))
    rows = ds.dataset(str(out / "invoices"), format="parquet").to_table(columns=["document_id"]).to_pylist()
    assert sorted(row["document_id"] for row in rows) == list("abcd")
    assert [path.name for path in (out / "invoices").rglob("*.parquet")] == [merged.name]  # kept, not merged again
    assert report.finished == 4 and report.partitions == 2
    assert compact(str(out)).partitions == 0


def test_merged_file_without_recorded_parts_is_recognised_by_its_name(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = ParquetSink(out, ingest_date=date(2024, 1, 2))
    for name in "abc":
        old.write([record(name)])
    merged = _stopped_local_compaction(out, tmp_path)
    # As written before merged files recorded their parts: same name and rows, no REPLACES_KEY.
    table = pq.read_table(merged)
    legacy = {key: value for key, value in table.schema.metadata.items() if key != REPLACES_KEY}
    pq.write_table(table.replace_schema_metadata(legacy), merged)
    assert REPLACES_KEY not in (pq.read_schema(merged).metadata or {})

    assert compact(str(out)).finished == 3
    assert ds.dataset(str(out / "invoices"), format="parquet").count_rows() == 3


def test_local_compaction_is_invisible_to_a_concurrent_reader(tmp_path: Path) -> None:
    old = ParquetSink(tmp_path, ingest_date=date(2024, 1, 2))
    for number in range(30):
        old.write([record(f"doc-{number:02d}")])
    ParquetSink(tmp_path).write([record("today")])  # today's partition is left alone
    seen: list[int] = []
    stop = threading.Event()

    def read_continuously() -> None:
        while not stop.is_set():
            try:
                seen.append(ds.dataset(str(tmp_path / "invoices"), format="parquet").count_rows())
            except (FileNotFoundError, OSError):
                continue  # listed the old parts just before the swap: read again

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        report = compact(str(tmp_path))
    finally:
        stop.set()
        reader.join()
    assert report.partitions == 3 and report.files_before == 90
    assert seen and set(seen) == {31}, sorted(set(seen))
    assert len(list((tmp_path / "invoices").rglob("*.parquet"))) == 2
    assert ds.dataset(str(tmp_path / "invoices"), format="parquet").count_rows() == 31
    assert not (tmp_path / "_staging").exists()


def test_local_listing_filters_on_modification_time(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    old, new, other = tmp_path / "sub" / "old.pdf", tmp_path / "new.PDF", tmp_path / "notes.txt"
    for path in (old, new, other):
        path.write_bytes(b"%PDF")
    january = datetime(2024, 1, 15, tzinfo=UTC).timestamp()
    os.utime(old, (january, january))
    names = [Path(item.uri).name for item in list_sources(str(tmp_path), Settings())]
    assert names == ["new.PDF", "old.pdf"]  # sorted walk, unsupported suffixes left out
    since = datetime(2024, 6, 1, tzinfo=UTC)
    assert [Path(i.uri).name for i in list_sources(str(tmp_path), Settings(), since=since)] == ["new.PDF"]
    assert [Path(i.uri).name for i in list_sources(str(tmp_path), Settings(), until=since)] == ["old.pdf"]


def test_crash_between_datasets_is_repaired_by_the_rerun_without_duplicates(tmp_path: Path) -> None:
    day = date(2024, 1, 2)
    blocker = tmp_path / "invoices" / "ingest_date=2024-01-02"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the partition folder should be: the invoices write fails")
    sink = ParquetSink(tmp_path, ingest_date=day)
    with pytest.raises(OutputError):
        sink.write([record("a")])
    assert ds.dataset(str(tmp_path / "line_items"), format="parquet").count_rows() == 1  # written before invoices
    blocker.unlink()
    rerun = ParquetSink(tmp_path, ingest_date=day)
    assert "a" not in rerun.processed_ids  # no invoice row: the document is not done, so it is redone
    assert rerun.write([record("a")]) == 1
    for dataset in ("invoices", "line_items", "fields"):
        assert ds.dataset(str(tmp_path / dataset), format="parquet").count_rows() == 1, dataset


@pytest.mark.parametrize("where", ["local", "s3"])
def test_vendor_evidence_is_merged_per_closed_day_and_never_duplicated(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = str(tmp_path / "out") if where == "local" else f"s3://{request.getfixturevalue('bucket')}/out"
    store = VendorStore(out, ingest_date=date(2024, 1, 2))
    for number in range(4):  # one part file per flush
        assert store.append_evidence([VendorEvidence(document_id=f"doc-{number}", identifiers=[f"VAT{number}"])]) == 1
    assert store.append_evidence([VendorEvidence(document_id="doc-0")]) == 0
    rerun = VendorStore(out)
    assert rerun.append_evidence([VendorEvidence(document_id="doc-1"), VendorEvidence(document_id="doc-9")]) == 1

    report = compact(out)
    assert (report.partitions, report.files_before, report.files_after) == (1, 4, 1)
    evidence = VendorStore(out).read_evidence({f"doc-{number}" for number in (0, 1, 2, 3, 9)})
    assert sorted(evidence) == ["doc-0", "doc-1", "doc-2", "doc-3", "doc-9"]
    assert evidence["doc-2"].identifiers == ["VAT2"]
    assert compact(out).partitions == 0  # one file per closed day, today's part left alone: nothing to merge
    if where == "local":
        parts = sorted(path.parent.name for path in (tmp_path / "out" / "vendors" / "evidence").rglob("*.parquet"))
    else:
        listing = s3().list_objects_v2(Bucket=request.getfixturevalue("bucket"), Prefix="out/vendors/evidence/")
        keys = [item["Key"] for item in listing["Contents"] if item["Key"].endswith(".parquet")]
        parts = sorted(Path(key).parent.name for key in keys)
    assert parts == ["ingest_date=2024-01-02", f"ingest_date={datetime.now(UTC).date().isoformat()}"]


def test_a_run_merges_earlier_days_parts_and_every_input_gets_one_row(tmp_path: Path, born_digital: list[Path]) -> None:
    out = tmp_path / "out"
    earlier = ParquetSink(out, ingest_date=date(2024, 1, 2))
    for name in "abc":
        earlier.write([record(name)])
    settings = Settings(workers=1, in_flight_documents=1)  # three documents through a window of two
    summary = run_ingest([str(path) for path in born_digital], str(out), settings)
    assert summary.processed == 3 and summary.compacted_files == 6  # 3 parts -> 1 in each of three datasets
    for dataset in ("invoices", "line_items", "fields"):
        assert len(list((out / dataset / "ingest_date=2024-01-02").glob("*.parquet"))) == 1, dataset
    rows = ds.dataset(str(out / "invoices"), format="parquet").to_table(columns=["document_id"]).to_pylist()
    assert len(rows) == 6 and len({row["document_id"] for row in rows}) == 6
    again = run_ingest([str(path) for path in born_digital], str(out), settings)
    assert again.processed == 0 and again.compacted_files == 0
    assert ds.dataset(str(out / "invoices"), format="parquet").count_rows() == 6
