"""Party names printed over two lines (issue 14, item 1; issue 11 names the same error kind), on real
rendered pages: a name whose second line is its legal form is read whole; a wrap the layout leaves open
sends the record to review with the field named, never accepted truncated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from devtools.samples import render_born_digital, sample_spec
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.extract.fields import wraps_onto
from pipeline.process import process_document
from schemas import ExtractionRecord, IssueCode, RecordStatus


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
    # then the company): which it is, the layout does not say, so a person decides.
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
