"""Vendor memory (issue 14): profiles learned from review decisions, matched by identifiers printed on the page."""

from pipeline.vendors.learn import learn_decision
from pipeline.vendors.memory import apply_profile, document_evidence, match_profile
from pipeline.vendors.store import VendorStore
from pipeline.vendors.sync import LearnReport, learn_from_decisions

__all__ = [
    "LearnReport",
    "VendorStore",
    "apply_profile",
    "document_evidence",
    "learn_decision",
    "learn_from_decisions",
    "match_profile",
]
