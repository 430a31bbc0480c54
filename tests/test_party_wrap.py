"""Party names printed over two lines (issue 14, item 1; issue 11 names the same error kind), on real
rendered pages: a name whose second line closes it with a legal form is read whole; a wrap the layout
leaves open sends the record to review with the field named, never accepted truncated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from devtools.samples import render_born_digital, sample_spec
from pipeline.config import Settings
from pipeline.discover import describe_file
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


def test_customer_name_closed_by_a_legal_form_on_its_second_line_is_read_whole(tmp_path: Path) -> None:
    record = _rendered(tmp_path, "wrapped", customer_name="Riverstone Outdoor Gear GmbH", customer_split=2)
    assert record.invoice.customer_name == "Riverstone Outdoor Gear GmbH"
    assert "customer_name" not in _vetoed(record)


def test_vendor_name_wrapped_before_its_legal_form_is_read_whole(tmp_path: Path) -> None:
    record = _rendered(tmp_path, "vendor", vendor_name="Blue Harbor Couriers Ltd", vendor_split=2)
    assert record.invoice.vendor_name == "Blue Harbor Couriers Ltd"


def test_a_wrap_the_layout_leaves_open_goes_to_review_naming_the_customer(tmp_path: Path) -> None:
    # No legal form on either line: "Bluebird School" over "District" may be one name or a name and a line.
    record = _rendered(tmp_path, "open", customer_name="Bluebird School District", customer_split=2)
    truncated = record.invoice.customer_name != "Bluebird School District"
    assert not (truncated and record.status is RecordStatus.ACCEPTED)
    if truncated:
        assert "customer_name" in _vetoed(record)
        assert any("customer name" in reason and "two lines" in reason for reason in record.review_reasons)
    # The same name on one line is not doubted: the doubt comes from the layout, not from the name.
    single = _rendered(tmp_path, "open-single", customer_name="Bluebird School District", customer_split=0)
    assert single.invoice.customer_name == "Bluebird School District"
    assert "customer_name" not in _vetoed(single)


def test_a_name_on_one_line_is_not_doubted(tmp_path: Path) -> None:
    record = _rendered(tmp_path, "single", customer_name="Riverstone Outdoor Gear GmbH", customer_split=0)
    assert record.invoice.customer_name == "Riverstone Outdoor Gear GmbH"
    assert "customer_name" not in _vetoed(record)
