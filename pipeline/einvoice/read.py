"""Detect and read an e-invoice: the XML embedded in a Factur-X / ZUGFeRD PDF, or a standalone .xml file.

The attachments are listed with pypdf (the library factur-x itself reads PDFs with) and every XML is parsed
with our hardened parser (pipeline/einvoice/xml.py): factur-x's own get_xml_from_pdf parses with lxml's
default parser, which expands internal entities.
"""

from __future__ import annotations

from pathlib import Path

import pypdf
from lxml import etree
from pypdf.errors import LimitReachedError

from pipeline.einvoice.cii import CII_NAMESPACE, read_cii
from pipeline.einvoice.ubl import UBL_CREDIT_NOTE_NAMESPACE, UBL_INVOICE_NAMESPACE, read_ubl
from pipeline.einvoice.values import EInvoiceReading
from pipeline.einvoice.xml import NotAnInvoiceXmlError, XmlTooLargeError, check_xml_size, parse_xml
from schemas import Document

XML_MEDIA_TYPE = "application/xml"
# The names the Factur-X, ZUGFeRD and XRechnung specifications give the embedded XML (compared lower-case).
KNOWN_ATTACHMENT_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
_ZUGFERD_1_NAMESPACE = "urn:ferd:CrossIndustryDocument:invoice:1p0"


def read_einvoice_xml(data: bytes, *, max_bytes: int, origin: str, source: str) -> EInvoiceReading:
    """The invoice in CII or UBL XML bytes; EInvoiceError when it is hostile, broken or not an invoice."""
    root = parse_xml(data, max_bytes=max_bytes, origin=origin)
    name = etree.QName(root)
    if name.namespace == CII_NAMESPACE and name.localname == "CrossIndustryInvoice":
        return read_cii(root, source)
    if name.namespace in (UBL_INVOICE_NAMESPACE, UBL_CREDIT_NOTE_NAMESPACE):
        return read_ubl(root, source)
    if name.namespace == _ZUGFERD_1_NAMESPACE:
        raise NotAnInvoiceXmlError(
            f"The {origin} is ZUGFeRD 1.0, which Ledgerlens does not read (ZUGFeRD 2.x / Factur-X, XRechnung and "
            "UBL it does). The page was read instead."
        )
    raise NotAnInvoiceXmlError(
        f"The {origin} is XML but not an e-invoice: its root element is {name.localname!r} "
        f"in namespace {name.namespace or '(none)'}, neither a CII nor a UBL invoice or credit note."
    )


def pdf_xml_attachments(path: Path, max_bytes: int) -> list[tuple[str, bytes]]:
    """The PDF's XML attachments, the names the standards give first. [] when pypdf cannot list them (the
    visual path then says what is wrong with the PDF)."""
    found: list[tuple[str, bytes]] = []
    try:
        with pypdf.apply_configuration(zlib_maximum_output_length=max_bytes + 1):
            reader = pypdf.PdfReader(path, strict=False)
            for attachment in reader.attachment_list:
                if attachment.name.lower().endswith(".xml"):
                    found.append((attachment.name, attachment.content))
    except LimitReachedError as exc:
        raise XmlTooLargeError(
            f"An attachment of the PDF expands beyond the {max_bytes / 1e6:.1f} MB limit for e-invoice XML; it was "
            "not read. Raise LEDGERLENS_EINVOICE_MAX_XML_BYTES if it really is one invoice."
        ) from exc
    except Exception:  # pypdf raises many kinds on damaged or encrypted files; the visual path reports them
        return []
    return sorted(found, key=lambda item: item[0].lower() not in KNOWN_ATTACHMENT_NAMES)


def read_embedded(path: Path, max_bytes: int) -> EInvoiceReading | None:
    """The invoice in the PDF's e-invoice attachment, or None when it has none.

    An attachment with a standard name must be a usable e-invoice (else EInvoiceError); another XML
    attachment counts when its root is a CII or UBL invoice and is passed over when it is some other XML.
    """
    for name, data in pdf_xml_attachments(path, max_bytes):
        origin = f"embedded XML {name!r}"
        try:
            return read_einvoice_xml(data, max_bytes=max_bytes, origin=origin, source=name)
        except NotAnInvoiceXmlError:
            if name.lower() in KNOWN_ATTACHMENT_NAMES:
                raise
    return None


def read_einvoice(document: Document, max_bytes: int) -> EInvoiceReading | None:
    """The e-invoice a document carries: a standalone XML file or a PDF's attachment. None when it carries
    none; EInvoiceError when it carries one that cannot be used."""
    path = Path(document.local_path)
    if document.media_type == XML_MEDIA_TYPE:
        check_xml_size(document.size_bytes, max_bytes=max_bytes, origin="XML file")  # never read past the cap
        return read_einvoice_xml(path.read_bytes(), max_bytes=max_bytes, origin="XML file", source="standalone")
    if document.media_type == "application/pdf":
        return read_embedded(path, max_bytes)
    return None
