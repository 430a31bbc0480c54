"""Deterministic generator of realistic sample invoices with ground truth.

``generate_samples(out_dir, count, seed)`` writes ``<stem>.pdf`` plus ``<stem>.truth.json`` per invoice.
Three kinds are produced: ``born_digital`` (reportlab, real text layer), ``clean_scan`` and ``hard_scan``
(the born-digital page rendered with poppler, degraded with OpenCV/numpy and saved as an image-only PDF).

Everything is driven by seeded RNGs (one per sample, derived from ``seed`` and the sample's index), and
reportlab runs with ``invariant=1``, so the same seed always yields byte-identical files and sample ``i``
does not depend on ``count``.

Layout families live in ``LAYOUTS``: each is a ``Layout`` value describing where blocks sit, the table
style and the label vocabulary it may use. Adding a family means adding one entry there.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pdf2image import convert_from_bytes
from PIL import Image
from reportlab.lib.pagesizes import A4, letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

Kind = Literal["born_digital", "clean_scan", "hard_scan"]
Align = Literal["left", "right", "center"]

# Deterministic cycle: half born-digital, a quarter of each scan kind; any 4 consecutive samples hold all three.
KIND_CYCLE: tuple[Kind, ...] = ("born_digital", "clean_scan", "born_digital", "hard_scan")
CENT = Decimal("0.01")

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


@dataclass(frozen=True)
class Layout:
    """One layout family: block positions, table style and vocabulary."""

    name: str
    font: Literal["Helvetica", "Times", "Courier"]
    vendor_block: Align  # vendor name + address: top-left, top-right or centred header
    bill_to_side: Literal["left", "right"]
    meta_style: Literal["column", "row"]  # label/value column beside bill-to, or labels above values in a row
    table_style: Literal["grid", "zebra", "plain"]
    sku_column: bool
    qty_first: bool  # quantity column before the description
    vocabulary: Vocabulary
    header_band: bool = False  # light grey band behind the header
    sender_line: bool = False  # small one-line sender address above the bill-to block (European letter)
    title_below: bool = False  # document title below the address blocks instead of in the header


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
)

LAYOUTS_BY_NAME: dict[str, Layout] = {layout.name: layout for layout in LAYOUTS}

# --------------------------------------------------------------------------------------------------------------
# Regions: currency, number/date conventions, addresses, tax
# --------------------------------------------------------------------------------------------------------------

NumberStyle = Literal["us", "eu_dot", "eu_space"]
DateStyle = Literal["us_slash", "us_long", "eu_dot", "eu_slash", "day_mon", "iso"]


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
)
# fmt: on

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

# --------------------------------------------------------------------------------------------------------------
# Invoice content
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineSpec:
    description: str
    sku: str
    quantity: Decimal
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


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


@dataclass
class InvoiceSpec:
    """Everything printed on one invoice plus the formatting choices used to print it."""

    layout: Layout
    region: Region
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

    @property
    def currency(self) -> str:
        return self.region.currency

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return (self.subtotal * self.tax_rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


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


def _make_lines(rng: random.Random, industry: Industry) -> list[LineSpec]:
    count = rng.choice((1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8))
    chosen = rng.sample(industry.items, k=min(count, len(industry.items)))
    lines = []
    for description, low, high, qty_kind in chosen:
        price = rng.uniform(low, high)
        if qty_kind in ("hours", "one", "months") and rng.random() < 0.6:
            price = round(price / 5) * 5 or 5.0  # services are often priced in round numbers
        sku = f"{industry.sku_prefix}-{rng.randint(100, 9999)}{rng.choice(('', '', '-B', '-XL'))}"
        lines.append(
            LineSpec(
                description=description,
                sku=sku,
                quantity=Decimal(rng.choice(QUANTITIES[qty_kind])),
                unit_price=Decimal(f"{price:.2f}"),
            )
        )
    return lines


def _make_invoice(rng: random.Random, layout: Layout) -> InvoiceSpec:
    region = rng.choices(REGIONS, weights=[r.weight for r in REGIONS])[0]
    industry = rng.choice(INDUSTRIES)
    vendor_name = _company(rng, industry.cores, region.suffixes)
    customer_name = _company(rng, CUSTOMER_CORES, region.suffixes, avoid=vendor_name)

    invoice_date = date(2023, 1, 2) + timedelta(days=rng.randrange(900))
    due_days = rng.choice(DUE_DAYS)
    due_date = invoice_date + timedelta(days=due_days)
    number_style = rng.choice(region.number_styles)
    date_style = rng.choice(region.date_styles)
    rate, tax_template = rng.choice(region.taxes)
    vocab = layout.vocabulary
    colon = vocab.colon

    vendor_lines = _address(rng, region, with_country=rng.random() < 0.3)
    contact = [f"Tel. {_digits(rng, region.phone)}", f"billing@{vendor_name.split()[0].lower()}.example"]
    vendor_lines.append(rng.choice(contact) if rng.random() < 0.6 else "   ".join(contact))
    if rng.random() < 0.5:
        vendor_lines.append(_digits(rng, region.tax_id))

    customer_lines = _address(rng, region, with_country=rng.random() < 0.2)
    if rng.random() < 0.4:
        customer_lines.insert(0, f"Attn: {rng.choice(CONTACT_NAMES)}")

    labels = Labels(
        invoice_number=_pick(rng, vocab.invoice_number, colon),
        invoice_date=_pick(rng, vocab.invoice_date, colon),
        due_date=_pick(rng, vocab.due_date, colon),
        subtotal=_pick(rng, vocab.subtotal, colon),
        tax=tax_template.format(rate=_percent(rate, number_style)) + (":" if colon else ""),
        total=_pick(rng, vocab.total, colon),
        bill_to=_pick(rng, vocab.bill_to, colon),
        description=rng.choice(vocab.description),
        quantity=rng.choice(vocab.quantity),
        unit_price=rng.choice(vocab.unit_price),
        amount=rng.choice(vocab.amount),
        sku=rng.choice(vocab.sku),
        title=rng.choice(vocab.title),
    )

    extra_meta: list[tuple[str, str]] = []
    if rng.random() < 0.4:
        extra_meta.append((f"PO Number{':' if colon else ''}", f"PO-{rng.randint(1000, 99999)}"))
    if rng.random() < 0.3:
        extra_meta.append((f"Customer ID{':' if colon else ''}", f"C-{rng.randint(100, 9999)}"))

    spec = InvoiceSpec(
        layout=layout,
        region=region,
        vendor_name=vendor_name,
        vendor_lines=vendor_lines,
        customer_name=customer_name,
        customer_lines=customer_lines,
        invoice_number=_invoice_number(rng, invoice_date.year, vendor_name),
        invoice_date=invoice_date,
        due_date=due_date,
        tax_rate=Decimal(rate),
        lines=_make_lines(rng, industry),
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
        body_size=rng.choice((8.5, 9) if layout.font == "Courier" else (9, 9.5, 10)),
        show_currency_meta=rng.random() < 0.3,
    )

    # Notes and footer: payment terms matching the due date, bank details, phone, a note carrying a date.
    terms = rng.choice(
        (
            f"Payment terms: Net {due_days} days",
            f"Payment due within {due_days} days of invoice date.",
            f"Terms: Net {due_days}",
        )
    )
    note_date = invoice_date - timedelta(days=rng.randint(1, 12))
    notes = (
        f"Goods delivered on {format_date(note_date, date_style)}.",
        f"Service period ending {format_date(note_date, date_style)}.",
        f"Order placed {format_date(note_date, date_style)}, thank you!",
        "Thank you for your business!",
    )
    spec.notes = [rng.choice(notes)] if rng.random() < 0.7 else []
    footer = [terms]
    if rng.random() < 0.7:
        footer.append(_digits(rng, rng.choice(region.bank)))
    if rng.random() < 0.5:
        footer.append(f"Questions about this invoice? Call {_digits(rng, region.phone)}")
    if rng.random() < 0.25:
        footer.append("Late payments are subject to interest of 1.5% per month.")
    rng.shuffle(footer)
    spec.footer = footer
    return spec


# --------------------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------------------


def format_number(value: Decimal, style: NumberStyle) -> str:
    """Two decimals with grouping: us 1,234.56 / eu_dot 1.234,56 / eu_space 1 234,56."""
    thousands, decimal = {"us": (",", "."), "eu_dot": (".", ","), "eu_space": (" ", ",")}[style]
    sign = "-" if value < 0 else ""
    whole, frac = f"{abs(value.quantize(CENT)):.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{thousands.join(groups)}{decimal}{frac}"


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
    return value.isoformat()


def _plain(value: Decimal) -> str:
    """Decimal as a plain string without exponent or trailing zeros: 2, 1.5, 40."""
    return format(value.normalize(), "f")


def _money(spec: InvoiceSpec, value: Decimal, with_mark: bool) -> str:
    number = format_number(value, spec.number_style)
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

    def hline(self, x0: float, x1: float, top: float, width: float = 0.6, dashed: bool = False) -> None:
        self.pdf.setLineWidth(width)
        if dashed:
            self.pdf.setDash(2, 2)
        self.pdf.line(x0, self.height - top, x1, self.height - top)
        self.pdf.setDash()

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
        items.append((f"Currency{':' if spec.layout.vocabulary.colon else ''}", spec.currency))
    return items


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
    page.text(x, name_top, spec.vendor_name, size, bold=True, align=align, max_width=w - 2 * m - title_room)
    y = name_top + 4
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
    page.text(x, y, spec.customer_name, size + 1, bold=spec.layout.font != "Courier", max_width=room)
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


def _draw_table(page: _Page, spec: InvoiceSpec, top: float) -> float:
    style = spec.layout.table_style
    columns = _columns(page, spec)
    size = spec.body_size
    row_h = size + 9
    x0, x1 = columns[0].x0, columns[-1].x1
    pad = 5.0

    def cell_x(col: _Column) -> float:
        return col.x0 + pad if col.align == "left" else col.x1 - pad if col.align == "right" else (col.x0 + col.x1) / 2

    header_bottom = top + row_h + 2
    if style in ("grid", "zebra"):
        page.fill(x0, top, x1, header_bottom, grey=0.82 if style == "zebra" else 0.9)
    for col in columns:
        page.text(
            cell_x(col),
            header_bottom - 6,
            col.header,
            size,
            bold=True,
            align=col.align,
            max_width=col.x1 - col.x0 - 2 * pad,
        )
    dashed = spec.layout.font == "Courier"
    if style == "plain":
        page.hline(x0, x1, top, width=0.8, dashed=dashed)
        page.hline(x0, x1, header_bottom, width=0.8, dashed=dashed)

    y = header_bottom
    for i, line in enumerate(spec.lines):
        row_top, row_bottom = y, y + row_h
        if style == "zebra" and i % 2 == 1:
            page.fill(x0, row_top, x1, row_bottom, grey=0.93)
        values = {
            "sku": line.sku,
            "description": line.description,
            "quantity": format_quantity(line.quantity, spec.number_style),
            "unit_price": _money(spec, line.unit_price, spec.currency_in_table),
            "amount": _money(spec, line.amount, spec.currency_in_table),
        }
        for col in columns:
            page.text(
                cell_x(col), row_bottom - 6, values[col.key], size, align=col.align, max_width=col.x1 - col.x0 - 2 * pad
            )
        if style == "grid":
            page.hline(x0, x1, row_bottom, width=0.4)
        y = row_bottom
    table_bottom = y
    if style == "grid":
        page.hline(x0, x1, top, width=0.6)
        page.hline(x0, x1, header_bottom, width=0.6)
        for col in columns:
            page.vline(col.x0, top, table_bottom, width=0.5)
        page.vline(x1, top, table_bottom, width=0.5)
    else:
        page.hline(x0, x1, table_bottom, width=0.8, dashed=dashed)
    return table_bottom


def _draw_totals(page: _Page, spec: InvoiceSpec, top: float) -> float:
    size = spec.body_size
    right = page.width - spec.margin - 5
    label_x = page.width - spec.margin - 235
    mark_all = spec.currency_in_table
    rows = [
        (spec.labels.subtotal, _money(spec, spec.subtotal, mark_all), False),
        (spec.labels.tax, _money(spec, spec.tax, mark_all), False),
        (spec.labels.total, _money(spec, spec.total, True), True),
    ]
    y = top + size + 8
    for label, value, is_total in rows:
        if is_total:
            page.hline(label_x, right + 5, y - size - 2, width=0.8)
            y += 4
        page.text(label_x, y, label, size + (1.5 if is_total else 0), bold=is_total)
        page.text(right, y, value, size + (1.5 if is_total else 0), bold=is_total, align="right")
        y += size + 7
    if spec.layout.table_style == "plain":
        page.hline(label_x, right + 5, y - size + 1, width=0.6)
        page.hline(label_x, right + 5, y - size + 3, width=0.6)
    return y


def _draw_notes(page: _Page, spec: InvoiceSpec, top: float) -> None:
    if not spec.notes:
        return
    x = spec.margin
    width = page.width - 2 * spec.margin - 250
    page.text(
        x,
        top + spec.body_size + 8,
        f"Notes{':' if spec.layout.vocabulary.colon else ''}",
        spec.body_size - 0.5,
        bold=True,
    )
    for i, note in enumerate(spec.notes):
        page.text(x, top + spec.body_size + 21 + 12 * i, note, spec.body_size - 1, italic=True, max_width=width)


def _draw_footer(page: _Page, spec: InvoiceSpec) -> None:
    m, w, h = spec.margin, page.width, page.height
    size = spec.body_size - 1.5
    y = h - 42 - (size + 4) * len(spec.footer)
    page.hline(m, w - m, y - size - 4, width=0.4)
    centred = spec.layout.vendor_block == "center"
    for line in spec.footer:
        if centred:
            page.text(w / 2, y, line, size, align="center", grey=0.2)
        else:
            page.text(m, y, line, size, grey=0.2)
        y += size + 4
    page.text(w - m, h - 30, "Page 1 of 1", size - 0.5, align="right", grey=0.4)


def render_born_digital(spec: InvoiceSpec) -> bytes:
    """The invoice as a one-page PDF with a text layer; byte-identical for identical specs."""
    buffer = io.BytesIO()
    width, height = spec.region.page_size
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    pdf.setTitle(f"Invoice {spec.invoice_number}")
    pdf.setAuthor(spec.vendor_name)
    pdf.setCreator("Ledgerlens sample generator")
    page = _Page(pdf, spec.layout.font, width, height)
    layout = spec.layout

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
    table_bottom = _draw_table(page, spec, y)
    _draw_totals(page, spec, table_bottom)
    _draw_notes(page, spec, table_bottom)
    _draw_footer(page, spec)
    pdf.showPage()
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
    """Render a born-digital PDF, degrade it like a scan and wrap it as an image-only PDF."""
    profile = scan_profile(kind, rng)
    image = convert_from_bytes(pdf_bytes, dpi=profile.dpi, grayscale=True, first_page=1, last_page=1)[0]
    scanned = degrade(image, profile, rng)
    buffer = io.BytesIO()
    scanned.save(
        buffer,
        "PDF",
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
    """Ground truth in the same shape as the real-invoice benchmark's ``*.truth.json``."""
    return {
        "document": document,
        "doc_type": "invoice",
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
        "inconsistent": False,
    }


def sample_kind(index: int) -> Kind:
    return KIND_CYCLE[index % len(KIND_CYCLE)]


def sample_layout(index: int, seed: int) -> Layout:
    """Cycle through the families, shifting by one each round so every family meets every kind."""
    n = len(LAYOUTS)
    return LAYOUTS[(index + index // n + seed) % n]


def generate_sample(out_dir: Path, index: int, seed: int = 0) -> Path:
    """Write sample number ``index`` (0-based) of the batch for ``seed``; independent of the batch size."""
    rng = random.Random(f"ledgerlens-samples:{seed}:{index}")
    kind = sample_kind(index)
    layout = sample_layout(index, seed)
    spec = _make_invoice(rng, layout)
    stem = f"inv-{index + 1:04d}-{kind}-{layout.name}"
    pdf_bytes = render_born_digital(spec)
    if kind != "born_digital":
        pdf_bytes = render_scan(pdf_bytes, kind, rng, title=stem)
    pdf_path = out_dir / f"{stem}.pdf"
    pdf_path.write_bytes(pdf_bytes)
    truth = truth_record(spec, pdf_path.name, kind)
    (out_dir / f"{stem}.truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return pdf_path


def generate_samples(out_dir: Path, count: int, seed: int = 0) -> list[Path]:
    """Write `count` invoices as <stem>.pdf plus <stem>.truth.json beside each; return the PDF paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [generate_sample(out_dir, index, seed) for index in range(count)]
