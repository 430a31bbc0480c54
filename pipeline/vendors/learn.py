"""Turn one review decision into a vendor profile update. Idempotent: a document is learned from once.

The decided invoice (extracted values with the reviewer's corrections) is looked up on the document's own
words: each field printed next to a label teaches its label and place. A decision joins the profile that
shares an identifier with the page and names the same vendor; otherwise it starts a new profile (so a
second vendor name behind one IBAN shows up as two profiles claiming it, which routing sends to review).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

from pipeline.extract.layout import PageLayout, build_layout
from pipeline.parsing import infer_day_first, infer_decimal_separator, normalise_text
from pipeline.vendors.adjustments import learn_adjustments, learn_tax_parts
from pipeline.vendors.identifiers import is_strong
from pipeline.vendors.places import (
    LEARNED_FIELDS,
    X_TOLERANCE,
    Y_TOLERANCE,
    PageStyle,
    Spot,
    learn_place,
    same_label,
)
from schemas import Invoice, VendorEvidence
from schemas.vendors import FieldHint, VendorProfile

MIN_FINGERPRINT = 8  # fewer stable words than this and the fingerprint says too little to compare


def page_style(layouts: list[PageLayout]) -> PageStyle:
    texts = [row.text for layout in layouts for row in layout.rows]
    return PageStyle(decimal_sep=infer_decimal_separator(texts), day_first=infer_day_first(texts))


def name_key(name: str | None) -> str:
    return " ".join(normalise_text(name or "").lower().replace(",", " ").replace(".", " ").split())


def claims(profile: VendorProfile, identifiers: list[str]) -> bool:
    """The profile owns the page: a strong identifier in common, or two weak ones."""
    shared = set(profile.identifiers) & set(identifiers)
    return any(is_strong(item) for item in shared) or len(shared) >= 2


def new_profile_id(identifiers: list[str], vendor_name: str) -> str:
    key = "|".join([name_key(vendor_name), *sorted(identifiers)])
    return "v" + hashlib.sha256(key.encode()).hexdigest()[:11]


def learned_spots(layouts: list[PageLayout], style: PageStyle, decided: Invoice) -> dict[str, Spot]:
    """Where each decided field is printed with a label; one printed value is one field's (the total's
    spot is not also the subtotal's when both amounts are equal)."""
    spots: dict[str, Spot] = {}
    for field in LEARNED_FIELDS:
        value = getattr(decided, field)
        taken = frozenset(spot.key for spot in spots.values())
        spot = learn_place(field, value, layouts, style, taken) if value is not None else None
        if spot is not None:
            spots[field] = spot
    return spots


def learned_hints(
    evidence: VendorEvidence, decided: Invoice
) -> tuple[dict[str, FieldHint], dict[str, FieldHint], dict[str, FieldHint]]:
    """The decision's field places, the discounts and charges that explain its total, and the tax lines
    that make up its tax, by label."""
    layouts = [build_layout(page) for page in evidence.pages]
    style = page_style(layouts)
    spots = learned_spots(layouts, style, decided)
    hints = {field: spot.hint for field, spot in spots.items()}
    return hints, learn_adjustments(decided, spots, layouts, style), learn_tax_parts(decided, spots, layouts, style)


def _merged(known: dict[str, FieldHint], learned: dict[str, FieldHint]) -> dict[str, FieldHint]:
    merged = dict(known)
    for key, hint in learned.items():
        merged[key] = _merge_hint(merged.get(key), hint)
    return merged


def _merge_hint(old: FieldHint | None, new: FieldHint) -> FieldHint:
    """The same label at the same place confirms the old hint. A different one (a relabelled layout, or one
    OCR-garbled label) costs the old hint one confirmation, and replaces it only once none is left, so one
    odd page cannot undo what several decisions confirmed."""
    if old is None:
        return new
    if (
        same_label(new.label, old.label)
        and (old.relation, old.page) == (new.relation, new.page)
        and abs(old.dx - new.dx) <= X_TOLERANCE
        and abs(old.dy - new.dy) <= Y_TOLERANCE
    ):
        return old.model_copy(update={"seen": old.seen + 1, "date_format": new.date_format or old.date_format})
    return old.model_copy(update={"seen": old.seen - 1}) if old.seen > 1 else new


def _tax_rate(decided: Invoice) -> str | None:
    if decided.subtotal is None or decided.tax is None or decided.subtotal <= 0:
        return None
    return f"{(decided.tax / decided.subtotal * 100).quantize(Decimal('0.1'))}"


def _updated(profile: VendorProfile, evidence: VendorEvidence, decided: Invoice, now: datetime) -> VendorProfile:
    learned, learned_adjustments, learned_tax_parts = learned_hints(evidence, decided)
    common = set(profile.fingerprint) & set(evidence.fingerprint)
    rate = _tax_rate(decided)
    return profile.model_copy(
        update={
            "vendor_name": decided.vendor_name or profile.vendor_name,
            "customer_name": decided.customer_name or profile.customer_name,
            "identifiers": sorted(set(profile.identifiers) | set(evidence.identifiers)),
            "fingerprint": sorted(common) if len(common) >= MIN_FINGERPRINT else profile.fingerprint,
            "hints": _merged(profile.hints, learned),
            "adjustments": _merged(profile.adjustments, learned_adjustments),
            "tax_parts": _merged(profile.tax_parts, learned_tax_parts),
            "currency": decided.currency or profile.currency,
            "tax_rates": sorted({*profile.tax_rates, *([rate] if rate else [])}),
            "learned_from": [*profile.learned_from, evidence.document_id],
            "updated_at": now,
        }
    )


def learn_decision(
    profiles: list[VendorProfile], evidence: VendorEvidence, decided: Invoice, now: datetime | None = None
) -> list[VendorProfile]:
    """The profiles after learning from one approved or corrected document (unchanged if already learned,
    or when the page prints no identifier or the decision names no vendor)."""
    if any(evidence.document_id in profile.learned_from for profile in profiles):
        return profiles
    if not evidence.identifiers or not decided.vendor_name:
        return profiles
    now = now or datetime.now(UTC)
    for at, profile in enumerate(profiles):
        if claims(profile, evidence.identifiers) and name_key(profile.vendor_name) == name_key(decided.vendor_name):
            return [*profiles[:at], _updated(profile, evidence, decided, now), *profiles[at + 1 :]]
    blank = VendorProfile(
        profile_id=new_profile_id(evidence.identifiers, decided.vendor_name),
        vendor_name=decided.vendor_name,
        identifiers=[],
        fingerprint=evidence.fingerprint,
        updated_at=now,
    )
    return [*profiles, _updated(blank, evidence, decided, now)]
