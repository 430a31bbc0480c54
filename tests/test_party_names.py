"""Party names OCR or layout cut short (issue 11): a word Tesseract dropped beside a name (the ink is there,
no word covers it), and a company name that opens with an amount's label word ("Shipping S.p.A.").
Real rendered pages, real Tesseract."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from devtools.samples import render_born_digital, render_scan, sample_spec
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.engines.ocr import OcrOptions, TesseractEngine
from pipeline.extract import extract_invoice
from pipeline.extract.evidence import party_doubts
from pipeline.extract.fields import names_a_company, names_a_country
from pipeline.extract.labels import match_label
from pipeline.party_ink import INK_SETTLED, settle_party_ink, unread_ink_beside
from pipeline.process import process_document
from pipeline.reading import read_pages, second_look_options
from pipeline.second_look import PASSED, Look
from schemas import ExtractionRecord, PageText, RecordStatus, Word
from tests.conftest import routed_from_lines
from tests.test_corroboration import CLEAN, _replace


def _line_page(tmp_path: Path, text: str, extra: tuple[str, int] | None = None) -> tuple[Path, PageText]:
    image = np.full((400, 2000), 255, dtype=np.uint8)
    cv2.putText(image, text, (60, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    if extra is not None:
        cv2.putText(image, extra[0], (extra[1], 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    path = tmp_path / "line.pgm"
    cv2.imwrite(str(path), image)
    page = TesseractEngine(OcrOptions()).read(path, 1)
    cv2.circle(image, (int(page.words[3].x1) + 20, 190), 3, 0, -1)  # a speck a space along the line: no letter
    cv2.imwrite(str(path), image)
    return path, page


def _words(page: PageText, *texts: str) -> list[Word]:
    return [w for w in page.words if w.text in texts]


def test_unread_ink_a_space_beyond_a_name_is_found_and_a_speck_or_a_far_title_is_not(tmp_path: Path) -> None:
    path, page = _line_page(tmp_path, "Blue Harbor Foods SA", extra=("INVOICE", 1500))
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert [w.text for w in page.words] == ["Blue", "Harbor", "Foods", "SA", "INVOICE"]
    name = _words(page, "Blue", "Harbor", "Foods")
    dropped = page.model_copy(update={"words": [w for w in page.words if w.text != "SA"]})
    ink = unread_ink_beside(image, dropped, name)
    sa = _words(page, "SA")[0]
    # The name's line grown by the dropped word, not by the speck after it nor the title further on.
    assert ink is not None and abs(ink[0] - name[0].x0) < 10 and abs(ink[2] - sa.x1) < 10
    assert unread_ink_beside(image, page, _words(page, "Blue", "Harbor", "Foods", "SA")) is None
    # A word left of the name, read by nobody, is found too; the title far along the line never is.
    no_blue = page.model_copy(update={"words": [w for w in page.words if w.text != "Blue"]})
    left = unread_ink_beside(image, no_blue, _words(page, "Harbor", "Foods", "SA"))
    assert left is not None and abs(left[0] - _words(page, "Blue")[0].x0) < 10 and abs(left[2] - sa.x1) < 10


def _scanned(tmp_path: Path, vendor: str) -> Path:
    spec = dataclasses.replace(sample_spec(0, seed=3, families="classic"), vendor_name=vendor)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(render_scan(render_born_digital(spec), "clean_scan", random.Random(3), title="scan"))
    return pdf


def _without_last_vendor_word(tmp_path: Path, vendor: str) -> tuple[Look, Look, dict[int, Path]]:
    """The page as read (the whole vendor name), and as read with the name's last word dropped."""
    pages, cleaned = read_pages(describe_file(_scanned(tmp_path, vendor)), tmp_path / "s", Settings(second_look=False))
    first = extract_invoice(pages)
    assert first.invoice.vendor_name == vendor
    last = vendor.split()[-1]
    found = first.fields["vendor_name"]
    assert found.bbox is not None
    top = found.bbox.y1 * pages[0].height
    dropped_words = [w for w in pages[0].words if not (w.text == last and w.y1 <= top + 5)]
    dropped = [pages[0].model_copy(update={"words": dropped_words}), *pages[1:]]
    return Look(pages, first, PASSED), Look(dropped, extract_invoice(dropped), PASSED), cleaned


def _engine() -> TesseractEngine:
    return TesseractEngine(second_look_options(Settings()))


def test_a_legal_form_ocr_dropped_beside_the_vendor_is_read_from_the_enlarged_line(tmp_path: Path) -> None:
    whole, dropped, cleaned = _without_last_vendor_word(tmp_path, "Blue Harbor Foods SA")
    assert dropped.extraction is not None and dropped.extraction.invoice.vendor_name == "Blue Harbor Foods"
    settled = settle_party_ink(dropped, cleaned, _engine())
    assert settled.extraction is not None and settled.extraction.invoice.vendor_name == "Blue Harbor Foods SA"
    assert settled.outcome == f"{PASSED}+{INK_SETTLED}"
    evidence = settled.extraction.fields["vendor_name"].evidence
    assert evidence is not None and not evidence.doubts
    # Nothing dropped: nothing to settle, the look comes back as it was.
    assert settle_party_ink(whole, cleaned, _engine()) is whole


def test_a_dropped_word_that_is_no_legal_form_sends_the_name_to_review(tmp_path: Path) -> None:
    _, dropped, cleaned = _without_last_vendor_word(tmp_path, "Blue Harbor Provisions")
    assert dropped.extraction is not None and dropped.extraction.invoice.vendor_name == "Blue Harbor"
    settled = settle_party_ink(dropped, cleaned, _engine())
    assert settled.extraction is not None and settled.extraction.invoice.vendor_name == "Blue Harbor"  # not guessed
    evidence = settled.extraction.fields["vendor_name"].evidence
    assert evidence is not None and any("unread ink" in doubt for doubt in evidence.doubts)


def test_an_amount_label_word_opening_a_company_name_is_no_label() -> None:
    for company in ("Shipping S.p.A.", "Freight Logistics AG"):
        found = match_label(company)
        assert found is not None and names_a_company(company, found)
    for label in ("Shipping", "Shipping 12.50", "Shipping & Handling", "Freight: AG"):
        found = match_label(label)
        assert found is not None and not names_a_company(label, found)


def test_a_customer_name_wrapped_before_a_label_word_is_read_whole(tmp_path: Path) -> None:
    spec = dataclasses.replace(
        sample_spec(0, seed=3, families="classic"), customer_name="Meridian Shipping S.p.A.", customer_split=1
    )
    pdf = tmp_path / "wrap.pdf"
    pdf.write_bytes(render_born_digital(spec))
    record = process_document(describe_file(pdf), Settings(keep_page_images="none"))
    assert record.invoice.customer_name == "Meridian Shipping S.p.A."


def test_a_country_line_is_never_an_accepted_vendor() -> None:
    # The letterhead prints only the address, its last line the country, and the page names no company.
    lines = _replace(
        _replace(CLEAN, "Acme Widgets Ltd", "121 Main Street"), "12 Market Street, Springfield", "Austin, TX 78750"
    )
    lines = [line for line in lines if "registered" not in line[2]] + [(200, 360, "USA")]
    record = cast(ExtractionRecord, routed_from_lines(lines, "text_layer"))
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("names a country" in reason for reason in record.review_reasons), record.review_reasons
    # With the company named in the footer, the footer's name is the vendor.
    named = _replace(_replace(CLEAN, "Acme Widgets Ltd", "12 Market Street"), "12 Market Street, Springfield", "USA")
    assert cast(ExtractionRecord, routed_from_lines(named, "text_layer")).invoice.vendor_name == "Acme Widgets Ltd"
    assert names_a_country("USA") and names_a_country("Deutschland.")
    assert not names_a_country("Germany Trading GmbH") and not names_a_country("Acme Widgets Ltd")
    assert any("names a country" in doubt for doubt in party_doubts("vendor_name", "USA", None))
    assert party_doubts("vendor_name", "Acme Widgets Ltd", None) == []


def test_a_country_alone_under_bill_to_names_no_customer() -> None:
    """A billing block holding only the customer's country (a SaaS receipt's "BILLED TO / Germany"): the
    record carries no customer rather than the customer "Germany", and is not held back for it."""
    record = cast(ExtractionRecord, routed_from_lines(_replace(CLEAN, "Globex Corporation", "Germany"), "text_layer"))
    assert record.invoice.customer_name is None
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons
    named = cast(ExtractionRecord, routed_from_lines(CLEAN, "text_layer"))
    assert named.invoice.customer_name == "Globex Corporation"


def test_a_name_ends_at_its_legal_form() -> None:
    # The letterhead's line runs on into the street; the footer prints the name closed by its legal form.
    record = cast(ExtractionRecord, routed_from_lines(_replace(CLEAN, "Acme Widgets Ltd", "Acme Widgets Ltd, Market")))
    assert record.invoice.vendor_name == "Acme Widgets Ltd"
    for runs_on in ("Orchard Lane Media GmbH, Rue du", "Acme Inc. - Berlin"):
        assert any("past its legal form" in doubt for doubt in party_doubts("vendor_name", runs_on, None))
    for closed in ("Highgate Digital Co., Ltd.", "Acme GmbH & Co. KG", "Blue Harbor Foods SA"):
        assert party_doubts("vendor_name", closed, None) == []
