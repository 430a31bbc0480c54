"""Generated e-invoices (dev tooling, used by the tests and benchmarks/einvoice_benchmark.py): CII and UBL XML,
the invoice page drawn with reportlab, and Factur-X PDFs made with the factur-x library
(generate_from_binary, which also checks the XML against the Factur-X XSD)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from pipeline.money import CENT

CII_GUIDELINES = {
    "en16931": "urn:cen.eu:en16931:2017",
    "basicwl": "urn:factur-x.eu:1p0:basicwl",
    "minimum": "urn:factur-x.eu:1p0:minimum",
    "xrechnung": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
}
PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"


@dataclass(frozen=True)
class Spec:
    """One invoice: what the XML says. `printed` overrides what the page prints (to contradict the XML)."""

    number: str = "FX-2024-0042"
    issued: date = date(2024, 3, 15)
    due: date | None = date(2024, 4, 14)
    currency: str = "EUR"
    seller: str = "Nordwind Handels GmbH"
    buyer: str = "Globex Corporation SARL"
    seller_vat: str = "DE123456789"
    buyer_vat: str = "FR12345678901"
    iban: str = "DE02120300000000202051"
    order: str = "PO-7781"
    lines: tuple[tuple[str, Decimal, Decimal], ...] = (
        ("Consulting services", Decimal(10), Decimal("120.00")),
        ("Travel expenses", Decimal(1), Decimal("230.50")),
    )
    rate: Decimal = Decimal(19)
    type_code: str = "380"
    profile: str = "en16931"
    printed: dict[str, str] = field(default_factory=dict)

    @property
    def net(self) -> Decimal:
        return sum((q * p).quantize(CENT) for _, q, p in self.lines) or Decimal("0.00")

    @property
    def tax(self) -> Decimal:
        return (self.net * self.rate / 100).quantize(CENT)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


def _d(day: date) -> str:
    return day.strftime("%Y%m%d")


def _cii_lines(spec: Spec) -> str:
    if spec.profile in ("minimum", "basicwl"):
        return ""
    rows = []
    for number, (name, quantity, price) in enumerate(spec.lines, start=1):
        rows.append(f"""<ram:IncludedSupplyChainTradeLineItem>
<ram:AssociatedDocumentLineDocument><ram:LineID>{number}</ram:LineID></ram:AssociatedDocumentLineDocument>
<ram:SpecifiedTradeProduct><ram:Name>{escape(name)}</ram:Name></ram:SpecifiedTradeProduct>
<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>{price}</ram:ChargeAmount>
</ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>
<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">{quantity}</ram:BilledQuantity>
</ram:SpecifiedLineTradeDelivery>
<ram:SpecifiedLineTradeSettlement><ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode>
<ram:CategoryCode>S</ram:CategoryCode><ram:RateApplicablePercent>{spec.rate}</ram:RateApplicablePercent>
</ram:ApplicableTradeTax><ram:SpecifiedTradeSettlementLineMonetarySummation>
<ram:LineTotalAmount>{(quantity * price).quantize(CENT)}</ram:LineTotalAmount>
</ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>
</ram:IncludedSupplyChainTradeLineItem>""")
    return "\n".join(rows)


def _cii_party(role: str, name: str, vat: str, country: str) -> str:
    return (
        f"<ram:{role}><ram:Name>{escape(name)}</ram:Name><ram:PostalTradeAddress><ram:CountryID>{country}"
        f'</ram:CountryID></ram:PostalTradeAddress><ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{vat}'
        f"</ram:ID></ram:SpecifiedTaxRegistration></ram:{role}>"
    )


def _cii_settlement(spec: Spec) -> str:
    minimum = spec.profile == "minimum"
    means = (
        ""
        if minimum
        else f"""<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode>
<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>{spec.iban}</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>
</ram:SpecifiedTradeSettlementPaymentMeans>
<ram:ApplicableTradeTax><ram:CalculatedAmount>{spec.tax}</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode>
<ram:BasisAmount>{spec.net}</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode>
<ram:RateApplicablePercent>{spec.rate}</ram:RateApplicablePercent></ram:ApplicableTradeTax>"""
    )
    terms = (
        f'<ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime><udt:DateTimeString format="102">{_d(spec.due)}'
        "</udt:DateTimeString></ram:DueDateDateTime></ram:SpecifiedTradePaymentTerms>"
        if spec.due and not minimum
        else ""
    )
    line_total = "" if minimum else f"<ram:LineTotalAmount>{spec.net}</ram:LineTotalAmount>"
    return f"""<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>{spec.currency}</ram:InvoiceCurrencyCode>
{means}{terms}<ram:SpecifiedTradeSettlementHeaderMonetarySummation>{line_total}
<ram:TaxBasisTotalAmount>{spec.net}</ram:TaxBasisTotalAmount>
<ram:TaxTotalAmount currencyID="{spec.currency}">{spec.tax}</ram:TaxTotalAmount>
<ram:GrandTotalAmount>{spec.total}</ram:GrandTotalAmount><ram:DuePayableAmount>{spec.total}</ram:DuePayableAmount>
</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement>"""


def cii_xml(spec: Spec) -> bytes:
    order = (
        ""
        if spec.profile == "minimum"
        else f"<ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>{spec.order}</ram:IssuerAssignedID>"
        "</ram:BuyerOrderReferencedDocument>"
    )
    buyer_ref = "<ram:BuyerReference>04011000-12345-03</ram:BuyerReference>" if spec.profile == "xrechnung" else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
<ram:ID>{CII_GUIDELINES[spec.profile]}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
</rsm:ExchangedDocumentContext>
<rsm:ExchangedDocument><ram:ID>{escape(spec.number)}</ram:ID><ram:TypeCode>{spec.type_code}</ram:TypeCode>
<ram:IssueDateTime><udt:DateTimeString format="102">{_d(spec.issued)}</udt:DateTimeString></ram:IssueDateTime>
</rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction>
{_cii_lines(spec)}
<ram:ApplicableHeaderTradeAgreement>{buyer_ref}
{_cii_party("SellerTradeParty", spec.seller, spec.seller_vat, "DE")}
{_cii_party("BuyerTradeParty", spec.buyer, spec.buyer_vat, "FR")}
{order}</ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeDelivery/>
{_cii_settlement(spec)}
</rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
""".encode()


def _ubl_party(role: str, name: str, vat: str, country: str) -> str:
    return f"""<cac:{role}><cac:Party><cac:PartyName><cbc:Name>{escape(name)}</cbc:Name></cac:PartyName>
<cac:PostalAddress><cac:Country><cbc:IdentificationCode>{country}</cbc:IdentificationCode></cac:Country>
</cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>{vat}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID>
</cac:TaxScheme></cac:PartyTaxScheme><cac:PartyLegalEntity><cbc:RegistrationName>{escape(name)}</cbc:RegistrationName>
</cac:PartyLegalEntity></cac:Party></cac:{role}>"""


def ubl_xml(spec: Spec) -> bytes:
    """A Peppol BIS Billing 3.0 invoice, or a credit note when the type code is 381."""
    credit = spec.type_code == "381"
    root, line_tag, qty_tag = ("CreditNote", "CreditNoteLine", "CreditedQuantity") if credit else (
        "Invoice", "InvoiceLine", "InvoicedQuantity")  # fmt: skip
    cur = f'currencyID="{spec.currency}"'
    category = (
        f"<cbc:ID>S</cbc:ID><cbc:Percent>{spec.rate}</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>"
    )
    lines = "\n".join(
        f"""<cac:{line_tag}><cbc:ID>{n}</cbc:ID><cbc:{qty_tag} unitCode="C62">{q}</cbc:{qty_tag}>
<cbc:LineExtensionAmount {cur}>{(q * p).quantize(CENT)}</cbc:LineExtensionAmount>
<cac:Item><cbc:Name>{escape(name)}</cbc:Name>
<cac:ClassifiedTaxCategory>{category}</cac:ClassifiedTaxCategory></cac:Item>
<cac:Price><cbc:PriceAmount {cur}>{p}</cbc:PriceAmount></cac:Price></cac:{line_tag}>"""
        for n, (name, q, p) in enumerate(spec.lines, start=1)
    )
    due = "" if credit or spec.due is None else f"<cbc:DueDate>{spec.due.isoformat()}</cbc:DueDate>"
    # A CreditNote has no DueDate; its payment means carry one.
    credit_due = f"<cbc:PaymentDueDate>{spec.due.isoformat()}</cbc:PaymentDueDate>" if credit and spec.due else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:CustomizationID>{PEPPOL}</cbc:CustomizationID>
<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
<cbc:ID>{escape(spec.number)}</cbc:ID><cbc:IssueDate>{spec.issued.isoformat()}</cbc:IssueDate>{due}
<cbc:{root}TypeCode>{spec.type_code}</cbc:{root}TypeCode><cbc:DocumentCurrencyCode>{spec.currency}</cbc:DocumentCurrencyCode>
<cac:OrderReference><cbc:ID>{spec.order}</cbc:ID></cac:OrderReference>
{_ubl_party("AccountingSupplierParty", spec.seller, spec.seller_vat, "DE")}
{_ubl_party("AccountingCustomerParty", spec.buyer, spec.buyer_vat, "FR")}
<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>{credit_due}
<cac:PayeeFinancialAccount><cbc:ID>{spec.iban}</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
<cac:TaxTotal><cbc:TaxAmount {cur}>{spec.tax}</cbc:TaxAmount><cac:TaxSubtotal>
<cbc:TaxableAmount {cur}>{spec.net}</cbc:TaxableAmount><cbc:TaxAmount {cur}>{spec.tax}</cbc:TaxAmount>
<cac:TaxCategory>{category}</cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>
<cac:LegalMonetaryTotal><cbc:LineExtensionAmount {cur}>{spec.net}</cbc:LineExtensionAmount>
<cbc:TaxExclusiveAmount {cur}>{spec.net}</cbc:TaxExclusiveAmount>
<cbc:TaxInclusiveAmount {cur}>{spec.total}</cbc:TaxInclusiveAmount>
<cbc:PayableAmount {cur}>{spec.total}</cbc:PayableAmount></cac:LegalMonetaryTotal>
{lines}
</{root}>
""".encode()


def _printed(spec: Spec) -> dict[str, str]:
    shown = {
        "number": spec.number,
        "issued": spec.issued.strftime("%d.%m.%Y"),
        "due": spec.due.strftime("%d.%m.%Y") if spec.due else "",
        "currency": spec.currency,
        "net": f"{spec.net:,.2f}",
        "tax": f"{spec.tax:,.2f}",
        "total": f"{spec.total:,.2f}",
        "rate": f"{spec.rate.normalize():f}",
    }
    return {**shown, **spec.printed}


def page_pdf(spec: Spec) -> bytes:
    """The invoice as a person sees it: a one-page born-digital PDF drawn with reportlab."""
    from io import BytesIO

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    shown = _printed(spec)
    cur = shown["currency"]
    rows: list[tuple[float, float, str]] = [
        (50, 60, spec.seller), (50, 75, f"VAT ID {spec.seller_vat}"), (50, 90, f"IBAN {spec.iban}"),
        (380, 60, "Invoice No:"), (470, 60, shown["number"]), (380, 75, "Date:"), (470, 75, shown["issued"]),
        (50, 130, "Bill To"), (50, 145, spec.buyer), (50, 160, f"Your order {spec.order}"),
        (50, 200, "Description"), (300, 200, "Qty"), (380, 200, "Unit Price"), (480, 200, "Amount"),
    ]  # fmt: skip
    if shown["due"]:
        rows += [(380, 90, "Due Date:"), (470, 90, shown["due"])]
    y = 220.0
    for name, quantity, price in spec.lines:
        rows += [
            (50, y, name),
            (300, y, f"{quantity}"),
            (380, y, f"{price:,.2f}"),
            (480, y, f"{quantity * price:,.2f}"),
        ]
        y += 20
    rows += [
        (380, y + 30, "Subtotal"), (480, y + 30, f"{cur} {shown['net']}"),
        (380, y + 45, f"VAT ({shown['rate']}%)"), (480, y + 45, f"{cur} {shown['tax']}"),
        (380, y + 60, "Total Due"), (480, y + 60, f"{cur} {shown['total']}"),
    ]  # fmt: skip
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for x, top, text in rows:
        pdf.drawString(x, A4[1] - top, text)
    pdf.save()
    return buffer.getvalue()


def scanned(pdf: bytes, workdir: Path) -> bytes:
    """The page as a scan: rasterised at 200 dpi and wrapped in an image-only PDF (no text layer)."""
    import subprocess

    from PIL import Image

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "page.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "200", "-gray", "-png", "-singlefile", str(workdir / "page.pdf"),
                    str(workdir / "page")], check=True)  # fmt: skip
    with Image.open(workdir / "page.png") as image:
        image.save(workdir / "scan.pdf", resolution=200.0)
    return (workdir / "scan.pdf").read_bytes()


def facturx_pdf(page: bytes, xml: bytes) -> bytes:
    """A Factur-X PDF/A-3: the page with the CII XML embedded as factur-x.xml (XSD-checked by the library)."""
    from facturx import generate_from_binary

    return bytes(generate_from_binary(page, xml, flavor="factur-x", check_xsd=True))


def pdf_with_attachment(page: bytes, name: str, data: bytes) -> bytes:
    """The page with any bytes attached under `name`: how a hostile 'factur-x.xml' is made (factur-x refuses)."""
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(BytesIO(page)))
    writer.add_attachment(name, data)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


HOSTILE_XML: dict[str, bytes] = {
    "malformed": b"<?xml version='1.0'?><rsm:CrossIndustryInvoice xmlns:rsm='x'><a></rsm:CrossIndustryInvoice>",
    "xxe": b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>&x;</ID></Invoice>""",
    "xxe_network": b"""<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>""",
    "billion_laughs": b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]><lolz>&lol5;</lolz>""",
    "not_an_invoice": b"<?xml version='1.0'?><catalog><book>Dune</book></catalog>",
}


def huge_xml(size: int) -> bytes:
    """A valid CII invoice padded with white space past `size` bytes."""
    xml = cii_xml(Spec())
    return xml.replace(b"<rsm:ExchangedDocument>", b" " * size + b"<rsm:ExchangedDocument>", 1)


_SELLERS = ("Nordwind Handels GmbH", "Atelier Lumière SAS", "Brouwer & Zonen B.V.", "Kowalski Sp. z o.o.")
_BUYERS = ("Globex Corporation SARL", "Initech Logistik AG", "Umbrella Retail SpA", "Stark Industrie GmbH")
_ITEMS = ("Consulting services", "Support contract", "Steel brackets", "Cable set", "Training day", "Licence")


def random_spec(rng: random.Random, index: int) -> Spec:
    lines = tuple(
        (rng.choice(_ITEMS), Decimal(rng.randint(1, 12)), Decimal(rng.randint(500, 90000)) / 100)
        for _ in range(rng.randint(1, 4))
    )
    issued = date(2025, 1, 1) + timedelta(days=rng.randint(0, 300))
    return Spec(
        number=f"RE-{2025}-{index:05d}",
        issued=issued,
        due=issued + timedelta(days=rng.choice((14, 30, 45))),
        currency=rng.choice(("EUR", "EUR", "CHF", "USD")),
        seller=rng.choice(_SELLERS),
        buyer=rng.choice(_BUYERS),
        lines=lines,
        rate=Decimal(rng.choice((19, 7, 20, 21))),
        order=f"PO-{rng.randint(1000, 9999)}",
        profile=rng.choice(("en16931", "en16931", "basicwl", "minimum", "xrechnung")),
    )


def contradicted(spec: Spec, kind: str) -> Spec:
    """The same invoice whose page prints one thing differently: what real archives hold."""
    if kind == "total_cent":
        return replace(spec, printed={"total": f"{spec.total + CENT:,.2f}"})
    if kind == "other_invoice":
        other = replace(spec, number=spec.number + "7", issued=spec.issued + timedelta(days=3))
        return replace(spec, printed={"number": other.number, "issued": other.issued.strftime("%d.%m.%Y")})
    if kind == "currency":
        return replace(spec, printed={"currency": "USD" if spec.currency != "USD" else "EUR"})
    if kind == "tax_rate":
        return replace(spec, printed={"rate": "16" if spec.rate != 16 else "19"})
    raise ValueError(kind)


CONTRADICTIONS = ("total_cent", "other_invoice", "currency", "tax_rate")
