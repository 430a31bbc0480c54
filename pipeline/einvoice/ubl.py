"""Map an OASIS UBL 2.1 Invoice or CreditNote (Peppol BIS Billing 3.0, XRechnung UBL) to our Invoice.

Business terms (BT-n) are EN 16931's; the paths are the UBL syntax binding of the standard.
"""

from __future__ import annotations

from lxml import etree

from pipeline.einvoice.values import (
    CREDIT_NOTE_TYPE_CODES,
    EInvoiceReading,
    Finder,
    LinePaths,
    profile_name,
    read_line_items,
    to_date,
)
from schemas import DocumentType, EInvoiceData, EInvoiceSyntax, TaxBreakdown

UBL_INVOICE_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NAMESPACE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
_FIND = Finder(
    {
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    }
)
_SELLER = "cac:AccountingSupplierParty/cac:Party"
_BUYER = "cac:AccountingCustomerParty/cac:Party"
_TOTALS = "cac:LegalMonetaryTotal"


def _party_name(root: etree._Element, party: str) -> str | None:
    return _FIND.text(root, f"{party}/cac:PartyLegalEntity/cbc:RegistrationName") or _FIND.text(
        root, f"{party}/cac:PartyName/cbc:Name"
    )


def _vat_id(root: etree._Element, party: str) -> str | None:
    return _FIND.text(root, f"{party}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID")


def _tax_total(root: etree._Element, currency: str | None) -> etree._Element | None:
    """The TaxTotal in the document currency (BT-110); another may be given in the accounting currency."""
    totals = _FIND.all(root, "cac:TaxTotal")
    for total in totals:
        amount = _FIND.first(total, "cbc:TaxAmount")
        if amount is not None and amount.get("currencyID") == currency:
            return total
    return totals[0] if totals else None


def _breakdown(tax_total: etree._Element | None) -> list[TaxBreakdown]:
    if tax_total is None:
        return []
    return [
        TaxBreakdown(
            rate=_FIND.amount(sub, "cac:TaxCategory/cbc:Percent"),
            category=_FIND.text(sub, "cac:TaxCategory/cbc:ID"),
            taxable_amount=_FIND.amount(sub, "cbc:TaxableAmount"),
            tax_amount=_FIND.amount(sub, "cbc:TaxAmount"),
        )
        for sub in _FIND.all(tax_total, "cac:TaxSubtotal")
    ]


_LINE_PATHS = LinePaths(
    lines="cac:InvoiceLine | cac:CreditNoteLine",
    description="cac:Item/cbc:Name",
    quantity="cbc:InvoicedQuantity | cbc:CreditedQuantity",
    price="cac:Price/cbc:PriceAmount",
    price_base_quantity="cac:Price/cbc:BaseQuantity",
    amount="cbc:LineExtensionAmount",
)


def read_ubl(root: etree._Element, source: str) -> EInvoiceReading:
    """The invoice a UBL Invoice or CreditNote tree describes."""
    credit_root = etree.QName(root).namespace == UBL_CREDIT_NOTE_NAMESPACE
    guideline = _FIND.text(root, "cbc:CustomizationID")
    type_code = _FIND.text(root, "cbc:CreditNoteTypeCode" if credit_root else "cbc:InvoiceTypeCode")
    currency = _FIND.text(root, "cbc:DocumentCurrencyCode")
    tax_total = _tax_total(root, currency)
    fields = {
        "vendor_name": _party_name(root, _SELLER),
        "customer_name": _party_name(root, _BUYER),
        "invoice_number": _FIND.text(root, "cbc:ID"),
        "invoice_date": to_date(_FIND.text(root, "cbc:IssueDate"), "IssueDate", False),
        "due_date": to_date(
            _FIND.text(root, "cbc:DueDate") or _FIND.text(root, "cac:PaymentMeans/cbc:PaymentDueDate"), "DueDate", False
        ),
        "currency": currency,
        "subtotal": _FIND.amount(root, f"{_TOTALS}/cbc:TaxExclusiveAmount"),
        "tax": _FIND.amount(tax_total, "cbc:TaxAmount") if tax_total is not None else None,
        "total": _FIND.amount(root, f"{_TOTALS}/cbc:TaxInclusiveAmount"),  # BT-112
        "line_items": read_line_items(_FIND, root, _LINE_PATHS),
    }
    credit = credit_root or type_code in CREDIT_NOTE_TYPE_CODES
    data = EInvoiceData(
        syntax=EInvoiceSyntax.UBL,
        profile=profile_name(guideline),
        guideline_id=guideline,
        source=source,
        document_type=DocumentType.CREDIT_NOTE if credit else DocumentType.INVOICE,
        type_code=type_code,
        seller_vat_id=_vat_id(root, _SELLER),
        buyer_vat_id=_vat_id(root, _BUYER),
        iban=_FIND.text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"),
        order_reference=_FIND.text(root, "cac:OrderReference/cbc:ID"),
        amount_due=_FIND.amount(root, f"{_TOTALS}/cbc:PayableAmount"),
        tax_breakdown=_breakdown(tax_total),
    )
    return EInvoiceReading.build(fields, data)
