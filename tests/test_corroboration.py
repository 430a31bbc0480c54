"""Auto-accept needs corroboration: extraction gathers each field's evidence, routing vetoes what lacks it."""

from __future__ import annotations

from typing import cast

from pipeline.extract.evidence import party_doubts
from schemas import ExtractionRecord, RecordStatus, Severity, Support
from tests.conftest import SIMPLE_INVOICE, routed_from_lines

Lines = list[tuple[float, float, str]]
# The shared simple invoice in page pixels (300 dpi: about 4 px per point), with a footer that names the
# vendor again and an e-mail address on its domain.
CLEAN: Lines = [(4 * x, 4 * y, text) for x, y, text in SIMPLE_INVOICE] + [
    (200, 3000, "Acme Widgets Ltd, registered in England no. 0412"),
    (200, 3060, "billing@acmewidgets.example"),
]


def _replace(lines: Lines, old: str, new: str) -> Lines:
    assert any(text == old for _, _, text in lines), old
    return [(x, y, new if text == old else text) for x, y, text in lines]


def _routed(lines: Lines) -> ExtractionRecord:
    """Extract, validate and route at threshold 0: only blocking issues and the veto can keep it out."""
    return cast(ExtractionRecord, routed_from_lines(lines, "text_layer"))


def _vetoed_fields(record: ExtractionRecord) -> set[str | None]:
    return {issue.field for issue in record.issues if issue.code == "uncorroborated_field"}


def test_corroborated_invoice_is_accepted_and_fields_carry_their_evidence() -> None:
    record = _routed(CLEAN)
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons
    evidence = {name: field.evidence for name, field in record.fields.items() if name != "line_items"}
    assert all(item is not None and not item.doubts for item in evidence.values()), evidence
    assert {Support.LABEL, Support.SHAPE} <= set(record.fields["invoice_number"].evidence.support)  # type: ignore[union-attr]
    vendor = record.fields["vendor_name"].evidence
    assert vendor is not None and {Support.SENDER, Support.DOMAIN} <= set(vendor.support)
    assert record.blocking_codes == []


def test_line_whose_arithmetic_fails_blocks_acceptance() -> None:
    # 10 x 120.00 printed as 99.00, and the subtotal and total follow the printed amounts: every sum
    # agrees except the line itself.
    lines = _replace(CLEAN, "$1,200.00", "$99.00")
    lines = _replace(lines, "$1,430.50", "$329.50")
    lines = _replace(lines, "$143.05", "$32.95")
    lines = _replace(lines, "$1,573.55", "$362.45")
    record = _routed(lines)
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "line_items_unexplained" in record.blocking_codes
    assert any("Line 1" in reason and "99.00" in reason for reason in record.review_reasons), record.review_reasons


def test_invoice_number_printed_differently_elsewhere_goes_to_review() -> None:
    lines = [*CLEAN, (1500, 1500, "Invoice No: INV-2024-0048")]
    record = _routed(lines)
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "invoice_number" in _vetoed_fields(record)
    assert any("invoice number" in reason and "INV-2024-0048" in reason for reason in record.review_reasons)


def test_unlabelled_invoice_date_is_not_accepted() -> None:
    lines = _replace(CLEAN, "Date:", "Ref:")
    record = _routed(lines)
    assert record.invoice.invoice_date is not None  # read as the first date on the page, but no label names it
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "invoice_date" in _vetoed_fields(record)
    assert any("invoice date" in reason and "no label" in reason for reason in record.review_reasons)


def test_bare_legal_form_as_vendor_is_not_accepted() -> None:
    lines = _replace(CLEAN, "Acme Widgets Ltd", "Ltd")
    lines = [line for line in lines if "acmewidgets" not in line[2] and "registered" not in line[2]]
    record = _routed(lines)
    # Extraction no longer offers the bare suffix (it is not a name); whatever it reads instead must not pass.
    assert record.invoice.vendor_name != "Ltd"
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "vendor_name" in _vetoed_fields(record), record.review_reasons
    # The veto itself: a bare legal form read as the vendor is doubted as such.
    assert any("legal form" in doubt for doubt in party_doubts("vendor_name", "Ltd", "Westbrook Retail"))


def test_vendor_that_no_domain_or_other_line_confirms_is_not_accepted() -> None:
    # The prominent top line is a slogan; the page's own e-mail domain names someone else.
    lines = _replace(CLEAN, "Acme Widgets Ltd", "Precision Parts Experts")
    lines = [line for line in lines if "registered" not in line[2]]
    record = _routed(lines)
    assert record.invoice.vendor_name == "Precision Parts Experts"
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "vendor_name" in _vetoed_fields(record)
    assert any("acmewidgets" in reason for reason in record.review_reasons), record.review_reasons


def test_number_with_a_continuation_word_glued_on_is_not_accepted() -> None:
    # Page 2's heading prints the number with a word glued on; whichever reading wins, a person checks it.
    record = _routed([*CLEAN, (1500, 1500, "Invoice No: INV-2024-0042-Page")])
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "invoice_number" in _vetoed_fields(record)


def test_lone_date_after_the_issue_date_with_its_label_misread_is_not_accepted() -> None:
    # OCR broke the due-date label ("A payer avant le" read as "A payer | nt le"): no label names the date.
    record = _routed(_replace(CLEAN, "Due Date:", "Dx nt le"))
    assert record.invoice.due_date is None
    assert record.status is RecordStatus.NEEDS_REVIEW
    due = [issue for issue in record.issues if issue.code == "unreadable_value" and issue.field == "due_date"]
    assert due and "04/14/2024" in due[0].message and "due date" in due[0].message, record.review_reasons


def test_lone_date_before_the_issue_date_does_not_hold_back_an_invoice_without_a_due_date() -> None:
    # A delivery date printed before the issue date, under it in the header, and no due date at all.
    record = _routed(_replace(_replace(CLEAN, "Due Date:", "Delivered:"), "04/14/2024", "03/10/2024"))
    assert record.invoice.due_date is None
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons


def test_lone_later_date_away_from_the_header_does_not_hold_back_an_invoice() -> None:
    # A date in the footer (a validity or service period) is no due date under a misread label.
    lines = [line for line in CLEAN if line[2] not in ("Due Date:", "04/14/2024")]
    record = _routed([*lines, (200, 2900, "04/30/2024")])
    assert record.invoice.due_date is None
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons


# A row of labels over a row of values, away from the issue date's column: the issuer's own due-date wording.
def _labelled_above(label: str, value: str) -> Lines:
    lines = [line for line in CLEAN if line[2] not in ("Due Date:", "04/14/2024")]
    return [*lines, (1000, 240, label), (1000, 300, value)]


def test_later_date_under_a_label_the_reader_does_not_know_is_not_accepted() -> None:
    record = _routed(_labelled_above("Remit by", "04/14/2024"))
    assert record.invoice.due_date is None
    assert record.status is RecordStatus.NEEDS_REVIEW
    due = [issue for issue in record.issues if issue.code == "unreadable_value" and issue.field == "due_date"]
    assert due and "04/14/2024" in due[0].message and "Remit by" in due[0].message, record.review_reasons
    assert due[0].severity is Severity.BLOCKING


def test_later_date_beside_a_label_the_reader_does_not_know_is_not_accepted() -> None:
    record = _routed(_replace(CLEAN, "Due Date:", "Settle before:"))
    assert record.invoice.due_date is None and record.status is RecordStatus.NEEDS_REVIEW
    assert "Settle before" in " ".join(record.review_reasons), record.review_reasons


def test_later_date_under_a_label_of_another_kind_of_date_is_accepted() -> None:
    for label in ("Delivery date", "Leistungsdatum", "Service period"):
        record = _routed(_labelled_above(label, "04/14/2024"))
        assert record.status is RecordStatus.ACCEPTED, (label, record.review_reasons)


def test_later_date_in_a_sentence_or_before_the_issue_date_is_accepted() -> None:
    sentence = [line for line in CLEAN if line[2] not in ("Due Date:", "04/14/2024")]
    record = _routed([*sentence, (1000, 300, "Our offices close for the holidays on 04/14/2024")])
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons
    record = _routed(_labelled_above("Remit by", "03/01/2024"))  # earlier than the issue date: no due date
    assert record.status is RecordStatus.ACCEPTED, record.review_reasons


def test_vendor_name_with_a_word_broken_by_ocr_is_not_accepted() -> None:
    record = _routed(_replace(CLEAN, "Acme Widgets Ltd", "Acme W idgets Ltd"))
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert "vendor_name" in _vetoed_fields(record), record.review_reasons
    assert any("broken" in reason for reason in record.review_reasons), record.review_reasons


def test_party_name_with_glued_legal_line_sentence_or_broken_word_is_doubted() -> None:
    glued = {
        "Juniper Analytics Inc. Registered in Madison": "register line",
        "Juniper A nalytics Inc.": "broken in two",
        "Northwind Ltd VAT No GB 123": "register line",
        "Thank you for your business.": "sentence",
    }
    for name, kind in glued.items():
        assert any(kind in doubt for doubt in party_doubts("vendor_name", name, None)), name


def test_party_names_that_only_look_glued_are_not_doubted() -> None:
    # Joiners, initials before a capitalised word, "Capital" in a name, legal forms with dots.
    names = [
        "Juniper Analytics Inc.",
        "Harbor Capital Partners",
        "B & BEST RESTAURANT",
        "J A Smith Plumbing Ltd",
        "Medienpilot GmbH & Co. KG",
        "MR. D.I.Y. (M) SDN BHD",
        "THE COFFEE BEAN & TEA LEAF (M) SDN. BHD.",
        "Maison de la Presse",
        "Banco de Sabadell S.A.",
    ]
    for name in names:
        assert party_doubts("vendor_name", name, None) == [], name
