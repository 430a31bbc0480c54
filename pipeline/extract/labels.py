"""Label vocabulary: the words invoices print before a value, per field, in English, German, French, Dutch,
Spanish and Italian (one lexicon for all of them: a label is matched whatever the document's language).

Patterns are matched at the start of a phrase (lower-cased). When several match, the longest wins,
so "Sub-total" beats "Total" and "Due date" beats "Date".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

# "VAT Reg. GB 383 0882 52", "Tax ID", "GSTIN", "VAT FR40 232379367": registration numbers, not tax amounts.
# The last is a VAT number itself: a country code in capitals, then eight or more digits, spaces allowed
# ("VAT AT 20%" is a rate: its digits stop at the percent sign).
_VAT_NUMBER = r"(?-i:[A-Z]{2})\s?\d[\d ]{7,}"
_NOT_AN_ID = rf"(?!\s*(reg|no\b|no\.|nr|number|num|nummer|id\b|#|registration|identification|in\b|{_VAT_NUMBER}))"

_RATE = r"\d{1,2}([.,]\d{1,2})?\s*%"
# "Total Qty 3", "Total Saving 0.00", "Total items": counts and savings, not the amount to pay.
_NOT_A_SUM = r"(?!\s*(qty|quantity|items?|item\(s\)|pcs|units?|savings?|discounts?|weight|points|tendered))"

# (pattern, strength): strength is how sure a match makes us that the value beside it is this field.
_LABELS: dict[str, list[tuple[str, float]]] = {
    "invoice_number": [
        (r"((tax|vat|gst)\s+)?invoice\s*(no\.?|number|num\.?|nr\.?|#|n[°o]\.?|id|ref(erence)?\.?)", 1.0),
        (r"inv\.?\s*(no\.?|#|number|nr\.?)", 1.0),
        (r"(document|doc\.?|bill|receipt)\s*(no\.?|number|#|nr\.?)", 0.9),
        (r"((simplified\s*)?tax\s*)?invoice(?=\s*[:#])", 0.85),
        (r"rechnungs-?\s*(nummer|nr\.?)", 1.0),
        (r"(rechnung|facture|factuur|fattura|factura)\s*(#|nr\.?|no\.?|n[°o])", 1.0),
        # The title followed by the number itself: "Invoice FI15636047324", "Rechnung 2023-0042".
        (r"(invoice|rechnung|facture|factuur)(?=\s+[a-z]{0,5}[-/#]?\d{4,})", 0.75),
        (r"factuur\s*-?\s*(nummer|nr\.?|no\.?)", 1.0),
        (r"(n[°o]\s*de\s*)?facture\s*(n[°o]|num[ée]ro)?", 0.8),
        (r"num[ée]ro\s*de\s*facture", 1.0),
        (r"reference(\s*(no\.?|number))?", 0.6),
        # A credit note numbers itself: "Credit Note No.", "Gutschrift Nr.", "Avoir N°", "Nota di credito n.".
        (r"credit\s*note\s*(no\.?|number|#|nr\.?)", 1.0),
        (r"gutschrift(s-?\s*nummer|\s*-?\s*(nr\.?|no\.?))", 1.0),
        (r"beleg-?\s*(nummer|nr\.?)", 0.95),
        (r"creditnota\s*-?\s*(nummer|nr\.?)", 1.0),
        (r"(avoir\s*n[°o]\.?|n[°o]\s*d['\u2019]\s*avoir)", 1.0),
        # Spanish and Italian: "Nº Factura", "Número de factura", "Factura n.º", "Fattura n.", "N. fattura".
        (r"(n\.?\s*[º°o]|n\.)\.?\s*(de\s*)?(factura|rectificativa|abono|fattura)", 1.0),
        (r"n[úu]mero\s*(de\s*)?(la\s*)?(factura|fattura|rectificativa)", 1.0),
        # OCR reads the ordinal mark glued to "n." as a 2 ("Factura n.2  53912"): a 2 closing the label there
        # is the mark, never the number.
        (r"(factura|fattura|rectificativa)\s*(n\.?2(?=\s|$)|n\.?\s*[º°o]?\.?|nr\.?|n[úu]m(ero|\.)?)", 1.0),
        (r"nota\s*di\s*credito\s*(n\.?|nr\.?|numero)", 1.0),
    ],
    "invoice_date": [
        (r"(invoice|bill|billing|issue|document|tax\s*point)\s*date", 1.0),
        (r"date\s*(of\s*)?(issue|invoice)", 1.0),
        (r"tax\s*point", 0.85),  # UK VAT invoices: the date of supply, printed where the invoice date goes
        (r"(date\s*)?issued(\s*on)?", 0.9),
        (r"dated", 0.9),
        (r"date", 0.8),
        (r"rechnungsdatum", 1.0),
        (r"factuurdatum", 1.0),
        (r"datum", 0.8),
        (r"date\s*de\s*(la\s*)?facture", 1.0),
        (r"date\s*d['\u2019\u2018`]\s*[ée]mission", 1.0),  # OCR curls the apostrophe either way
        (r"belegdatum", 1.0),
        (r"fecha\s*de\s*(la\s*)?(factura|emisi[óo]n|expedici[óo]n)", 1.0),
        (r"data\s*(della\s*|di\s*)?(fattura|emissione|documento)", 1.0),
        (r"(fecha|data)", 0.8),
    ],
    "due_date": [
        (r"(payment\s*)?due\s*date", 1.0),
        (r"date\s*due", 1.0),
        (r"payment\s*due(\s*(by|on))?", 1.0),
        (r"due(\s*(by|on))?", 0.9),
        (r"pay(able)?\s*by", 0.9),
        # the request a terms sentence makes: "Please pay within 30 days, by", "Please remit payment before"
        (
            r"(please\s*)?(pay|remit\s*payment)(\s*(this|the)\s*(invoice|amount|balance))?(\s*in\s*full)?"
            r"(\s*within\s*\d{1,3}\s*days)?\s*,?\s*(by|before|until|no\s*later\s*than)",
            0.9,
        ),
        (r"f[äa]llig(keitsdatum|\s*am)?", 1.0),
        (r"zahlbar\s*bis", 1.0),
        (r"vervaldatum", 1.0),
        (r"date\s*limite(\s*de\s*(paiement|r[èe]glement))?(\s*le)?", 1.0),
        (r"(date\s*d['\u2019]\s*)?[ée]ch[ée]ance", 1.0),
        (r"[àa]\s*payer\s*(avant|au\s*plus\s*tard)(\s*le)?", 1.0),
        (r"te\s*betalen\s*(voor|v[óo][óo]r|uiterlijk)(\s*op)?", 1.0),
        (r"(fecha\s*de\s*)?vencimiento", 1.0),
        (r"(data\s*(di\s*)?)?scadenza", 1.0),
    ],
    "subtotal": [
        (r"sub[-\s]?total", 1.0),
        (r"net\s*(amount|total|value)", 1.0),
        (r"net(?=\s*:|\s*\.{3,}|\s*$)", 0.85),  # "Net:", "Net ........ 3,335.00"
        (r"total\s*(excl\.?|excluding|exclusive|before|ex\.?|net|w/o|without)\b[a-z.\s]*", 1.0),
        (r"amount\s*(excl\.?|excluding|before)\b[a-z.\s]*", 1.0),
        (r"(netto(betrag)?|zwischensumme|(summe|gesamt)\s*-?netto)", 1.0),
        (r"total\s*ht|montant\s*ht|sous[-\s]?total(\s*ht)?", 1.0),
        (r"(subtotaal|exclusief\s*btw|totaal\s*excl\.?(\s*btw)?)", 1.0),
        (r"(base\s*imponible|(totale\s*)?imponibile)", 1.0),
    ],
    "tax": [
        (
            rf"(total\s*)?((sales|consumption|service|state|city|local|value\s*added)\s*)?tax(\s*amount)?{_NOT_AN_ID}",
            1.0,
        ),
        (rf"(total\s*)?vat(\s*amount)?{_NOT_AN_ID}", 1.0),
        # "GST/HST 5%" is the tax; "GST/HST No." is an ID
        (rf"(total\s*)?(gst|hst|pst|qst)(\s*/\s*(gst|hst|pst|qst))?(?!\s*/){_NOT_AN_ID}", 1.0),
        # "MwSt.", and "zzgl. MwSt. 19%": the German "plus VAT" before the tax's name, its rate after it.
        (r"((zzgl|inkl)\.?\s*)?(mwst|ust|umsatzsteuer|mehrwertsteuer)\.?", 1.0),
        (r"(total(e)?\s*)?(tva|iva)", 1.0),
        (rf"btw(\s*bedrag)?{_NOT_AN_ID}", 1.0),
        # "19.01% VAT", "zzgl. 19 % USt.", "plus 20% VAT": the rate first, then the tax's name.
        (rf"((zzgl|inkl|incl|plus|add)\.?\s*)?{_RATE}\s*(vat|tax|gst|mwst|ust|tva|iva|btw)\.?{_NOT_AN_ID}", 1.0),
    ],
    "total": [
        (r"grand\s*total", 1.0),
        (r"total\s*(due|amount|payable|to\s*pay|invoice|incl\.?|inclusive|including|inc\.?)\b[a-z.\s]*", 1.0),
        (r"invoice\s*(total|amount)", 1.0),
        (r"gross\s*(amount|total)", 1.0),  # the English "Bruttobetrag"
        (r"(order|subscription|statement|bill)\s*total", 0.9),
        (r"amount\s*(due|payable|to\s*pay)", 1.0),
        (r"balance(\s*due)?", 0.9),
        (rf"total{_NOT_A_SUM}", 0.85),
        # What the customer pays on a receipt: after rounding, before cash tendered and change.
        (r"((total|net|amount)\s*)?payable", 1.0),
        (r"(gesamt(betrag|summe)?|rechnungsbetrag|endbetrag|zu\s*zahlen)", 1.0),
        (r"((summe|gesamt)\s*-?brutto|brutto(betrag)?)", 1.0),
        (r"(montant\s*total|(total|montant)\s*ttc|net\s*[àa]\s*payer)", 1.0),
        (r"(totaal(\s*incl\.?(\s*btw)?)?|factuur\s*totaal|te\s*betalen)", 1.0),
        (r"(importe\s*total|total\s*(a\s*pagar|factura)|importo\s*totale)", 1.0),
        (rf"totale(\s*(documento|fattura|da\s*pagare|complessivo))?{_NOT_A_SUM}", 1.0),
    ],
    # What a till receipt prints under its total: the money handed over and the change given back.
    "tendered": [
        (r"cash(\s*(tendered|received|paid|payment))?", 0.9),
        (r"(total\s*|amount\s*)?tender(ed)?(\s*amount)?", 1.0),
        (r"amount\s*(tendered|received)", 1.0),
        (r"(gegeben|bar\s*gegeben|esp[èe]ces|contant)", 0.9),
    ],
    "change": [
        (r"change(\s*(due|given|amount))?", 1.0),
        (r"(r[üu]ckgeld|monnaie\s*rendue|rendu|wisselgeld)", 1.0),
    ],
    "customer_name": [
        (r"bill(ed)?\s*to(\s*address)?", 1.0),
        # The billing address heads the customer's block: "Factuuradres", "Rechnungsadresse", "Billing Address".
        (
            r"(factuur|rechnungs?|billing|invoice|facturatie)[-\s]?(adres|adresse|address)|adresse\s*de\s*facturation|"
            r"direcci[óo]n\s*de\s*facturaci[óo]n|indirizzo\s*di\s*fatturazione",
            0.9,
        ),
        (r"invoice(d)?\s*to", 1.0),
        (r"sold\s*to", 1.0),
        (r"(customer|client|buyer)(\s*name)?(?!\s*(no|id|number|#|nr|ref|code))", 0.8),
        (r"to", 0.6),
        (r"(rechnungsempf[äa]nger|empf[äa]nger|kunde|factur[ée]\s*[àa]|destinataire|rechnung\s*an)", 0.9),
        (r"(klant|factuur\s*aan|facturar\s*a|facturado\s*a|cliente|destinatario|spett(\.\s*|abi)le)", 0.9),
    ],
    "vendor_name": [
        (r"(from|seller|vendor|supplier|issued\s*by|sold\s*by)", 0.8),
    ],
    # Adjustments between the subtotal and the tax base: a discount lowers it, a charge (shipping) raises it.
    # Only a row inside the totals block counts as one (see pipeline/extract/rules.py).
    "discount": [
        (r"((less|minus)\s*)?discount|rabatt|nachlass|remise|korting|descuento|sconto", 1.0),
    ],
    "charge": [
        (
            r"shipping(\s*(&|and)\s*handling)?|freight|postage|versand(kosten)?|fracht(kosten)?|porto|"
            # not "Delivery date" or "Handling instructions": no word may follow
            r"(delivery(\s*(charges?|fees?|costs?))?|handling(\s*(charges?|fees?))?)(?!\s*[a-zäöüéèà])|carriage|"
            r"lieferkosten|"
            r"frais\s*de\s*(port|livraison)|livraison|verzend(kosten|ing)|gastos\s*de\s*env[íi]o|portes|"
            r"spese\s*di\s*(spedizione|trasporto)|trasporto",
            1.0,
        ),
    ],
}

# Words of the lines an issuer prints because the law asks for them: registers, tax and bank identifiers.
# Never part of a party's name ("Juniper Analytics Inc. Registered in Madison" is a name with its legal line).
REGISTER_WORDS = (
    r"iban|bic|swift|vat|btw|tva|ust-?id|ust\.?-?idnr|steuer-?nr|hrb|hra|kvk|rcs|siret|siren|gst(in)?|cin|"
    r"reg(istration|\.)?\s*(no|number)|company\s*(no|number|reg)|registered|registergericht|amtsgericht|"
    r"handelsregister|abn|acn"
)
LEGAL_LINE = re.compile(rf"\b({REGISTER_WORDS})\b", re.IGNORECASE)

# Legal forms of companies ("GmbH & Co. KG", "B.V.", "Sdn. Bhd."): they close a company's name.
LEGAL_FORM = (
    r"gmbh\s*&\s*co\.?\s*kg|gmbh|ag|co\.?\s*kg|ug|b\.?\s?v\.?|n\.?\s?v\.?|inc\.?|incorporated|llc|l\.l\.c\.|ltd\.?|"
    r"limited|plc|llp|lp|corp\.?|corporation|co\.|sas|sarl|s\.a\.|sa|s\.?r\.?l\.?|s\.?p\.?a\.?|pty\.?\s*ltd\.?|"
    r"pvt\.?\s*ltd\.?|private\s+limited|sdn\.?\s*bhd\.?|bhd\.?|s/b|oy|ab|a/s|aps|bvba|sprl|e\.?\s?k\.?|"
    # Spanish, Italian and Japanese forms written with dots: "S.L.", "S.L.U.", "S.A.U.", "S.a.s.", "S.n.c.", "K.K."
    r"s\.\s?l\.(\s?u\.)?|s\.\s?a\.\s?u\.|s\.\s?a\.\s?s\.|s\.\s?n\.\s?c\.|slu|k\.\s?k\."
)
# A phrase that is nothing but a legal form: never a name by itself, the tail of one wrapped over two lines.
LEGAL_FORM_ONLY = re.compile(rf"^\s*(?:&\s*co\.?\s*)?(?:{LEGAL_FORM}|kg)\.?\s*$", re.IGNORECASE)
# Legal forms as whole words once dots are dropped ("S.r.l." -> "srl", "B.V." -> "bv").
LEGAL_FORM_WORD = re.compile(
    r"(?<!\w)(inc|llc|ltd|limited|gmbh|ag|kg|plc|llp|lp|corp|co|pty|sa|sas|sarl|srl|spa|bv|nv|oy|kk|sl|slu)(?!\w)"
)
# A word that marks a company's name: a legal form or a trade word ("Studio", "Traders", "Services").
COMPANY_WORD = re.compile(
    r"\b(inc|llc|ltd|limited|gmbh|ag|sa|sarl|sas|bv|nv|plc|co|corp|corporation|company|group|kg|oy|ab|as|"
    r"srl|spa|pty|llp|lp|studio|partners|consulting|services|solutions|traders|trading|industries)\b\.?",
    re.IGNORECASE,
)
# A phrase that closes with a legal form ("Property Management S.L.U.", "Gear KG").
ENDS_IN_LEGAL_FORM = re.compile(rf"(?<![\w.])(?:{LEGAL_FORM}|kg)\.?\s*$", re.IGNORECASE)
# Words that join the parts of a company name ("Alder & Finch"); a line ending in one runs on.
ADDRESS_WORDS = re.compile(
    r"\b(street|st\.|road|rd\.|avenue|ave\.|lane|drive|suite|floor|level|p\.?\s?o\.?\s?box|"
    r"parkway|pkwy|blvd|highway|hwy|court|ct\.|place|pl\.|square|sq\.|terrace|"
    r"stra(ss|ß)e|str\.|weg|gasse|allee|platz|rue|avenue|boulevard|via|viale|piazza|calle|avenida|plaza|"
    r"laan|straat|gracht|plein)\b",
    re.IGNORECASE,
)
# Dutch and German streets are one word ending in the kind of street ("Keizersgracht 8", "Hauptstraße 5").
STREET_COMPOUND = re.compile(
    r"\w{3,}(straat|gracht|laan|weg|plein|kade|singel|dijk|stra(ss|ß)e|gasse|allee|platz|damm)\b", re.IGNORECASE
)


def reads_as_street_address(text: str) -> bool:
    """A street with its house number ("12 High Street", "Keizersgracht 8", "Hauptstraße 5"): an address
    line, never a party's name (a name may carry one number: "Engineering 1 Ltd")."""
    return any(ch.isdigit() for ch in text) and bool(ADDRESS_WORDS.search(text) or STREET_COMPOUND.search(text))


NAME_JOINERS = frozenset({"&", "and", "und", "et", "en", "of", "de", "du", "van", "-", "+"})

# A phrase that is only one of these words is a document title, never a value.
TITLE_WORDS: frozenset[str] = frozenset(
    {
        "invoice",
        "tax invoice",
        "commercial invoice",
        "receipt",
        "bill",
        "statement",
        "rechnung",
        "facture",
        "factuur",
        "fattura",
        "factura",
        "factura rectificativa",
        "abono",
        "nota di credito",
        "creditnota",
        "gutschrift",
        "quittung",
        "avoir",
        "credit note",
        "payment receipt",
        "official receipt",
        "cash receipt",
        "sales receipt",
        "payment confirmation",
        "original",
        "copy",
        "kopie",
        "copie",
        "copia",
        "duplicate",
        "pro forma invoice",
        "proforma invoice",
        "sales invoice",
    }
)

# Words that open the line-item table header, per column kind.
COLUMN_HEADERS: dict[str, list[str]] = {
    "description": [
        r"description",
        r"item(s)?(\s*description)?",
        r"service(s)?",
        r"product(s)?",
        r"produ[ck]te?|produit(s)?|product[eo]s?|prodott[io]",
        r"details",
        r"particulars",
        r"article",
        r"bezeichnung",
        r"beschreibung",
        r"leistung(en)?",
        r"artikel(bezeichnung)?",
        r"d[ée]signation",
        r"libell[ée]",
        r"omschrijving",
        r"activity",
        r"descripci[óo]n",
        r"concepto",
        r"descrizione",
        r"articolo",
    ],
    "sku": [
        r"sku",
        r"code",
        r"item\s*(no\.?|#|code)",
        r"part\s*(no\.?|#)",
        r"r[ée]f\.?",
        r"pos\.?",
        r"nr\.?",
        r"no\.",
        r"n[°º]\.?",
        r"#",
        r"art(icle|ikel)?\.?\s*-?(no\.?|nr\.?|#)",
        r"product\s*(code|no\.?|#)",
        r"c[óo]digo",
        r"codice",
    ],
    "quantity": [
        r"qty\.?",
        r"quantity",
        r"hrs",
        r"hours",
        r"units?",
        r"menge",
        r"qt[ée]\.?",
        r"anzahl",
        r"aantal",
        r"quantit[ée]",
        r"(hours|hrs)\s*/\s*qty\.?",
        r"qty\s*/\s*(hours|hrs)",
        r"cantidad",
        r"cant\.?",
        r"quantit[àa]",
        r"q\.?\s*t[àa]\.?",
    ],
    "unit_price": [
        r"unit\s*(price|cost)",
        r"price(\s*per\s*unit)?",
        r"rate",
        r"each",
        r"unit",
        r"einzelpreis",
        r"prix\s*unitaire",
        r"u\.?\s*price",
        r"p\.\s*u\.(\s*ht)?",
        r"preis",
        r"(e|vk|ek|stück)-?\s*preis",
        r"(stuk)?prijs",
        r"precio(\s*unitario)?",
        r"prezzo(\s*unitario)?",
    ],
    "amount": [
        r"(line\s*)?total",
        r"amount",
        r"ext\.?\s*price",
        r"net(\s*amount)?",
        r"(zeilen|positions|gesamt)?betrag",
        r"gesamt(preis)?",
        r"montant",
        r"bedrag",
        r"totaal",
        r"summe",
        r"value",
        r"importe",
        r"importo",
    ],
}


@dataclass(frozen=True)
class LabelMatch:
    field: str
    strength: float
    end: int  # character offset in the phrase text where the value may begin


_COMPILED: list[tuple[str, float, re.Pattern[str]]] = [
    (field, strength, re.compile(rf"^\s*({pattern})\s*(?![a-zäöüéèà])[:#.\-\u2013]*\s*", re.IGNORECASE))
    for field, patterns in _LABELS.items()
    for pattern, strength in patterns
]

# "Montant HT", "Amount excl. VAT", "Betrag netto": the tax basis a column is stated in.
_TAX_BASIS = r"(\s*(ht|ttc|net|netto|brutto|excl\.?(\s*(vat|tax|gst))?|incl\.?(\s*(vat|tax|gst))?))?"

_CURRENCY_NOTE = r"\([^)]*\)|\[[^\]]*\]|in\s+[a-z]{3}"
_COLUMN_COMPILED: list[tuple[str, re.Pattern[str]]] = [
    # the basis before or after a currency in brackets: "Montant HT (EUR)", "Amount (EUR) excl. VAT"
    (kind, re.compile(rf"^({pattern}){_TAX_BASIS}\s*({_CURRENCY_NOTE})?{_TAX_BASIS}\W*$", re.IGNORECASE))
    for kind, patterns in COLUMN_HEADERS.items()
    for pattern in patterns
]


# OCR reads a letter l as "!", "|" or "1" and o as "0" inside words ("Subtota!", "T0tal"); labels are
# matched on a folded copy of the same length, so offsets still point into the original text.
_OCR_L = re.compile(r"(?<=[A-Za-z])[!|1](?=[A-Za-z]|\b|$)")
_OCR_O = re.compile(r"(?<=[A-Za-z])0(?=[A-Za-z])")


# The last letter of "Total" is thin and OCR reads it as i, I or f ("Totaf Sales", "TOTAI").
_OCR_TOTAL = re.compile(r"\b(tota)[ifI](?![a-z])", re.IGNORECASE)
# So is the l of "Payable" ("Payabie", "PAYABIE"): the amount payable is a receipt's total.
_OCR_PAYABLE = re.compile(r"\b(payab)[iI](e)", re.IGNORECASE)


# The amount the customer pays, printed under a total it settles (after rounding, deposits or credits).
_AMOUNT_PAYABLE = re.compile(r"\b(payable|to\s*pay|net\s*[àa]\s*payer|a\s*pagar|da\s*pagare)\b", re.IGNORECASE)


def names_amount_payable(text: str) -> bool:
    """The row's label names the amount payable ("Total payable", "Net à payer"), OCR slips folded."""
    return bool(_AMOUNT_PAYABLE.search(fold_ocr_letters(text)))


def fold_ocr_letters(text: str) -> str:
    folded = _OCR_TOTAL.sub(r"\1l", _OCR_O.sub("o", _OCR_L.sub("l", text)))
    return _OCR_PAYABLE.sub(r"\1l\2", folded)


# Plain spellings of the common labels, for phrases OCR garbled past the patterns ("Que Oate" for "Due
# Date"). Only a whole short phrase is compared, and a fuzzy match is trusted less than an exact one.
_FUZZY_LABELS: dict[str, tuple[str, ...]] = {
    "invoice_number": (
        "invoice no",
        "invoice number",
        "invoice #",
        "rechnungsnummer",
        "factuurnummer",
        "numéro de facture",
        "número de factura",
        "numero fattura",
    ),
    "invoice_date": (
        "invoice date",
        "date of issue",
        "issue date",
        "rechnungsdatum",
        "factuurdatum",
        "date de facture",
        "fecha de factura",
        "data fattura",
    ),
    "due_date": (
        "due date",
        "payment due",
        "date due",
        "fälligkeitsdatum",
        "zahlbar bis",
        "vervaldatum",
        "te betalen voor",
        "date d'échéance",
        "fecha de vencimiento",
        "data di scadenza",
    ),
    "subtotal": (
        "subtotal",
        "sub total",
        "zwischensumme",
        "nettobetrag",
        "sous-total",
        "subtotaal",
        "net amount",
        "base imponible",
        "imponibile",
    ),
    "total": (
        "total",
        "total due",
        "amount due",
        "grand total",
        "balance due",
        "gesamtbetrag",
        "totaal",
        "payable",
        "total payable",
        "zu zahlen",
        "rechnungsbetrag",
        "te betalen",
        "montant total",
        "net à payer",
        "importe total",
        "importo totale",
    ),
    "customer_name": ("bill to", "billed to", "invoice to", "sold to", "rechnungsempfänger"),
}
_FUZZY_MIN_RATIO = 0.75
_FUZZY_MIN_LENGTH = 6
_FUZZY_STRENGTH = 0.75


def _fuzzy_label(text: str) -> LabelMatch | None:
    cleaned = re.sub(r"\s+", " ", text.strip().rstrip(":#.").strip()).casefold()
    if not _FUZZY_MIN_LENGTH <= len(cleaned) <= 24 or any(ch.isdigit() for ch in cleaned):
        return None
    best: tuple[float, str] | None = None
    for field, spellings in _FUZZY_LABELS.items():
        for spelling in spellings:
            if abs(len(spelling) - len(cleaned)) > 2:
                continue
            matcher = difflib.SequenceMatcher(None, cleaned, spelling, autojunk=False)
            if matcher.quick_ratio() < _FUZZY_MIN_RATIO:  # an upper bound of ratio(), at a fraction of its cost
                continue
            ratio = matcher.ratio()
            if ratio >= _FUZZY_MIN_RATIO and (best is None or ratio > best[0]):
                best = (ratio, field)
    return LabelMatch(field=best[1], strength=_FUZZY_STRENGTH, end=len(text)) if best else None


# Label lookups are pure functions of a phrase's text, and one page asks about the same phrases many times (the
# second look extracts up to six readings that share most words): memoised, they were half of extraction's CPU.
LABEL_CACHE_SIZE = 8192


@lru_cache(maxsize=LABEL_CACHE_SIZE)
def match_label(text: str) -> LabelMatch | None:
    """The most specific label at the start of ``text``; else a close spelling of a whole short label."""
    text = fold_ocr_letters(text)
    best: LabelMatch | None = None
    best_length = -1
    for field, strength, pattern in _COMPILED:
        found = pattern.match(text)
        if found is None:
            continue
        length = len(found.group(1))
        if length > best_length or (length == best_length and best is not None and strength > best.strength):
            best = LabelMatch(field=field, strength=strength, end=found.end())
            best_length = length
    if best is not None and best.strength >= 1.0:
        return best
    # A weak generic word ("Fecha") opening a whole phrase that is a close spelling of a longer label
    # ("Fecha de yencimiento": a due date OCR garbled) is that label; a phrase that names another date
    # ("Order date", two letters from "Due date") is not.
    fuzzy = None if names_another_date(text) else _fuzzy_label(text)
    return fuzzy if fuzzy is not None and (best is None or fuzzy.end > best.end) else best


@lru_cache(maxsize=LABEL_CACHE_SIZE)
def column_kind(text: str) -> str | None:
    """Which line-item column a header phrase names; the longest matching name wins ("Item #" is a SKU)."""
    cleaned = fold_ocr_letters(text.strip())
    best: tuple[int, str] | None = None
    for kind, pattern in _COLUMN_COMPILED:
        found = pattern.match(cleaned)
        if found and (best is None or len(found.group(1)) > best[0]):
            best = (len(found.group(1)), kind)
    return best[1] if best else None


# Titles of a document that credits the customer: its amounts are negative, and that is no error.
CREDIT_NOTE_TITLES: frozenset[str] = frozenset(
    {
        "credit note",
        "credit memo",
        "gutschrift",
        "avoir",
        "creditnota",
        "nota di credito",
        "factura rectificativa",
        "abono",
    }
)
_SPACELESS_TITLES = {title.replace(" ", ""): title for title in TITLE_WORDS | CREDIT_NOTE_TITLES}


@lru_cache(maxsize=LABEL_CACHE_SIZE)
def _title_key(text: str) -> str:
    """The title as printed, lower-cased; OCR that dropped a space ("NOTA DICREDITO") still finds it."""
    key = _TITLE_PUNCTUATION.sub("", re.sub(r"\s+", " ", text.lower())).strip()
    return _SPACELESS_TITLES.get(key.replace(" ", ""), key)


def is_title(text: str) -> bool:
    """A document title ("INVOICE", "Tax Invoice"); "Invoice #" and "Tax Invoice:" are labels, so
    punctuation counts."""
    if text.rstrip().endswith(":"):
        return False
    return _title_key(text) in TITLE_WORDS


# Headings of an address block that name no party: where the goods go, not who sells or buys.
_ADDRESS_HEADING = re.compile(
    r"^\s*(ship(ping)?\s*to|deliver(y)?\s*to|(shipping|delivery)\s*address|lieferadresse|lieferanschrift|"
    r"afleveradres|leveringsadres|adresse\s*de\s*livraison|direcci[óo]n\s*de\s*(env[íi]o|entrega)|"
    r"indirizzo\s*di\s*(consegna|spedizione))\s*:?\s*$",
    re.IGNORECASE,
)


def is_address_heading(text: str) -> bool:
    """A heading such as "Ship to" or "Afleveradres": it opens an address, it is no name."""
    return _ADDRESS_HEADING.match(text) is not None


def is_credit_note_title(text: str) -> bool:
    """A title that declares a credit note ("GUTSCHRIFT", "Nota di credito", "AVOIR")."""
    return _title_key(text) in CREDIT_NOTE_TITLES


# Quotes, dashes and stars OCR attaches to a title ("“TAX INVOICE-"); "Invoice #" keeps its "#".
_TITLE_EDGE = r"[\s.:\-\u2013\u2014\"'\u201c\u201d\u2018\u2019*]+"
_TITLE_PUNCTUATION = re.compile(rf"^{_TITLE_EDGE}|{_TITLE_EDGE}$")


def strip_title(text: str) -> str:
    """A name printed on one line with the document title: "Amazon Web Services Invoice" -> the name."""
    words = text.split()
    for count in (2, 1):
        if len(words) > count and is_title(" ".join(words[-count:])):
            return " ".join(words[:-count]).rstrip(" ,-")
    return text


# Labels of dates that are no due date: when goods went out or were ordered, a service period, a validity.
_OTHER_DATE_LABEL = re.compile(
    r"\b(deliver(y|ed)?|ship(ped|ping|ment)?|dispatch(ed)?|order(ed)?|p\.?\s?o|purchase|service|supply|"
    r"period|performance|valid|expir(y|es)|printed|created|time|"
    r"liefer\w*|leistung\w*|bestell\w*|auftrag\w*|zeitraum|versand\w*|g[üu]ltig\w*|"
    r"livraison|livr[ée]e?|commande|exp[ée]dition|p[ée]riode|prestation|validit[ée]|"
    r"lever\w*|bestel\w*|verzend\w*|geldig\w*|"
    r"entrega|env[íi]o|pedido|per[íi]odo|servicio|validez|"
    r"consegna|spedizione|ordine|prestazione|validit[àa])\b",
    re.IGNORECASE,
)


def names_another_date(text: str) -> bool:
    """A label of a date that is not the due date ("Delivery date", "Leistungszeitraum", "Valid until")."""
    return _OTHER_DATE_LABEL.search(text) is not None
