"""Invoices in the shapes the wider families draw: labels in DE/FR/NL/ES/IT, discount and shipping rows,
several tax rates, credit notes, a bill-to name over two lines, the issuer only as a wordmark and in the
legal line. Read by the real extractor, validated and routed as a run does."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from devtools.evaluate import values_match
from devtools.samples import generate_samples
from pipeline.config import Settings
from pipeline.extract import extract_invoice
from pipeline.extract.labels import is_title, match_label
from pipeline.money import totals_agree
from pipeline.reading import read_pages, routed_record
from pipeline.validate import validate_invoice
from schemas import HEADER_FIELDS, Document, DocumentType, ExtractionResult, IssueCode, PageText, RecordStatus
from tests.conftest import page_from_lines


def _extract(lines: list[tuple[float, float, str]], source: str = "text_layer") -> ExtractionResult:
    page = page_from_lines(lines, source)
    assert isinstance(page, PageText)
    return extract_invoice([page])


@pytest.mark.parametrize(
    ("text", "field", "rest"),
    [
        ("Nº Factura: F-2024-118", "invoice_number", "F-2024-118"),
        ("Número de factura 2024/77", "invoice_number", "2024/77"),
        ("Factura n.º 4411", "invoice_number", "4411"),
        ("Fattura n. 12/2024", "invoice_number", "12/2024"),
        ("Numero fattura FT-88", "invoice_number", "FT-88"),
        ("Nota di credito n. NC-3", "invoice_number", "NC-3"),
        ("Gutschrift Nr. GS-1", "invoice_number", "GS-1"),
        ("Beleg-Nr. 014612/WF", "invoice_number", "014612/WF"),
        ("Avoir N° AV-7", "invoice_number", "AV-7"),
        ("Creditnotanummer CN-9", "invoice_number", "CN-9"),
        ("Fecha de emisión 03/04/2024", "invoice_date", "03/04/2024"),
        ("Data fattura 03/04/2024", "invoice_date", "03/04/2024"),
        ("Belegdatum 03.04.2024", "invoice_date", "03.04.2024"),
        ("Vencimiento 03/05/2024", "due_date", "03/05/2024"),
        ("Data scadenza 03/05/2024", "due_date", "03/05/2024"),
        ("Te betalen voor 03-05-2024", "due_date", "03-05-2024"),
        ("Te betalen € 10,00", "total", "€ 10,00"),
        ("Base imponible 100,00", "subtotal", "100,00"),
        ("Totale imponibile 100,00", "subtotal", "100,00"),
        ("Totale documento 122,00", "total", "122,00"),
        ("Importe total 121,00", "total", "121,00"),
        ("Totale IVA 22,00", "tax", "22,00"),
        ("zzgl. MwSt. 19% 19,00", "tax", "19% 19,00"),
        ("inkl. USt. 20%", "tax", "20%"),
        ("Spett.le", "customer_name", ""),
        ("Facturar a", "customer_name", ""),
        ("Klant", "customer_name", ""),
        ("Rabatt 10% -19,80", "discount", "10% -19,80"),
        ("Frais de port 9,50", "charge", "9,50"),
        ("Gastos de envío 4,90", "charge", "4,90"),
        ("Delivery 19,90", "charge", "19,90"),
        ("Delivery charge 19.90", "charge", "19.90"),
        ("Handling fee 5.00", "charge", "5.00"),
    ],
)
def test_labels_in_five_languages(text: str, field: str, rest: str) -> None:
    found = match_label(text)
    assert found is not None and found.field == field
    assert text[found.end :] == rest


def test_a_delivery_row_between_subtotal_and_tax_is_a_charge_not_the_tax() -> None:
    # Found on a held-out layout: "Delivery 19,90" above "Tax 0% 0,00" was read as the tax, as subtotal plus it
    # made the total.
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Subtotal", "100,00"), ("Delivery", "19,90"), ("Tax 0%", "0,00"), ("Total due", "CHF 119,90")]
    invoice = _extract([*VENDOR, *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals)]).invoice
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("100.00"), Decimal("0.00"), Decimal("119.90"))
    assert invoice.adjustments == Decimal("19.90")
    assert match_label("Delivery date") is None and match_label("Delivery address") is None


def test_a_bare_document_title_is_no_label() -> None:
    assert match_label("Factura") is None and match_label("Fattura") is None


NUMBER_AND_DATE = [
    (1500, 400, "Rechnungsnummer:"), (1900, 400, "RE-2024-0042"), (1500, 460, "Datum:"), (1900, 460, "15.03.2024"),
]  # fmt: skip
VENDOR = [(150, 150, "Hafenmeister Logistik GmbH"), (150, 210, "Am Kai 4, 20457 Hamburg")]
CUSTOMER = [(150, 400, "Kunde:"), (150, 460, "Globex Handel GmbH"), (150, 520, "Elmweg 12")]
HEADER = [(150, 900, "Bezeichnung"), (1500, 900, "Menge"), (1800, 900, "Preis"), (2150, 900, "Betrag")]


def _totals_block(rows: list[tuple[str, str]], top: int = 1200) -> list[tuple[float, float, str]]:
    lines: list[tuple[float, float, str]] = []
    for n, (label, value) in enumerate(rows):
        lines += [(1400, top + 60 * n, label), (2150, top + 60 * n, value)]
    return lines


def test_discount_shipping_and_two_tax_rates_are_in_the_arithmetic() -> None:
    items = [
        (150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00"),
        (150, 1040, "Fracht und Verpackung"), (1500, 1040, "1"), (1800, 1040, "20,00"), (2150, 1040, "20,00"),
    ]  # fmt: skip
    totals = [
        ("Zwischensumme", "120,00"), ("Rabatt 10%", "-12,00"), ("Versandkosten", "9,50"),
        ("MwSt. 19%", "15,30"), ("MwSt. 7%", "2,10"), ("Gesamtbetrag", "134,90 EUR"),
    ]  # fmt: skip
    result = _extract([*VENDOR, *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals)])
    invoice = result.invoice
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("120.00"), Decimal("17.40"), Decimal("134.90"))
    # The freight line item above the subtotal is an item, not a second charge.
    assert invoice.adjustments == Decimal("-2.50")
    assert totals_agree(invoice.subtotal, invoice.tax, invoice.total, invoice.adjustments)
    assert not totals_agree(invoice.subtotal, invoice.tax, invoice.total)
    codes = {issue.code for issue in validate_invoice(invoice)}
    assert IssueCode.TOTAL_MISMATCH not in codes and IssueCode.LINE_ITEMS_SUM_MISMATCH not in codes
    assert result.fields["adjustments"].value == "-2.50"


def test_without_its_discount_row_the_same_totals_do_not_add_up() -> None:
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "60,00"), (2150, 980, "120,00")]
    totals = [("Zwischensumme", "120,00"), ("MwSt. 19%", "15,30"), ("MwSt. 7%", "2,10"), ("Gesamtbetrag", "134,90 EUR")]
    invoice = _extract([*VENDOR, *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals)]).invoice
    assert invoice.adjustments is None
    assert IssueCode.TOTAL_MISMATCH in {issue.code for issue in validate_invoice(invoice)}


def test_a_zero_rate_tax_row_in_the_german_order_is_read_as_a_tax_of_zero() -> None:
    """ "zzgl. MwSt. 0%  0,00" names the tax before its rate; unread, the record would carry no tax at all."""
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Summe netto", "100,00"), ("zzgl. MwSt. 0%", "0,00"), ("Gesamt brutto", "100,00 EUR")]
    result = _extract([*VENDOR, *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals)])
    assert (result.invoice.subtotal, result.invoice.tax, result.invoice.total) == (
        Decimal("100.00"), Decimal("0.00"), Decimal("100.00"),
    )  # fmt: skip
    assert result.fields["tax"].raw_text == "0,00"


def test_a_bill_to_name_over_two_lines_is_doubted_not_accepted_as_its_first_line() -> None:
    customer = [(150, 400, "Kunde:"), (150, 460, "Oakridge"), (150, 520, "Retail Group GmbH"), (150, 580, "Elmweg 12")]
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Zwischensumme", "100,00"), ("MwSt. 19%", "19,00"), ("Gesamtbetrag", "119,00 EUR")]
    result = _extract([*VENDOR, *customer, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals)])
    evidence = result.fields["customer_name"].evidence
    assert evidence is not None
    if result.invoice.customer_name != "Oakridge Retail Group GmbH":
        assert any("two lines" in doubt for doubt in evidence.doubts)


def test_a_wordmark_with_the_start_of_the_name_takes_the_full_name_from_the_legal_line() -> None:
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Zwischensumme", "100,00"), ("MwSt. 19%", "19,00"), ("Gesamtbetrag", "119,00 EUR")]
    lines = [
        (150, 120, "hafenmeister."),
        *CUSTOMER,
        *NUMBER_AND_DATE,
        *HEADER,
        *items,
        *_totals_block(totals),
        (150, 3300, "Hafenmeister Logistik GmbH · HRB 40512 Hamburg · USt-IdNr. DE123456789"),
    ]
    assert _extract(lines).invoice.vendor_name == "Hafenmeister Logistik GmbH"


FAMILIES = "factura,fattura,rechnung,factuur,avoir"


@pytest.fixture(scope="module")
def wide_born_digital(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("wide")
    generate_samples(folder, count=20, seed=5, families=FAMILIES)
    return sorted(pdf for pdf in folder.glob("*born_digital*.pdf"))


def _routed(pdf: Path, scratch: Path) -> tuple[dict[str, object], RecordStatus]:
    data = pdf.read_bytes()
    document = Document(
        document_id=hashlib.sha256(data).hexdigest(),
        source=str(pdf),
        local_path=str(pdf),
        size_bytes=len(data),
        media_type="application/pdf",
    )
    settings = Settings()
    pages, _ = read_pages(document, scratch, settings)
    record = routed_record(document, len(pages), extract_invoice(pages), [], settings)
    return record.invoice.model_dump(mode="json"), record.status


def test_born_digital_wide_invoices_are_read_and_none_is_accepted_wrong(
    wide_born_digital: list[Path], tmp_path: Path
) -> None:
    assert len(wide_born_digital) >= 5
    right_amounts = accepted = 0
    for pdf in wide_born_digital:
        truth = json.loads(pdf.with_name(pdf.stem + ".truth.json").read_text())
        invoice, status = _routed(pdf, tmp_path)
        wrong = [name for name in HEADER_FIELDS if not values_match(name, invoice.get(name), truth.get(name))]
        assert status is not RecordStatus.ACCEPTED or not wrong, f"{pdf.name} accepted with wrong {wrong}"
        accepted += status is RecordStatus.ACCEPTED
        right_amounts += all(values_match(name, invoice[name], truth[name]) for name in ("subtotal", "tax", "total"))
    # Labels in five languages, adjustments and several tax rates: the amounts are read on most of them.
    assert right_amounts >= 0.8 * len(wide_born_digital)
    assert accepted >= 0.5 * len(wide_born_digital)


@pytest.mark.parametrize("form", ["S.L.U.", "S.L.", "S.A.U.", "S.a.s."])
def test_a_vendor_whose_spanish_or_italian_legal_form_wraps_below_is_doubted(form: str) -> None:
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Zwischensumme", "100,00"), ("MwSt. 19%", "19,00"), ("Gesamtbetrag", "119,00 EUR")]
    lines = [(150, 150, "Bluebird Provisions"), (150, 200, form), *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items]
    result = _extract([*lines, *_totals_block(totals)])
    evidence = result.fields["vendor_name"].evidence
    assert evidence is not None
    assert result.invoice.vendor_name == f"Bluebird Provisions {form}" or any(
        "two lines" in doubt for doubt in evidence.doubts
    )


def _credit_note(title: str) -> ExtractionResult:
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "-50,00"), (2150, 980, "-100,00")]
    totals = [("Zwischensumme", "-100,00"), ("MwSt. 19%", "-19,00"), ("Gesamtbetrag", "-119,00 EUR")]
    lines = [*VENDOR, (1700, 150, title), *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items]
    return _extract([*lines, *_totals_block(totals)])


@pytest.mark.parametrize("title", ["GUTSCHRIFT", "NOTA DI CREDITO", "NOTA DICREDITO", "Credit Note", "AVOIR"])
def test_a_declared_credit_note_may_have_a_negative_total(title: str) -> None:
    invoice = _credit_note(title).invoice
    assert invoice.total == Decimal("-119.00")
    assert invoice.document_type is DocumentType.CREDIT_NOTE
    assert IssueCode.NON_POSITIVE_TOTAL not in {issue.code for issue in validate_invoice(invoice)}


def test_a_negative_total_on_a_document_titled_invoice_is_still_flagged() -> None:
    invoice = _credit_note("RECHNUNG").invoice
    assert invoice.document_type is None
    assert IssueCode.NON_POSITIVE_TOTAL in {issue.code for issue in validate_invoice(invoice)}


def test_a_title_ocr_ran_together_is_no_vendor_name() -> None:
    assert is_title("NOTA DICREDITO") and is_title("FACTURA") and not is_title("Factura n.")


def _footer_vendor(footer: list[tuple[float, float, str]]) -> ExtractionResult:
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Zwischensumme", "100,00"), ("MwSt. 19%", "19,00"), ("Gesamtbetrag", "119,00 EUR")]
    lines = [(1700, 150, "INVOICE"), (150, 210, "Am Kai 4"), (150, 260, "billing@ atlas.example"), *CUSTOMER]
    return _extract([*lines, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals), *footer], source="ocr")


def test_the_footer_names_the_issuer_below_a_payment_note_and_not_the_page_number() -> None:
    footer = [
        (150, 3100, "Payment due within 30 days of invoice date."),
        (150, 3160, "Atlas Systems B.V. - KvK 081704 - VAT NL408176418B01"),
        (2100, 3300, "Page 1 of 1"),
    ]
    assert _footer_vendor(footer).invoice.vendor_name == "Atlas Systems B.V."


def test_a_vendor_name_one_letter_off_the_pages_domain_is_doubted() -> None:
    footer = [(150, 3160, "Atias Systems B.V. - KvK 081704 - VAT NL408176418B01")]
    result = _footer_vendor(footer)
    evidence = result.fields["vendor_name"].evidence
    assert result.invoice.vendor_name == "Atias Systems B.V."
    assert evidence is not None and any("misread a letter" in doubt for doubt in evidence.doubts)


def test_past_a_note_only_a_footer_line_with_a_legal_form_names_the_issuer() -> None:
    items = [(150, 980, "Versandkarton"), (1500, 980, "2"), (1800, 980, "50,00"), (2150, 980, "100,00")]
    totals = [("Zwischensumme", "100,00"), ("MwSt. 19%", "19,00"), ("Gesamtbetrag", "119,00 EUR")]
    footer = [(150, 3100, "Thank you for shopping with us today"), (150, 3160, "OPERATOR KARKI HARI")]
    lines = [*VENDOR, *CUSTOMER, *NUMBER_AND_DATE, *HEADER, *items, *_totals_block(totals), *footer]
    assert _extract(lines, source="ocr").invoice.vendor_name == "Hafenmeister Logistik GmbH"
