"""The reviewer web UI over HTTP (FastAPI's TestClient, real store and real Parquet): pages, escaping,
page-image access, CSRF, the token, host checks, and decisions reaching OUT/reviews/."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from flows.review_app import ReviewUIConfig, create_app
from flows.review_cli import ui_config
from pipeline.config import Settings
from pipeline.review import SqlReviewStore, open_review_store
from pipeline.sinks import ParquetSink
from schemas import ReviewState
from tests.review_fixtures import LOW_CONFIDENCE_REASON, doc_id, review_record

EVIL = "<script>alert('owned')</script> Widgets"
HIGH, LOW, TRAP = doc_id(1), doc_id(2), doc_id(3)


@pytest.fixture
def out(tmp_path: Path, review_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "out"
    for document_id in (HIGH, LOW, doc_id(9)):
        page = out / "pages" / document_id / "page-0001.png"
        page.parent.mkdir(parents=True)
        cv2.imwrite(str(page), np.full((140, 100), 255, np.uint8))
    (out / "secret.txt").write_text("not for reviewers")
    records = [
        review_record(HIGH, total="1583.55", vendor=EVIL, page_images=[f"pages/{HIGH}/page-0001.png"]),
        review_record(LOW, total="12.00", reasons=[LOW_CONFIDENCE_REASON], page_images=[f"pages/{LOW}/page-0001.png"]),
        # A queue entry whose stored image path points outside pages/ must not serve that file.
        review_record(TRAP, total="5.00", page_images=["secret.txt", "../../../../etc/passwd"]),
    ]
    ParquetSink(out).write(records)
    open_review_store(review_db).enqueue(records)
    monkeypatch.setenv("LEDGERLENS_REVIEW_DB", review_db)
    return out


def store_of(out: Path) -> SqlReviewStore:
    """The queue the `out` fixture filled (SQLite or PostgreSQL, per the review_db parameter)."""
    return open_review_store(Settings().review_db or "")


def client_for(out: Path, **options: object) -> TestClient:
    config = ReviewUIConfig(out_dir=out, reviewer="ana", **options)  # type: ignore[arg-type]
    return TestClient(create_app(store_of(out), config), follow_redirects=False)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_queue_is_sorted_by_amount_filtered_by_reason_and_escapes_ocr_text(out: Path) -> None:
    client = client_for(out)
    page = client.get("/")
    assert page.status_code == 200
    order = [m for m in re.findall(r'data-document-id="([0-9a-f]{64})"', page.text)]
    assert order == [HIGH, LOW, TRAP]
    assert '<strong data-state="pending">3</strong>' in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in page.text
    filtered = client.get("/", params={"reason": "low_confidence"})
    assert re.findall(r'data-document-id="([0-9a-f]{64})"', filtered.text) == [LOW]


def test_review_page_escapes_and_shows_evidence_boxes_and_claims(out: Path) -> None:
    client = client_for(out)
    page = client.get(f"/items/{HIGH}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    scripts = re.findall(r"<script[^>]*>", page.text)
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce and scripts and all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts)
    # the total was read with confidence 0.42: its box and its input are marked low
    assert re.search(r'class="box low" data-field="total"\s+style="left: 78.000%; top: 37.000%', page.text)
    assert re.search(r'class="field low flagged" data-field="total"', page.text)
    assert "Subtotal 1,430.50 plus tax 143.05 is 1,573.55 but the total says 1,583.55" in page.text
    assert store_of(out).get(HIGH).state is ReviewState.PENDING  # viewing claims nothing (issue 15)
    claimed = client.post(f"/items/{HIGH}/claim", data={"csrf_token": csrf(page.text)})
    assert claimed.status_code == 303 and claimed.headers["location"] == f"/items/{HIGH}"
    item = store_of(out).get(HIGH)
    assert item.state is ReviewState.IN_REVIEW and item.claimed_by == "ana"


def test_page_images_only_for_queued_records_and_no_path_traversal(out: Path) -> None:
    client = client_for(out)
    image = client.get(f"/items/{HIGH}/pages/1")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == (out / "pages" / HIGH / "page-0001.png").read_bytes()
    refused = [
        f"/items/{HIGH}/pages/2",  # no such page
        f"/items/{doc_id(9)}/pages/1",  # a preview on disk, but not in the queue
        f"/items/{TRAP}/pages/1",  # stored path outside pages/
        f"/items/{TRAP}/pages/2",
        f"/items/{HIGH}/pages/..%2F..%2Freview.sqlite",
        "/items/..%2F..%2Fsecret.txt/pages/1",
        f"/items/{HIGH}/../../secret.txt",
        "/items/%2e%2e/pages/1",
    ]
    for url in refused:
        response = client.get(url)
        assert response.status_code in (404, 422), url
        assert b"not for reviewers" not in response.content and b"root:" not in response.content


def test_form_posts_need_the_session_csrf_token(out: Path) -> None:
    client = client_for(out)
    page = client.get(f"/items/{HIGH}")
    token = csrf(page.text)
    assert client.post(f"/items/{HIGH}/claim", data={"csrf_token": token}).status_code == 303
    store = store_of(out)
    assert client.post(f"/items/{HIGH}/approve", data={"total": "1573.55"}).status_code == 403
    assert client.post(f"/items/{HIGH}/approve", data={"csrf_token": "forged", "total": "1"}).status_code == 403
    cross_site = client.post(
        f"/items/{HIGH}/approve", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    assert cross_site.status_code == 403
    other_session = TestClient(client.app, follow_redirects=False)  # another browser on the same server
    assert other_session.post(f"/items/{HIGH}/approve", data={"csrf_token": token}).status_code == 403
    assert store.get(HIGH).state is ReviewState.IN_REVIEW
    done = client.post(f"/items/{HIGH}/approve", data={"csrf_token": token, "total": "1573.55"})
    assert done.status_code == 303 and done.headers["location"] == f"/items/{LOW}"  # on to the next item
    assert store.get(HIGH).state is ReviewState.CORRECTED


def test_approve_save_reject_flow_writes_reviews_parquet(out: Path) -> None:
    client = client_for(out)
    token = csrf(client.get(f"/items/{HIGH}").text)
    saved = client.post(f"/items/{HIGH}/save", data={"csrf_token": token, "total": "1573.55", "tax": "143.05"})
    assert saved.status_code == 303
    again = client.get(f"/items/{HIGH}")
    assert 'name="total" value="1573.55"' in again.text and "Corrections saved" in again.text
    bad = client.post(f"/items/{HIGH}/approve", data={"csrf_token": token, "invoice_date": "31st of Smarch"})
    assert bad.status_code == 400 and "is not a date" in bad.text and 'value="31st of Smarch"' in bad.text
    approved = client.post(
        f"/items/{HIGH}/approve",
        data={
            "csrf_token": token,
            "total": "1573.55",
            "line_count": "3",
            "li-0-description": "Consulting",
            "li-0-quantity": "10",
            "li-0-unit_price": "120",
            "li-0-amount": "1200.00",
            "li-1-description": "Travel (corrected)",
            "li-1-quantity": "1",
            "li-1-unit_price": "230.50",
            "li-1-amount": "230.50",
        },
    )
    assert approved.status_code == 303
    no_reason = client.post(f"/items/{LOW}/reject", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 400
    rejected = client.post(f"/items/{LOW}/reject", data={"csrf_token": token, "reason": "not an invoice"})
    assert rejected.status_code == 303
    reviews = pd.read_parquet(out / "reviews").sort_values(["document_id", "field"])
    rows = reviews[["document_id", "decision", "field", "old_value", "new_value", "reviewer", "reason"]]
    assert rows.fillna("").values.tolist() == [
        [HIGH, "corrected", "line_items[2].description", "Travel", "Travel (corrected)", "ana", ""],
        [HIGH, "corrected", "total", "1583.55", "1573.55", "ana", ""],
        [LOW, "rejected", "", "", "", "ana", "not an invoice"],
    ]


def test_two_reviewers_never_hold_the_same_item(out: Path) -> None:
    ana, ben = client_for(out), client_for(out)
    ben_token = csrf(ben.get("/").text)
    assert ben.post("/reviewer", data={"csrf_token": ben_token, "reviewer": "ben"}).status_code == 303
    ana_token = csrf(ana.get(f"/items/{HIGH}").text)
    assert ana.post(f"/items/{HIGH}/claim", data={"csrf_token": ana_token}).status_code == 303
    view = ben.get(f"/items/{HIGH}")
    assert "being reviewed by ana" in view.text and 'id="approve"' not in view.text
    refused = ben.post(f"/items/{HIGH}/approve", data={"csrf_token": ben_token})
    assert refused.status_code == 303 and refused.headers["location"] == "/"
    nxt = ben.post("/next", data={"csrf_token": ben_token})
    assert nxt.headers["location"] == f"/items/{LOW}"
    assert store_of(out).get(HIGH).claimed_by == "ana"


def test_token_is_required_when_configured(out: Path) -> None:
    client = client_for(out, token="s3cret-token")
    assert client.get("/").status_code == 401
    assert client.get("/", params={"token": "wrong"}).status_code == 401
    assert client.get(f"/items/{HIGH}/pages/1").status_code == 401
    entry = client.get("/", params={"token": "s3cret-token"})
    assert entry.status_code == 303 and entry.headers["location"] == "/"
    assert client.get("/").status_code == 200  # the cookie now carries it


def test_loopback_binding_answers_only_loopback_host_names(out: Path) -> None:
    config = ui_config("127.0.0.1", out, "ana", Settings())
    assert config.token is None and config.allowed_hosts is not None
    client = TestClient(create_app(store_of(out), config), base_url="http://127.0.0.1:8000")
    assert client.get("/").status_code == 200
    assert client.get("/", headers={"host": "rebound.example"}).status_code == 400
    exposed = ui_config("0.0.0.0", out, "ana", Settings())
    assert exposed.token is not None and len(exposed.token) >= 24
    assert ui_config("0.0.0.0", out, "ana", Settings(review_token="from-env-0123456789")).token == "from-env-0123456789"
