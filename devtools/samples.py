"""Deterministic generator of realistic sample invoices with ground truth.

``generate_samples(out_dir, count, seed)`` writes ``<stem>.pdf`` plus ``<stem>.truth.json`` per invoice.
Three kinds are produced: ``born_digital`` (reportlab, real text layer), ``clean_scan`` and ``hard_scan``
(the born-digital pages rendered with poppler, degraded with OpenCV/numpy and saved as an image-only PDF).

Everything is driven by seeded RNGs (one per sample, derived from ``seed`` and the sample's index), and
reportlab runs with ``invariant=1``, so the same seed always yields byte-identical files and sample ``i``
does not depend on ``count``.

Layout families live in ``LAYOUTS``: each is a ``Layout`` value describing where blocks sit, the table
style and the label vocabulary it may use. Most families share the full-page renderer (``frame="page"``);
``compact`` (receipt-like centred column) and ``sidebar`` (meta data in a shaded left column, German or
French labels for some invoices) have renderers of their own.

Two properties are fixed by the sample's index alone (see ``plan_sample``), so every batch of a given size
has the same mix whatever the seed:

* multi-page: indices 4, 9, 15 and 20 of every run of 24 (1 in 6). Those invoices have 14-30 line items
  that run onto a second page; totals are printed on the last page only. Truth ``pages`` is the page count.
* inconsistent: indices 6, 19, 32 and 45 of every run of 48 (1 in 12, never among the first 4). Exactly
  one relation printed on the page is broken, and truth records the printed values with
  ``"inconsistent": true``. Either the total is off from subtotal + tax by +-1, +-10 or +-100 currency
  units, or the subtotal is off from the sum of the line amounts by +-1, +-10 or +-100 or by minus one
  line's amount (a line left out of the sum). The tax always matches the printed subtotal.

Money in truth is always a string with two decimals; JPY invoices print whole yen but keep ``.00`` in truth.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pdf2image import convert_from_bytes
from PIL import Image
from reportlab.lib.pagesizes import A4, letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from pipeline.money import CENT, issuer_round

Kind = Literal["born_digital", "clean_scan", "hard_scan"]
Align = Literal["left", "right", "center"]
Language = Literal["en", "de", "fr", "nl", "es", "it"]
Frame = Literal["page", "compact", "sidebar"]
VendorMark = Literal["name", "wordmark", "footer"]

# Deterministic cycle: half born-digital, a quarter of each scan kind; any 4 consecutive samples hold all three.
KIND_CYCLE: tuple[Kind, ...] = ("born_digital", "clean_scan", "born_digital", "hard_scan")
# Chosen so that each kind and, over 48 samples, every layout family gets multi-page and inconsistent invoices.
MULTI_PAGE_SLOTS: tuple[int, tuple[int, ...]] = (24, (4, 9, 15, 20))
INCONSISTENT_SLOTS: tuple[int, tuple[int, ...]] = (48, (6, 19, 32, 45))
MULTI_PAGE_ITEMS = (14, 30)

# --------------------------------------------------------------------------------------------------------------
# Layout families
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Label options a layout family may print; one option per field is picked for each invoice."""

    invoice_number: tuple[str, ...]
    invoice_date: tuple[str, ...]
    due_date: tuple[str, ...]
    subtotal: tuple[str, ...]
    total: tuple[str, ...]
    bill_to: tuple[str, ...] = ("Bill To",)
    description: tuple[str, ...] = ("Description",)
    quantity: tuple[str, ...] = ("Qty", "Quantity")
    unit_price: tuple[str, ...] = ("Unit Price", "Rate", "Price")
    amount: tuple[str, ...] = ("Amount",)
    sku: tuple[str, ...] = ("SKU", "Item #", "Code")
    title: tuple[str, ...] = ("INVOICE",)
    colon: bool = False
    tax: tuple[str, ...] = ()  # tax-line templates ("{rate}" is the printed rate); empty means the region's own
    position: tuple[str, ...] = ("#", "No.")  # header of the running line-number column (sidebar only)
    discount: tuple[str, ...] = ("Discount",)
    shipping: tuple[str, ...] = ("Shipping", "Shipping & handling")
    credit_title: tuple[str, ...] = ("CREDIT NOTE",)
    credit_number: tuple[str, ...] = ("Credit Note No.",)


@dataclass(frozen=True)
class Layout:
    """One layout family: block positions, table style and vocabulary."""

    name: str
    font: Literal["Helvetica", "Times", "Courier"]
    vendor_block: Align  # vendor name + address: top-left, top-right or centred header
    bill_to_side: Literal["left", "right"]
    meta_style: Literal["column", "row"]  # label/value column beside bill-to, or labels above values in a row
    table_style: Literal["grid", "zebra", "plain", "ruled", "none"]
    sku_column: bool
    qty_first: bool  # quantity column before the description
    vocabulary: Vocabulary
    header_band: bool = False  # light grey band behind the header
    sender_line: bool = False  # small one-line sender address above the bill-to block (European letter)
    title_below: bool = False  # document title below the address blocks instead of in the header
    frame: Frame = "page"  # which renderer draws the family
    translations: tuple[tuple[Language, Vocabulary], ...] = ()  # non-English label sets, used for some invoices
    # The families after the first eight (WIDE_LAYOUTS) draw the variation real invoices show; the first
    # eight keep these defaults, so their output for a given seed is what it always was.
    translation_share: float = 0.6  # share of invoices printed with one of the translations
    vendor_mark: VendorMark = "name"  # the vendor's name in the header, only a logo-like wordmark, or no name
    party_wrap: bool = False  # vendor and customer names printed over two lines
    legal_line: bool = False  # a footer line naming the vendor with its register number and VAT ID
    totals_box: bool = False  # totals inside a shaded, framed box
    adjustments: bool = False  # discount and shipping lines between subtotal and tax
    split_tax: bool = False  # two tax rates, each on its share of the lines
    credit_notes: bool = False  # some documents are credit notes (negative amounts)
    id_styles: bool = False  # invoice numbers with letter prefixes, suffixes and separators


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        name="classic",
        font="Helvetica",
        vendor_block="left",
        bill_to_side="left",
        meta_style="column",
        table_style="grid",
        sku_column=False,
        qty_first=False,
        vocabulary=Vocabulary(
            invoice_number=("Invoice No.", "Invoice #"),
            invoice_date=("Date", "Invoice Date"),
            due_date=("Due Date",),
            subtotal=("Subtotal",),
            total=("Total", "Total Due"),
            colon=True,
        ),
    ),
    Layout(
        name="modern",
        font="Helvetica",
        vendor_block="right",
        bill_to_side="left",
        meta_style="row",
        table_style="zebra",
        sku_column=True,
        qty_first=False,
        vocabulary=Vocabulary(
            invoice_number=("Invoice Number", "Invoice #"),
            invoice_date=("Issue date", "Invoice Date"),
            due_date=("Due Date", "Payment due"),
            subtotal=("Subtotal", "Sub-total"),
            total=("Amount Due", "Balance Due"),
            bill_to=("Billed To", "Bill To"),
            unit_price=("Unit Price", "Rate"),
            amount=("Amount", "Line Total"),
            title=("Invoice",),
        ),
    ),
    Layout(
        name="centered",
        font="Times",
        vendor_block="center",
        bill_to_side="left",
        meta_style="column",
        table_style="plain",
        sku_column=False,
        qty_first=True,
        vocabulary=Vocabulary(
            invoice_number=("Invoice No.", "Invoice Number"),
            invoice_date=("Date", "Invoice Date"),
            due_date=("Payment due", "Due Date"),
            subtotal=("Sub-total", "Subtotal"),
            total=("Grand Total", "Total"),
            description=("Description", "Particulars"),
            quantity=("Qty", "Quantity"),
            title=("INVOICE", "TAX INVOICE"),
            colon=True,
        ),
    ),
    Layout(
        name="typewriter",
        font="Courier",
        vendor_block="left",
        bill_to_side="right",
        meta_style="column",
        table_style="plain",
        sku_column=True,
        qty_first=True,
        vocabulary=Vocabulary(
            invoice_number=("Inv #", "Invoice #"),
            invoice_date=("Date",),
            due_date=("Due", "Due Date"),
            subtotal=("Subtotal",),
            total=("Total", "Balance Due"),
            bill_to=("Bill To", "Sold To"),
            description=("Description", "Item"),
            quantity=("Qty",),
            unit_price=("Price", "Unit Price"),
            sku=("Code", "SKU"),
            colon=True,
        ),
    ),
    Layout(
        name="letterhead",
        font="Times",
        vendor_block="right",
        bill_to_side="left",
        meta_style="column",
        table_style="grid",
        sku_column=True,
        qty_first=True,
        vocabulary=Vocabulary(
            invoice_number=("Document number", "Invoice Number"),
            invoice_date=("Issue date", "Invoice Date"),
            due_date=("Payment due", "Due Date"),
            subtotal=("Net amount", "Subtotal"),
            total=("Total", "Total Due", "Grand Total"),
            bill_to=("Invoice to", "Customer"),
            unit_price=("Unit price", "Unit cost"),
            sku=("Art. No.", "Item #"),
            title=("Invoice",),
        ),
        sender_line=True,
        title_below=True,
    ),
    Layout(
        name="banded",
        font="Helvetica",
        vendor_block="left",
        bill_to_side="right",
        meta_style="row",
        table_style="zebra",
        sku_column=False,
        qty_first=False,
        vocabulary=Vocabulary(
            invoice_number=("Invoice #", "Invoice No."),
            invoice_date=("Invoice Date", "Date"),
            due_date=("Due Date",),
            subtotal=("Subtotal",),
            total=("Total Due", "Amount Due"),
            description=("Description", "Item description"),
            quantity=("Qty", "Hours/Qty"),
        ),
        header_band=True,
    ),
    # The two families below have renderers of their own, which ignore the block-placement fields.
    Layout(
        name="compact",
        font="Helvetica",
        vendor_block="center",
        bill_to_side="left",
        meta_style="column",
        table_style="none",
        sku_column=False,
        qty_first=True,
        vocabulary=Vocabulary(
            invoice_number=("Invoice No.", "Inv #", "Document number"),
            invoice_date=("Date", "Issued", "Invoice date"),
            due_date=("Due", "Pay by", "Due date"),
            subtotal=("Subtotal", "Sub Total", "Net"),
            total=("Grand Total", "Amount Payable", "Amount Due"),
            bill_to=("Customer", "Sold to", "Bill to"),
            description=("Item", "Description"),
            title=("INVOICE", "TAX INVOICE", "SALES INVOICE"),
        ),
        frame="compact",
    ),
    Layout(
        name="sidebar",
        font="Helvetica",
        vendor_block="left",
        bill_to_side="left",
        meta_style="column",
        table_style="ruled",
        sku_column=False,
        qty_first=False,
        vocabulary=Vocabulary(
            invoice_number=("Invoice No.", "Document number", "Invoice Number"),
            invoice_date=("Invoice Date", "Date of issue"),
            due_date=("Due Date", "Payment due"),
            subtotal=("Subtotal", "Net total"),
            total=("Balance", "Total", "Amount Due"),
            bill_to=("Billed To", "Client"),
            unit_price=("Unit Price", "Rate"),
            title=("INVOICE", "Invoice"),
        ),
        frame="sidebar",
        translations=(
            (
                "de",
                Vocabulary(
                    invoice_number=("Rechnungsnummer", "Rechnungs-Nr.", "Rechnung Nr."),
                    invoice_date=("Rechnungsdatum", "Datum"),
                    due_date=("Fällig am", "Zahlbar bis", "Fälligkeitsdatum"),
                    subtotal=("Nettobetrag", "Zwischensumme", "Summe netto"),
                    total=("Gesamtbetrag", "Rechnungsbetrag", "Gesamt brutto"),
                    bill_to=("Rechnungsempfänger", "Kunde", "Rechnung an"),
                    description=("Bezeichnung", "Beschreibung", "Leistung"),
                    quantity=("Menge", "Anzahl"),
                    unit_price=("Einzelpreis", "E-Preis"),
                    amount=("Gesamtpreis", "Betrag"),
                    title=("RECHNUNG", "Rechnung"),
                    tax=("MwSt. {rate}", "USt. {rate}", "zzgl. MwSt. {rate}"),
                    position=("Pos.", "Nr."),
                ),
            ),
            (
                "fr",
                Vocabulary(
                    invoice_number=("Facture N°", "N° de facture", "Numéro de facture"),
                    invoice_date=("Date de facture", "Date d'émission"),
                    due_date=("Échéance", "Date d'échéance", "À payer avant le"),
                    subtotal=("Total HT", "Sous-total HT"),
                    total=("Total TTC", "Net à payer", "Montant TTC"),
                    bill_to=("Facturé à", "Client", "Destinataire"),
                    description=("Désignation", "Description"),
                    quantity=("Qté", "Quantité"),
                    unit_price=("Prix unitaire", "P.U. HT"),
                    amount=("Montant", "Montant HT"),
                    title=("FACTURE", "Facture"),
                    tax=("TVA {rate}", "TVA ({rate})"),
                    position=("N°", "Réf."),
                ),
            ),
        ),
    ),
)

# --------------------------------------------------------------------------------------------------------------
# Wider families: the variation real invoices show (two-line names, vendor only in a wordmark or footer,
# legal lines, IDs with letters and separators, DE/FR/NL/ES/IT labels, totals boxes, discount and shipping,
# several tax rates, credit notes). They are drawn only when asked for (``families="all"``), so batches of
# the first eight families keep their bytes for every seed.
# --------------------------------------------------------------------------------------------------------------

_DE = Vocabulary(
    invoice_number=("Rechnungsnummer", "Rechnungs-Nr.", "Beleg-Nr."),
    invoice_date=("Rechnungsdatum", "Datum", "Belegdatum"),
    due_date=("Fällig am", "Zahlbar bis"),
    subtotal=("Zwischensumme", "Nettobetrag", "Summe netto"),
    total=("Gesamtbetrag", "Rechnungsbetrag", "Zu zahlen"),
    bill_to=("Rechnungsempfänger", "Kunde"),
    description=("Bezeichnung", "Leistung"),
    quantity=("Menge", "Anzahl"),
    unit_price=("Einzelpreis", "E-Preis"),
    amount=("Gesamt", "Betrag"),
    title=("RECHNUNG", "Rechnung"),
    tax=("MwSt. {rate}", "USt. {rate}"),
    discount=("Rabatt", "Nachlass"),
    shipping=("Versandkosten", "Fracht"),
    credit_title=("GUTSCHRIFT",),
    credit_number=("Gutschrift Nr.",),
)
_FR = Vocabulary(
    invoice_number=("Facture N°", "N° de facture"),
    invoice_date=("Date de facture", "Date"),
    due_date=("Échéance", "Date d'échéance"),
    subtotal=("Total HT", "Sous-total HT"),
    total=("Total TTC", "Net à payer"),
    bill_to=("Client", "Facturé à"),
    description=("Désignation",),
    quantity=("Qté", "Quantité"),
    unit_price=("Prix unitaire", "P.U. HT"),
    amount=("Montant HT", "Montant"),
    title=("FACTURE",),
    tax=("TVA {rate}",),
    discount=("Remise",),
    shipping=("Frais de port", "Livraison"),
    credit_title=("AVOIR",),
    credit_number=("Avoir N°",),
)
_NL = Vocabulary(
    invoice_number=("Factuurnummer", "Factuurnr."),
    invoice_date=("Factuurdatum", "Datum"),
    due_date=("Vervaldatum", "Te betalen voor"),
    subtotal=("Subtotaal", "Totaal excl. BTW"),
    total=("Totaal", "Te betalen", "Totaal incl. BTW"),
    bill_to=("Factuur aan", "Klant"),
    description=("Omschrijving",),
    quantity=("Aantal",),
    unit_price=("Prijs", "Stukprijs"),
    amount=("Bedrag",),
    title=("FACTUUR",),
    tax=("BTW {rate}",),
    discount=("Korting",),
    shipping=("Verzendkosten",),
    credit_title=("CREDITNOTA",),
    credit_number=("Creditnotanummer",),
)
_ES = Vocabulary(
    invoice_number=("Nº Factura", "Número de factura", "Factura n.º"),
    invoice_date=("Fecha", "Fecha de factura", "Fecha de emisión"),
    due_date=("Vencimiento", "Fecha de vencimiento"),
    subtotal=("Base imponible", "Subtotal"),
    total=("Total", "Total a pagar", "Importe total"),
    bill_to=("Cliente", "Facturar a"),
    description=("Descripción", "Concepto"),
    quantity=("Cantidad", "Cant."),
    unit_price=("Precio", "Precio unitario"),
    amount=("Importe",),
    title=("FACTURA",),
    tax=("IVA {rate}",),
    discount=("Descuento",),
    shipping=("Gastos de envío", "Portes"),
    credit_title=("FACTURA RECTIFICATIVA", "ABONO"),
    credit_number=("Nº Rectificativa",),
)
_IT = Vocabulary(
    invoice_number=("Fattura n.", "Numero fattura", "N. fattura"),
    invoice_date=("Data", "Data fattura", "Data emissione"),
    due_date=("Scadenza", "Data scadenza"),
    subtotal=("Imponibile", "Totale imponibile"),
    total=("Totale", "Totale documento", "Totale da pagare"),
    bill_to=("Cliente", "Destinatario", "Spett.le"),
    description=("Descrizione",),
    quantity=("Quantità", "Q.tà"),
    unit_price=("Prezzo", "Prezzo unitario"),
    amount=("Importo",),
    title=("FATTURA",),
    tax=("IVA {rate}",),
    discount=("Sconto",),
    shipping=("Spese di spedizione", "Trasporto"),
    credit_title=("NOTA DI CREDITO",),
    credit_number=("Nota di credito n.",),
)
_EN_WIDE = Vocabulary(
    invoice_number=("Invoice No.", "Invoice Number", "Invoice #", "Reference"),
    invoice_date=("Invoice Date", "Date", "Tax point"),
    due_date=("Due Date", "Payment due"),
    subtotal=("Subtotal", "Net total", "Total excl. tax"),
    total=("Total", "Amount Due", "Total payable"),
    bill_to=("Bill To", "Invoice to", "Customer"),
    title=("INVOICE", "Tax Invoice"),
)


def _wide(name: str, vocabulary: Vocabulary, **options: Any) -> Layout:
    base: dict[str, Any] = {
        "font": "Helvetica",
        "vendor_block": "left",
        "bill_to_side": "left",
        "meta_style": "column",
        "table_style": "grid",
        "sku_column": False,
        "qty_first": False,
    }
    return Layout(name=name, vocabulary=vocabulary, **{**base, **options})


WIDE_LAYOUTS: tuple[Layout, ...] = (
    _wide("twoline", _EN_WIDE, bill_to_side="right", party_wrap=True, id_styles=True, legal_line=True,
          credit_notes=True),
    _wide("wordmark", _EN_WIDE, font="Times", vendor_block="right", vendor_mark="wordmark", legal_line=True,
          totals_box=True, table_style="plain", translations=(("de", _DE),), translation_share=0.4),
    _wide("footerline", _EN_WIDE, vendor_mark="footer", legal_line=True, adjustments=True, meta_style="row",
          table_style="zebra", translations=(("nl", _NL),), translation_share=0.4, id_styles=True),
    _wide("factuur", _NL, vendor_block="right", table_style="zebra", totals_box=True, adjustments=True,
          split_tax=True, translations=(("nl", _NL),), translation_share=1.0, legal_line=True),
    _wide("factura", _ES, font="Times", table_style="plain", qty_first=True, split_tax=True, adjustments=True,
          id_styles=True, party_wrap=True, translations=(("es", _ES),), translation_share=1.0),
    _wide("fattura", _IT, sku_column=True, bill_to_side="right", credit_notes=True, legal_line=True,
          party_wrap=True, translations=(("it", _IT),), translation_share=1.0, vendor_mark="wordmark"),
    _wide("rechnung", _DE, sender_line=True, title_below=True, vendor_block="right", split_tax=True,
          adjustments=True, id_styles=True, party_wrap=True, translations=(("de", _DE),), translation_share=1.0),
    _wide("avoir", _FR, font="Times", vendor_mark="wordmark", totals_box=True, adjustments=True, credit_notes=True,
          meta_style="row", table_style="zebra", translations=(("fr", _FR),), translation_share=1.0, legal_line=True),
)  # fmt: skip
ALL_LAYOUTS: tuple[Layout, ...] = (*LAYOUTS, *WIDE_LAYOUTS)
# Named sets for ``generate_samples(families=...)`` and ``ledgerlens samples --families``.
FAMILY_SETS: dict[str, tuple[Layout, ...]] = {"classic": LAYOUTS, "wide": WIDE_LAYOUTS, "all": ALL_LAYOUTS}

LAYOUTS_BY_NAME: dict[str, Layout] = {layout.name: layout for layout in ALL_LAYOUTS}

# --------------------------------------------------------------------------------------------------------------
# Regions: currency, number/date conventions, addresses, tax
# --------------------------------------------------------------------------------------------------------------

NumberStyle = Literal["us", "eu_dot", "eu_space"]
DateStyle = Literal[
    "us_slash",
    "us_long",
    "eu_dot",
    "eu_slash",
    "day_mon",
    "iso",
    # House styles some recurring vendors print (devtools/vendor_stream.py); no sample family draws them.
    "ymd_compact",
    "ymd_mon",
    "day_mon_short",
    "dmy_short",
    "dmy_dash",
]


@dataclass(frozen=True)
class Region:
    """Conventions of one country. Templates use ``#`` for a random digit."""

    key: str
    currency: str
    weight: int
    number_styles: tuple[NumberStyle, ...]
    date_styles: tuple[DateStyle, ...]
    page_size: tuple[float, float]
    money_marks: tuple[tuple[str, bool], ...]  # (printed mark, mark comes before the number)
    taxes: tuple[tuple[str, str], ...]  # (rate %, label); "{rate}" in the label is the printed rate
    suffixes: tuple[str, ...]
    streets: tuple[str, ...]  # "{n}" is the house number
    cities: tuple[str, ...]
    country: str
    phone: str
    bank: tuple[str, ...]
    tax_id: str
    decimals: int = 2  # digits after the decimal mark in printed money (JPY has none)
    price_scale: int = 1  # item price pools are in dollar-like units; multiply for weaker currency units


# fmt: off
REGIONS: tuple[Region, ...] = (
    Region(
        key="us",
        currency="USD",
        weight=30,
        number_styles=("us",),
        date_styles=("us_slash", "us_long", "iso"),
        page_size=letter,
        money_marks=(("$", True), ("$", True), ("USD", True), ("US$", True)),
        taxes=(("0", "Tax"), ("7", "Tax ({rate})"), ("8.25", "Sales Tax ({rate})"), ("8.25", "Tax")),
        suffixes=("Inc.", "LLC", "Corp.", "Co.", ""),
        streets=("{n} Main Street", "{n} Oak Avenue", "{n} Industrial Pkwy", "{n} Market St, Suite 2#0",
                 "{n} Commerce Drive", "{n} W 34th Street"),
        cities=("Springfield, IL 627##", "Austin, TX 787##", "Portland, OR 972##", "Denver, CO 802##",
                "Columbus, OH 432##", "Raleigh, NC 276##", "Madison, WI 537##", "Sacramento, CA 958##"),
        country="USA",
        phone="+1 (###) ###-####",
        bank=("Bank: First National Bank, Routing 0210000##, Account ########",
              "ACH: Routing 1110000##, Account ##########"),
        tax_id="EIN: ##-#######",
    ),
    Region(
        key="ca",
        currency="CAD",
        weight=10,
        number_styles=("us",),
        date_styles=("us_long", "day_mon", "iso"),
        page_size=letter,
        money_marks=(("C$", True), ("CA$", True), ("CAD", True)),
        taxes=(("5", "GST {rate}"), ("5", "GST ({rate})"), ("0", "Tax")),
        suffixes=("Inc.", "Ltd.", "Corp."),
        streets=("{n} King Street West", "{n} Granville Street", "{n} Rue Sainte-Catherine", "{n} Bay Street"),
        cities=("Toronto, ON M5V 2T6", "Vancouver, BC V6B 1A1", "Calgary, AB T2P 1J9", "Ottawa, ON K1P 5G4"),
        country="Canada",
        phone="+1 (416) ###-####",
        bank=("Transit 000##, Institution 004, Account #######",),
        tax_id="GST/HST No. #########RT0001",
    ),
    Region(
        key="uk",
        currency="GBP",
        weight=15,
        number_styles=("us",),
        date_styles=("eu_slash", "day_mon", "iso"),
        page_size=A4,
        money_marks=(("£", True), ("£", True), ("GBP", True)),
        taxes=(("20", "VAT {rate}"), ("20", "VAT @ {rate}"), ("0", "VAT 0%")),
        suffixes=("Ltd", "Ltd", "PLC", "LLP"),
        streets=("{n} High Street", "{n} Station Road", "{n} Mill Lane", "{n} Victoria Road", "Unit #, {n} Dock Road"),
        cities=("Bristol BS1 4DJ", "Manchester M1 2WD", "Leeds LS1 4AP", "London EC1V 9HX", "Edinburgh EH2 2ER"),
        country="United Kingdom",
        phone="+44 20 #### ####",
        bank=("Sort code 20-##-##, Account ########", "Barclays Bank, Sort code 20-##-##, Acc. ########"),
        tax_id="VAT Reg. GB ### #### ##",
    ),
    Region(
        key="au",
        currency="AUD",
        weight=10,
        number_styles=("us",),
        date_styles=("eu_slash", "day_mon", "iso"),
        page_size=A4,
        money_marks=(("A$", True), ("AU$", True), ("AUD", True)),
        taxes=(("10", "GST {rate}"), ("10", "GST"), ("0", "GST 0%")),
        suffixes=("Pty Ltd", "Pty Ltd", "Ltd"),
        streets=("{n} George Street", "{n} Collins Street", "{n} Queen Street", "Level #, {n} Pitt Street"),
        cities=("Sydney NSW 2000", "Melbourne VIC 3000", "Brisbane QLD 4000", "Perth WA 6000"),
        country="Australia",
        phone="+61 2 #### ####",
        bank=("BSB 062-###, Account #### ####",),
        tax_id="ABN ## ### ### ###",
    ),
    Region(
        key="de",
        currency="EUR",
        weight=10,
        number_styles=("eu_dot",),
        date_styles=("eu_dot", "day_mon", "iso"),
        page_size=A4,
        money_marks=(("€", False), ("EUR", False), ("EUR", True)),
        taxes=(("19", "VAT {rate}"), ("19", "Tax ({rate})"), ("7", "VAT {rate}"), ("0", "VAT 0%")),
        suffixes=("GmbH", "GmbH", "AG", "KG"),
        streets=("Hauptstraße {n}", "Industriestraße {n}", "Am Hafen {n}", "Lindenallee {n}"),
        cities=("10115 Berlin", "20095 Hamburg", "80331 München", "50667 Köln"),
        country="Germany",
        phone="+49 30 ########",
        bank=("IBAN DE## #### #### #### #### ##, BIC COBADEFFXXX", "IBAN DE## #### #### #### #### ##"),
        tax_id="VAT ID DE#########",
    ),
    Region(
        key="fr",
        currency="EUR",
        weight=5,
        number_styles=("eu_space",),
        date_styles=("eu_slash", "day_mon", "iso"),
        page_size=A4,
        money_marks=(("€", False), ("EUR", False)),
        taxes=(("20", "VAT {rate}"), ("10", "VAT {rate}"), ("5", "VAT {rate}")),
        suffixes=("SARL", "SAS", "S.A."),
        streets=("{n} Rue de la Paix", "{n} Avenue Jean Jaurès", "{n} Boulevard Voltaire"),
        cities=("75002 Paris", "69003 Lyon", "33000 Bordeaux", "31000 Toulouse"),
        country="France",
        phone="+33 1 ## ## ## ##",
        bank=("IBAN FR76 #### #### #### #### #### ###, BIC BNPAFRPPXXX",),
        tax_id="VAT FR## #########",
    ),
    Region(
        key="nl",
        currency="EUR",
        weight=10,
        number_styles=("eu_dot", "eu_space"),
        date_styles=("eu_slash", "eu_dot", "day_mon", "iso"),
        page_size=A4,
        money_marks=(("€", True), ("€", False), ("EUR", True)),
        taxes=(("20", "VAT {rate}"), ("10", "VAT {rate}"), ("0", "VAT 0%"), ("20", "Tax")),
        suffixes=("B.V.", "B.V.", "N.V."),
        streets=("Keizersgracht {n}", "Stationsplein {n}", "Kanaalweg {n}"),
        cities=("1015 CJ Amsterdam", "3011 AD Rotterdam", "3511 LX Utrecht"),
        country="Netherlands",
        phone="+31 20 ### ####",
        bank=("IBAN NL## INGB 0### #### ##, BIC INGBNL2A",),
        tax_id="VAT NL#########B01",
    ),
    Region(
        key="ch",
        currency="CHF",
        weight=10,
        number_styles=("eu_dot", "eu_space"),
        date_styles=("eu_dot", "day_mon", "iso"),
        page_size=A4,
        money_marks=(("CHF", True), ("CHF", False)),
        taxes=(("7", "VAT {rate}"), ("7", "VAT ({rate})"), ("0", "VAT 0%")),
        suffixes=("AG", "GmbH", "SA"),
        streets=("Bahnhofstrasse {n}", "Marktgasse {n}", "Rue du Rhône {n}", "Seestrasse {n}"),
        cities=("8001 Zürich", "3011 Bern", "1204 Genève", "4051 Basel"),
        country="Switzerland",
        phone="+41 44 ### ## ##",
        bank=("IBAN CH## 0076 2011 #### #### #", "PostFinance IBAN CH## 0900 0000 #### #### #"),
        tax_id="UID CHE-###.###.### MWST",
    ),
    Region(
        key="jp",
        currency="JPY",
        weight=4,
        number_styles=("us",),
        date_styles=("iso", "us_long", "day_mon"),
        page_size=A4,
        money_marks=(("¥", True), ("JPY", True), ("¥", True)),
        taxes=(("10", "Consumption tax {rate}"), ("10", "Consumption Tax"), ("8", "Consumption tax {rate}")),
        suffixes=("K.K.", "Co., Ltd.", "Inc."),
        streets=("{n}-3 Nihonbashi, Chuo-ku", "1-2-{n} Shibuya, Shibuya-ku", "{n}-1-5 Umeda, Kita-ku"),
        cities=("Tokyo 103-00##", "Tokyo 150-00##", "Osaka 530-00##"),
        country="Japan",
        phone="+81 3 #### ####",
        bank=("MUFG Bank, Branch 0##, Ordinary Account #######", "Mizuho Bank, Branch 1##, Account #######"),
        tax_id="Registration No. T#############",
        decimals=0,
        price_scale=150,
    ),
)
# fmt: on

# Regions only the wider families' Spanish and Italian invoices draw (English ones keep to REGIONS).
# fmt: off
EXTRA_REGIONS: tuple[Region, ...] = (
    Region(
        key="es",
        currency="EUR",
        weight=5,
        number_styles=("eu_dot",),
        date_styles=("eu_slash", "iso"),
        page_size=A4,
        money_marks=(("€", False), ("EUR", False)),
        taxes=(("21", "IVA {rate}"), ("21", "IVA ({rate})")),
        suffixes=("S.L.", "S.A.", "S.L.U."),
        streets=("Calle Mayor {n}", "Avenida de América {n}", "Calle de Alcalá {n}", "Passeig de Gràcia {n}"),
        cities=("28013 Madrid", "08007 Barcelona", "46002 Valencia", "41001 Sevilla"),
        country="España",
        phone="+34 91 ### ## ##",
        bank=("IBAN ES## #### #### ## ##########",),
        tax_id="NIF ESB########",
    ),
    Region(
        key="it",
        currency="EUR",
        weight=5,
        number_styles=("eu_dot",),
        date_styles=("eu_slash", "eu_dot"),
        page_size=A4,
        money_marks=(("€", True), ("€", False), ("EUR", True)),
        taxes=(("22", "IVA {rate}"), ("22", "IVA ({rate})")),
        suffixes=("S.r.l.", "S.p.A.", "S.a.s."),
        streets=("Via Roma {n}", "Corso Buenos Aires {n}", "Viale Monza {n}", "Piazza Garibaldi {n}"),
        cities=("20121 Milano", "00184 Roma", "10121 Torino", "40121 Bologna"),
        country="Italia",
        phone="+39 02 #### ####",
        bank=("IBAN IT## X ##### ##### ############",),
        tax_id="P.IVA IT###########",
    ),
)
# fmt: on
ALL_REGIONS: tuple[Region, ...] = (*REGIONS, *EXTRA_REGIONS)

# Regions whose invoices may carry labels in a given language; English labels go with any region.
LANGUAGE_REGIONS: dict[Language, tuple[str, ...]] = {
    "en": (),
    "de": ("de", "ch"),
    "fr": ("fr", "ch"),
    "nl": ("nl",),
    "es": ("es",),
    "it": ("it",),
}
# The reduced rate a second tax line uses (split_tax families), by language.
REDUCED_RATES: dict[Language, str] = {"en": "5", "de": "7", "fr": "5.5", "nl": "9", "es": "10", "it": "10"}


# --------------------------------------------------------------------------------------------------------------
# Content pools
# --------------------------------------------------------------------------------------------------------------

# fmt: off
COMPANY_PREFIXES = (
    "Northwind", "Blue Harbor", "Summit", "Redwood", "Silver Lake", "Granite Peak", "Ironbridge", "Brightline",
    "Cedar Point", "Atlas", "Meridian", "Harborview", "Evergreen", "Falcon Ridge", "Pinecrest", "Lakeside",
    "Copperfield", "Sterling", "Westbrook", "Oakridge", "Bluebird", "Riverstone", "Kestrel", "Alder & Finch",
    "Highgate", "Juniper", "Beacon", "Northstar", "Maple Leaf", "Crescent", "Hawthorne", "Orchard Lane",
)
CUSTOMER_CORES = (
    "Holdings", "Retail Group", "Hospitality", "Dental Clinic", "Architects", "Property Management",
    "Health Partners", "Building Services", "Outdoor Gear", "Bakery", "Fitness Club", "Law Office",
    "Shipping", "Hotels", "Electronics", "School District", "Motors", "Veterinary Practice",
)
CONTACT_NAMES = (
    "Jane Porter", "Marco Keller", "Aisha Rahman", "Tom Becker", "Lena Fischer", "David Okafor", "Sofia Rossi",
    "Liam Walsh", "Hannah Cole", "Ravi Menon", "Claire Dubois", "Pieter de Vries",
)
# fmt: on

Item = tuple[str, float, float, str]  # description, min unit price, max unit price, quantity kind


@dataclass(frozen=True)
class Industry:
    cores: tuple[str, ...]
    items: tuple[Item, ...]
    sku_prefix: str


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        cores=("Consulting", "Digital", "Software", "IT Solutions", "Systems", "Analytics"),
        sku_prefix="SRV",
        items=(
            ("Consulting services, senior consultant", 120, 240, "hours"),
            ("Software development", 85, 165, "hours"),
            ("Website maintenance, monthly retainer", 250, 1500, "one"),
            ("Project management", 70, 140, "hours"),
            ("On-site installation and setup", 300, 1200, "one"),
            ("Data migration services", 90, 150, "hours"),
            ("Annual software license, Pro plan", 49, 399, "seats"),
            ("Cloud hosting, standard tier (monthly)", 29, 450, "months"),
            ("Technical support hours", 60, 110, "hours"),
            ("Security audit and report", 900, 4500, "one"),
            ("Domain renewal (1 year)", 12, 39, "seats"),
        ),
    ),
    Industry(
        cores=("Office Supplies", "Trading", "Supplies", "Traders", "Wholesale"),
        sku_prefix="OS",
        items=(
            ("A4 copy paper, 80 gsm (box of 5 reams)", 18, 45, "count"),
            ("Ergonomic office chair, black", 180, 450, "few"),
            ("Printer toner cartridge, black", 45, 140, "count"),
            ("Laptop docking station USB-C", 120, 260, "few"),
            ("Wireless keyboard and mouse set", 29, 89, "count"),
            ("27 inch LCD monitor", 160, 420, "few"),
            ("Cat6 patch cable 3 m", 2.5, 9, "count"),
            ("Whiteboard markers, assorted (pack of 12)", 6, 18, "count"),
            ("Desk organiser, bamboo", 12, 35, "count"),
            ("Delivery charge", 15, 85, "one"),
        ),
    ),
    Industry(
        cores=("Engineering", "Industrial Supply", "Manufacturing", "Tools", "Components"),
        sku_prefix="PRD",
        items=(
            ("Stainless steel bolts M8 x 40 (pack of 100)", 14, 38, "count"),
            ("Hydraulic hose assembly, 1/2 inch", 35, 120, "count"),
            ("LED panel light 600x600, 40 W", 28, 75, "count"),
            ("Safety gloves, nitrile, size L (box)", 7, 19, "count"),
            ("Replacement filter cartridge", 22, 64, "count"),
            ("Aluminium profile 40x40, 6 m", 38, 95, "count"),
            ("Machine calibration service", 250, 900, "one"),
            ("Welding wire 0.8 mm", 6, 14, "weight"),
            ("Freight and handling", 40, 260, "one"),
        ),
    ),
    Industry(
        cores=("Design Studio", "Media", "Creative", "Marketing", "Communications"),
        sku_prefix="CR",
        items=(
            ("Logo design, three concepts", 450, 2200, "one"),
            ("Graphic design revisions", 55, 110, "hours"),
            ("Social media campaign management", 600, 2400, "months"),
            ("Copywriting, website pages", 80, 260, "count"),
            ("Product photography session", 350, 1400, "one"),
            ("Brochure printing, 500 copies", 180, 650, "one"),
            ("Translation services (per 1,000 words)", 90, 160, "count"),
            ("Video editing", 65, 120, "hours"),
        ),
    ),
    Industry(
        cores=("Logistics", "Freight", "Transport", "Couriers"),
        sku_prefix="LG",
        items=(
            ("Pallet storage, per pallet per week", 4.5, 12, "count"),
            ("Express courier delivery", 18, 65, "count"),
            ("Full truckload, Hamburg to Munich", 850, 2100, "one"),
            ("Customs clearance fee", 45, 180, "one"),
            ("Shipping pallets, heat treated", 9, 22, "count"),
            ("Packaging tape 48 mm x 66 m", 1.8, 4.5, "count"),
            ("Fuel surcharge", 20, 140, "one"),
            ("Warehouse handling", 38, 75, "hours"),
        ),
    ),
    Industry(
        cores=("Foods", "Catering", "Coffee Roasters", "Provisions"),
        sku_prefix="FD",
        items=(
            ("Organic coffee beans", 14, 32, "weight"),
            ("Catering, lunch buffet (per person)", 14, 38, "count"),
            ("Bottled mineral water, case of 24", 6, 14, "count"),
            ("Fresh fruit basket", 25, 60, "count"),
            ("Espresso machine descaling service", 90, 180, "one"),
            ("Tea assortment, 100 bags", 8, 19, "count"),
            ("Event staff", 28, 45, "hours"),
        ),
    ),
)

# fmt: off
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
# fmt: on
QUANTITIES: dict[str, tuple[str, ...]] = {
    "hours": ("1", "1.5", "2", "2.5", "3", "4", "4.5", "6", "7.5", "8", "10", "12", "16", "20", "24", "40"),
    "one": ("1",),
    "seats": ("1", "2", "3", "5", "10", "12", "25"),
    "months": ("1", "1", "2", "3", "6", "12"),
    "count": ("1", "2", "3", "4", "5", "6", "8", "10", "12", "15", "20", "24", "50"),
    "few": ("1", "1", "2", "2", "3", "4", "6"),
    "weight": ("0.5", "1", "2.5", "5", "12.5", "25"),
}
DUE_DAYS = (7, 10, 14, 14, 15, 21, 30, 30, 30, 30, 45, 60)

# Appended to a repeated item on long invoices so that every line reads differently, as on real ones.
REPEAT_REFS = ("(order {n})", "(ref. {n})", "(lot {n})", "(delivery {n})", "(week {w})", "(ticket #{n})")


@dataclass(frozen=True)
class Phrases:
    """Running text in one language: payment terms, notes, page numbers and continuation markers."""

    date_styles: tuple[DateStyle, ...]  # empty means the region's own
    terms: tuple[str, ...]  # "{days}" is the payment term
    notes: tuple[str, ...]  # "{date}" is a date shortly before the invoice date
    thanks: str
    questions: str  # "{phone}"
    late: str
    page: str  # "{page}" of "{pages}"
    continued: tuple[str, ...]  # below the rows of a page that is not the last; "{next}" is the next page
    carried: str  # label of the running sum at the foot of a page that is not the last
    brought: str  # label of the same sum at the head of the next page
    continuation: str  # beside the invoice number at the top of a continuation page
    tel: str
    attn: str
    po: str
    customer_id: str
    currency: str
    notes_label: str
    intro: tuple[str, ...]  # sentence above the table (sidebar family)
    legal: str = "{name} · Registered in {city} · Company no. {reg} · {tax_id}"  # footer legal line


PHRASES: dict[Language, Phrases] = {
    "en": Phrases(
        date_styles=(),
        terms=(
            "Payment terms: Net {days} days",
            "Payment due within {days} days of invoice date.",
            "Terms: Net {days}",
        ),
        notes=("Goods delivered on {date}.", "Service period ending {date}.", "Order placed {date}, thank you!"),
        thanks="Thank you for your business!",
        questions="Questions about this invoice? Call {phone}",
        late="Late payments are subject to interest of 1.5% per month.",
        page="Page {page} of {pages}",
        continued=("Continued on page {next}", "continued ...", "Continued overleaf"),
        carried="Carried forward",
        brought="Brought forward",
        continuation="(continued)",
        tel="Tel.",
        attn="Attn:",
        po="PO Number",
        customer_id="Customer ID",
        currency="Currency",
        notes_label="Notes",
        intro=("Thank you for your order. We invoice you as follows:", "For goods and services supplied:"),
    ),
    "de": Phrases(
        date_styles=("eu_dot",),
        terms=("Zahlbar innerhalb von {days} Tagen ohne Abzug.", "Zahlungsziel: {days} Tage netto"),
        notes=("Lieferdatum: {date}", "Leistungszeitraum bis {date}.", "Ihre Bestellung vom {date}."),
        thanks="Vielen Dank für Ihren Auftrag!",
        questions="Fragen zur Rechnung? Tel. {phone}",
        late="Bei Zahlungsverzug berechnen wir Verzugszinsen.",
        page="Seite {page} von {pages}",
        continued=("Fortsetzung auf Seite {next}", "- Fortsetzung folgt -"),
        carried="Übertrag",
        brought="Übertrag",
        continuation="(Fortsetzung)",
        tel="Tel.",
        attn="z. Hd.",
        po="Bestellnummer",
        customer_id="Kundennummer",
        currency="Währung",
        notes_label="Hinweise",
        intro=(
            "Vielen Dank für Ihren Auftrag. Wir berechnen Ihnen folgende Leistungen:",
            "Wir erlauben uns, Ihnen folgende Positionen in Rechnung zu stellen:",
        ),
        legal="{name} · Sitz: {city} · Amtsgericht HRB {reg} · {tax_id}",
    ),
    "fr": Phrases(
        date_styles=("eu_slash",),
        terms=("Paiement à {days} jours net.", "Conditions de paiement : {days} jours"),
        notes=("Livraison effectuée le {date}.", "Prestation réalisée jusqu'au {date}.", "Votre commande du {date}."),
        thanks="Merci de votre confiance !",
        questions="Une question ? Appelez le {phone}",
        late="Tout retard de paiement entraîne des pénalités.",
        page="Page {page} sur {pages}",
        continued=("Suite page {next}", "... à suivre"),
        carried="À reporter",
        brought="Report",
        continuation="(suite)",
        tel="Tél.",
        attn="À l'attention de",
        po="Bon de commande",
        customer_id="N° client",
        currency="Devise",
        notes_label="Remarques",
        intro=("Nous vous remercions de votre commande.", "Détail des prestations :"),
        legal="{name} · RCS {city} {reg} · {tax_id}",
    ),
    "nl": Phrases(
        date_styles=(),
        terms=("Betaling binnen {days} dagen na factuurdatum.", "Betalingstermijn: {days} dagen"),
        notes=("Geleverd op {date}.", "Uw bestelling van {date}."),
        thanks="Bedankt voor uw bestelling!",
        questions="Vragen over deze factuur? Bel {phone}",
        late="Bij te late betaling wordt de wettelijke rente berekend.",
        page="Pagina {page} van {pages}",
        continued=("Vervolg op pagina {next}",),
        carried="Transport",
        brought="Transport",
        continuation="(vervolg)",
        tel="Tel.",
        attn="T.a.v.",
        po="Ordernummer",
        customer_id="Klantnummer",
        currency="Valuta",
        notes_label="Opmerkingen",
        intro=("Hierbij brengen wij u in rekening:",),
        legal="{name} · KvK {reg} · {tax_id}",
    ),
    "es": Phrases(
        date_styles=("eu_slash",),
        terms=("Pago a {days} días.", "Forma de pago: transferencia a {days} días"),
        notes=("Entregado el {date}.", "Su pedido del {date}."),
        thanks="¡Gracias por su confianza!",
        questions="¿Preguntas? Llame al {phone}",
        late="Los pagos atrasados devengan intereses de demora.",
        page="Página {page} de {pages}",
        continued=("Continúa en la página {next}",),
        carried="Suma y sigue",
        brought="Suma anterior",
        continuation="(continuación)",
        tel="Tel.",
        attn="A la atención de",
        po="Pedido",
        customer_id="Nº cliente",
        currency="Moneda",
        notes_label="Observaciones",
        intro=("Detalle de los servicios prestados:",),
        legal="{name} · Registro Mercantil de {city}, hoja {reg} · {tax_id}",
    ),
    "it": Phrases(
        date_styles=("eu_slash",),
        terms=("Pagamento a {days} giorni data fattura.", "Termini di pagamento: {days} giorni"),
        notes=("Consegna del {date}.", "Vostro ordine del {date}."),
        thanks="Grazie per la fiducia!",
        questions="Domande? Chiamate il {phone}",
        late="In caso di ritardato pagamento si applicano gli interessi di mora.",
        page="Pagina {page} di {pages}",
        continued=("Segue a pagina {next}",),
        carried="A riportare",
        brought="Riporto",
        continuation="(segue)",
        tel="Tel.",
        attn="Alla c.a.",
        po="Ordine",
        customer_id="Codice cliente",
        currency="Valuta",
        notes_label="Note",
        intro=("Dettaglio delle prestazioni:",),
        legal="{name} · REA {city} {reg} · {tax_id}",
    ),
}

# --------------------------------------------------------------------------------------------------------------
# Invoice content
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineSpec:
    description: str
    sku: str
    quantity: Decimal
    unit_price: Decimal
    quantum: Decimal = CENT  # smallest printed money unit

    @property
    def amount(self) -> Decimal:
        return issuer_round(self.quantity * self.unit_price, self.quantum)


@dataclass(frozen=True)
class Labels:
    """The label text chosen for one invoice (already including a trailing colon where the family uses one)."""

    invoice_number: str
    invoice_date: str
    due_date: str
    subtotal: str
    tax: str
    total: str
    bill_to: str
    description: str
    quantity: str
    unit_price: str
    amount: str
    sku: str
    title: str
    position: str
    tax2: str = ""  # the second tax line's label (split_tax families)
    discount: str = ""
    shipping: str = ""


@dataclass(frozen=True)
class PageBreak:
    """How a two-page invoice continues onto its second page."""

    repeat_header: bool  # the table header is printed again at the top of page 2
    marker: Literal["note", "carried", "none"]  # below the page-1 rows: a 'continued' note, a running sum, nothing
    note: str
    min_carry: int  # rows always left for page 2
    form_rows: int  # 0 fills page 1; otherwise page 1 holds at most this many rows, like a fixed-length form


@dataclass(frozen=True)
class SamplePlan:
    """What the index and seed alone decide about a sample, before any random content is drawn."""

    index: int
    seed: int
    kind: Kind
    layout: Layout
    multi_page: bool
    inconsistent: bool

    @property
    def stem(self) -> str:
        return f"inv-{self.index + 1:04d}-{self.kind}-{self.layout.name}"


@dataclass
class InvoiceSpec:
    """Everything printed on one invoice plus the formatting choices used to print it."""

    layout: Layout
    region: Region
    language: Language
    vendor_name: str
    vendor_lines: list[str]
    customer_name: str
    customer_lines: list[str]
    invoice_number: str
    invoice_date: date
    due_date: date
    tax_rate: Decimal
    lines: list[LineSpec]
    labels: Labels
    number_style: NumberStyle
    date_style: DateStyle
    money_mark: tuple[str, bool]
    currency_in_table: bool
    extra_meta: list[tuple[str, str]]
    notes: list[str]
    footer: list[str]
    margin: float
    vendor_size: float
    body_size: float
    show_currency_meta: bool = False
    page_break: PageBreak | None = None
    subtotal_error: Decimal = Decimal(0)  # printed subtotal minus the sum of the printed line amounts
    total_error: Decimal = Decimal(0)  # printed total minus (printed subtotal + printed tax)
    # compact family
    leaders: bool = True  # dot leaders between label and value, otherwise a plain gap
    unit_note: str = "@ {price}"
    item_header: bool = True
    column_width: float = 300.0
    # sidebar family
    positions: bool = False  # running line-number column
    intro: str = ""
    sidebar_width: float = 160.0
    sidebar_grey: float = 0.9
    # wider families (all zero or empty for the first eight)
    discount: Decimal = Decimal(0)  # printed as a negative line between subtotal and tax
    shipping: Decimal = Decimal(0)
    second_rate: Decimal | None = None  # reduced tax rate on the last ``second_lines`` lines
    second_lines: int = 0
    credit: bool = False  # a credit note: every amount negative
    vendor_split: int = 0  # words of the vendor name on its first printed line; 0: one line
    customer_split: int = 0
    wordmark: str = ""  # what the header shows instead of the vendor name (vendor_mark="wordmark")
    total_stacked: bool = False  # the total's amount on the line below its label (a vendor's payment box)

    @property
    def currency(self) -> str:
        return self.region.currency

    @property
    def phrases(self) -> Phrases:
        return PHRASES[self.language]

    @property
    def pages(self) -> int:
        return 1 if self.page_break is None else 2

    @property
    def quantum(self) -> Decimal:
        return CENT if self.region.decimals == 2 else Decimal(1)

    @property
    def items_sum(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def subtotal(self) -> Decimal:
        return self.items_sum + self.subtotal_error

    @property
    def net(self) -> Decimal:
        """The amount tax is charged on: subtotal less discount plus shipping."""
        return self.subtotal - self.discount + self.shipping

    @property
    def second_base(self) -> Decimal:
        tail = self.lines[len(self.lines) - self.second_lines :] if self.second_lines else []
        return sum((line.amount for line in tail), Decimal(0))

    @property
    def taxes(self) -> list[Decimal]:
        """One amount per printed tax line: the main rate, then the reduced rate when there is one."""
        main = issuer_round((self.net - self.second_base) * self.tax_rate / 100, self.quantum)
        if self.second_rate is None:
            return [main]
        reduced = issuer_round(self.second_base * self.second_rate / 100, self.quantum)
        return [main, reduced]

    @property
    def tax(self) -> Decimal:
        return sum(self.taxes, Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.net + self.tax + self.total_error

    @property
    def inconsistent(self) -> bool:
        return bool(self.subtotal_error or self.total_error)


def _digits(rng: random.Random, template: str) -> str:
    """Replace every ``#`` with a random digit."""
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def _company(rng: random.Random, cores: Sequence[str], suffixes: Sequence[str], avoid: str = "") -> str:
    while True:
        parts = (rng.choice(COMPANY_PREFIXES), rng.choice(cores), rng.choice(suffixes))
        name = " ".join(part for part in parts if part)
        if not avoid or name.split()[0] != avoid.split()[0]:
            return name


def _address(rng: random.Random, region: Region, with_country: bool) -> list[str]:
    street = _digits(rng, rng.choice(region.streets).format(n=rng.randint(1, 240)))
    lines = [street, _digits(rng, rng.choice(region.cities))]
    if with_country:
        lines.append(region.country)
    return lines


def _invoice_number(rng: random.Random, year: int, vendor: str) -> str:
    initials = "".join(word[0] for word in vendor.split()[:2] if word[0].isalpha()).upper() or "IN"
    patterns = (
        f"INV-{year}-{rng.randint(1, 99999):05d}",
        f"{year}/{rng.randint(1, 9999):04d}",
        f"{rng.choice('ABCDEFGHKLMRST')}-{rng.randint(10000, 99999)}",
        f"{rng.randint(10000, 99999)}",
        f"INV{rng.randint(1, 999999):06d}",
        f"{initials}-{year % 100}{rng.randint(1, 9999):04d}",
    )
    return rng.choice(patterns)


def _pick(rng: random.Random, options: tuple[str, ...], colon: bool) -> str:
    label = rng.choice(options)
    return f"{label}:" if colon else label


def _percent(rate: str, number_style: NumberStyle) -> str:
    text = rate if number_style == "us" else rate.replace(".", ",")
    return f"{text}%"


def _make_lines(rng: random.Random, industry: Industry, region: Region, multi_page: bool) -> list[LineSpec]:
    pool = list(industry.items)
    if multi_page:
        count = rng.randint(*MULTI_PAGE_ITEMS)
    else:
        count = min(rng.choice((1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8)), len(pool))
    chosen: list[Item] = []
    while len(chosen) < count:
        chosen.extend(rng.sample(pool, k=min(len(pool), count - len(chosen))))
    quantum = CENT if region.decimals == 2 else Decimal(1)
    seen: set[str] = set()
    lines = []
    for description, low, high, qty_kind in chosen:
        text = description
        while text in seen:
            ref = rng.choice(REPEAT_REFS).format(n=rng.randint(1000, 9999), w=rng.randint(1, 52))
            text = f"{description} {ref}"
        seen.add(text)
        price = rng.uniform(low, high)
        if qty_kind in ("hours", "one", "months") and rng.random() < 0.6:
            price = round(price / 5) * 5 or 5.0  # services are often priced in round numbers
        if region.decimals == 2:
            unit_price = Decimal(f"{price:.2f}")
        else:
            # Whole tens of the currency unit keep every quantity (even 0.5 or 2.5) an exact whole amount.
            unit_price = Decimal(max(10, round(price * region.price_scale / 10) * 10))
        sku = f"{industry.sku_prefix}-{rng.randint(100, 9999)}{rng.choice(('', '', '-B', '-XL'))}"
        lines.append(
            LineSpec(
                description=text,
                sku=sku,
                quantity=Decimal(rng.choice(QUANTITIES[qty_kind])),
                unit_price=unit_price,
                quantum=quantum,
            )
        )
    return lines


def _inconsistency(rng: random.Random, lines: Sequence[LineSpec]) -> tuple[Decimal, Decimal]:
    """(subtotal error, total error): exactly one is non-zero, as documented in the module docstring."""
    items_sum = sum((line.amount for line in lines), Decimal(0))
    step = Decimal(10) ** rng.randint(0, 2) * rng.choice((-1, 1))
    if items_sum + step <= 0:
        step = -step
    if rng.random() < 0.5:
        return Decimal(0), step
    if len(lines) > 1 and rng.random() < 0.5:
        return -rng.choice(lines).amount, Decimal(0)
    return step, Decimal(0)


def _language(rng: random.Random, layout: Layout) -> tuple[Language, Vocabulary]:
    """English, or now and then one of the layout's translations."""
    if layout.translations and rng.random() < layout.translation_share:
        return rng.choice(layout.translations)
    return "en", layout.vocabulary


def _region(rng: random.Random, language: Language) -> Region:
    allowed = LANGUAGE_REGIONS[language]
    regions = list(REGIONS) if not allowed else [r for r in ALL_REGIONS if r.key in allowed]
    return rng.choices(regions, weights=[r.weight for r in regions])[0]


def _party_lines(rng: random.Random, region: Region, phrases: Phrases, vendor_name: str) -> tuple[list[str], list[str]]:
    """The vendor's address block (with contact and maybe a tax ID) and the customer's (maybe with an Attn line)."""
    vendor_lines = _address(rng, region, with_country=rng.random() < 0.3)
    contact = [f"{phrases.tel} {_digits(rng, region.phone)}", f"billing@{vendor_name.split()[0].lower()}.example"]
    vendor_lines.append(rng.choice(contact) if rng.random() < 0.6 else "   ".join(contact))
    if rng.random() < 0.5:
        vendor_lines.append(_digits(rng, region.tax_id))
    customer_lines = _address(rng, region, with_country=rng.random() < 0.2)
    if rng.random() < 0.4:
        customer_lines.insert(0, f"{phrases.attn} {rng.choice(CONTACT_NAMES)}")
    return vendor_lines, customer_lines


def _labels(rng: random.Random, vocab: Vocabulary, colon: bool, tax_label: str) -> Labels:
    return Labels(
        invoice_number=_pick(rng, vocab.invoice_number, colon),
        invoice_date=_pick(rng, vocab.invoice_date, colon),
        due_date=_pick(rng, vocab.due_date, colon),
        subtotal=_pick(rng, vocab.subtotal, colon),
        tax=tax_label + (":" if colon else ""),
        total=_pick(rng, vocab.total, colon),
        bill_to=_pick(rng, vocab.bill_to, colon),
        description=rng.choice(vocab.description),
        quantity=rng.choice(vocab.quantity),
        unit_price=rng.choice(vocab.unit_price),
        amount=rng.choice(vocab.amount),
        sku=rng.choice(vocab.sku),
        title=rng.choice(vocab.title),
        position=rng.choice(vocab.position),
    )


def _extra_meta(rng: random.Random, phrases: Phrases, colon: bool) -> list[tuple[str, str]]:
    """A purchase-order number and a customer ID, each on some invoices."""
    extra_meta: list[tuple[str, str]] = []
    if rng.random() < 0.4:
        extra_meta.append((f"{phrases.po}{':' if colon else ''}", f"PO-{rng.randint(1000, 99999)}"))
    if rng.random() < 0.3:
        extra_meta.append((f"{phrases.customer_id}{':' if colon else ''}", f"C-{rng.randint(100, 9999)}"))
    return extra_meta


def _page_break(rng: random.Random, phrases: Phrases) -> PageBreak:
    return PageBreak(
        repeat_header=rng.random() < 0.5,
        marker=rng.choice(("note", "carried", "none")),
        note=rng.choice(phrases.continued),
        min_carry=rng.randint(2, 6),
        form_rows=rng.choice((0, 0, rng.randint(10, 13))),
    )


def _notes_and_footer(rng: random.Random, spec: InvoiceSpec, phrases: Phrases, due_days: int) -> None:
    """Notes and footer: payment terms matching the due date, bank details, phone, a note carrying a date."""
    terms = rng.choice(phrases.terms).format(days=due_days)
    note_date = format_date(spec.invoice_date - timedelta(days=rng.randint(1, 12)), spec.date_style)
    notes = [*(note.format(date=note_date) for note in phrases.notes), phrases.thanks]
    spec.notes = [rng.choice(notes)] if rng.random() < 0.7 else []
    footer = [terms]
    if rng.random() < 0.7:
        footer.append(_digits(rng, rng.choice(spec.region.bank)))
    if rng.random() < 0.5:
        footer.append(phrases.questions.format(phone=_digits(rng, spec.region.phone)))
    if rng.random() < 0.25:
        footer.append(phrases.late)
    rng.shuffle(footer)
    spec.footer = footer


def _make_invoice(rng: random.Random, plan: SamplePlan) -> InvoiceSpec:
    layout = plan.layout
    language, vocab = _language(rng, layout)
    phrases = PHRASES[language]
    region = _region(rng, language)
    industry = rng.choice(INDUSTRIES)
    vendor_name = _company(rng, industry.cores, region.suffixes)
    customer_name = _company(rng, CUSTOMER_CORES, region.suffixes, avoid=vendor_name)

    invoice_date = date(2023, 1, 2) + timedelta(days=rng.randrange(900))
    due_days = rng.choice(DUE_DAYS)
    due_date = invoice_date + timedelta(days=due_days)
    number_style = rng.choice(region.number_styles)
    date_style = rng.choice(phrases.date_styles or region.date_styles)
    rate, region_tax = rng.choice(region.taxes)
    tax_template = rng.choice(vocab.tax) if vocab.tax else region_tax
    leaders = rng.random() < 0.6
    # Receipt-style rows with a plain gap read better with a colon after the label; dot leaders replace it.
    colon = vocab.colon or (layout.frame == "compact" and not leaders)
    vendor_lines, customer_lines = _party_lines(rng, region, phrases, vendor_name)
    labels = _labels(rng, vocab, colon, tax_template.format(rate=_percent(rate, number_style)))
    extra_meta = _extra_meta(rng, phrases, colon)
    lines = _make_lines(rng, industry, region, plan.multi_page)
    subtotal_error, total_error = _inconsistency(rng, lines) if plan.inconsistent else (Decimal(0), Decimal(0))
    page_break = _page_break(rng, phrases) if plan.multi_page else None

    spec = InvoiceSpec(
        layout=layout,
        region=region,
        language=language,
        vendor_name=vendor_name,
        vendor_lines=vendor_lines,
        customer_name=customer_name,
        customer_lines=customer_lines,
        invoice_number=_invoice_number(rng, invoice_date.year, vendor_name),
        invoice_date=invoice_date,
        due_date=due_date,
        tax_rate=Decimal(rate),
        lines=lines,
        labels=labels,
        number_style=number_style,
        date_style=date_style,
        money_mark=rng.choice(region.money_marks),
        currency_in_table=rng.random() < 0.4,
        extra_meta=extra_meta,
        notes=[],
        footer=[],
        margin=rng.uniform(40, 58),
        vendor_size=rng.choice((16, 18, 20, 22)),
        body_size=rng.choice(
            (8.5, 9) if layout.font == "Courier" else (8.5, 9, 9.5) if layout.frame == "compact" else (9, 9.5, 10)
        ),
        show_currency_meta=rng.random() < 0.3,
        page_break=page_break,
        subtotal_error=subtotal_error,
        total_error=total_error,
        leaders=leaders,
        unit_note=rng.choice(("@ {price}", "@ {price} each", "{price} / unit", "at {price}")),
        item_header=rng.random() < 0.6,
        column_width=rng.uniform(290, 330),
        positions=rng.random() < 0.5,
        intro=rng.choice(phrases.intro) if rng.random() < 0.6 else "",
        sidebar_width=rng.uniform(150, 172),
        sidebar_grey=rng.uniform(0.86, 0.93),
    )

    _notes_and_footer(rng, spec, phrases, due_days)
    if layout in WIDE_LAYOUTS:
        _widen(rng, spec, vocab)
    return spec


def _styled_number(rng: random.Random, year: int, vendor: str) -> str:
    """Invoice numbers with letter prefixes, suffixes and separators, as real issuers print them."""
    letters = "ABCDEFGHKLMNPRSTVWXZ"
    initials = "".join(word[0] for word in vendor.split()[:2] if word[0].isalpha()).upper() or "IN"
    n = rng.randint(1, 99999)
    patterns = (
        f"RE-{year}-{n:05d}-{rng.choice(letters)}",
        f"FA/{year % 100:02d}/{n:04d}",
        f"{initials}{n:06d}",
        f"{n:06d}/{rng.choice(letters)}{rng.choice(letters)}",
        f"INV.{year}.{n:04d}",
        f"{rng.choice(letters)}{rng.choice(letters)}-{n:04d}-{year % 100:02d}",
        f"{year}-{rng.choice(letters)}{n:05d}",
    )
    return rng.choice(patterns)


def _wordmark(rng: random.Random, vendor: str) -> str:
    """A logo-like rendering of the vendor's first word: spaced capitals or lower case with a dot."""
    word = vendor.split()[0].strip("&,")
    return " ".join(word.upper()) if rng.random() < 0.5 else f"{word.lower()}."


def _widen(rng: random.Random, spec: InvoiceSpec, vocab: Vocabulary) -> None:
    """The wider families' variation, drawn after everything the first eight families draw."""
    layout, colon = spec.layout, ":" if spec.labels.invoice_number.endswith(":") else ""
    if layout.id_styles and rng.random() < 0.8:
        spec.invoice_number = _styled_number(rng, spec.invoice_date.year, spec.vendor_name)
    if layout.party_wrap:
        vendor_words, customer_words = len(spec.vendor_name.split()), len(spec.customer_name.split())
        spec.vendor_split = rng.randint(1, vendor_words - 1) if vendor_words > 1 and rng.random() < 0.8 else 0
        spec.customer_split = rng.randint(1, customer_words - 1) if customer_words > 1 and rng.random() < 0.8 else 0
    if layout.vendor_mark == "wordmark":
        spec.wordmark = _wordmark(rng, spec.vendor_name)
    if layout.legal_line:
        city = spec.vendor_lines[1] if len(spec.vendor_lines) > 1 else spec.region.country
        legal = spec.phrases.legal.format(
            name=spec.vendor_name, city=city, reg=_digits(rng, "######"), tax_id=_digits(rng, spec.region.tax_id)
        )
        spec.footer = [*spec.footer, legal]
    if layout.credit_notes and rng.random() < 0.35:
        spec.credit = True
        spec.lines = [dataclasses.replace(line, unit_price=-line.unit_price) for line in spec.lines]
        spec.labels = dataclasses.replace(
            spec.labels, title=rng.choice(vocab.credit_title), invoice_number=rng.choice(vocab.credit_number) + colon
        )
    _adjust_amounts(rng, spec, vocab, colon)


def _adjust_amounts(rng: random.Random, spec: InvoiceSpec, vocab: Vocabulary, colon: str) -> None:
    """Discount and shipping lines, and a second tax rate on some of the lines."""
    layout, scale = spec.layout, spec.region.price_scale
    if layout.adjustments and not spec.credit:
        if rng.random() < 0.5:
            percent = Decimal(rng.choice((5, 10, 15)))
            spec.discount = issuer_round(spec.subtotal * percent / 100, spec.quantum)
            label = f"{rng.choice(vocab.discount)} {_percent(str(percent), spec.number_style)}"
            spec.labels = dataclasses.replace(spec.labels, discount=label + colon)
        if rng.random() < 0.6:
            spec.shipping = Decimal(rng.choice(("4.90", "9.50", "12.00", "19.90", "35.00", "49.00"))) * scale
            spec.labels = dataclasses.replace(spec.labels, shipping=rng.choice(vocab.shipping) + colon)
    if layout.split_tax and len(spec.lines) > 1 and spec.tax_rate != 0 and rng.random() < 0.7:
        spec.second_lines = rng.randint(1, len(spec.lines) - 1)
        if spec.net - spec.second_base < 0:
            spec.discount, spec.labels = Decimal(0), dataclasses.replace(spec.labels, discount="")
        reduced = REDUCED_RATES[spec.language]
        spec.second_rate = Decimal(reduced)
        template = rng.choice(vocab.tax) if vocab.tax else "Tax {rate}"
        label = template.format(rate=_percent(reduced, spec.number_style)) + colon
        spec.labels = dataclasses.replace(spec.labels, tax2=label)


# --------------------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------------------


def format_number(value: Decimal, style: NumberStyle, decimals: int = 2) -> str:
    """Grouped number: us 1,234.56 / eu_dot 1.234,56 / eu_space 1 234,56; ``decimals=0`` prints whole units."""
    thousands, decimal = {"us": (",", "."), "eu_dot": (".", ","), "eu_space": (" ", ",")}[style]
    sign = "-" if value < 0 else ""
    quantum = CENT if decimals == 2 else Decimal(1)
    text = f"{abs(issuer_round(value, quantum)):.{decimals}f}"
    whole, _, frac = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{thousands.join(groups)}{decimal + frac if frac else ''}"


def format_quantity(value: Decimal, style: NumberStyle) -> str:
    text = _plain(value)
    return text if style == "us" else text.replace(".", ",")


def format_date(value: date, style: DateStyle) -> str:
    if style == "us_slash":
        return f"{value.month:02d}/{value.day:02d}/{value.year}"
    if style == "us_long":
        return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"
    if style == "eu_dot":
        return f"{value.day:02d}.{value.month:02d}.{value.year}"
    if style == "eu_slash":
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    if style == "day_mon":
        return f"{value.day} {MONTHS[value.month - 1][:3]} {value.year}"
    return _house_date(value, style)


def _house_date(value: date, style: DateStyle) -> str:
    """The vendors' house styles: 20240108, 2024-Jan-08, 08-JAN-24, 08.01.24, 08-01-2024; else ISO."""
    month = MONTHS[value.month - 1][:3]
    styles = {
        "ymd_compact": f"{value.year}{value.month:02d}{value.day:02d}",
        "ymd_mon": f"{value.year}-{month}-{value.day:02d}",
        "day_mon_short": f"{value.day:02d}-{month.upper()}-{value.year % 100:02d}",
        "dmy_short": f"{value.day:02d}.{value.month:02d}.{value.year % 100:02d}",
        "dmy_dash": f"{value.day:02d}-{value.month:02d}-{value.year}",
    }
    return styles.get(style, value.isoformat())


def _plain(value: Decimal) -> str:
    """Decimal as a plain string without exponent or trailing zeros: 2, 1.5, 40."""
    return format(value.normalize(), "f")


def _money(spec: InvoiceSpec, value: Decimal, with_mark: bool) -> str:
    number = format_number(value, spec.number_style, spec.region.decimals)
    if not with_mark:
        return number
    mark, before = spec.money_mark
    if before:
        return f"{mark}{number}" if not mark.isalpha() else f"{mark} {number}"
    return f"{number} {mark}"


# --------------------------------------------------------------------------------------------------------------
# Born-digital rendering (reportlab)
# --------------------------------------------------------------------------------------------------------------

FONTS: dict[str, tuple[str, str, str]] = {
    "Helvetica": ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique"),
    "Times": ("Times-Roman", "Times-Bold", "Times-Italic"),
    "Courier": ("Courier", "Courier-Bold", "Courier-Oblique"),
}


class _Page:
    """Thin wrapper over a reportlab canvas measuring y from the top of the page."""

    def __init__(self, pdf: Any, family: str, width: float, height: float) -> None:
        self.pdf = pdf
        self.regular, self.bold, self.italic = FONTS[family]
        self.width = width
        self.height = height

    def font(self, bold: bool = False, italic: bool = False) -> str:
        return self.bold if bold else self.italic if italic else self.regular

    def measure(self, text: str, size: float, bold: bool = False) -> float:
        return float(stringWidth(text, self.font(bold), size))

    def text(
        self,
        x: float,
        top: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        italic: bool = False,
        align: Align = "left",
        grey: float = 0.0,
        max_width: float | None = None,
    ) -> None:
        """Draw ``text`` with its baseline at ``top`` points from the page top; shrink it to fit max_width."""
        font = self.font(bold, italic)
        if max_width is not None:
            while size > 6 and stringWidth(text, font, size) > max_width:
                size -= 0.25
        self.pdf.setFillGray(grey)
        self.pdf.setFont(font, size)
        y = self.height - top
        if align == "left":
            self.pdf.drawString(x, y, text)
        elif align == "right":
            self.pdf.drawRightString(x, y, text)
        else:
            self.pdf.drawCentredString(x, y, text)
        self.pdf.setFillGray(0)

    def wrap(self, text: str, size: float, width: float, bold: bool = False) -> list[str]:
        """Greedy word wrap; joining the lines with single spaces gives ``text`` back."""
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and self.measure(candidate, size, bold) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
        return lines

    def hline(
        self, x0: float, x1: float, top: float, width: float = 0.6, dashed: bool = False, grey: float = 0.0
    ) -> None:
        self.pdf.setLineWidth(width)
        self.pdf.setStrokeGray(grey)
        if dashed:
            self.pdf.setDash(2, 2)
        self.pdf.line(x0, self.height - top, x1, self.height - top)
        self.pdf.setDash()
        self.pdf.setStrokeGray(0)

    def vline(self, x: float, top: float, bottom: float, width: float = 0.6) -> None:
        self.pdf.setLineWidth(width)
        self.pdf.line(x, self.height - top, x, self.height - bottom)

    def fill(self, x0: float, top: float, x1: float, bottom: float, grey: float) -> None:
        self.pdf.setFillGray(grey)
        self.pdf.rect(x0, self.height - bottom, x1 - x0, bottom - top, stroke=0, fill=1)
        self.pdf.setFillGray(0)


@dataclass(frozen=True)
class _Column:
    key: str
    header: str
    x0: float
    x1: float
    align: Align


def _meta_items(spec: InvoiceSpec) -> list[tuple[str, str]]:
    items = [
        (spec.labels.invoice_number, spec.invoice_number),
        (spec.labels.invoice_date, format_date(spec.invoice_date, spec.date_style)),
        (spec.labels.due_date, format_date(spec.due_date, spec.date_style)),
        *spec.extra_meta,
    ]
    if spec.show_currency_meta:
        colon = ":" if spec.labels.invoice_number.endswith(":") else ""
        items.append((f"{spec.phrases.currency}{colon}", spec.currency))
    return items


def _split_name(name: str, split: int) -> list[str]:
    """A name as printed: on one line, or its first ``split`` words on one line and the rest below."""
    words = name.split()
    return [" ".join(words[:split]), " ".join(words[split:])] if 0 < split < len(words) else [name]


def _vendor_heading(spec: InvoiceSpec) -> list[str]:
    """What the header prints where the vendor's name goes: the name (maybe over two lines), a wordmark, nothing."""
    if spec.layout.vendor_mark == "footer":
        return []
    if spec.wordmark:
        return [spec.wordmark]
    return _split_name(spec.vendor_name, spec.vendor_split)


def _draw_header(page: _Page, spec: InvoiceSpec, top: float) -> float:
    """Vendor block and title; returns the y (from top) below the header."""
    layout, m, w = spec.layout, spec.margin, page.width
    size = spec.vendor_size
    name_top = top + size
    line_gap = spec.body_size + 3
    if layout.header_band:
        page.fill(0, 0, w, name_top + line_gap * len(spec.vendor_lines) + 14, grey=0.9)
    if layout.vendor_block == "center":
        page.text(w / 2, name_top, spec.vendor_name, size, bold=True, align="center", max_width=w - 2 * m)
        y = name_top + line_gap + 2
        page.text(w / 2, y, ", ".join(spec.vendor_lines[:2]), spec.body_size, align="center")
        for line in spec.vendor_lines[2:]:
            y += line_gap
            page.text(w / 2, y, line, spec.body_size - 0.5, align="center")
        y += 10
        page.hline(m, w - m, y, width=1.0)
        if not layout.title_below:
            y += 24
            page.text(w / 2, y, spec.labels.title, 16, bold=True, align="center")
        return y + 18
    align: Align = "left" if layout.vendor_block == "left" else "right"
    x = m if align == "left" else w - m
    title_room = 0.0 if layout.title_below else page.measure(spec.labels.title, 24, bold=True) + 30
    heading = _vendor_heading(spec)
    for number, line in enumerate(heading):
        top_of_line = name_top + number * (size + 2)
        page.text(x, top_of_line, line, size, bold=True, align=align, max_width=w - 2 * m - title_room)
    y = name_top + 4 + max(len(heading) - 1, 0) * (size + 2)
    for line in spec.vendor_lines:
        y += line_gap
        page.text(x, y, line, spec.body_size, align=align, grey=0.15)
    if not layout.title_below:
        title_align: Align = "right" if align == "left" else "left"
        title_x = w - m if align == "left" else m
        page.text(title_x, top + 24, spec.labels.title, 24, bold=True, align=title_align, grey=0.2)
    return y + (26 if layout.header_band else 20)


def _draw_bill_to(page: _Page, spec: InvoiceSpec, x: float, top: float) -> float:
    size = spec.body_size
    y = top
    if spec.layout.sender_line:
        sender = f"{spec.vendor_name}, {', '.join(spec.vendor_lines[:2])}"
        page.text(x, y, sender, 6.5, grey=0.3, max_width=page.width / 2 - spec.margin)
        page.hline(x, x + min(page.measure(sender, 6.5), page.width / 2 - spec.margin), y + 2, width=0.3)
        y += 14
    page.text(x, y, spec.labels.bill_to, size, bold=True, grey=0.25)
    y += size + 5
    room = page.width - spec.margin - x
    for number, name_line in enumerate(_split_name(spec.customer_name, spec.customer_split)):
        y += (size + 3) if number else 0
        page.text(x, y, name_line, size + 1, bold=spec.layout.font != "Courier", max_width=room)
    for line in spec.customer_lines:
        y += size + 3
        page.text(x, y, line, size)
    return y + 8


def _draw_meta_column(page: _Page, spec: InvoiceSpec, side: str, top: float) -> float:
    size = spec.body_size
    items = _meta_items(spec)
    label_w = max(page.measure(label, size, bold=True) for label, _ in items)
    value_w = max(page.measure(value, size) for _, value in items)
    y = top
    if side == "right":
        label_x = page.width - spec.margin - max(label_w + value_w + 18, 190)
        for label, value in items:
            page.text(label_x, y, label, size, bold=True)
            page.text(page.width - spec.margin, y, value, size, align="right")
            y += size + 5
    else:
        for label, value in items:
            page.text(spec.margin, y, label, size, bold=True)
            page.text(spec.margin + label_w + 12, y, value, size)
            y += size + 5
    return y


def _draw_meta_row(page: _Page, spec: InvoiceSpec, top: float) -> float:
    items = _meta_items(spec)
    m = spec.margin
    cell = (page.width - 2 * m) / len(items)
    boxed = spec.layout.table_style == "grid"
    if boxed:
        page.fill(m, top - 10, page.width - m, top + 24, grey=0.95)
    for i, (label, value) in enumerate(items):
        x = m + i * cell + 4
        page.text(x, top, label, spec.body_size - 1.5, bold=True, grey=0.35, max_width=cell - 8)
        page.text(x, top + 15, value, spec.body_size + 0.5, max_width=cell - 8)
    page.hline(m, page.width - m, top + 24, width=0.5)
    return top + 40


def _columns(page: _Page, spec: InvoiceSpec) -> list[_Column]:
    layout, labels, m = spec.layout, spec.labels, spec.margin
    monospace = layout.font == "Courier"
    widths = {
        "sku": 80.0 if monospace else 70.0,
        "quantity": 50.0 if monospace else 56.0,
        "unit_price": 84.0,
        "amount": 92.0,
    }
    order = ["quantity", "description"] if layout.qty_first else ["description", "quantity"]
    keys = (["sku"] if layout.sku_column else []) + order + ["unit_price", "amount"]
    fixed = sum(widths[k] for k in keys if k != "description")
    widths["description"] = page.width - 2 * m - fixed
    headers = {
        "sku": labels.sku,
        "description": labels.description,
        "quantity": labels.quantity,
        "unit_price": labels.unit_price,
        "amount": labels.amount,
    }
    if not spec.currency_in_table and spec.money_mark[0].isalpha():
        headers["amount"] = f"{labels.amount} ({spec.money_mark[0]})"
    aligns: dict[str, Align] = {
        "sku": "left",
        "description": "left",
        "quantity": "right",
        "unit_price": "right",
        "amount": "right",
    }
    columns, x = [], m
    for key in keys:
        columns.append(_Column(key, headers[key], x, x + widths[key], aligns[key]))
        x += widths[key]
    return columns


_Row = tuple[dict[str, str], bool]  # printed cell text by column key; True for a running-sum row (italic)


def _line_values(spec: InvoiceSpec, position: int, line: LineSpec) -> dict[str, str]:
    return {
        "position": str(position),
        "sku": line.sku,
        "description": line.description,
        "quantity": format_quantity(line.quantity, spec.number_style),
        "unit_price": _money(spec, line.unit_price, spec.currency_in_table),
        "amount": _money(spec, line.amount, spec.currency_in_table),
    }


def _amount_header(spec: InvoiceSpec) -> str:
    if not spec.currency_in_table and spec.money_mark[0].isalpha():
        return f"{spec.labels.amount} ({spec.money_mark[0]})"
    return spec.labels.amount


def _split_rows(
    spec: InvoiceSpec, page_break: PageBreak, heights: Sequence[float], first_room: float, last_room: float
) -> int:
    """Rows printed on page 1: as many as fit (or the form allows), leaving page 2 the rest plus the totals."""
    fit, used = 0, 0.0
    while fit < len(heights) and used + heights[fit] <= first_room:
        used += heights[fit]
        fit += 1
    rows = min(fit, len(heights) - page_break.min_carry)
    if page_break.form_rows:
        rows = min(rows, page_break.form_rows)
    while sum(heights[rows:]) > last_room and rows < min(fit, len(heights) - 1):
        rows += 1
    if rows < 1 or sum(heights[rows:]) > last_room:
        raise ValueError(f"{len(heights)} line items do not fit on two pages of the {spec.layout.name} layout")
    return rows


def _footer_top(page: _Page, spec: InvoiceSpec) -> float:
    """y of the rule above the page footer; body text stays above it."""
    size = spec.body_size - 1.5
    return page.height - 42 - (size + 4) * len(spec.footer) - size - 4


def _draw_footer(page: _Page, spec: InvoiceSpec, number: int, x0: float, x1: float, centred: bool) -> None:
    size = spec.body_size - 1.5
    y = page.height - 42 - (size + 4) * len(spec.footer)
    page.hline(x0, x1, _footer_top(page, spec), width=0.4)
    align: Align = "center" if centred else "left"
    x = (x0 + x1) / 2 if centred else x0
    for line in spec.footer:
        page.text(x, y, line, size, align=align, grey=0.2, max_width=x1 - x0)
        y += size + 4
    text = spec.phrases.page.format(page=number, pages=spec.pages)
    page.text(x1, page.height - 30, text, size - 0.5, align="right", grey=0.4)


class _Frame:
    """Draws the invoice for one frame; ``render`` holds the pagination that every frame shares."""

    def __init__(self, page: _Page, spec: InvoiceSpec) -> None:
        self.page = page
        self.spec = spec
        self.size = spec.body_size

    def first_top(self) -> float:
        """Draw everything above the table on page 1; return the y where the table starts."""
        raise NotImplementedError

    def continuation_top(self, draw: bool) -> float:
        """The y where rows resume on page 2, drawing the page-2 heading when ``draw``."""
        raise NotImplementedError

    def header_height(self) -> float:
        raise NotImplementedError

    def row_height(self, row: _Row) -> float:
        raise NotImplementedError

    def table(self, top: float, rows: Sequence[_Row], header: bool, first_row: int) -> float:
        """Draw the rows (under the column header when ``header``); return the y below them."""
        raise NotImplementedError

    def continued_note(self, bottom: float, text: str) -> None:
        raise NotImplementedError

    def end(self, top: float) -> float:
        """Totals and notes below the table; return the lowest y used."""
        raise NotImplementedError

    def end_height(self) -> float:
        raise NotImplementedError

    def body_bottom(self) -> float:
        raise NotImplementedError

    def page_footer(self, number: int) -> None:
        raise NotImplementedError

    def sum_row(self, label: str, amount: Decimal) -> _Row:
        return {"description": label, "amount": _money(self.spec, amount, self.spec.currency_in_table)}, True

    def render(self) -> int:
        """Draw every page; return the page count."""
        spec = self.spec
        rows = [(_line_values(spec, i + 1, line), False) for i, line in enumerate(spec.lines)]
        top = self.first_top()
        page_break = spec.page_break
        if page_break is None:
            self._finish(self.table(top, rows, True, 0), 1)
            return 1
        carrying = page_break.marker == "carried"
        sum_h = self.row_height(self.sum_row(spec.phrases.carried, spec.items_sum)) if carrying else 0.0
        note_h = self.size + 16 if page_break.marker == "note" else 0.0
        repeated_header_h = self.header_height() if page_break.repeat_header else 0.0
        first_room = self.body_bottom() - top - self.header_height() - sum_h - note_h
        last_room = self.body_bottom() - self.continuation_top(draw=False) - repeated_header_h - sum_h
        last_room -= self.end_height()
        split = _split_rows(spec, page_break, [self.row_height(row) for row in rows], first_room, last_room)
        first, rest = rows[:split], rows[split:]
        if carrying:
            carried = sum((line.amount for line in spec.lines[:split]), Decimal(0))
            first = [*first, self.sum_row(spec.phrases.carried, carried)]
            rest = [self.sum_row(spec.phrases.brought, carried), *rest]
        bottom = self.table(top, first, True, 0)
        if page_break.marker == "note":
            self.continued_note(bottom, page_break.note.format(next=2))
        self.page_footer(1)
        self.page.pdf.showPage()
        top = self.continuation_top(draw=True)
        self._finish(self.table(top, rest, page_break.repeat_header, split), 2)
        return 2

    def _finish(self, table_bottom: float, number: int) -> None:
        if self.end(table_bottom) > self.body_bottom() + 12:
            raise ValueError(f"totals run into the footer on the {self.spec.layout.name} layout")
        self.page_footer(number)
        self.page.pdf.showPage()


class _PageFrame(_Frame):
    """The full-page families: header, address and meta blocks placed by ``Layout``, a full-width table."""

    def first_top(self) -> float:
        page, spec, layout = self.page, self.spec, self.spec.layout
        y = _draw_header(page, spec, top=spec.margin - 6)
        bill_x = spec.margin if layout.bill_to_side == "left" else page.width / 2 + 40
        bill_bottom = _draw_bill_to(page, spec, bill_x, y)
        meta_bottom = y
        if layout.meta_style == "column":
            side = "right" if layout.bill_to_side == "left" else "left"
            meta_top = y + (14 if layout.sender_line else 0)
            meta_bottom = _draw_meta_column(page, spec, side, meta_top)
        y = max(bill_bottom, meta_bottom) + 14
        if layout.title_below:
            page.text(spec.margin, y + 12, spec.labels.title, 16, bold=True)
            y += 30
        if layout.meta_style == "row":
            y = _draw_meta_row(page, spec, y + 6)
        return y

    def continuation_top(self, draw: bool) -> float:
        page, spec = self.page, self.spec
        m, w, top = spec.margin, page.width, spec.margin + 6
        if draw:
            number = f"{spec.labels.invoice_number} {spec.invoice_number}"
            if spec.layout.vendor_block == "center":
                page.text(w / 2, top + 12, spec.vendor_name, 13, bold=True, align="center", max_width=w - 2 * m)
                page.text(w / 2, top + 26, f"{number} {spec.phrases.continuation}", self.size, align="center")
            else:
                left = spec.layout.vendor_block == "left"
                vendor_x, number_x = (m, w - m) if left else (w - m, m)
                vendor_align: Align = "left" if left else "right"
                number_align: Align = "right" if left else "left"
                heading = " ".join(_vendor_heading(spec))
                page.text(vendor_x, top + 12, heading, 13, bold=True, align=vendor_align, max_width=w / 2)
                page.text(number_x, top + 12, number, self.size, align=number_align)
                continuation = spec.phrases.continuation
                page.text(number_x, top + 26, continuation, self.size - 1, italic=True, align=number_align, grey=0.3)
            page.hline(m, w - m, top + 33, width=0.6)
        return top + 48

    def header_height(self) -> float:
        return self.size + 11

    def row_height(self, row: _Row) -> float:
        return self.size + 9

    def table(self, top: float, rows: Sequence[_Row], header: bool, first_row: int) -> float:
        page, spec = self.page, self.spec
        style = spec.layout.table_style
        columns = _columns(page, spec)
        size = spec.body_size
        row_h = size + 9
        x0, x1 = columns[0].x0, columns[-1].x1
        pad = 5.0
        dashed = spec.layout.font == "Courier"

        def cell_x(col: _Column) -> float:
            if col.align == "left":
                return col.x0 + pad
            return col.x1 - pad if col.align == "right" else (col.x0 + col.x1) / 2

        y = top
        if header:
            y = top + self.header_height()
            if style in ("grid", "zebra"):
                page.fill(x0, top, x1, y, grey=0.82 if style == "zebra" else 0.9)
            for col in columns:
                width = col.x1 - col.x0 - 2 * pad
                page.text(cell_x(col), y - 6, col.header, size, bold=True, align=col.align, max_width=width)
            if style == "plain":
                page.hline(x0, x1, top, width=0.8, dashed=dashed)
                page.hline(x0, x1, y, width=0.8, dashed=dashed)
        elif style != "grid":
            page.hline(x0, x1, top, width=0.8, dashed=dashed)
        for i, (values, running_sum) in enumerate(rows):
            row_top, row_bottom = y, y + row_h
            if style == "zebra" and (first_row + i) % 2 == 1:
                page.fill(x0, row_top, x1, row_bottom, grey=0.93)
            for col in columns:
                if col.key in values:
                    width = col.x1 - col.x0 - 2 * pad
                    text = values[col.key]
                    page.text(
                        cell_x(col), row_bottom - 6, text, size, italic=running_sum, align=col.align, max_width=width
                    )
            if style == "grid":
                page.hline(x0, x1, row_bottom, width=0.4)
            y = row_bottom
        if style == "grid":
            page.hline(x0, x1, top, width=0.6)
            if header:
                page.hline(x0, x1, top + self.header_height(), width=0.6)
            for col in columns:
                page.vline(col.x0, top, y, width=0.5)
            page.vline(x1, top, y, width=0.5)
        else:
            page.hline(x0, x1, y, width=0.8, dashed=dashed)
        return y

    def continued_note(self, bottom: float, text: str) -> None:
        x = self.page.width - self.spec.margin - 5
        self.page.text(x, bottom + self.size + 8, text, self.size - 0.5, italic=True, align="right", grey=0.2)

    def end(self, top: float) -> float:
        return max(_draw_totals(self.page, self.spec, top), _draw_notes(self.page, self.spec, top))

    def end_height(self) -> float:
        notes = self.size + 21 + 12 * len(self.spec.notes) if self.spec.notes else 0.0
        box = 12.0 if self.spec.layout.totals_box else 0.0
        return max((len(_total_rows(self.spec)) + 1) * (self.size + 8) + 12 + box, notes)

    def body_bottom(self) -> float:
        return _footer_top(self.page, self.spec) - 12

    def page_footer(self, number: int) -> None:
        m = self.spec.margin
        centred = self.spec.layout.vendor_block == "center"
        _draw_footer(self.page, self.spec, number, m, self.page.width - m, centred)


def _total_rows(spec: InvoiceSpec) -> list[tuple[str, str, bool]]:
    """(label, printed amount, is the total) for every row of the totals block."""
    mark_all = spec.currency_in_table
    rows = [(spec.labels.subtotal, _money(spec, spec.subtotal, mark_all), False)]
    if spec.discount:
        rows.append((spec.labels.discount, _money(spec, -spec.discount, mark_all), False))
    if spec.shipping:
        rows.append((spec.labels.shipping, _money(spec, spec.shipping, mark_all), False))
    labels = [spec.labels.tax, spec.labels.tax2]
    rows += [(label, _money(spec, amount, mark_all), False) for label, amount in zip(labels, spec.taxes, strict=False)]
    rows.append((spec.labels.total, _money(spec, spec.total, True), True))
    return rows


def _draw_totals(page: _Page, spec: InvoiceSpec, top: float) -> float:
    size = spec.body_size
    right = page.width - spec.margin - 5
    label_x = page.width - spec.margin - 235
    rows = _total_rows(spec)
    y = top + size + 8
    if spec.layout.totals_box:
        bottom = y + (len(rows) + int(spec.total_stacked)) * (size + 7) + 4
        page.fill(label_x - 8, top + 4, right + 9, bottom, grey=0.93)
        for edge in (top + 4, bottom):
            page.hline(label_x - 8, right + 9, edge, width=0.8)
        page.vline(label_x - 8, top + 4, bottom, width=0.8)
        page.vline(right + 9, top + 4, bottom, width=0.8)
    for label, value, is_total in rows:
        if is_total:
            page.hline(label_x, right + 5, y - size - 2, width=0.8)
            y += 4
        page.text(label_x, y, label, size + (1.5 if is_total else 0), bold=is_total)
        if is_total and spec.total_stacked:
            y += size + 7
        page.text(right, y, value, size + (1.5 if is_total else 0), bold=is_total, align="right")
        y += size + 7
    if spec.layout.table_style == "plain":
        page.hline(label_x, right + 5, y - size + 1, width=0.6)
        page.hline(label_x, right + 5, y - size + 3, width=0.6)
    return y


def _draw_notes(page: _Page, spec: InvoiceSpec, top: float) -> float:
    if not spec.notes:
        return top
    x = spec.margin
    width = page.width - 2 * spec.margin - 250
    label = f"{spec.phrases.notes_label}{':' if spec.layout.vocabulary.colon else ''}"
    page.text(x, top + spec.body_size + 8, label, spec.body_size - 0.5, bold=True)
    for i, note in enumerate(spec.notes):
        page.text(x, top + spec.body_size + 21 + 12 * i, note, spec.body_size - 1, italic=True, max_width=width)
    return top + spec.body_size + 21 + 12 * len(spec.notes)


class _CompactFrame(_Frame):
    """Receipt-like: one narrow centred column, label and value on one line, no rules, '2 x' item rows."""

    def __init__(self, page: _Page, spec: InvoiceSpec) -> None:
        super().__init__(page, spec)
        self.x0 = (page.width - spec.column_width) / 2
        self.x1 = self.x0 + spec.column_width

    def leader_row(self, y: float, label: str, value: str, size: float, bold: bool = False) -> None:
        page = self.page
        page.text(self.x0, y, label, size, bold=bold)
        page.text(self.x1, y, value, size, bold=bold, align="right")
        if not self.spec.leaders:
            return
        start = self.x0 + page.measure(label, size, bold) + 4
        end = self.x1 - page.measure(value, size, bold) - 4
        count = int((end - start) / page.measure(".", size))
        if count >= 3:
            page.text(start, y, "." * count, size, grey=0.35)

    def first_top(self) -> float:
        page, spec, size = self.page, self.spec, self.size
        centre = page.width / 2
        y = spec.margin + spec.vendor_size
        page.text(centre, y, spec.vendor_name, spec.vendor_size, bold=True, align="center", max_width=page.width - 80)
        y += 4
        for line in spec.vendor_lines:
            y += size + 3
            page.text(centre, y, line, size - 0.5, align="center", grey=0.15)
        y += 28
        page.text(centre, y, spec.labels.title, size + 5, bold=True, align="center")
        y += 10
        for label, value in _meta_items(spec):
            y += size + 6
            self.leader_row(y, label, value, size)
        y += size + 16
        self.leader_row(y, spec.labels.bill_to, spec.customer_name, size)
        for line in spec.customer_lines:
            y += size + 3
            page.text(self.x1, y, line, size - 0.5, align="right", grey=0.25)
        return y + 22

    def continuation_top(self, draw: bool) -> float:
        page, spec, size = self.page, self.spec, self.size
        y = spec.margin + 12
        if draw:
            centre = page.width / 2
            page.text(centre, y, spec.vendor_name, 11, bold=True, align="center", max_width=page.width - 80)
            heading = f"{spec.labels.invoice_number} {spec.invoice_number} {spec.phrases.continuation}"
            page.text(centre, y + size + 5, heading, size - 0.5, align="center", grey=0.2)
        return y + size + 24

    def header_height(self) -> float:
        return self.size + 10 if self.spec.item_header else 0.0

    def item_lines(self, values: dict[str, str]) -> tuple[str, list[str]]:
        """The '2 x ' prefix and the wrapped '2 x description' lines of one item."""
        prefix = f"{values['quantity']} x "
        width = self.x1 - self.x0 - 80
        return prefix, self.page.wrap(prefix + values["description"], self.size, width)

    def row_height(self, row: _Row) -> float:
        values, running_sum = row
        if running_sum:
            return self.size + 10
        return len(self.item_lines(values)[1]) * (self.size + 2.5) + self.size + 4

    def table(self, top: float, rows: Sequence[_Row], header: bool, first_row: int) -> float:
        page, spec, size = self.page, self.spec, self.size
        y = top
        if header and spec.item_header:
            page.text(self.x0, y + size, spec.labels.description, size, bold=True)
            page.text(self.x1, y + size, _amount_header(spec), size, bold=True, align="right")
            y += self.header_height()
        for values, running_sum in rows:
            if running_sum:
                self.leader_row(y + size + 2, values["description"], values["amount"], size)
                y += self.row_height((values, running_sum))
                continue
            prefix, lines = self.item_lines(values)
            indent = page.measure(prefix, size)
            baseline = y + size + 2
            for i, text in enumerate(lines):
                page.text(self.x0 + (indent if i else 0), baseline, text, size)
                baseline += size + 2.5
            page.text(self.x1, y + size + 2, values["amount"], size, align="right")
            unit = spec.unit_note.format(price=values["unit_price"])
            page.text(self.x0 + indent, baseline - 1, unit, size - 1.5, grey=0.3)
            y += self.row_height((values, running_sum))
        return y

    def continued_note(self, bottom: float, text: str) -> None:
        self.page.text(self.page.width / 2, bottom + self.size + 8, text, self.size - 0.5, italic=True, align="center")

    def end(self, top: float) -> float:
        page, spec, size = self.page, self.spec, self.size
        mark_all = spec.currency_in_table
        y = top + 6
        for label, value in ((spec.labels.subtotal, spec.subtotal), (spec.labels.tax, spec.tax)):
            y += size + 6
            self.leader_row(y, label, _money(spec, value, mark_all), size)
        y += size + 12
        self.leader_row(y, spec.labels.total, _money(spec, spec.total, True), size + 2, bold=True)
        y += 10
        for note in spec.notes:
            y += size + 8
            page.text(page.width / 2, y, note, size - 0.5, italic=True, align="center")
        y += 10
        for line in spec.footer:
            y += size + 2
            page.text(page.width / 2, y, line, size - 1.5, align="center", grey=0.25, max_width=page.width - 80)
        return y

    def end_height(self) -> float:
        size = self.size
        return 3 * size + 50 + (size + 8) * len(self.spec.notes) + (size + 2) * len(self.spec.footer)

    def body_bottom(self) -> float:
        return self.page.height - 50

    def page_footer(self, number: int) -> None:
        if self.spec.pages > 1:
            text = self.spec.phrases.page.format(page=number, pages=self.spec.pages)
            self.page.text(self.page.width / 2, self.page.height - 30, text, self.size - 1.5, align="center", grey=0.4)


_SIDEBAR_TOP = 58.0


class _SidebarFrame(_Frame):
    """Shaded left column with title, meta data and customer (labels above values); vendor and table right."""

    def __init__(self, page: _Page, spec: InvoiceSpec) -> None:
        super().__init__(page, spec)
        self.sx0, self.sx1 = 18.0, spec.sidebar_width - 18
        self.mx0, self.mx1 = spec.sidebar_width + 24, page.width - spec.margin
        self.columns = self._columns()

    def block(self, y: float, label: str, values: Sequence[tuple[str, bool]]) -> float:
        """A small grey label with its value lines below it; return the y for the next block."""
        page, size, width = self.page, self.size, self.sx1 - self.sx0
        page.text(self.sx0, y, label, size - 1.5, grey=0.35, max_width=width)
        y += size + 4
        for text, bold in values:
            page.text(self.sx0, y, text, size + (0.5 if bold else -0.5), bold=bold, max_width=width)
            y += size + 3
        return y + 11

    def sidebar(self) -> None:
        self.page.fill(0, 0, self.spec.sidebar_width, self.page.height, grey=self.spec.sidebar_grey)
        self.page.text(self.sx0, _SIDEBAR_TOP, self.spec.labels.title, 17, bold=True, max_width=self.sx1 - self.sx0)

    def first_top(self) -> float:
        page, spec, size = self.page, self.spec, self.size
        self.sidebar()
        y = _SIDEBAR_TOP + 30
        for label, value in _meta_items(spec):
            y = self.block(y, label, [(value, True)])
        name = [(line, True) for line in page.wrap(spec.customer_name, size + 0.5, self.sx1 - self.sx0, bold=True)]
        self.block(y + 8, spec.labels.bill_to, [*name, *((line, False) for line in spec.customer_lines)])

        width = self.mx1 - self.mx0
        page.text(self.mx0, _SIDEBAR_TOP, spec.vendor_name, spec.vendor_size, bold=True, max_width=width)
        y = _SIDEBAR_TOP + 6
        for line in spec.vendor_lines:
            y += size + 3
            page.text(self.mx0, y, line, size - 0.5, grey=0.25, max_width=width)
        y += 40
        if spec.intro:
            page.text(self.mx0, y, spec.intro, size, max_width=width)
            y += 16
        return y

    def continuation_top(self, draw: bool) -> float:
        if draw:
            spec = self.spec
            self.sidebar()
            y = self.block(_SIDEBAR_TOP + 30, spec.labels.invoice_number, [(spec.invoice_number, True)])
            page_text = spec.phrases.page.format(page=2, pages=spec.pages)
            self.page.text(self.sx0, y, page_text, self.size - 1, grey=0.35)
            heading = f"{spec.vendor_name} {spec.phrases.continuation}"
            self.page.text(self.mx0, _SIDEBAR_TOP, heading, 12, bold=True, max_width=self.mx1 - self.mx0)
        return _SIDEBAR_TOP + 30

    def _columns(self) -> list[_Column]:
        spec, labels, page, size = self.spec, self.spec.labels, self.page, self.size
        headers = {
            "position": labels.position,
            "description": labels.description,
            "quantity": labels.quantity,
            "unit_price": labels.unit_price,
            "amount": _amount_header(spec),
        }
        rows = [_line_values(spec, i + 1, line) for i, line in enumerate(spec.lines)]
        rows.append({"amount": _money(spec, spec.items_sum, spec.currency_in_table)})  # a carried-forward sum
        # Number columns are sized to their widest entry: a fixed width let "1" and "1 604,52 EUR" touch.
        widths = {
            key: max(
                minimum,
                page.measure(headers[key], size - 0.5, bold=True) + 10,
                *(page.measure(row[key], size) + 14 for row in rows if key in row),
            )
            for key, minimum in (("position", 26.0), ("quantity", 38.0), ("unit_price", 64.0), ("amount", 72.0))
        }
        keys = (["position"] if spec.positions else []) + ["description", "quantity", "unit_price", "amount"]
        widths["description"] = self.mx1 - self.mx0 - sum(widths[k] for k in keys if k != "description")
        columns, x = [], self.mx0
        for key in keys:
            align: Align = "left" if key in ("position", "description") else "right"
            columns.append(_Column(key, headers[key], x, x + widths[key], align))
            x += widths[key]
        return columns

    def description_lines(self, values: dict[str, str]) -> list[str]:
        column = next(col for col in self.columns if col.key == "description")
        return self.page.wrap(values["description"], self.size, column.x1 - column.x0 - 8)

    def header_height(self) -> float:
        return self.size + 7

    def row_height(self, row: _Row) -> float:
        return len(self.description_lines(row[0])) * (self.size + 2.5) + 8

    def table(self, top: float, rows: Sequence[_Row], header: bool, first_row: int) -> float:
        page, size = self.page, self.size
        columns = self.columns
        x0, x1 = columns[0].x0, columns[-1].x1

        def cell_x(col: _Column) -> float:
            return col.x0 + 4 if col.align == "left" else col.x1 - 4

        y = top
        if header:
            for col in columns:
                width = col.x1 - col.x0 - 8
                page.text(cell_x(col), y + size, col.header, size - 0.5, bold=True, align=col.align, max_width=width)
            y += self.header_height()
        page.hline(x0, x1, y, width=1.0)
        for i, (values, running_sum) in enumerate(rows):
            baseline = y + size + 5
            for col in columns:
                if col.key == "description":
                    for j, text in enumerate(self.description_lines(values)):
                        page.text(cell_x(col), baseline + j * (size + 2.5), text, size, italic=running_sum)
                elif col.key in values and not (running_sum and col.key == "position"):
                    page.text(cell_x(col), baseline, values[col.key], size, italic=running_sum, align=col.align)
            y += self.row_height((values, running_sum))
            if i < len(rows) - 1:
                page.hline(x0, x1, y, width=0.3, grey=0.55)
        page.hline(x0, x1, y, width=1.0)
        return y

    def continued_note(self, bottom: float, text: str) -> None:
        self.page.text(self.mx1 - 4, bottom + self.size + 8, text, self.size - 0.5, italic=True, align="right")

    def end(self, top: float) -> float:
        page, spec, size = self.page, self.spec, self.size
        label_x, right = self.mx1 - 215, self.mx1 - 4
        mark_all = spec.currency_in_table
        y = top + size + 12
        for label, value in ((spec.labels.subtotal, spec.subtotal), (spec.labels.tax, spec.tax)):
            page.text(label_x, y, label, size)
            page.text(right, y, _money(spec, value, mark_all), size, align="right")
            y += size + 8
        y += 4
        page.fill(label_x - 6, y - size - 6, self.mx1, y + 7, grey=0.86)
        page.text(label_x, y, spec.labels.total, size + 1.5, bold=True)
        page.text(right, y, _money(spec, spec.total, True), size + 1.5, bold=True, align="right")
        y += 12
        for note in spec.notes:
            y += size + 8
            page.text(self.mx0, y, note, size - 0.5, italic=True, max_width=self.mx1 - self.mx0)
        return y

    def end_height(self) -> float:
        return 3 * self.size + 48 + (self.size + 8) * len(self.spec.notes)

    def body_bottom(self) -> float:
        return _footer_top(self.page, self.spec) - 12

    def page_footer(self, number: int) -> None:
        _draw_footer(self.page, self.spec, number, self.mx0, self.mx1, centred=False)


FRAMES: dict[Frame, type[_Frame]] = {"page": _PageFrame, "compact": _CompactFrame, "sidebar": _SidebarFrame}


def render_born_digital(spec: InvoiceSpec) -> bytes:
    """The invoice as a PDF with a text layer; byte-identical for identical specs."""
    buffer = io.BytesIO()
    width, height = spec.region.page_size
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    pdf.setTitle(f"Invoice {spec.invoice_number}")
    pdf.setAuthor(spec.vendor_name)
    pdf.setCreator("Ledgerlens sample generator")
    page = _Page(pdf, spec.layout.font, width, height)
    pages = FRAMES[spec.layout.frame](page, spec).render()
    if pages != spec.pages:
        raise ValueError(f"rendered {pages} pages for a {spec.pages}-page invoice")
    pdf.save()
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Scan simulation (poppler render -> OpenCV/numpy degradation -> image-only PDF)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanProfile:
    dpi: int
    angle: float  # degrees, counter-clockwise
    ink: float  # grey level that black print becomes
    paper: float  # grey level of the paper
    noise_sigma: float
    blur_sigma: float
    jpeg_quality: int  # quality of an intermediate JPEG pass; 0 means none
    speckles: int
    shade: float  # strength of uneven illumination across the page (0..1)
    stamp: str | None
    save_quality: int


def scan_profile(kind: Kind, rng: random.Random) -> ScanProfile:
    if kind == "clean_scan":
        return ScanProfile(
            dpi=rng.choice((200, 225, 250, 300)),
            angle=rng.uniform(-1.0, 1.0),
            ink=rng.uniform(10, 40),
            paper=rng.uniform(238, 252),
            noise_sigma=rng.uniform(1.5, 4.0),
            blur_sigma=0.0,
            jpeg_quality=0,
            speckles=rng.randint(0, 40),
            shade=rng.uniform(0.0, 0.03),
            stamp=None,
            save_quality=85,
        )
    return ScanProfile(
        dpi=rng.choice((150, 175, 200)),
        angle=rng.choice((-1, 1)) * rng.uniform(1.5, 3.0),
        ink=rng.uniform(55, 85),
        paper=rng.uniform(205, 228),
        noise_sigma=rng.uniform(6.0, 11.0),
        blur_sigma=rng.uniform(0.5, 0.9),
        jpeg_quality=rng.randint(28, 45),
        speckles=rng.randint(150, 500),
        shade=rng.uniform(0.04, 0.10),
        stamp=rng.choice(("PAID", "COPY", "RECEIVED")) if rng.random() < 0.5 else None,
        save_quality=70,
    )


def _stamp_mask(shape: tuple[int, int], text: str, dpi: int, rng: random.Random) -> np.ndarray:
    """A rotated rubber-stamp shape (text in a box) as a 0..1 float mask."""
    h, w = shape
    layer: np.ndarray = np.zeros((h, w), dtype=np.uint8)
    scale = dpi / 40
    thickness = max(2, dpi // 45)
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    # Usually lands in the empty space between the totals and the footer, as a stamp on a filed copy would.
    cx, cy = int(w * rng.uniform(0.4, 0.65)), int(h * rng.uniform(0.6, 0.75))
    origin = (cx - tw // 2, cy + th // 2)
    cv2.putText(layer, text, origin, font, scale, 255, thickness, cv2.LINE_AA)
    margin = int(th * 0.45)
    cv2.rectangle(
        layer,
        (origin[0] - margin, cy - th // 2 - margin),
        (origin[0] + tw + margin, cy + th // 2 + margin),
        255,
        thickness,
    )
    matrix = cv2.getRotationMatrix2D((cx, cy), rng.uniform(15, 35) * rng.choice((-1, 1)), 1.0)
    layer = cv2.warpAffine(layer, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    return layer.astype(np.float32) / 255.0


def degrade(image: Image.Image, profile: ScanProfile, rng: random.Random) -> Image.Image:
    """Make a clean greyscale page render look scanned; deterministic for a given rng state."""
    noise_rng = np.random.default_rng(rng.getrandbits(63))
    page = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    h, w = page.shape
    # Print contrast: black ink becomes dark grey, white paper becomes light grey.
    arr: np.ndarray = profile.ink + (profile.paper - profile.ink) * page
    if profile.stamp:
        mask = _stamp_mask((h, w), profile.stamp, profile.dpi, rng)
        tone, alpha = rng.uniform(160, 190), 0.5
        arr = arr * (1 - alpha * mask) + tone * alpha * mask
    # Skew on the scanner glass (plus a small offset), filling the uncovered corners with paper colour.
    matrix: np.ndarray = cv2.getRotationMatrix2D((w / 2, h / 2), profile.angle, 1.0)
    matrix[:, 2] += noise_rng.uniform(-0.004, 0.004, size=2) * (w, h)
    arr = cv2.warpAffine(
        arr, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=float(profile.paper)
    )
    if profile.blur_sigma > 0:
        arr = cv2.GaussianBlur(arr, (0, 0), profile.blur_sigma)
    if profile.shade > 0:
        gx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
        gy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        corner = noise_rng.integers(0, 4)
        ramp = (gx if corner % 2 else 1 - gx) * 0.6 + (gy if corner // 2 else 1 - gy) * 0.4
        arr = arr * (1 - profile.shade * ramp)
    arr = arr + noise_rng.normal(0, profile.noise_sigma, size=(h, w)).astype(np.float32)
    if profile.speckles:
        ys = noise_rng.integers(0, h, profile.speckles)
        xs = noise_rng.integers(0, w, profile.speckles)
        arr[ys, xs] = noise_rng.uniform(profile.ink, profile.ink + 60, profile.speckles)
    out: np.ndarray = np.clip(arr, 0, 255).astype(np.uint8)
    if profile.jpeg_quality:
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, profile.jpeg_quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            out = decoded
    return Image.fromarray(out)  # 2-D uint8 -> mode "L"


def render_scan(pdf_bytes: bytes, kind: Kind, rng: random.Random, title: str) -> bytes:
    """Render a born-digital PDF, degrade every page like a scan and wrap them as an image-only PDF."""
    profile = scan_profile(kind, rng)
    images = convert_from_bytes(pdf_bytes, dpi=profile.dpi, grayscale=True)
    scanned = []
    for number, image in enumerate(images, start=1):
        page_profile = profile
        if number > 1:
            # A sheet fed separately lands at its own small angle.
            page_profile = dataclasses.replace(page_profile, angle=profile.angle + rng.uniform(-0.5, 0.5))
        if number < len(images):
            page_profile = dataclasses.replace(page_profile, stamp=None)  # stamps go on the last page only
        scanned.append(degrade(image, page_profile, rng))
    buffer = io.BytesIO()
    scanned[0].save(
        buffer,
        "PDF",
        save_all=True,
        append_images=scanned[1:],
        resolution=float(profile.dpi),
        quality=profile.save_quality,
        title=title,
        creationDate=None,
        modDate=None,
        producer="Ledgerlens sample scanner",
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Truth and the public entry point
# --------------------------------------------------------------------------------------------------------------


def truth_record(spec: InvoiceSpec, document: str, kind: Kind) -> dict[str, Any]:
    """Ground truth in the same shape as the real-invoice benchmark's ``*.truth.json``, plus ``pages``.

    Money fields are the values printed on the page, so an inconsistent invoice keeps its broken arithmetic.
    """
    return {
        "document": document,
        "doc_type": "credit_note" if spec.credit else "invoice",
        "kind": kind,
        "layout": spec.layout.name,
        "vendor_name": spec.vendor_name,
        "customer_name": spec.customer_name,
        "invoice_number": spec.invoice_number,
        "invoice_date": spec.invoice_date.isoformat(),
        "due_date": spec.due_date.isoformat(),
        "currency": spec.currency,
        "subtotal": f"{spec.subtotal:.2f}",
        "tax": f"{spec.tax:.2f}",
        "total": f"{spec.total:.2f}",
        "line_items": [
            {
                "description": line.description,
                "quantity": _plain(line.quantity),
                "unit_price": f"{line.unit_price:.2f}",
                "amount": f"{line.amount:.2f}",
            }
            for line in spec.lines
        ],
        "inconsistent": spec.inconsistent,
        "pages": spec.pages,
    }


def sample_kind(index: int) -> Kind:
    return KIND_CYCLE[index % len(KIND_CYCLE)]


def layouts_for(families: str | Sequence[str] = "classic") -> tuple[Layout, ...]:
    """The families a batch draws from: a set name (classic, wide, all) or family names (a list, or comma-separated)."""
    if isinstance(families, str):
        if families in FAMILY_SETS:
            return FAMILY_SETS[families]
        families = [name.strip() for name in families.split(",") if name.strip()]
    unknown = [name for name in families if name not in LAYOUTS_BY_NAME]
    if unknown or not families:
        known = ", ".join([*FAMILY_SETS, *LAYOUTS_BY_NAME])
        raise ValueError(f"Unknown layout families {unknown or families}; choose from: {known}")
    return tuple(LAYOUTS_BY_NAME[name] for name in families)


def sample_layout(index: int, seed: int, layouts: Sequence[Layout] = LAYOUTS) -> Layout:
    """Cycle through the families, shifting by one each round so every family meets every kind."""
    n = len(layouts)
    return layouts[(index + index // n + seed) % n]


def plan_sample(index: int, seed: int = 0, layouts: Sequence[Layout] = LAYOUTS) -> SamplePlan:
    """Kind, layout family, page count and consistency of sample ``index``, without generating it."""
    multi_period, multi_slots = MULTI_PAGE_SLOTS
    bad_period, bad_slots = INCONSISTENT_SLOTS
    return SamplePlan(
        index=index,
        seed=seed,
        kind=sample_kind(index),
        layout=sample_layout(index, seed, layouts),
        multi_page=index % multi_period in multi_slots,
        inconsistent=index % bad_period in bad_slots,
    )


def _sample_spec(plan: SamplePlan) -> tuple[InvoiceSpec, random.Random]:
    """The invoice content and the RNG positioned where scan simulation continues drawing from it."""
    rng = random.Random(f"ledgerlens-samples:{plan.seed}:{plan.index}")
    return _make_invoice(rng, plan), rng


def sample_spec(index: int, seed: int = 0, families: str | Sequence[str] = "classic") -> InvoiceSpec:
    """Everything sample ``index`` prints, without rendering it."""
    spec, _ = _sample_spec(plan_sample(index, seed, layouts_for(families)))
    return spec


def sample_truth(index: int, seed: int = 0, families: str | Sequence[str] = "classic") -> dict[str, Any]:
    """The truth record ``generate_sample`` writes for this sample, without rendering anything."""
    plan = plan_sample(index, seed, layouts_for(families))
    spec, _ = _sample_spec(plan)
    return truth_record(spec, f"{plan.stem}.pdf", plan.kind)


def generate_sample(out_dir: Path, index: int, seed: int = 0, families: str | Sequence[str] = "classic") -> Path:
    """Write sample number ``index`` (0-based) of the batch for ``seed``; independent of the batch size."""
    plan = plan_sample(index, seed, layouts_for(families))
    spec, rng = _sample_spec(plan)
    pdf_bytes = render_born_digital(spec)
    if plan.kind != "born_digital":
        pdf_bytes = render_scan(pdf_bytes, plan.kind, rng, title=plan.stem)
    pdf_path = out_dir / f"{plan.stem}.pdf"
    pdf_path.write_bytes(pdf_bytes)
    truth = truth_record(spec, pdf_path.name, plan.kind)
    (out_dir / f"{plan.stem}.truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return pdf_path


def generate_samples(out_dir: Path, count: int, seed: int = 0, families: str | Sequence[str] = "classic") -> list[Path]:
    """Write `count` invoices as <stem>.pdf plus <stem>.truth.json beside each; return the PDF paths.

    ``families`` picks the layout families: "classic" (the first eight, the default), "wide" (the eight
    with the variation real invoices show), "all", or family names.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layouts_for(families)  # fail before writing anything
    return [generate_sample(out_dir, index, seed, families) for index in range(count)]
