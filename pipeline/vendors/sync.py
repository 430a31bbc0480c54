"""Bring OUT/vendors/profiles up to date with every decision in OUT/reviews/ (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.vendors.learn import learn_decision
from pipeline.vendors.store import VendorStore
from schemas.vendors import VendorProfile


@dataclass(frozen=True)
class LearnReport:
    decisions: int  # approved or corrected documents in reviews/
    learned: int  # of them, newly applied to a profile in this call
    without_evidence: int  # decided documents processed before the vendor memory existed
    profiles: list[VendorProfile]


def learn_from_decisions(store: VendorStore) -> LearnReport:
    """Apply every approved or corrected decision not yet learned; profiles are rewritten only on change."""
    profiles = store.load_profiles()
    decided = store.decided_invoices()
    done = {document_id for profile in profiles for document_id in profile.learned_from} | store.forgotten_ids()
    pending = {document_id for document_id in decided if document_id not in done}
    evidence = store.read_evidence(pending)
    learned = 0
    for document_id in [d for d in decided if d in evidence]:
        updated = learn_decision(profiles, evidence[document_id], decided[document_id])
        if updated is not profiles:
            learned += 1
            profiles = updated
    if learned:
        store.save_profiles(profiles)
    return LearnReport(
        decisions=len(decided), learned=learned, without_evidence=len(pending - set(evidence)), profiles=profiles
    )
