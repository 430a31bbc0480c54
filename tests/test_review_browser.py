"""A real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) reviews one invoice:
ingest a PDF whose printed total is wrong, serve the review UI with the real CLI on a free loopback port,
open the queue, open the item, correct the total (the live arithmetic check turns green), approve with the
keyboard shortcut, then read the decision back from OUT/reviews/ and from `ledgerlens export`.

The second test is the team setup: ingest into moto's S3 with the queue on a real PostgreSQL server, add a
reviewer account, sign in with its token in Chromium, review (the page image comes from S3 through the app),
approve, and export to S3.

Leaves screenshots of the review pages at test-artifacts/review-page.png and review-page-s3.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.config import Settings
from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf
from tests.s3_support import bucket, moto_s3, read_s3_dataset  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "test-artifacts" / "review-page.png"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--window-size=1500,1000",
)
INJECTED = "Consulting <script>window.pwned=1</script>"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("Debian's chromium and chromium-driver are missing; `scripts/setup.sh --browser` installs them")
    return chromium, driver


@pytest.fixture(scope="module")
def needs_review_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT after a real ingest of one invoice whose total is printed 10.00 too high."""
    from flows.ingest import run_ingest

    folder = tmp_path_factory.mktemp("review-browser")
    lines = [
        (x, y, {"$1,573.55": "$1,583.55", "Consulting services": INJECTED}.get(text, text))
        for x, y, text in SIMPLE_INVOICE
    ]
    pdf = make_invoice_pdf(folder / "wrong-total.pdf", lines)
    out = folder / "out"
    summary = run_ingest([str(pdf)], str(out), Settings(workers=1))
    assert summary.counts == {"needs_review": 1} and summary.queued_for_review == 1
    return out


@contextmanager
def serving(out: str, **environ: str) -> Iterator[str]:
    """`ledgerlens review serve --port 0` as a real process; yields the URL it prints."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LEDGERLENS_REVIEWER": "browser-test", **environ}
    env.pop("LEDGERLENS_REVIEW_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "review", "serve", "--out", out, "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"serve printed no URL: {line!r}"
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def server_url(needs_review_out: Path) -> Iterator[str]:
    with serving(str(needs_review_out)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium, driver_path = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_reviewer_corrects_and_approves_in_a_real_browser(
    needs_review_out: Path, server_url: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, 20)
    driver.get(server_url)
    rows = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "#queue tr[data-document-id]")))
    assert len(rows) == 1 and "Acme Widgets Ltd" in rows[0].text and "total_mismatch" in rows[0].text
    document_id = rows[0].get_attribute("data-document-id")
    rows[0].find_element(By.CSS_SELECTOR, ".open").click()  # a POST that claims the item, then its page

    total = wait.until(ec.presence_of_element_located((By.ID, "f-total")))
    image_loaded = "const i = document.querySelector('.page img'); return i.complete && i.naturalWidth > 0"
    wait.until(lambda d: d.execute_script(image_loaded))
    assert driver.find_element(By.CSS_SELECTOR, '.box[data-field="total"]').is_displayed()
    # OCR text with markup shows as text and never runs
    assert driver.execute_script("return window.pwned === undefined")
    assert driver.find_element(By.NAME, "li-0-description").get_attribute("value") == INJECTED
    check = driver.find_element(By.ID, "check-total")
    assert check.get_attribute("data-ok") == "false" and "≠ total 1583.55" in check.text

    total.send_keys(Keys.CONTROL, "a")
    total.send_keys("1573.55")
    wait.until(lambda d: d.find_element(By.ID, "check-total").get_attribute("data-ok") == "true")
    assert driver.find_element(By.ID, "check-subtotal").get_attribute("data-ok") == "true"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT))

    total.send_keys(Keys.CONTROL, Keys.ENTER)  # the approve shortcut
    wait.until(lambda d: "No more items to review." in d.find_element(By.TAG_NAME, "body").text)
    assert "corrected" in driver.find_element(By.TAG_NAME, "main").text

    reviews = pd.read_parquet(needs_review_out / "reviews")
    assert reviews[["document_id", "decision", "field", "old_value", "new_value", "reviewer"]].values.tolist() == [
        [document_id, "corrected", "total", "1583.55", "1573.55", "browser-test"]
    ]
    exported = subprocess.run(
        [sys.executable, "-m", "flows.cli", "export", "--out", str(needs_review_out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    table = pd.read_parquet(needs_review_out / "export" / "invoices.parquet")
    row = table[table.document_id == document_id].iloc[0]
    assert row.status == "reviewed" and row.total == Decimal("1573.55") and row.review_decision == "corrected"
    assert list(row.corrected_fields) == ["total"] and row.reviewed_by == "browser-test"
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.fixture
def s3_team_out(bucket: str, postgres_server: str, tmp_path: Path) -> tuple[str, str]:  # noqa: F811
    """An ingest into moto's S3 with the review queue on PostgreSQL; yields (OUT, queue URL)."""
    from flows.ingest import run_ingest
    from tests.pg_support import create_database

    lines = [(x, y, "$1,583.55" if text == "$1,573.55" else text) for x, y, text in SIMPLE_INVOICE]
    pdf = make_invoice_pdf(tmp_path / "wrong-total.pdf", lines)
    out, queue = f"s3://{bucket}/lake/ledgerlens", create_database(postgres_server)
    summary = run_ingest([str(pdf)], out, Settings(workers=1, review_db=queue))
    assert summary.counts == {"needs_review": 1} and summary.queued_for_review == 1
    return out, queue


def _cli(*argv: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environ}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_team_reviews_an_s3_output_with_a_postgres_queue_in_a_real_browser(
    s3_team_out: tuple[str, str], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    out, queue = s3_team_out
    added = _cli("review", "users", "add", "ann", "--review-db", queue)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    driver, wait = browser, WebDriverWait(browser, 20)
    with serving(out, LEDGERLENS_REVIEW_DB=queue) as url:
        driver.get(url)
        wait.until(ec.presence_of_element_located((By.ID, "token"))).send_keys(token, Keys.ENTER)
        rows = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "#queue tr[data-document-id]")))
        assert driver.find_element(By.ID, "identity").text == "ann"
        document_id = rows[0].get_attribute("data-document-id")
        rows[0].find_element(By.CSS_SELECTOR, ".open").click()
        total = wait.until(ec.presence_of_element_located((By.ID, "f-total")))
        image_loaded = "const i = document.querySelector('.page img'); return i.complete && i.naturalWidth > 0"
        wait.until(lambda d: d.execute_script(image_loaded))  # read from S3 by the server
        total.send_keys(Keys.CONTROL, "a")
        total.send_keys("1573.55")
        wait.until(lambda d: d.find_element(By.ID, "check-total").get_attribute("data-ok") == "true")
        assert driver.save_screenshot(str(SCREENSHOT.with_name("review-page-s3.png")))
        total.send_keys(Keys.CONTROL, Keys.ENTER)
        wait.until(lambda d: "No more items to review." in d.find_element(By.TAG_NAME, "body").text)

    result = _cli("export", "--out", out, "--review-db", queue)
    assert result.returncode == 0, result.stderr
    reviews = read_s3_dataset(f"{out}/reviews")
    assert [(r["document_id"], r["decision"], r["field"], r["reviewer"]) for r in reviews] == [
        (document_id, "corrected", "total", "ann")
    ]
    row = next(r for r in read_s3_dataset(f"{out}/export/invoices.parquet") if r["document_id"] == document_id)
    assert row["status"] == "reviewed" and row["total"] == Decimal("1573.55") and row["reviewed_by"] == "ann"
