"""Review and export of an output on S3 (moto's server on loopback), with the queue on both stores: the CLI
lists, shows and decides, page previews are read from S3 by the server and served through the app, decisions
land in OUT/reviews/ on S3, and `export` writes OUT/export/ there."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from flows.cli import main
from flows.review_app import ReviewUIConfig, create_app
from pipeline.config import Settings
from pipeline.review import open_review_store
from pipeline.sinks import ParquetSink
from tests.review_fixtures import LOW_CONFIDENCE_REASON, doc_id, review_record
from tests.s3_support import bucket, moto_s3, read_s3_dataset, s3  # noqa: F401

BIG, SMALL = doc_id(0xB1), doc_id(0x51)


@pytest.fixture
def s3_out(bucket: str, review_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    out = f"s3://{bucket}/lake/ledgerlens"
    page = tmp_path / "page.png"
    cv2.imwrite(str(page), np.full((60, 40), 200, np.uint8))
    s3().upload_file(str(page), bucket, f"lake/ledgerlens/pages/{BIG}/page-0001.png")
    records = [
        review_record(BIG, total="1583.55", page_images=[f"pages/{BIG}/page-0001.png"]),
        review_record(SMALL, total="20.00", reasons=[LOW_CONFIDENCE_REASON]),
    ]
    ParquetSink(out).write(records)
    open_review_store(review_db).enqueue(records)
    monkeypatch.setenv("LEDGERLENS_REVIEW_DB", review_db)
    return out


def test_cli_reviews_and_exports_an_s3_output(s3_out: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "list", "--out", s3_out]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [BIG, SMALL]
    assert main(["review", "show", BIG, "--out", s3_out]) == 0
    assert f"page images: pages/{BIG}/page-0001.png" in capsys.readouterr().out
    assert main(["review", "approve", BIG, "--set", "total=1573.55", "--reviewer", "ann", "--out", s3_out]) == 0
    assert main(["review", "reject", SMALL, "--reason", "duplicate", "--reviewer", "ann", "--out", s3_out]) == 0
    reviews = sorted(
        (row["document_id"], row["decision"], row["field"]) for row in read_s3_dataset(f"{s3_out}/reviews")
    )
    assert reviews == [(SMALL, "rejected", None), (BIG, "corrected", "total")]
    assert main(["export", "--out", s3_out]) == 0
    assert f"to {s3_out}/export/invoices.parquet" in capsys.readouterr().out
    exported = {row["document_id"]: row for row in read_s3_dataset(f"{s3_out}/export/invoices.parquet")}
    assert exported[BIG]["status"] == "reviewed" and exported[BIG]["total"] == Decimal("1573.55")
    assert exported[SMALL]["status"] == "rejected" and exported[SMALL]["review_note"] == "duplicate"
    assert main(["export", "--out", s3_out]) == 0  # a rerun replaces, never duplicates
    assert len(read_s3_dataset(f"{s3_out}/reviews")) == 2


def test_web_ui_serves_s3_previews_through_the_app(s3_out: str, bucket: str) -> None:  # noqa: F811
    store = open_review_store(Settings().review_db or "")
    client = TestClient(create_app(store, ReviewUIConfig(out_dir=s3_out, reviewer="ann")), follow_redirects=False)
    page = client.get(f"/items/{BIG}")
    assert page.status_code == 200 and f"/items/{BIG}/pages/1" in page.text and "testing" not in page.text
    image = client.get(f"/items/{BIG}/pages/1")
    stored = s3().get_object(Bucket=bucket, Key=f"lake/ledgerlens/pages/{BIG}/page-0001.png")["Body"].read()
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content == stored
    assert "amz" not in " ".join(image.headers.keys()).lower()  # the browser gets bytes, not a signed URL
    assert client.get(f"/items/{SMALL}/pages/1").status_code == 404
