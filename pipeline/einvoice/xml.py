"""Parse untrusted XML safely: no entities resolved, no DTD, no network, a size cap, lxml's huge-tree guard on.

E-invoices never need a DTD, so a document that declares one (the carrier of XXE and entity-expansion
attacks) is refused before anything in it is used.
"""

from __future__ import annotations

from lxml import etree

from pipeline.errors import DocumentError
from schemas import FailureCode


class EInvoiceError(DocumentError):
    """The e-invoice XML cannot be used; the message says why and what to do."""

    code = FailureCode.EINVOICE_UNREADABLE


class HostileXmlError(EInvoiceError):
    """The XML declares a DTD or entities: refused unread (XXE, billion laughs)."""

    code = FailureCode.EINVOICE_HOSTILE_XML


class XmlTooLargeError(EInvoiceError):
    code = FailureCode.EINVOICE_TOO_LARGE


class NotAnInvoiceXmlError(EInvoiceError):
    """Well-formed XML whose root is neither a CII nor a UBL invoice or credit note."""

    code = FailureCode.EINVOICE_NOT_AN_INVOICE


# Checked on the bytes before parsing: libxml2 reads entity declarations even when it does not expand them.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def check_xml_size(size: int, *, max_bytes: int, origin: str) -> None:
    if size > max_bytes:
        raise XmlTooLargeError(
            f"The {origin} is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.1f} MB limit for e-invoice XML; it "
            "was not read. Check that it really is one invoice, or raise LEDGERLENS_EINVOICE_MAX_XML_BYTES."
        )


def parse_xml(data: bytes, *, max_bytes: int, origin: str) -> etree._Element:
    """The root element of `data`, or EInvoiceError saying why it cannot be used."""
    check_xml_size(len(data), max_bytes=max_bytes, origin=origin)
    if any(marker in data for marker in _DTD_MARKERS):
        raise _hostile(origin)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise EInvoiceError(
            f"The {origin} is not well-formed XML ({exc.msg}). Ask the sender for a valid e-invoice."
        ) from exc
    if root is None:
        raise EInvoiceError(f"The {origin} holds no XML element. Ask the sender for a valid e-invoice.")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or _has_entity_references(root):
        raise _hostile(origin)  # e.g. a UTF-16 document, which the byte scan above cannot see into
    return root


def _hostile(origin: str) -> HostileXmlError:
    return HostileXmlError(
        f"The {origin} declares a DTD or entities, which e-invoices never use and which can be used to read "
        "files or exhaust memory (XXE, entity expansion); it was not read. Ask the sender for a plain e-invoice."
    )


def _has_entity_references(root: etree._Element) -> bool:
    return any(isinstance(node, etree._Entity) for node in root.iter(etree.Entity))
