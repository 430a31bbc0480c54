"""Party names printed over two lines (issue 14, item 1; issue 11 names the same error kind), on real
rendered pages: a name whose second line is its legal form is read whole; a wrap the layout leaves open
sends the record to review with the field named, never accepted truncated."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from devtools.samples import render_born_digital, render_scan, sample_spec
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.extract.fields import wraps_onto
from pipeline.extract.layout import Phrase, type_size_ratio
from pipeline.process import process_document
from schemas import ExtractionRecord, IssueCode, RecordStatus, Word
from tests.conftest import SIMPLE_INVOICE


def _rendered(tmp_path: Path, name: str, **changes: object) -> ExtractionRecord:
    """A classic-family invoice with its party names changed as given, rendered as a PDF and processed."""
    spec = dataclasses.replace(sample_spec(0, seed=3, families="classic"), **changes)  # type: ignore[arg-type]
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(render_born_digital(spec))
    return process_document(describe_file(pdf), Settings(keep_page_images="none"))


def _vetoed(record: ExtractionRecord) -> set[str]:
    return {issue.field or "" for issue in record.issues if issue.code == IssueCode.UNCORROBORATED_FIELD}


def test_a_legal_form_wrapped_onto_the_second_line_is_read_as_part_of_the_name(tmp_path: Path) -> None:
    customer = _rendered(tmp_path, "customer", customer_name="Riverstone Outdoor Gear GmbH", customer_split=3)
    assert customer.invoice.customer_name == "Riverstone Outdoor Gear GmbH"
    assert "customer_name" not in _vetoed(customer)
    vendor = _rendered(tmp_path, "vendor", vendor_name="Blue Harbor Couriers Ltd", vendor_split=3)
    assert vendor.invoice.vendor_name == "Blue Harbor Couriers Ltd"


def _never_accepted_truncated(record: ExtractionRecord, field: str, full: str) -> None:
    if getattr(record.invoice, field) != full:
        assert record.status is RecordStatus.NEEDS_REVIEW
        assert field in _vetoed(record)
        label = field.replace("_", " ")
        assert any(label in reason and "two lines" in reason for reason in record.review_reasons)


def test_a_wrap_the_layout_leaves_open_goes_to_review_naming_the_field(tmp_path: Path) -> None:
    # "Riverstone Outdoor" over "Gear GmbH" reads like "Felix Wolf" over "SimFin Analytics GmbH" (a person,
    # then the company): read whole only where the type says so (both lines bold over the address), else a
    # person decides.
    wrapped = _rendered(tmp_path, "wrapped", customer_name="Riverstone Outdoor Gear GmbH", customer_split=2)
    _never_accepted_truncated(wrapped, "customer_name", "Riverstone Outdoor Gear GmbH")
    # No legal form on either line: "Bluebird School" over "District".
    bare = _rendered(tmp_path, "open", customer_name="Bluebird School District", customer_split=2)
    _never_accepted_truncated(bare, "customer_name", "Bluebird School District")
    vendor = _rendered(tmp_path, "vendor-open", vendor_name="Highgate Digital Co., Ltd.", vendor_split=1)
    _never_accepted_truncated(vendor, "vendor_name", "Highgate Digital Co., Ltd.")
    # The same name on one line is not doubted: the doubt comes from the layout, not from the name.
    single = _rendered(tmp_path, "open-single", customer_name="Bluebird School District", customer_split=0)
    assert single.invoice.customer_name == "Bluebird School District"
    assert "customer_name" not in _vetoed(single)


def test_a_name_on_one_line_is_not_doubted(tmp_path: Path) -> None:
    record = _rendered(tmp_path, "single", customer_name="Riverstone Outdoor Gear GmbH", customer_split=0)
    assert record.invoice.customer_name == "Riverstone Outdoor Gear GmbH"
    assert "customer_name" not in _vetoed(record)


def test_one_word_over_a_line_closing_with_a_legal_form_is_read_as_one_name(tmp_path: Path) -> None:
    # One word is no person's full name, so "Oakridge" over "Electronics S.A." is one company's name.
    customer = _rendered(tmp_path, "one-word", customer_name="Oakridge Property Management S.L.U.", customer_split=1)
    assert customer.invoice.customer_name == "Oakridge Property Management S.L.U."
    assert "customer_name" not in _vetoed(customer)
    vendor = _rendered(tmp_path, "one-word-vendor", vendor_name="Lakeside Coffee Roasters KG", vendor_split=1)
    assert vendor.invoice.vendor_name == "Lakeside Coffee Roasters KG"
    assert "vendor_name" not in _vetoed(vendor)


def test_a_first_line_ending_in_a_joiner_runs_on(tmp_path: Path) -> None:
    vendor = _rendered(tmp_path, "joiner", vendor_name="Alder & Finch Traders GmbH", vendor_split=2)
    assert vendor.invoice.vendor_name == "Alder & Finch Traders GmbH"
    assert "vendor_name" not in _vetoed(vendor)


def test_only_an_unambiguous_layout_joins_two_lines() -> None:
    assert wraps_onto("Oakridge", "Electronics S.A.")
    assert wraps_onto("Alder &", "Finch Traders GmbH")
    assert wraps_onto("Atlas Veterinary Practice", "GmbH")
    # A person over a company, a name that has its legal form already, a wordmark over the name it repeats,
    # and a line with no legal form under one word stay open (the evidence doubts what is left open).
    assert not wraps_onto("Felix Wolf", "SimFin Analytics GmbH")
    assert not wraps_onto("Acme GmbH", "Finch Traders KG")
    assert not wraps_onto("LAKESIDE", "Lakeside Coffee Roasters KG")
    assert not wraps_onto("Bluebird", "School District")


# A bill-to block as (text, font, size) lines under "Bill To", on the simple invoice of the conftest.
Block = list[tuple[str, str, float]]
_BOLD, _REGULAR = "Helvetica-Bold", "Helvetica"


def _block_invoice(tmp_path: Path, name: str, block: Block, scanned: bool = False, note: str = "") -> ExtractionRecord:
    """The simple invoice with its bill-to name replaced by ``block``, drawn line by line in the given type
    (12 pt apart), and ``note`` printed under the totals; born-digital or rendered and degraded as a clean
    scan; processed by the real pipeline."""
    pdf_path = tmp_path / f"{name}.pdf"
    pdf = canvas.Canvas(str(pdf_path), pagesize=A4, invariant=1)
    top = A4[1]
    for x, y, text in SIMPLE_INVOICE:
        if text != "Globex Corporation":
            pdf.setFont(_REGULAR, 9)
            pdf.drawString(x, top - y, text)
    for number, (text, font, size) in enumerate(block):
        pdf.setFont(font, size)
        pdf.drawString(50, top - 145 - 12 * number, text)
    pdf.setFont(_REGULAR, 9)
    pdf.drawString(50, top - 360, note)
    pdf.save()
    if scanned:
        pdf_path.write_bytes(render_scan(pdf_path.read_bytes(), "clean_scan", random.Random(7), title=name))
    return process_document(describe_file(pdf_path), Settings(keep_page_images="none"))


_ADDRESS: Block = [("Seestrasse 167", _REGULAR, 9), ("8001 Zurich", _REGULAR, 9)]


def test_two_lines_in_the_names_own_type_over_the_address_are_one_name(tmp_path: Path) -> None:
    # Both lines bold and a point larger than the address under them: the type makes them one name.
    block = [("Riverstone Veterinary", _BOLD, 10), ("Practice AG", _BOLD, 10), *_ADDRESS]
    for scanned in (False, True):
        record = _block_invoice(tmp_path, f"bold-{scanned}", block, scanned=scanned)
        assert record.invoice.customer_name == "Riverstone Veterinary Practice AG"
        assert "customer_name" not in _vetoed(record)


def test_a_person_in_the_address_type_over_the_company_is_not_glued_on(tmp_path: Path) -> None:
    # The contact person in the address's type over the company in bold: two parties' lines, not one name.
    block = [("Felix Wolf", _REGULAR, 9), ("SimFin Analytics GmbH", _BOLD, 10), *_ADDRESS]
    for scanned in (False, True):
        record = _block_invoice(tmp_path, f"person-{scanned}", block, scanned=scanned)
        assert record.invoice.customer_name != "Felix Wolf SimFin Analytics GmbH"
        _never_accepted_truncated(record, "customer_name", "SimFin Analytics GmbH")


def test_a_block_in_one_type_throughout_keeps_the_wrap_open(tmp_path: Path) -> None:
    # Name and address in the same type: nothing says whether the first line is a person or the name's start.
    block = [("Riverstone Veterinary", _REGULAR, 9), ("Practice AG", _REGULAR, 9), *_ADDRESS]
    record = _block_invoice(tmp_path, "uniform", block)
    _never_accepted_truncated(record, "customer_name", "Riverstone Veterinary Practice AG")
    assert record.invoice.customer_name != "Riverstone Veterinary Practice AG"
    # Without a legal form closing the second line the type alone does not join them either.
    bare = [("Bluebird School", _BOLD, 10), ("District", _BOLD, 10), *_ADDRESS]
    _never_accepted_truncated(_block_invoice(tmp_path, "bare", bare), "customer_name", "Bluebird School District")


def test_a_name_the_document_prints_whole_elsewhere_is_read_whole(tmp_path: Path) -> None:
    # In the address's own type, but the payment line prints the two lines as one name.
    block = [("Redwood", _REGULAR, 9), ("Creative", _REGULAR, 9), *_ADDRESS]
    note = "Please quote Redwood Creative with your payment."
    record = _block_invoice(tmp_path, "repeated", block, note=note)
    assert record.invoice.customer_name == "Redwood Creative"
    # The same block without the repeat stays open.
    _never_accepted_truncated(_block_invoice(tmp_path, "alone", block), "customer_name", "Redwood Creative")


def test_type_size_compares_words_of_the_same_shape_and_says_nothing_without_letters() -> None:
    def phrase(*words: tuple[str, float]) -> Phrase:
        boxes = [Word(text=text, page_no=1, x0=0, y0=0, x1=10, y1=height, confidence=0.9) for text, height in words]
        return Phrase(boxes, 1, 2480, 3508)

    # "Group" descends below the baseline: its box is taller than "Retail"'s in the same type.
    name = phrase(("Crescent", 30), ("Group", 38))
    assert type_size_ratio(name, phrase(("Retail", 30))) == 1.0
    assert type_size_ratio(name, phrase(("Seestrasse", 27))) == 0.9
    assert type_size_ratio(phrase(("Retail", 30)), phrase(("Group", 38))) is None
    assert type_size_ratio(phrase(("Retail", 30)), phrase(("Group", 38)), {(True, False): 1.0, (True, True): 1.25}) == (
        38 / 1.25 / 30
    )
    assert type_size_ratio(name, phrase(("-", 5), ("|", 40))) is None
