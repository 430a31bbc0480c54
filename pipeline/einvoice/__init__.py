"""E-invoices: read the structured invoice a document carries (Factur-X / ZUGFeRD / XRechnung / UBL) and
check it against the printed page."""

from pipeline.einvoice.compare import (
    EXTRACTOR_NAME,
    compare_with_page,
    describe_checks,
    einvoice_result,
    without_page,
)
from pipeline.einvoice.read import XML_MEDIA_TYPE, read_einvoice
from pipeline.einvoice.values import EInvoiceReading
from pipeline.einvoice.xml import EInvoiceError

__all__ = [
    "EXTRACTOR_NAME",
    "XML_MEDIA_TYPE",
    "EInvoiceError",
    "EInvoiceReading",
    "compare_with_page",
    "describe_checks",
    "einvoice_result",
    "read_einvoice",
    "without_page",
]
