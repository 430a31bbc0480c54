"""Issue 15's review-server findings, each probed as an attacker would: an empty or short token on a public
bind, corrections the outputs cannot hold, odd tokens, huge form fields, control characters, state changes on
GET, and a symlink loop under OUT/pages. Each passes only with the fix (on the old server they gave a 500, a
silent change, or an open door)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from flows.cli import main
from flows.review_app import ReviewUIConfig, create_app
from flows.review_cli import ui_config
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.review import SqlReviewStore, open_review_store
from pipeline.sinks import ParquetSink
from schemas import ReviewState
from tests.review_fixtures import doc_id, review_record

ITEM, LOOPED = doc_id(0x15), doc_id(0x16)
HOSTILE_VENDOR = "Evil\x1b[2J\x1b]0;pwned\x07 Corp\x00"


@pytest.fixture
def out(tmp_path: Path, review_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "out"
    page = out / "pages" / ITEM / "page-0001.png"
    page.parent.mkdir(parents=True)
    cv2.imwrite(str(page), np.full((40, 30), 255, np.uint8))
    loop = out / "pages" / LOOPED
    loop.mkdir(parents=True)
    os.symlink(loop / "b.png", loop / "a.png")
    os.symlink(loop / "a.png", loop / "b.png")
    records = [
        review_record(ITEM, vendor=HOSTILE_VENDOR, page_images=[f"pages/{ITEM}/page-0001.png"]),
        review_record(LOOPED, total="10.00", page_images=[f"pages/{LOOPED}/a.png"]),
    ]
    ParquetSink(out).write(records)
    open_review_store(review_db).enqueue(records)
    monkeypatch.setenv("LEDGERLENS_REVIEW_DB", review_db)
    return out


def store() -> SqlReviewStore:
    return open_review_store(Settings().review_db or "")


def client_for(out: Path, **options: object) -> TestClient:
    config = ReviewUIConfig(out_dir=out, reviewer="ana", **options)  # type: ignore[arg-type]
    return TestClient(create_app(store(), config), follow_redirects=False)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize("token", ["", "   ", "short-token"])
def test_public_bind_refuses_an_empty_or_short_token(out: Path, token: str) -> None:
    with pytest.raises(ConfigError, match="LEDGERLENS_REVIEW_TOKEN"):
        ui_config("0.0.0.0", out, "ana", Settings(review_token=token))
    # and an empty token never authenticates a request, whatever built the config
    client = client_for(out, token="")
    assert client.get("/", headers={"host": "localhost"}).status_code == 401


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("total", "1e30", "too large"),
        ("total", "0.001", "more than 2 decimal places"),
        ("tax", "NaN", "not a number"),
        ("invoice_date", "0001-01-01", "outside"),
        ("vendor_name", "A" * 5000, "too long"),
        ("vendor_name", "Acme\x1b[31m", "control character"),
        ("li-0-amount", "1e30", "too large"),
        ("li-0-quantity", "0.00001", "more than 4 decimal places"),
    ],
)
def test_corrections_that_outputs_cannot_hold_are_refused(out: Path, field: str, value: str, message: str) -> None:
    client = client_for(out)
    token = csrf(client.get(f"/items/{ITEM}").text)
    form = {"csrf_token": token, field: value}
    if field.startswith("li-"):
        form |= {"line_count": "1", "li-0-description": "Consulting"}
    refused = client.post(f"/items/{ITEM}/approve", data=form)
    assert refused.status_code == 400 and message in refused.text
    assert store().get(ITEM).state is not ReviewState.CORRECTED


def test_cli_refuses_unholdable_corrections(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["review", "approve", ITEM, "--set", "total=1e30", "--out", str(out)])
    assert code == 4 and "too large" in capsys.readouterr().err
    code = main(["review", "approve", ITEM, "--set", "total=0.001", "--out", str(out)])
    assert code == 4 and "decimal places" in capsys.readouterr().err
    assert store().get(ITEM).state is ReviewState.PENDING


def test_odd_tokens_and_huge_bodies_get_a_4xx_not_a_500(out: Path) -> None:
    guarded = client_for(out, token="a-long-enough-shared-token")
    assert guarded.get("/", params={"token": "tökén-ü"}).status_code == 401
    assert guarded.get("/", headers={b"cookie": "ll_token=\u00e9t\u00e9".encode()}).status_code == 401
    client = client_for(out)
    client.get("/")
    assert client.post(f"/items/{ITEM}/save", data={"csrf_token": "jeton-\u00e9\u00e9"}).status_code == 403
    token = csrf(client.get("/").text)
    huge = client.post(f"/items/{ITEM}/save", data={"csrf_token": token, "vendor_name": "x" * (10 * 1024 * 1024)})
    assert huge.status_code == 413
    not_utf8 = client.post(
        f"/items/{ITEM}/save",
        content=b"csrf_token=" + token.encode() + b"&vendor_name=%ff%fe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code in (400, 403)
    assert store().get(ITEM).draft is None


def test_review_show_and_list_never_print_raw_control_characters(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "show", ITEM, "--out", str(out)]) == 0
    assert main(["review", "list", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x00" not in printed and "\x07" not in printed
    assert "Evil\\x1b[2J" in printed


def test_viewing_an_item_claims_nothing(out: Path) -> None:
    anonymous = client_for(out)
    assert anonymous.get(f"/items/{ITEM}").status_code == 200
    fresh = TestClient(anonymous.app, follow_redirects=False)
    assert fresh.get(f"/items/{ITEM}").status_code == 200
    assert store().get(ITEM).state is ReviewState.PENDING and store().get(ITEM).claimed_by is None


def test_a_symlink_loop_under_pages_is_a_404(out: Path) -> None:
    client = client_for(out)
    assert client.get(f"/items/{LOOPED}/pages/1").status_code == 404
    assert client.get(f"/items/{ITEM}/pages/1").status_code == 200
