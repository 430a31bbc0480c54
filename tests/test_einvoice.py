"""E-invoices: CII / UBL read into our schema, checked against the printed page, hostile XML refused."""

from __future__ import annotations

import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from devtools.einvoice_samples import (
    CONTRADICTIONS,
    HOSTILE_XML,
    Spec,
    cii_xml,
    contradicted,
    facturx_pdf,
    huge_xml,
    page_pdf,
    pdf_with_attachment,
    scanned,
    ubl_xml,
)
from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.einvoice.read import read_einvoice_xml
from pipeline.einvoice.xml import EInvoiceError, HostileXmlError
from pipeline.process import process_document
from pipeline.sinks import ParquetSink
from pipeline.validate import validate_invoice
from schemas import DocumentType, ExtractionRecord, RecordStatus, TextSource
from schemas.codes import IssueCode

MAX = 10 * 1024 * 1024
SPEC = Spec()


def _process(path: Path, settings: Settings | None = None) -> ExtractionRecord:
    documents, _ = discover_documents([str(path)])
    return process_document(documents[0], settings or Settings())


def _header(spec: Spec, sign: int = 1) -> dict[str, object]:
    return {
        "vendor_name": spec.seller,
        "customer_name": spec.buyer,
        "invoice_number": spec.number,
        "invoice_date": spec.issued,
        "currency": spec.currency,
        "subtotal": sign * spec.net,
        "tax": sign * spec.tax,
        "total": sign * spec.total,
    }


@pytest.mark.parametrize("profile", ["en16931", "basicwl", "minimum", "xrechnung"])
def test_cii_profiles_map_to_our_fields(profile: str) -> None:
    spec = Spec(profile=profile)
    reading = read_einvoice_xml(cii_xml(spec), max_bytes=MAX, origin="XML file", source="standalone")
    invoice, data = reading.invoice, reading.data
    assert invoice.model_dump(include=set(_header(spec))) == _header(spec)
    assert data.profile == profile
    assert data.seller_vat_id == spec.seller_vat and data.buyer_vat_id == spec.buyer_vat
    with_lines = profile not in ("minimum", "basicwl")
    assert data.profile_has_line_items is with_lines
    if with_lines:
        assert [(i.description, i.quantity, i.unit_price, i.amount) for i in invoice.line_items] == [
            (name, qty, price, qty * price) for name, qty, price in spec.lines
        ]
    else:
        assert invoice.line_items == []  # the profile carries none: none invented
    if profile == "minimum":
        assert (data.iban, data.order_reference, invoice.due_date, data.tax_breakdown) == (None, None, None, [])
    else:
        assert (data.iban, data.order_reference, invoice.due_date) == (spec.iban, spec.order, spec.due)
        [breakdown] = data.tax_breakdown
        assert (breakdown.rate, breakdown.taxable_amount, breakdown.tax_amount) == (spec.rate, spec.net, spec.tax)


@pytest.mark.parametrize("syntax", ["cii", "ubl"])
def test_credit_notes_are_negative(syntax: str) -> None:
    spec = Spec(type_code="381")
    xml = cii_xml(spec) if syntax == "cii" else ubl_xml(spec)
    reading = read_einvoice_xml(xml, max_bytes=MAX, origin="XML file", source="standalone")
    assert reading.data.document_type is DocumentType.CREDIT_NOTE
    # The declaration reaches our invoice, so its negative total is expected rather than doubted.
    assert reading.invoice.document_type is DocumentType.CREDIT_NOTE
    assert IssueCode.NON_POSITIVE_TOTAL not in {issue.code for issue in validate_invoice(reading.invoice)}
    expected = _header(spec, sign=-1)
    if syntax == "ubl":
        expected.pop("subtotal")  # UBL names the same net total; checked below
    assert reading.invoice.model_dump(include=set(expected)) == expected
    assert reading.invoice.subtotal == -spec.net
    assert all(item.amount is not None and item.amount < 0 for item in reading.invoice.line_items)


def test_ubl_invoice_maps_to_our_fields() -> None:
    reading = read_einvoice_xml(ubl_xml(SPEC), max_bytes=MAX, origin="XML file", source="standalone")
    assert reading.invoice.model_dump(include=set(_header(SPEC))) == _header(SPEC)
    assert reading.invoice.due_date == SPEC.due
    assert (reading.data.profile, reading.data.iban, reading.data.order_reference) == ("peppol", SPEC.iban, SPEC.order)
    assert len(reading.invoice.line_items) == len(SPEC.lines)


def test_agreeing_facturx_pdf_is_accepted_without_ocr(tmp_path: Path) -> None:
    path = tmp_path / "fx.pdf"
    path.write_bytes(facturx_pdf(page_pdf(SPEC), cii_xml(SPEC)))
    # A language Tesseract does not have: any OCR would fail the record, so acceptance proves none ran.
    record = _process(path, Settings(tesseract_lang="no-such-language"))
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons
    assert (record.extractor, record.text_source) == ("einvoice", TextSource.TEXT_LAYER)
    assert record.invoice.model_dump(include=set(_header(SPEC))) == _header(SPEC)
    assert len(record.invoice.line_items) == len(SPEC.lines)
    assert record.einvoice is not None and "agrees: invoice_number, invoice_date" in record.einvoice.check
    assert record.confidence >= 0.99


@pytest.mark.parametrize("kind", CONTRADICTIONS)
def test_a_page_that_contradicts_its_xml_goes_to_review_with_both_values(kind: str, tmp_path: Path) -> None:
    page = contradicted(SPEC, kind)
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(facturx_pdf(page_pdf(page), cii_xml(SPEC)))
    record = _process(path)
    assert record.status is RecordStatus.NEEDS_REVIEW
    reasons = " | ".join(record.review_reasons)
    expected_pairs = {
        "total_cent": ("1,702.30", "1,702.31"),
        "other_invoice": (SPEC.number, page.printed.get("number", "")),
        "currency": ("EUR", "USD"),
        "tax_rate": ("19%", "16%"),
    }[kind]
    assert all(value in reasons for value in expected_pairs), reasons
    assert record.extractor == "einvoice"
    if kind == "total_cent":  # the field keeps the XML's value and shows the reviewer where the page differs
        total = record.fields["total"]
        assert (total.value, total.page) == ("1702.30", 1) and "1,702.31" in (total.raw_text or "")


def test_a_scanned_hybrid_page_is_ocrd_to_compare(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(facturx_pdf(scanned(page_pdf(SPEC), tmp_path / "work"), cii_xml(SPEC)))
    record = _process(path)
    assert record.text_source is TextSource.OCR
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons
    assert record.invoice.total == SPEC.total


@pytest.mark.parametrize("name", [*HOSTILE_XML, "huge"])
def test_hostile_standalone_xml_is_a_failed_row(name: str, tmp_path: Path) -> None:
    data = huge_xml(MAX) if name == "huge" else HOSTILE_XML[name]
    path = tmp_path / f"{name}.xml"
    path.write_bytes(data)
    record = _process(path)
    assert record.status is RecordStatus.FAILED
    assert record.error and "root:" not in record.error  # /etc/passwd was never read
    expected = {"huge": "limit", "malformed": "not well-formed", "not_an_invoice": "not an e-invoice"}
    assert expected.get(name, "DTD or entities") in record.error
    codes = {"huge": "too_large", "malformed": "unreadable", "not_an_invoice": "not_an_invoice"}
    assert record.error_code == "einvoice_" + codes.get(name, "hostile_xml")


@pytest.mark.parametrize("name", ["malformed", "xxe", "billion_laughs", "not_an_invoice"])
def test_hostile_embedded_xml_falls_back_to_the_page_with_a_reason(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf_with_attachment(page_pdf(SPEC), "factur-x.xml", HOSTILE_XML[name]))
    record = _process(path)
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert record.extractor == "rules" and record.einvoice is None
    assert any("factur-x.xml" in r and "The page was read instead" in r for r in record.review_reasons)
    assert record.invoice.total == SPEC.total  # the visual path still read the page


def test_parsing_never_reaches_the_network() -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "pwned">')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/evil.dtd"
    try:
        for xml in (
            f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{url}"><r>&x;</r>',
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{url}">]><r>&x;</r>',
            f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}"/></r>',
        ):
            with pytest.raises(EInvoiceError):
                read_einvoice_xml(xml.encode(), max_bytes=MAX, origin="XML file", source="standalone")
    finally:
        server.shutdown()
    assert hits == []


def test_utf16_dtd_is_refused_after_parsing() -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16")
    with pytest.raises(HostileXmlError):
        read_einvoice_xml(xml, max_bytes=MAX, origin="XML file", source="standalone")


def test_discovery_picks_up_xml_and_the_row_carries_the_new_columns(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "peppol.xml").write_bytes(ubl_xml(SPEC))
    documents, _ = discover_documents([str(inbox)])
    assert [d.media_type for d in documents] == ["application/xml"]
    record = process_document(documents[0], Settings())
    assert record.status is RecordStatus.ACCEPTED and record.page_count == 0
    ParquetSink(tmp_path / "out").write([record])
    row = pd.read_parquet(tmp_path / "out" / "invoices").iloc[0]
    assert (row["einvoice_profile"], row["document_type"], row["iban"]) == ("ubl:peppol", "invoice", SPEC.iban)
    assert (row["seller_vat_id"], row["buyer_vat_id"], row["order_reference"]) == (
        SPEC.seller_vat, SPEC.buyer_vat, SPEC.order)  # fmt: skip
    [breakdown] = row["tax_breakdown"]
    assert (Decimal(breakdown["rate"]), breakdown["tax_amount"]) == (SPEC.rate, SPEC.tax)
    assert bool(row["profile_has_line_items"]) and "standalone" in row["einvoice_check"]


def test_batch_planning_does_not_read_an_einvoice_for_the_model(tmp_path: Path) -> None:
    from pipeline.process import first_reading

    path = tmp_path / "fx.pdf"
    path.write_bytes(facturx_pdf(page_pdf(SPEC), cii_xml(SPEC)))
    documents, _ = discover_documents([str(path)])
    assert first_reading(documents[0], tmp_path / "scratch", Settings()) == ([], {}, None)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(pdf_with_attachment(page_pdf(SPEC), "factur-x.xml", HOSTILE_XML["xxe"]))
    documents, _ = discover_documents([str(broken)])
    pages, _images, routed = first_reading(documents[0], tmp_path / "scratch2", Settings())
    assert pages and routed is not None  # an unusable e-invoice is read from its page, model included


def test_minimum_profile_rate_is_implied_by_its_amounts(tmp_path: Path) -> None:
    spec = Spec(profile="minimum")
    path = tmp_path / "min.pdf"
    path.write_bytes(facturx_pdf(page_pdf(contradicted(spec, "tax_rate")), cii_xml(spec)))
    record = _process(path)
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("imply a 19% tax rate" in r and "16%" in r for r in record.review_reasons), record.review_reasons


def test_one_misread_amount_on_a_scan_is_settled_by_the_pages_other_amounts() -> None:
    from pipeline.einvoice.compare import FieldCheck, Outcome, settle_by_arithmetic

    reading = read_einvoice_xml(cii_xml(SPEC), max_bytes=MAX, origin="XML file", source="standalone")
    misread = SPEC.tax + 200  # a 3 read as a 5
    checks = [
        FieldCheck("subtotal", SPEC.net, Outcome.AGREES, SPEC.net),
        FieldCheck("tax", SPEC.tax, Outcome.DIFFERS, misread),
        FieldCheck("total", SPEC.total, Outcome.AGREES, SPEC.total),
    ]
    assert [c.outcome for c in settle_by_arithmetic(checks, reading)] == [
        Outcome.AGREES, Outcome.IMPLIED, Outcome.AGREES]  # fmt: skip
    two_differ = [checks[0], checks[1], FieldCheck("total", SPEC.total, Outcome.DIFFERS, SPEC.total + 1)]
    assert settle_by_arithmetic(two_differ, reading) == two_differ


def test_cii_against_its_xsd() -> None:
    valid = read_einvoice_xml(cii_xml(SPEC), max_bytes=MAX, origin="XML file", source="standalone")
    assert (valid.schema_note, valid.issues) == ("XSD-valid", ())
    # ID and TypeCode swapped: the values are plain, the order breaks the Factur-X schema.
    broken = cii_xml(SPEC).replace(
        f"<ram:ID>{SPEC.number}</ram:ID><ram:TypeCode>380</ram:TypeCode>".encode(),
        f"<ram:TypeCode>380</ram:TypeCode><ram:ID>{SPEC.number}</ram:ID>".encode(),
    )
    reading = read_einvoice_xml(broken, max_bytes=MAX, origin="XML file", source="standalone")
    assert reading.invoice.invoice_number == SPEC.number
    [issue] = reading.issues
    assert issue.code == "einvoice_schema_invalid" and "en16931" in issue.message and issue.severity == "warning"
