"""Shared fixtures. Prefect runs for real (its ephemeral local server) with a private home per session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# A fresh home per session unless one is named: a shared one would keep every past run's flow runs and
# artifacts in its Prefect database, grow without bound, and push this run's artifacts off the API's pages.
_NAMED_HOME = os.environ.get("LEDGERLENS_TEST_STATE")
_SESSION_HOME = Path(_NAMED_HOME or tempfile.mkdtemp(prefix="ledgerlens-test-state-"))
if not _NAMED_HOME:
    # Registered before Prefect is imported, so it runs after Prefect's own exit handlers stop its server.
    atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_HOME", str(_SESSION_HOME / "prefect"))

from flows.runtime import configure_prefect_environment  # noqa: E402

configure_prefect_environment()

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "real-invoices"


def page_from_lines(lines: list[tuple[float, float, str]], source: str = "ocr") -> object:
    """A page of words from (x, y, text) lines at 300 dpi on A4: 18 px per character, 14 px between words.
    OCR words get confidence 0.9, text-layer words 1.0."""
    from schemas import PageText, TextSource, Word

    kind = TextSource(source)
    confidence = 1.0 if kind is TextSource.TEXT_LAYER else 0.9
    words: list[Word] = []
    for line_no, (x, y, text) in enumerate(lines):
        cursor = float(x)
        for token in text.split():
            width = 18.0 * len(token)
            words.append(
                Word(text=token, page_no=1, x0=cursor, y0=y, x1=cursor + width, y1=y + 32,
                     confidence=confidence, line_key=(line_no, 0, 0))
            )  # fmt: skip
            cursor += width + 14
    return PageText(page_no=1, width=2480, height=3508, source=kind, words=words)


def make_invoice_pdf(path: Path, lines: list[tuple[float, float, str]], *, encrypt: str | None = None) -> Path:
    """A one-page born-digital PDF with text drawn at (x, y) points from the top-left."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1, encrypt=encrypt)
    height = A4[1]
    for x, y, text in lines:
        pdf.drawString(x, height - y, text)
    pdf.save()
    return path


SIMPLE_INVOICE = [
    (50, 60, "Acme Widgets Ltd"),
    (50, 75, "12 Market Street, Springfield"),
    (380, 60, "Invoice No:"),
    (470, 60, "INV-2024-0042"),
    (380, 75, "Date:"),
    (470, 75, "03/15/2024"),
    (380, 90, "Due Date:"),
    (470, 90, "04/14/2024"),
    (50, 130, "Bill To"),
    (50, 145, "Globex Corporation"),
    (50, 200, "Description"),
    (300, 200, "Qty"),
    (380, 200, "Unit Price"),
    (480, 200, "Amount"),
    (50, 220, "Consulting services"),
    (300, 220, "10"),
    (380, 220, "$120.00"),
    (480, 220, "$1,200.00"),
    (50, 240, "Travel expenses"),
    (300, 240, "1"),
    (380, 240, "$230.50"),
    (480, 240, "$230.50"),
    (380, 290, "Subtotal"),
    (480, 290, "$1,430.50"),
    (380, 305, "Tax (10%)"),
    (480, 305, "$143.05"),
    (380, 320, "Total Due"),
    (480, 320, "$1,573.55"),
]


@pytest.fixture
def simple_invoice_pdf(tmp_path: Path) -> Path:
    return make_invoice_pdf(tmp_path / "simple.pdf", SIMPLE_INVOICE)


def write_bad_inputs(folder: Path) -> dict[str, Path]:
    """One file per kind of bad input the issue names, each expected to end as one failed row."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "empty_pdf": folder / "empty.pdf",
        "truncated_pdf": folder / "truncated.pdf",
        "encrypted_pdf": folder / "encrypted.pdf",
        "text_as_pdf": folder / "notes.pdf",
        "empty_png": folder / "empty.png",
        "tiny_image": folder / "tiny.png",
    }
    source = make_invoice_pdf(folder / "source.pdf", SIMPLE_INVOICE)
    data = source.read_bytes()
    source.unlink()
    files["empty_pdf"].write_bytes(b"")
    files["truncated_pdf"].write_bytes(data[: len(data) // 2])
    make_invoice_pdf(files["encrypted_pdf"], SIMPLE_INVOICE, encrypt="s3cret")
    files["text_as_pdf"].write_text("Dear team, the invoice follows next week.\n")
    files["empty_png"].write_bytes(b"")
    Image.new("L", (60, 40), color=255).save(files["tiny_image"])
    return files


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    return write_bad_inputs(tmp_path / "bad")


@pytest.fixture(scope="session")
def sample_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated batch (all document kinds) shared by the end-to-end tests."""
    from devtools.samples import generate_samples

    folder = tmp_path_factory.mktemp("samples")
    generate_samples(folder, count=12, seed=11)
    return folder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_HOME / "scratch", ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One real PostgreSQL server per session (tests/pg_support.py); skips when the binaries are missing."""
    from tests.pg_support import PostgresUnavailable, running_postgres

    try:
        server = running_postgres()
        url = server.__enter__()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def review_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The review database location, once per store: an SQLite file, and a fresh database on the session's
    PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "review.sqlite")
    from tests.pg_support import create_database

    return create_database(request.getfixturevalue("postgres_server"))


def routed_from_lines(lines: list[tuple[float, float, str]], source: str = "ocr") -> object:
    """Extract, validate and route a page of (x, y, text) lines at threshold 0: only blocking issues and the
    corroboration veto can keep the record out."""
    from typing import cast

    from pipeline.extract.rules import extract_invoice
    from pipeline.route import route_record
    from pipeline.validate import validate_invoice
    from schemas import ExtractionRecord, PageText, RecordStatus

    result = extract_invoice([cast(PageText, page_from_lines(lines, source))])
    record = ExtractionRecord(
        document_id="doc",
        source="doc.pdf",
        status=RecordStatus.NEEDS_REVIEW,
        invoice=result.invoice,
        fields=result.fields,
        issues=[*result.issues, *validate_invoice(result.invoice)],
        extractor=result.extractor,
        text_source=result.text_source,
    )
    return route_record(record, accept_threshold=0.0)
