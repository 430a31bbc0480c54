"""Map a UN/CEFACT Cross Industry Invoice (Factur-X, ZUGFeRD 2.x, XRechnung CII) to our Invoice.

Business terms (BT-n) are EN 16931's; the paths are the CII syntax binding of the standard.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from pipeline.einvoice.schema import cii_schema_problem, has_schema
from pipeline.einvoice.values import (
    CREDIT_NOTE_TYPE_CODES,
    PROFILES_WITHOUT_LINES,
    EInvoiceReading,
    Finder,
    LinePaths,
    profile_name,
    read_line_items,
    to_date,
    to_decimal,
)
from schemas import DocumentType, EInvoiceData, EInvoiceSyntax, TaxBreakdown

CII_NAMESPACE = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_FIND = Finder(
    {
        "rsm": CII_NAMESPACE,
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    }
)
_TRADE = "rsm:SupplyChainTradeTransaction"
_AGREEMENT = f"{_TRADE}/ram:ApplicableHeaderTradeAgreement"
_SETTLEMENT = f"{_TRADE}/ram:ApplicableHeaderTradeSettlement"
_TOTALS = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_IBAN = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID"


def _vat_id(root: etree._Element, party: str) -> str | None:
    registrations = f"{_AGREEMENT}/ram:{party}/ram:SpecifiedTaxRegistration/ram:ID"
    return _FIND.text(root, f"{registrations}[@schemeID='VA']")


def _tax_total(root: etree._Element, currency: str | None) -> Decimal | None:
    """BT-110: the tax total in the invoice currency (a second one may be given in the accounting currency)."""
    amounts = _FIND.all(root, f"{_TOTALS}/ram:TaxTotalAmount")
    chosen = next((a for a in amounts if a.get("currencyID") == currency), amounts[0] if amounts else None)
    return to_decimal(chosen.text.strip() if chosen is not None and chosen.text else None, "TaxTotalAmount")


def _breakdown(root: etree._Element) -> list[TaxBreakdown]:
    return [
        TaxBreakdown(
            rate=_FIND.amount(tax, "ram:RateApplicablePercent"),
            category=_FIND.text(tax, "ram:CategoryCode"),
            taxable_amount=_FIND.amount(tax, "ram:BasisAmount"),
            tax_amount=_FIND.amount(tax, "ram:CalculatedAmount"),
        )
        for tax in _FIND.all(root, f"{_SETTLEMENT}/ram:ApplicableTradeTax")
    ]


_LINE_PATHS = LinePaths(
    lines=f"{_TRADE}/ram:IncludedSupplyChainTradeLineItem",
    description="ram:SpecifiedTradeProduct/ram:Name",
    quantity="ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
    price="ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
    price_base_quantity="ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:BasisQuantity",
    amount="ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
)


def read_cii(root: etree._Element, source: str) -> EInvoiceReading:
    """The invoice a CII tree describes (amounts as written; credit-note signs are settled by the caller)."""
    guideline = _FIND.text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    profile = profile_name(guideline)
    type_code = _FIND.text(root, "rsm:ExchangedDocument/ram:TypeCode")
    currency = _FIND.text(root, f"{_SETTLEMENT}/ram:InvoiceCurrencyCode")
    fields = {
        "vendor_name": _FIND.text(root, f"{_AGREEMENT}/ram:SellerTradeParty/ram:Name"),
        "customer_name": _FIND.text(root, f"{_AGREEMENT}/ram:BuyerTradeParty/ram:Name"),
        "invoice_number": _FIND.text(root, "rsm:ExchangedDocument/ram:ID"),
        "invoice_date": to_date(
            _FIND.text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"), "IssueDateTime", True
        ),
        "due_date": to_date(
            _FIND.text(root, f"{_SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"),
            "DueDateDateTime",
            True,
        ),
        "currency": currency,
        "subtotal": _FIND.amount(root, f"{_TOTALS}/ram:TaxBasisTotalAmount"),
        "tax": _tax_total(root, currency),
        "total": _FIND.amount(root, f"{_TOTALS}/ram:GrandTotalAmount"),
        "line_items": [] if profile in PROFILES_WITHOUT_LINES else read_line_items(_FIND, root, _LINE_PATHS),
    }
    data = EInvoiceData(
        syntax=EInvoiceSyntax.CII,
        profile=profile,
        guideline_id=guideline,
        source=source,
        document_type=DocumentType.CREDIT_NOTE if type_code in CREDIT_NOTE_TYPE_CODES else DocumentType.INVOICE,
        type_code=type_code,
        profile_has_line_items=profile not in PROFILES_WITHOUT_LINES,
        seller_vat_id=_vat_id(root, "SellerTradeParty"),
        buyer_vat_id=_vat_id(root, "BuyerTradeParty"),
        iban=_FIND.text(
            root,
            f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
        ),
        order_reference=_FIND.text(root, f"{_AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        amount_due=_FIND.amount(root, f"{_TOTALS}/ram:DuePayableAmount"),
        tax_breakdown=_breakdown(root),
    )
    problem = cii_schema_problem(root, profile)
    return EInvoiceReading.build(fields, data, schema_checked=has_schema(profile), schema_problem=problem)
