"""OCR misreads the page seems to confirm: a name word one letter from a business word, an ID whose
letter/digit OCR confuses. Scanned pages read by real Tesseract; text-layer pages are printed as read."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.extract.evidence import party_doubts
from pipeline.extract.misreads import confusable_id_slip, near_business_word, ocr_shape
from pipeline.process import process_document
from schemas import ExtractionRecord
from tests.conftest import SIMPLE_INVOICE, make_invoice_pdf, routed_from_lines

Lines = list[tuple[float, float, str]]


def _lines(vendor: str, number: str, footer: str | None = None, domain: str = "sterling") -> Lines:
    """The simple invoice under another vendor and number, with a footer naming the vendor again (as
    ``footer``, else as the header prints it) beside its e-mail domain."""
    swapped = {"Acme Widgets Ltd": vendor, "INV-2024-0042": number}
    return [(x, y, swapped.get(text, text)) for x, y, text in SIMPLE_INVOICE] + [
        (50, 760, f"{footer or vendor}, Calle Mayor 4, Madrid"),
        (50, 775, f"billing@{domain}.example"),
    ]


def _read(tmp_path: Path, lines: Lines, scanned: bool) -> ExtractionRecord:
    pdf = make_invoice_pdf(tmp_path / "invoice.pdf", lines)
    path = pdf
    if scanned:
        from pdf2image import convert_from_path

        path = tmp_path / "invoice.png"
        convert_from_path(str(pdf), dpi=200, grayscale=True)[0].save(path, dpi=(200, 200))
    documents, _ = discover_documents([str(path)])
    return process_document(documents[0], Settings())


def _doubts(record: ExtractionRecord, name: str) -> list[str]:
    evidence = record.fields[name].evidence
    return list(evidence.doubts) if evidence is not None else []


def _vetoed(record: ExtractionRecord) -> set[str | None]:
    return {issue.field for issue in record.issues if issue.code == "uncorroborated_field"}


def test_scanned_misreads_go_to_review_naming_the_field(tmp_path: Path) -> None:
    record = _read(tmp_path, _lines("Sterling Enaineering S.A.", "8C-249858"), scanned=True)
    assert record.text_source == "ocr"
    assert record.invoice.vendor_name == "Sterling Enaineering S.A."
    assert record.invoice.invoice_number == "8C-249858"
    assert record.status == "needs_review"
    assert {"vendor_name", "invoice_number"} <= _vetoed(record)
    assert any("'Enaineering'" in reason and "'engineering'" in reason for reason in record.review_reasons)
    assert any("'BC-249858'" in reason for reason in record.review_reasons), record.review_reasons


def test_scanned_names_and_ids_spelled_right_raise_no_misread_doubt(tmp_path: Path) -> None:
    record = _read(tmp_path, _lines("Sterling Engineering S.A.", "INV-2024-0042"), scanned=True)
    assert record.invoice.vendor_name == "Sterling Engineering S.A."
    assert record.invoice.invoice_number == "INV-2024-0042"
    assert not any("OCR may have misread" in doubt for doubt in _doubts(record, "vendor_name"))
    assert not any("OCR confuses" in doubt for doubt in _doubts(record, "invoice_number"))
    assert not {"vendor_name", "invoice_number"} & _vetoed(record)


def test_text_layer_prints_what_it_holds(tmp_path: Path) -> None:
    # A born-digital PDF's words are the issuer's own: "8C" and an odd spelling are what was typed.
    record = _read(tmp_path, _lines("Sterling Enaineering S.A.", "8C-249858"), scanned=False)
    assert record.text_source == "text_layer"
    assert not any("OCR" in doubt for doubt in _doubts(record, "vendor_name") + _doubts(record, "invoice_number"))


def test_name_printed_again_with_a_word_spelled_otherwise_goes_to_review(tmp_path: Path) -> None:
    # The header prints "Wodgets", the footer "Widgets": whichever copy is read as the vendor, the other
    # says a letter was misread.
    lines = _lines("Acme Wodgets Ltd", "INV-2024-0042", footer="Acme Widgets Ltd", domain="acme")
    record = _read(tmp_path, lines, scanned=True)
    assert record.invoice.vendor_name in ("Acme Wodgets Ltd", "Acme Widgets Ltd")
    assert "vendor_name" in _vetoed(record)
    assert any("'wodgets'" in reason and "'widgets'" in reason for reason in record.review_reasons), (
        record.review_reasons
    )


def test_name_printed_again_alike_raises_no_spelling_doubt(tmp_path: Path) -> None:
    lines = _lines("Acme Widgets Ltd", "INV-2024-0042", domain="acme")
    record = _read(tmp_path, lines, scanned=True)
    assert record.invoice.vendor_name == "Acme Widgets Ltd"
    assert not any("printed elsewhere with" in doubt for doubt in _doubts(record, "vendor_name"))
    assert "vendor_name" not in _vetoed(record)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Enaineering", "engineering"),
        ("Solutlons", "solutions"),
        ("Servlces", "services"),
        ("Engineering", None),  # spelled right
        ("Industrie", None),  # an inflection in another language
        ("Systeme", None),
        ("Ingeniería", None),
        ("Expert", None),  # a real word one letter from "export"
        ("Folding", None),
        ("Capitol", None),  # differs only in the inflected tail of "capital"
        ("Harborline", None),  # far from every business word
        ("Media", None),  # too short to judge
    ],
)
def test_name_word_near_a_business_word(word: str, expected: str | None) -> None:
    assert near_business_word(word) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8C-249858", "BC-249858"),
        ("INV-2024-0O42", "INV-2024-0042"),
        ("2O24-001", "2024-001"),
        ("INV-2024-0042", None),
        ("INV0042", None),  # a letter prefix closed by digits is an ordinary ID
        ("INVO26608", "INV026608"),  # ... unless its last letter is one OCR reads for 0 or 1
        ("FRl88835", "FR188835"),
        ("PO-12345", None),
        ("INVO", None),
        ("ABO7", None),
        ("FA2024/0117", None),
        ("2024-T69672", None),
        ("T-76277", None),
    ],
)
def test_id_with_a_confusable_character_among_the_other_kind(value: str, expected: str | None) -> None:
    assert confusable_id_slip(value) == expected


def _vendor_doubts_on_page(vendor: str, domain: str, footer: str = "Registered office") -> list[str]:
    page = _lines(vendor, "INV-2024-0042", footer=footer, domain=domain)
    lines = [(4 * x, 4 * y, text) for x, y, text in page]  # points to pixels at 300 dpi
    record = cast(ExtractionRecord, routed_from_lines(lines))
    assert record.invoice.vendor_name == vendor
    return _doubts(record, "vendor_name")


def test_name_word_a_letter_from_the_rest_of_its_domain_is_doubted() -> None:
    # "silverlake" holds "silver"; what is left, "lake", is a letter from the name's "Lako".
    doubts = _vendor_doubts_on_page("Silver Lako Ltd", "silverlake")
    assert any("'lako'" in doubt and "'lake'" in doubt for doubt in doubts), doubts


def test_name_spelled_as_its_domain_is_not_doubted() -> None:
    assert _vendor_doubts_on_page("Silver Lake Ltd", "silverlake") == []
    assert _vendor_doubts_on_page("Silver Lake Couriers Ltd", "silverlake") == []


def test_copy_spelled_otherwise_is_settled_by_the_domain() -> None:
    # The footer's copy was misread ("Hathorview"); the domain spells the name as the header does.
    settled = _vendor_doubts_on_page("Harborview Logistics PLC", "harborview", footer="Hathorview Logistics PLC")
    assert not any("printed elsewhere with" in doubt for doubt in settled), settled


def test_copy_spelled_otherwise_with_nothing_to_settle_it_is_doubted() -> None:
    # Whichever copy is read as the vendor, nothing on the page says which spelling is right.
    page = _lines("Harborview Logistics PLC", "INV-2024-0042", footer="Hathorview Logistics PLC", domain="hvl-group")
    record = cast(ExtractionRecord, routed_from_lines([(4 * x, 4 * y, text) for x, y, text in page]))
    doubts = _doubts(record, "vendor_name")
    assert any("hathorview" in doubt and "harborview" in doubt for doubt in doubts), doubts
    assert "vendor_name" in _vetoed(record)


def _number_doubts_on_page(printed: str, source: str = "ocr") -> tuple[str | None, list[str]]:
    lines = [(x, y, printed if text == "INV-2024-0042" else text) for x, y, text in SIMPLE_INVOICE]
    record = cast(ExtractionRecord, routed_from_lines([(4 * x, 4 * y, text) for x, y, text in lines], source))
    return record.invoice.invoice_number, _doubts(record, "invoice_number")


def test_number_read_without_the_letter_prefix_ocr_split_off_is_doubted() -> None:
    number, doubts = _number_doubts_on_page("INV 988722")
    assert number == "988722"
    assert any("'INV988722'" in doubt for doubt in doubts), doubts


@pytest.mark.parametrize("printed", ["|M062318", "|NV-2024-0042"])
def test_number_ocr_read_beside_a_stroke_is_doubted(printed: str) -> None:
    # Found on a held-out clean scan: "JM062318" was read "|M062318", the stroke dropped as punctuation, and
    # "M062318" accepted. The stroke may be the I, J, l or 1 that was printed.
    number, doubts = _number_doubts_on_page(printed)
    assert number == printed[1:]
    assert any("stroke beside it" in doubt for doubt in doubts), doubts


def test_number_without_a_stroke_or_from_a_text_layer_is_not_doubted_for_one() -> None:
    assert _number_doubts_on_page("JM062318") == ("JM062318", [])
    _, doubts = _number_doubts_on_page("|M062318", source="text_layer")
    assert not any("stroke beside it" in doubt for doubt in doubts), doubts


def test_number_read_without_the_capital_a_speck_split_off_is_doubted() -> None:
    # Found on a held-out hard scan: "FA/23/37134" was read "=F A/23/37134" and "A/23/37134" accepted.
    number, doubts = _number_doubts_on_page("=F A/23/37134")
    assert number == "A/23/37134"
    assert any("'FA/23/37134'" in doubt for doubt in doubts), doubts


def test_number_after_a_label_word_or_from_a_text_layer_is_not_doubted_for_a_prefix() -> None:
    assert _number_doubts_on_page("NO 988722") == ("988722", [])
    assert _number_doubts_on_page("INV 988722", source="text_layer") == ("988722", [])


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("Keizersgracht 8", True),
        ("Hauptstraße 5", True),
        ("Ringweg Logistics GmbH", False),
        ("Engineering 1 Ltd", False),
    ],
)
def test_street_written_as_one_word_with_its_number_is_an_address(name: str, address: bool) -> None:
    # Found at 1700 px on s61: the footer's "Keizersgracht 8" read as the vendor, accepted under LOFO calibration.
    doubts = party_doubts("vendor_name", name, None)
    assert any("part of an address" in doubt for doubt in doubts) is address, doubts


def _vendor_with_unsure_word(word_confidence: float, domain: str, footer: str) -> ExtractionRecord:
    """The simple invoice from "Northwind Media SAS", its word "Northwind" read by OCR at `word_confidence`."""
    from pipeline.extract.rules import extract_invoice
    from pipeline.route import route_record
    from pipeline.validate import validate_invoice
    from schemas import PageText, RecordStatus
    from tests.conftest import page_from_lines

    lines = _lines("Northwind Media SAS", "INV-2024-0042", footer=footer, domain=domain)
    page = cast(PageText, page_from_lines([(4 * x, 4 * y, text) for x, y, text in lines]))
    first = next(i for i, word in enumerate(page.words) if word.text == "Northwind")
    page.words[first] = page.words[first].model_copy(update={"confidence": word_confidence})
    result = extract_invoice([page])
    record = ExtractionRecord(
        document_id="doc", source="doc.pdf", status=RecordStatus.NEEDS_REVIEW, invoice=result.invoice,
        fields=result.fields, issues=[*result.issues, *validate_invoice(result.invoice)],
        extractor=result.extractor, text_source=result.text_source,
    )  # fmt: skip
    return route_record(record, accept_threshold=0.0)


def test_vendor_word_ocr_was_unsure_of_and_nothing_confirms_goes_to_review() -> None:
    record = _vendor_with_unsure_word(0.55, domain="nwm-group", footer="Registered office")
    assert record.invoice.vendor_name == "Northwind Media SAS"
    assert any("unsure of 'Northwind'" in doubt for doubt in _doubts(record, "vendor_name"))
    assert "vendor_name" in _vetoed(record)


@pytest.mark.parametrize(
    ("confidence", "domain", "footer"),
    [
        (0.9, "nwm-group", "Registered office"),  # OCR was sure of it
        (0.55, "nwm-group", "Northwind Media SAS"),  # the footer prints the same word again
        (0.55, "northwind", "Registered office"),  # the e-mail domain spells it
    ],
)
def test_vendor_word_that_is_sure_or_confirmed_raises_no_unsure_doubt(
    confidence: float, domain: str, footer: str
) -> None:
    record = _vendor_with_unsure_word(confidence, domain=domain, footer=footer)
    assert record.invoice.vendor_name == "Northwind Media SAS"
    assert not any("unsure of" in doubt for doubt in _doubts(record, "vendor_name"))


@pytest.mark.parametrize(
    ("tail", "name", "doubted"),
    [
        ("5.L.", "Acme Widgets", True),  # the tail, misread: review
        ("S.L.", "Acme Widgets S.L.", False),  # read right, it is joined to the name
        ("25 Rue Haute", "Acme Widgets", False),  # an address line
    ],
)
def test_a_legal_form_ocr_read_with_a_digit_under_the_vendor_name_is_its_tail(
    tail: str, name: str, doubted: bool
) -> None:
    # Found on a held-out clean scan: "Maple Leaf Communications" over "S.L.", read as "5.L.", was accepted
    # without its legal form once calibration was fitted without its family. A digit for a letter keeps a bare
    # legal form a legal form; an address line in the name's type (it has digits) is still no part of the name.
    lines = [(x, y, "Acme Widgets" if text == "Acme Widgets Ltd" else text) for x, y, text in SIMPLE_INVOICE]
    lines = [(x * 4, y * 4, text) for x, y, text in lines if text != "12 Market Street, Springfield"]
    record = cast(ExtractionRecord, routed_from_lines([*lines, (200, 280, tail), (200, 330, "Springfield")]))
    assert record.invoice.vendor_name == name
    assert any("may run over two lines" in doubt for doubt in _doubts(record, "vendor_name")) is doubted
    assert ("vendor_name" in _vetoed(record)) is doubted


@pytest.mark.parametrize(
    ("footer", "doubted"),
    [
        ("Acme Widgets $.r.1. - REA 40121 Bologna", True),  # "S.r.l." as a hard scan's OCR read it
        ("Acme Widgets S.r.I. - REA 40121 Bologna", True),  # an I for its l
        ("Acme Widgets - Via Roma 12, Bologna", False),  # the name again, with no legal form
    ],
)
def test_a_fuller_name_in_the_footer_counts_with_its_legal_form_misread(footer: str, doubted: bool) -> None:
    # Found on a held-out hard scan: the wordmark "BLUEBIRD" was accepted as the vendor, while the footer
    # printed "Bluebird Communications S.r.l.", read by OCR as "$.r.1.".
    lines = [(x, y, "Acme Widgets" if text == "Acme Widgets Ltd" else text) for x, y, text in SIMPLE_INVOICE]
    record = cast(ExtractionRecord, routed_from_lines([(x * 4, y * 4, t) for x, y, t in [*lines, (50, 760, footer)]]))
    assert record.invoice.vendor_name == "Acme Widgets"
    assert any("may be cut short" in doubt for doubt in _doubts(record, "vendor_name")) is doubted
    assert ("vendor_name" in _vetoed(record)) is doubted


def _wordmark_page(footer: str) -> list[tuple[float, float, str]]:
    """The simple invoice under a wordmark, its registered name printed only in the footer."""
    page = [(x, y, "REDWOOD" if text == "Acme Widgets Ltd" else text) for x, y, text in SIMPLE_INVOICE]
    return [(4 * x, 4 * y, text) for x, y, text in [*page, (50, 760, footer)]]


def test_wordmark_whose_registered_name_was_misread_goes_to_review() -> None:
    # OCR read the footer's "S.p.A." as "S_p.A.": no legal name is found, so the wordmark is the vendor, and
    # the footer that opens with it says the name may be longer.
    record = cast(ExtractionRecord, routed_from_lines(_wordmark_page("Redwood Trading S_p.A.- REA 40121 Bologna")))
    assert record.invoice.vendor_name == "REDWOOD"
    assert any("opens a longer line" in doubt for doubt in _doubts(record, "vendor_name"))
    assert "vendor_name" in _vetoed(record)


def test_wordmark_opening_a_longer_line_with_letters_ocr_runs_together_goes_to_review() -> None:
    # Found on a held-out clean scan: the wordmark "HAWTHORNE" was accepted while the footer printed
    # "Hawthorne Catering Ltd", read by OCR with its "rn" as an "m".
    page = [
        (184, 203, "Tax Invoice"), (1485, 203, "HAWTHORNE"), (1840, 301, "Unit 5, 130 Dock Road"),
        (1877, 351, "Edinburgh EH2 2ER"), (1760, 452, "billing@ hawthorne.example"),
        (186, 582, "Invoice to"), (1430, 582, "Invoice Number"), (2016, 582, "HC-253871"),
        (185, 639, "Kestrel Bakery Ltd"), (1430, 639, "Date"), (2018, 639, "2025-03-22"),
        (186, 692, "6 Mill Lane"), (1430, 692, "Due Date"), (2018, 692, "2025-04-01"),
        (206, 990, "Description"), (2040, 990, "Amount"), (206, 1065, "Event staff"), (2071, 1065, "600.00"),
        (1248, 1308, "Total excl. tax"), (2071, 1308, "600.00"), (1247, 1363, "VAT @ 20%"), (2073, 1363, "120.00"),
        (1247, 1453, "Amount Due"), (2033, 1453, "£720.00"),
        (187, 3164, "Hawthome Catering Ltd - Registered in Edinburgh EH2 2ER Company no. 216787"),
    ]  # fmt: skip
    record = cast(ExtractionRecord, routed_from_lines(page))
    assert record.invoice.vendor_name == "HAWTHORNE"
    assert any("opens a longer line" in doubt for doubt in _doubts(record, "vendor_name"))
    assert "vendor_name" in _vetoed(record)


@pytest.mark.parametrize(
    ("left", "right"), [("Hawthome", "HAWTHORNE"), ("Hawvvood", "Hawwood"), ("lronbridge", "Ironbridge")]
)
def test_readings_ocr_confuses_have_one_shape(left: str, right: str) -> None:
    assert ocr_shape(left) == ocr_shape(right)


@pytest.mark.parametrize("footer", ["Redwood Trading S.p.A. - REA 40121 Bologna", "REDWOOD Registered in Bologna"])
def test_wordmark_with_its_name_read_or_only_a_register_line_is_not_doubted(footer: str) -> None:
    record = cast(ExtractionRecord, routed_from_lines(_wordmark_page(footer)))
    assert not any("opens a longer line" in doubt for doubt in _doubts(record, "vendor_name")), record.invoice
