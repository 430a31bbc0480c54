"""Reviewer identities in the web UI, on both stores: accounts (a token printed once, only its hash stored,
revocable), sessions that survive a server restart, leases and decisions owned by the signed-in account,
a trusted proxy header only from the proxy's address, and the labelled single-user mode on loopback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from flows.cli import main
from flows.review_app import ReviewUIConfig, create_app
from pipeline.review import SqlReviewStore, open_review_store
from pipeline.review.accounts import token_hash
from pipeline.sinks import ParquetSink
from schemas import ReviewState
from tests.review_fixtures import doc_id, review_record

FIRST, SECOND = doc_id(0xF1), doc_id(0xF2)


@pytest.fixture
def queue(tmp_path: Path, review_db: str) -> tuple[Path, SqlReviewStore]:
    out = tmp_path / "out"
    records = [review_record(FIRST, total="900.00"), review_record(SECOND, total="100.00")]
    ParquetSink(out).write(records)
    store = open_review_store(review_db)
    store.enqueue(records)
    return out, store


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def add_user(capsys: pytest.CaptureFixture[str], store: SqlReviewStore, name: str) -> str:
    assert main(["review", "users", "add", name, "--review-db", store.location]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def sign_in(out: Path, store: SqlReviewStore, token: str) -> TestClient:
    client = TestClient(create_app(store, ReviewUIConfig(out_dir=out, reviewer="nobody")), follow_redirects=False)
    assert client.get("/").headers["location"] == "/login"
    assert client.post("/login", data={"token": token}).status_code == 303
    return client


def test_accounts_store_only_a_hash_and_sign_in_with_the_printed_token(
    queue: tuple[Path, SqlReviewStore], capsys: pytest.CaptureFixture[str]
) -> None:
    out, store = queue
    token = add_user(capsys, store, "ann")
    assert len(token) >= 40
    with store.database.transaction() as connection:
        stored = connection.execute(text("SELECT name, token_hash FROM review_users")).all()
    assert [tuple(row) for row in stored] == [("ann", token_hash(token))]  # the token itself is nowhere
    assert main(["review", "users", "add", "ann", "--review-db", store.location]) == 4  # one token per account
    client = TestClient(create_app(store, ReviewUIConfig(out_dir=out, reviewer="x")), follow_redirects=False)
    assert client.post("/login", data={"token": token + "x"}).status_code == 401
    assert client.get(f"/items/{FIRST}").status_code == 401
    ann = sign_in(out, store, token)
    page = ann.get("/")
    assert page.status_code == 200 and 'id="identity">ann<' in page.text and "single-user" not in page.text


def test_leases_and_decisions_belong_to_the_account_not_to_a_typed_name(
    queue: tuple[Path, SqlReviewStore], capsys: pytest.CaptureFixture[str]
) -> None:
    out, store = queue
    ann = sign_in(out, store, add_user(capsys, store, "ann"))
    ben = sign_in(out, store, add_user(capsys, store, "ben"))
    ann_csrf, ben_csrf = csrf(ann.get("/").text), csrf(ben.get("/").text)
    assert ben.post("/reviewer", data={"csrf_token": ben_csrf, "reviewer": "ann"}).status_code == 403
    assert ann.post("/next", data={"csrf_token": ann_csrf}).headers["location"] == f"/items/{FIRST}"
    assert store.get(FIRST).claimed_by == "ann"
    # ben cannot approve ann's item, even sending her name in the form
    refused = ben.post(f"/items/{FIRST}/approve", data={"csrf_token": ben_csrf, "reviewer": "ann"})
    assert refused.status_code == 303 and store.get(FIRST).state is ReviewState.IN_REVIEW
    assert ann.post(f"/items/{FIRST}/approve", data={"csrf_token": ann_csrf}).status_code == 303
    assert store.get(FIRST).reviewer == "ann"


def test_sessions_survive_a_restart_and_revoking_ends_them(
    queue: tuple[Path, SqlReviewStore], capsys: pytest.CaptureFixture[str]
) -> None:
    out, store = queue
    ann = sign_in(out, store, token := add_user(capsys, store, "ann"))
    cookies = dict(ann.cookies)
    restarted_store = open_review_store(store.location)  # a new process would open the database afresh
    restarted = TestClient(create_app(restarted_store, ReviewUIConfig(out_dir=out, reviewer="x")), cookies=cookies)
    assert 'id="identity">ann<' in restarted.get("/").text
    assert main(["review", "users", "revoke", "ann", "--review-db", store.location]) == 0
    assert restarted.get("/", follow_redirects=False).headers["location"] == "/login"
    assert restarted.post("/login", data={"token": token}).status_code == 401
    assert main(["review", "users", "list", "--review-db", store.location]) == 0
    assert "ann\trevoked" in capsys.readouterr().out


def test_proxy_header_is_trusted_only_from_the_proxy_address(queue: tuple[Path, SqlReviewStore]) -> None:
    out, store = queue
    config = ReviewUIConfig(out_dir=out, reviewer="x", proxy_header="X-Forwarded-User", proxy_addresses=("10.0.0.2",))
    app = create_app(store, config)
    proxy = TestClient(app, client=("10.0.0.2", 40000), follow_redirects=False)
    direct = TestClient(app, client=("10.0.0.9", 40000), follow_redirects=False)
    assert direct.get("/", headers={"X-Forwarded-User": "ann"}).status_code == 403
    assert proxy.get("/").status_code == 403  # no user named
    page = proxy.get("/", headers={"X-Forwarded-User": "ann"})
    assert page.status_code == 200 and 'id="identity">ann<' in page.text
    token = csrf(page.text)
    taken = proxy.post("/next", data={"csrf_token": token}, headers={"X-Forwarded-User": "ann"})
    assert taken.status_code == 303 and store.get(FIRST).claimed_by == "ann"
    # the same browser session with another user in the header is another identity (and another session)
    other = proxy.post("/next", data={"csrf_token": token}, headers={"X-Forwarded-User": "ben"})
    assert other.status_code == 403 and store.get(SECOND).state is ReviewState.PENDING


def test_single_user_mode_on_loopback_is_labelled(queue: tuple[Path, SqlReviewStore]) -> None:
    out, store = queue
    client = TestClient(create_app(store, ReviewUIConfig(out_dir=out, reviewer="ana")))
    page = client.get("/")
    assert page.status_code == 200 and 'id="identity-mode"' in page.text and "single-user mode" in page.text
