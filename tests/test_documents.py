"""Discovery, rendering and the bad-input guards, on real files with real poppler and Tesseract."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import Settings
from pipeline.discover import discover_documents, sniff_media_type
from pipeline.errors import DocumentTooLargeError
from pipeline.process import process_document
from pipeline.reading import pdf_pages_and_text
from pipeline.sinks import ParquetSink
from schemas import FailureCode, RecordStatus


def test_document_id_is_sha256_of_bytes(simple_invoice_pdf: Path) -> None:
    documents, unmatched = discover_documents([str(simple_invoice_pdf)])
    assert unmatched == []
    assert documents[0].document_id == hashlib.sha256(simple_invoice_pdf.read_bytes()).hexdigest()
    assert documents[0].media_type == "application/pdf"


def test_discover_folder_glob_and_duplicates(tmp_path: Path, simple_invoice_pdf: Path) -> None:
    folder = tmp_path / "inbox"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.pdf").write_bytes(simple_invoice_pdf.read_bytes())
    (folder / "nested" / "copy.pdf").write_bytes(simple_invoice_pdf.read_bytes())
    (folder / "notes.txt").write_text("not an invoice")
    documents, unmatched = discover_documents([str(folder), str(tmp_path / "*.nothing")])
    assert len(documents) == 1  # identical bytes are one document, which names the other path
    assert documents[0].source == str(folder / "a.pdf")
    assert documents[0].duplicate_sources == [str(folder / "nested" / "copy.pdf")]
    assert unmatched == [str(tmp_path / "*.nothing")]
    globbed, _ = discover_documents([str(folder / "**" / "*.pdf")])
    assert len(globbed) == 1


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"II*\x00", "image/tiff"),
        (b"hello world", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniff_media_type(head: bytes, expected: str) -> None:
    assert sniff_media_type(head) == expected


EXPECTED_ERRORS = {
    "empty_pdf": "empty",
    "truncated_pdf": "truncated",
    "encrypted_pdf": "password",
    "text_as_pdf": "not a PDF",
    "empty_png": "empty",
    "tiny_image": "too small",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_ERRORS))
def test_bad_input_becomes_failed_record_with_readable_error(bad_inputs: dict[str, Path], kind: str) -> None:
    documents, _ = discover_documents([str(bad_inputs[kind])])
    record = process_document(documents[0], Settings())
    assert record.status is RecordStatus.FAILED
    assert record.error is not None
    assert EXPECTED_ERRORS[kind] in record.error
    assert record.review_reasons == []


def test_text_layer_pdf_is_read_without_ocr(simple_invoice_pdf: Path) -> None:
    documents, _ = discover_documents([str(simple_invoice_pdf)])
    record = process_document(documents[0], Settings())
    assert record.text_source == "text_layer"
    assert record.invoice.invoice_number == "INV-2024-0042"
    assert str(record.invoice.total) == "1573.55"
    assert record.page_count == 1


def test_oversized_file_is_refused_with_the_limit_named(simple_invoice_pdf: Path) -> None:
    documents, _ = discover_documents([str(simple_invoice_pdf)])
    record = process_document(documents[0], Settings(max_file_bytes=1000))
    assert record.status is RecordStatus.FAILED
    assert "above the" in (record.error or "") and "LEDGERLENS_MAX_FILE_BYTES" in (record.error or "")


def test_scanned_png_and_multipage_tiff_are_read_by_ocr(simple_invoice_pdf: Path, tmp_path: Path) -> None:
    from pdf2image import convert_from_path

    page = convert_from_path(str(simple_invoice_pdf), dpi=200, grayscale=True)[0]
    png = tmp_path / "scan.png"
    page.save(png, dpi=(200, 200))
    tiff = tmp_path / "scan.tiff"
    page.save(tiff, save_all=True, append_images=[page], dpi=(200, 200))
    documents, _ = discover_documents([str(png), str(tiff)])
    by_name = {Path(d.source).name: process_document(d, Settings()) for d in documents}
    assert by_name["scan.png"].text_source == "ocr"
    assert by_name["scan.png"].invoice.invoice_number == "INV-2024-0042"
    assert str(by_name["scan.png"].invoice.total) == "1573.55"
    assert by_name["scan.tiff"].page_count == 2


def test_invoice_without_readable_items_is_not_auto_accepted(tmp_path: Path) -> None:
    from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf

    header_and_totals = [line for line in SIMPLE_INVOICE if line[1] < 200 or line[1] >= 290]
    pdf = make_invoice_pdf(tmp_path / "no-items.pdf", header_and_totals)
    documents, _ = discover_documents([str(pdf)])
    record = process_document(documents[0], Settings())
    assert str(record.invoice.total) == "1573.55"
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("No line items could be read" in reason for reason in record.review_reasons)


EXPECTED_CODES = {
    "empty_pdf": FailureCode.EMPTY_FILE,
    "truncated_pdf": FailureCode.CORRUPT,
    "encrypted_pdf": FailureCode.ENCRYPTED,
    "text_as_pdf": FailureCode.UNSUPPORTED_FORMAT,
    "empty_png": FailureCode.EMPTY_FILE,
    "tiny_image": FailureCode.IMAGE_TOO_SMALL,
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_CODES))
def test_failed_record_keeps_the_error_code(bad_inputs: dict[str, Path], kind: str, tmp_path: Path) -> None:
    documents, _ = discover_documents([str(bad_inputs[kind])])
    record = process_document(documents[0], Settings())
    assert record.error_code is EXPECTED_CODES[kind]
    ParquetSink(tmp_path).write([record])
    written = pd.read_parquet(tmp_path / "invoices")
    assert written["error_code"].tolist() == [EXPECTED_CODES[kind].value]


def _pages_pdf(path: Path, count: int) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for number in range(1, count + 1):
        pdf.drawString(72, 760, f"Invoice INV-{number:04d} page {number} of {count}, total due 12.00 EUR")
        pdf.showPage()
    pdf.save()
    return path


def test_page_count_comes_with_the_text_layer(tmp_path: Path) -> None:
    pdf = _pages_pdf(tmp_path / "three.pdf", 3)
    count, layer = pdf_pages_and_text(pdf, Settings(max_pages=3))
    assert count == 3
    assert [page.page_no for page in layer] == [1, 2, 3]
    assert all("INV-" in " ".join(word.text for word in page.words) for page in layer)
    assert pdf_pages_and_text(pdf, Settings(use_text_layer=False)) == (3, [])


def test_pdf_over_the_page_limit_is_refused_with_its_real_page_count(tmp_path: Path) -> None:
    pdf = _pages_pdf(tmp_path / "five.pdf", 5)
    with pytest.raises(DocumentTooLargeError, match="has 5 pages, above the limit of 2"):
        pdf_pages_and_text(pdf, Settings(max_pages=2))
    documents, _ = discover_documents([str(pdf)])
    record = process_document(documents[0], Settings(max_pages=2))
    assert record.status is RecordStatus.FAILED
    assert "has 5 pages, above the limit of 2" in (record.error or "")
