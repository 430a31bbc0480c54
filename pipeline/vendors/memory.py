"""Use vendor profiles on a new document: match by printed identifiers, then confirm or replace fields with
values read at the places the profile learned.

Rules (issue 14):
- a profile is used only when an identifier matches and the page still looks like the vendor's layout;
- a learned value is only ever read from the page at the learned label and place (never copied from the
  profile), and amounts must still satisfy subtotal + tax = total;
- a profile never lifts a field on its own: a field's doubt is multiplied by the profile's doubt, so a
  value needs its own evidence (a label with the learned wording, a value of the field's shape) as well;
- conflicts (two profiles claim the page, layout differs, the page names another vendor) are blocking
  issues, so the record goes to review with the reason.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from decimal import Decimal

from pipeline.calibration import CalibrationTable
from pipeline.corroboration import field_amount
from pipeline.extract.evidence import party_doubts
from pipeline.extract.fields import mend_party_name
from pipeline.extract.layout import PageLayout, Phrase, build_layout
from pipeline.extract.misreads import boundary_slip, confusable_id_slip, misread_month_doubts, ocr_shape
from pipeline.money import totals_agree
from pipeline.parsing import find_dates, normalise_text
from pipeline.vendors.adjustments import read_adjustments, read_tax_parts
from pipeline.vendors.identifiers import fingerprint_overlap, layout_fingerprint, page_identifiers
from pipeline.vendors.learn import MIN_FINGERPRINT, claims, name_key, page_style
from pipeline.vendors.places import (
    AMOUNT_FIELDS,
    DATE_FIELDS,
    PARTY_FIELDS,
    Found,
    PageStyle,
    find_at_place,
    same_value,
)
from schemas import (
    ExtractionResult,
    FieldEvidence,
    FieldValue,
    PageText,
    Severity,
    Support,
    ValidationIssue,
    VendorEvidence,
    Word,
)
from schemas.codes import IssueCode
from schemas.vendors import FieldHint, VendorMatch, VendorProfile

# Share of the page's fingerprint words a profile must find to count as the same layout.
LAYOUT_MATCH = 0.5
# A value read at a learned label and place, before the profile's own record is counted.
PLACE_EVIDENCE = 0.6
# Each decision that confirmed a place leaves this share of the doubt.
DOUBT_PER_DECISION = 0.2
PROVENANCE_PREFIX = "profile:"
# How far (page widths) a wrapped name's second line may start from its first line.
WRAP_ALIGNMENT = 0.02
# A party name this close (difflib ratio of the name keys) to the profile's but not equal is a near miss:
# an OCR slip ("lronbridge" for "Ironbridge") more likely than another party.
NEAR_MISS = 0.85
ADJUSTMENTS_FIELD = "adjustments"


def document_evidence(document_id: str, pages: list[PageText]) -> tuple[VendorEvidence, list[PageLayout]]:
    layouts = [build_layout(page) for page in pages]
    evidence = VendorEvidence(
        document_id=document_id,
        identifiers=page_identifiers(layouts),
        fingerprint=layout_fingerprint(layouts[0]) if layouts else [],
        pages=pages,
    )
    return evidence, layouts


def _conflict(code: IssueCode, message: str) -> VendorMatch:
    return VendorMatch(conflict_code=code, message=message)


def match_profile(evidence: VendorEvidence, profiles: list[VendorProfile]) -> VendorMatch:
    """The one profile that owns the page, a conflict, or nothing (no profile claims it)."""
    claimants = [profile for profile in profiles if claims(profile, evidence.identifiers)]
    if not claimants:
        return VendorMatch()
    if len(claimants) > 1:
        shared = sorted(set(claimants[0].identifiers) & set(claimants[1].identifiers) & set(evidence.identifiers))
        names = ", ".join(f"{p.profile_id} ({p.vendor_name})" for p in claimants)
        return _conflict(
            IssueCode.VENDOR_PROFILE_CONFLICT,
            f"Vendor profiles {names} both claim {', '.join(shared) or 'this page'}: check the vendor, then "
            "remove the wrong profile with `ledgerlens vendors forget ID`.",
        )
    profile = claimants[0]
    overlap = fingerprint_overlap(profile.fingerprint, evidence.fingerprint)
    if len(profile.fingerprint) >= MIN_FINGERPRINT and overlap < LAYOUT_MATCH:
        return _conflict(
            IssueCode.VENDOR_LAYOUT_MISMATCH,
            f"The page carries an identifier of vendor profile {profile.profile_id} ({profile.vendor_name}) but "
            f"its layout differs ({overlap:.0%} of the known words in place): check that the vendor is right.",
        )
    return VendorMatch(profile=profile)


def _trust(own: float, seen: int) -> float:
    """Own evidence combined with the profile's: the remaining doubt is the product of both doubts."""
    return round(1.0 - (1.0 - own) * DOUBT_PER_DECISION**seen, 4)


def _own_confidence(field: FieldValue | None, calibration: CalibrationTable | None, source: str | None) -> float:
    if field is None or field.value is None:
        return 0.0
    if calibration is not None and field.extractor == calibration.extractor:
        return calibration.probability(field.name, source, field.confidence)
    return field.confidence


def _kept_evidence(current: FieldValue | None, agrees: bool) -> FieldEvidence:
    """Extraction's own evidence for the value, when the profile's reading agrees with it."""
    if agrees and current is not None and current.evidence is not None:
        return current.evidence
    return FieldEvidence()


def _date_order_open(text: str, style: PageStyle) -> bool:
    """The page does not settle day/month order and the date reads differently either way."""
    return style.day_first is None and find_dates(text, True)[:1] != find_dates(text, False)[:1]


def place_evidence(
    name: str, found: Found, current: FieldValue | None, agrees: bool, style: PageStyle
) -> FieldEvidence:
    """A value read at its learned label and place: the label and the field's shape support it. Extraction's
    doubts stay when it read the same value; a date whose order neither the page nor the vendor's learned
    format settles stays doubted."""
    kept = _kept_evidence(current, agrees)
    doubts = list(kept.doubts)
    if name in DATE_FIELDS and not agrees and found.date_format is None and _date_order_open(found.raw_text, style):
        doubts.append(f"{found.raw_text!r} could be read day-first or month-first")
    if name in DATE_FIELDS:
        doubts.extend(misread_month_doubts(found.raw_text))
    if name == "invoice_number":
        doubts.extend(_ocr_number_doubts(found))
    support = list(dict.fromkeys([*kept.support, Support.LABEL, Support.SHAPE]))
    return FieldEvidence(support=support, doubts=list(dict.fromkeys(doubts)))


def _ocr_number_doubts(found: Found) -> list[str]:
    """What makes an invoice number OCR read at its learned place doubtful, as extraction judges its own: a
    character OCR confuses among characters of the other kind ("FRO88835"), a gap OCR may have set inside it
    ("INV 561758"). A text layer's words are printed as read."""
    if all(word.confidence >= 1.0 for word in found.words):
        return []
    doubts = []
    slip = confusable_id_slip(found.value) or boundary_slip(found.value)
    if slip is not None:
        doubts.append(
            f"the invoice number {found.value!r} may be {slip!r}: a character OCR confuses stands among "
            "characters of the other kind"
        )
    if " " in found.value.strip():
        doubts.append(f"the invoice number {found.value!r} was read by OCR with a gap inside it")
    return doubts


def name_evidence(name: str, value: str, current: FieldValue | None, agrees: bool, other: str | None) -> FieldEvidence:
    """A party name printed on the page as a reviewer decided it for this vendor: a name's shape supports it;
    what makes any name doubtful (a bare legal form, an address, the other party) still counts."""
    kept = _kept_evidence(current, agrees)
    support = list(dict.fromkeys([*kept.support, Support.SHAPE]))
    return FieldEvidence(support=support, doubts=party_doubts(name, value, other))


def _other_party(fields: dict[str, FieldValue], name: str) -> str | None:
    other = fields.get(PARTY_FIELDS[1] if name == PARTY_FIELDS[0] else PARTY_FIELDS[0])
    return other.value if other is not None else None


def _profile_field(
    name: str,
    found: Found,
    current: FieldValue | None,
    confidence: float,
    profile: VendorProfile,
    evidence: FieldEvidence,
) -> FieldValue:
    return FieldValue(
        name=name,
        value=found.value,
        confidence=confidence,
        extractor=f"{PROVENANCE_PREFIX}{profile.profile_id}",
        page=found.phrase.page_no,
        bbox=found.bbox,
        raw_text=found.raw_text if current is None or current.value != found.value else current.raw_text,
        evidence=evidence,
    )


def _arithmetic_holds(fields: dict[str, FieldValue]) -> bool:
    """Subtotal + discounts and charges + tax = total, when all three amounts are there to check."""
    subtotal, tax, total = (field_amount(fields, name) for name in ("subtotal", "tax", "total"))
    if subtotal is None or tax is None or total is None:
        return True  # nothing to contradict
    return totals_agree(subtotal, tax, total, field_amount(fields, "adjustments"))


def _blocks(layout: PageLayout) -> list[tuple[list[Word], Phrase]]:
    """Each phrase; each phrase continued by the next phrase of its row (a name OCR split at a wide gap:
    "Bluebird Architects | GmbH"); and each phrase continued by the phrase starting at its left edge (or,
    right-aligned, ending at its right edge) on the next row: a name wrapped onto a second line."""
    blocks: list[tuple[list[Word], Phrase]] = []
    for at, row in enumerate(layout.rows):
        below = layout.rows[at + 1].phrases if at + 1 < len(layout.rows) else []
        for beside, phrase in enumerate(row.phrases, start=1):
            blocks.append((phrase.words, phrase))
            blocks.extend((phrase.words + nxt.words, phrase) for nxt in row.phrases[beside : beside + 1])
            blocks.extend(
                (phrase.words + nxt.words, phrase)
                for nxt in below
                if min(abs(nxt.x0 - phrase.x0), abs(nxt.x1 - phrase.x1)) <= WRAP_ALIGNMENT * layout.width
            )
    return blocks


def _printed_key(text: str) -> str:
    """A name's key as the reader takes it from the page, with the misreads it mends in any name put right."""
    return name_key(mend_party_name(normalise_text(text)))


def _confusion_key(text: str) -> str:
    return ocr_shape(name_key(text))


def _printed_name(layouts: list[PageLayout], name: str, key: Callable[[str], str] = _printed_key) -> Found | None:
    """Where the page prints a name (a run of words of one phrase or of a phrase wrapped once), if anywhere,
    comparing names by `key`; the value is the name as the page prints it, mended as the reader mends names."""
    wanted = key(name)
    for layout in layouts:
        for block, phrase in _blocks(layout):
            for start in range(len(block)):
                words = _words_spelling(block[start:], wanted, key)
                if words:
                    return Found(mend_party_name(normalise_text(" ".join(w.text for w in words))), words, phrase)
    return None


def _words_spelling(words: list[Word], wanted: str, key: Callable[[str], str]) -> list[Word]:
    """The shortest run of leading words whose key is `wanted` ("S.A." is one word, two key tokens)."""
    for end in range(1, len(words) + 1):
        spelt = key(" ".join(w.text for w in words[:end]))
        if spelt == wanted:
            return words[:end]
        if len(spelt) >= len(wanted):
            break
    return []


def _known_name(layouts: list[PageLayout], known: str) -> tuple[Found, list[str]] | None:
    """The name a reviewer decided for this vendor, where the page prints it: as decided (no doubt), or only
    up to characters OCR confuses ("0akfield" for "Oakfield"), which carries the decided spelling but
    doubts it, so a person checks it: a profile never lifts a value on its own."""
    printed = _printed_name(layouts, known)
    if printed is not None:
        return printed, []
    alike = _printed_name(layouts, known, _confusion_key)
    if alike is None:
        return None
    doubt = (
        f"the page prints {alike.raw_text!r}, read as {known!r}, the name this vendor's decisions gave, "
        "up to characters OCR confuses"
    )
    return Found(known, alike.words, alike.phrase), [doubt]


def _apply_customer_name(
    fields: dict[str, FieldValue], layouts: list[PageLayout], profile: VendorProfile, own_of: dict[str, float]
) -> None:
    """The customer this vendor bills, as decided before, when the page prints it (perhaps wrapped)."""
    known = _known_name(layouts, profile.customer_name) if profile.customer_name else None
    if known is None or profile.customer_name is None:
        _doubt_near_miss(fields, "customer_name", profile.customer_name)
        return
    _set_known_name(fields, "customer_name", known, profile, own_of)


def _set_known_name(
    fields: dict[str, FieldValue],
    name: str,
    known: tuple[Found, list[str]],
    profile: VendorProfile,
    own_of: dict[str, float],
) -> None:
    """The party name the profile knows, printed on the page: extraction's confidence when it read the same
    name, else the place's; a name printed only up to OCR's confusions keeps its doubt."""
    printed, doubts = known
    current = fields.get(name)
    agrees = current is not None and name_key(current.value) == name_key(printed.value)
    own = own_of.get(name, 0.0) if agrees else PLACE_EVIDENCE
    evidence = name_evidence(name, printed.value, current, agrees, _other_party(fields, name))
    if not agrees:
        evidence = evidence.model_copy(update={"doubts": [*evidence.doubts, *doubts]})
    fields[name] = _profile_field(name, printed, current, _trust(own, len(profile.learned_from)), profile, evidence)


def _apply_currency(fields: dict[str, FieldValue], profile: VendorProfile, own_of: dict[str, float]) -> None:
    """The currency this vendor's decisions gave, when extraction read it printed on the page (a code or a
    symbol, undoubted): the decisions shrink its doubt like any field's; a currency the page does not print,
    or another one, is left as read."""
    current = fields.get("currency")
    if current is None or profile.currency is None or current.value != profile.currency:
        return
    evidence = current.evidence
    if evidence is None or Support.PRINTED_MARK not in evidence.support or evidence.doubts:
        return
    confidence = _trust(own_of.get("currency", 0.0), len(profile.learned_from))
    extractor = f"{PROVENANCE_PREFIX}{profile.profile_id}"
    fields["currency"] = current.model_copy(update={"confidence": confidence, "extractor": extractor})


def _doubt_near_miss(fields: dict[str, FieldValue], name: str, known: str | None) -> None:
    """A party name read a letter or two off the one this vendor's decisions gave, which the page does not
    print as such: doubted, so a person checks it (the corroboration veto sends it to review)."""
    current = fields.get(name)
    if current is None or not current.value or not known:
        return
    read, wanted = name_key(current.value), name_key(known)
    if read == wanted or difflib.SequenceMatcher(None, read, wanted).ratio() < NEAR_MISS:
        return
    evidence = current.evidence or FieldEvidence()
    doubt = f"{current.value!r} is a letter or two off {known!r}, the name this vendor's invoices carried"
    doubted = evidence.model_copy(update={"doubts": [*evidence.doubts, doubt]})
    fields[name] = current.model_copy(update={"evidence": doubted})


def _apply_vendor_name(
    fields: dict[str, FieldValue],
    layouts: list[PageLayout],
    profile: VendorProfile,
    own_of: dict[str, float],
) -> ValidationIssue | None:
    """Confirm or set the vendor name from the profile when the page prints it; a contradiction otherwise."""
    current = fields.get("vendor_name")
    known = _known_name(layouts, profile.vendor_name)
    if known is not None:
        _set_known_name(fields, "vendor_name", known, profile, own_of)
        return None
    if current is not None and current.value and name_key(current.value) != name_key(profile.vendor_name):
        return ValidationIssue(
            code=IssueCode.VENDOR_NAME_CONTRADICTS_PROFILE,
            message=f"The page names the vendor {current.value!r}, but its identifiers belong to vendor "
            f"profile {profile.profile_id} ({profile.vendor_name!r}), whose name is not printed: check the vendor.",
            field="vendor_name",
            severity=Severity.BLOCKING,
        )
    return None


def _apply_places(
    fields: dict[str, FieldValue],
    layouts: list[PageLayout],
    profile: VendorProfile,
    own_of: dict[str, float],
) -> None:
    """Fields read at their learned places; amounts only when the arithmetic still holds with them."""
    style = page_style(layouts)
    before = dict(fields)
    for name, hint in profile.hints.items():
        found = find_at_place(hint, layouts, style)
        if found is None:
            continue
        current = fields.get(name)
        agrees = current is not None and same_value(name, found.value, current.value)
        own = own_of.get(name, 0.0) if agrees else PLACE_EVIDENCE
        if name in PARTY_FIELDS:
            evidence = name_evidence(name, found.value, current, agrees, _other_party(fields, name))
        else:
            evidence = place_evidence(name, found, current, agrees, style)
        fields[name] = _profile_field(name, found, current, _trust(own, hint.seen), profile, evidence)
    _apply_adjustments(fields, layouts, profile, style)
    _apply_tax_parts(fields, layouts, profile, style, own_of)
    if not _arithmetic_holds(fields):
        for name in (*AMOUNT_FIELDS, ADJUSTMENTS_FIELD):
            if name in before:
                fields[name] = before[name]
            else:
                fields.pop(name, None)


def _apply_adjustments(
    fields: dict[str, FieldValue], layouts: list[PageLayout], profile: VendorProfile, style: PageStyle
) -> None:
    """The discounts and charges this vendor prints, read at their learned labels, when extraction read none:
    what the arithmetic needs to check the amounts (it is what decides whether they are kept)."""
    if ADJUSTMENTS_FIELD in fields or not profile.adjustments:
        return
    read = read_adjustments(profile.adjustments, layouts, style)
    if read is not None:
        fields[ADJUSTMENTS_FIELD] = _summed_field(ADJUSTMENTS_FIELD, read, profile.adjustments, profile, None)


def _apply_tax_parts(
    fields: dict[str, FieldValue],
    layouts: list[PageLayout],
    profile: VendorProfile,
    style: PageStyle,
    own_of: dict[str, float],
) -> None:
    """The tax as the sum of the tax lines this vendor prints one per rate, read at their learned labels when
    two or more are printed; the arithmetic still decides whether it is kept."""
    read = read_tax_parts(profile.tax_parts, layouts, style) if profile.tax_parts else None
    if read is not None:
        fields["tax"] = _summed_field("tax", read, profile.tax_parts, profile, fields.get("tax"), own_of)


def _summed_field(
    name: str,
    read: tuple[Decimal, list[Found]],
    hints: dict[str, FieldHint],
    profile: VendorProfile,
    current: FieldValue | None,
    own_of: dict[str, float] | None = None,
) -> FieldValue:
    """A value summed from amounts read at learned labels, with the profile's provenance; extraction's
    confidence and evidence count when it read the same sum."""
    total, places = read
    agrees = current is not None and same_value(name, str(total), current.value)
    own = (own_of or {}).get(name, 0.0) if agrees else PLACE_EVIDENCE
    kept = _kept_evidence(current, agrees)
    return FieldValue(
        name=name,
        value=str(total),
        confidence=_trust(own, min(hint.seen for hint in hints.values())),
        extractor=f"{PROVENANCE_PREFIX}{profile.profile_id}",
        page=places[0].phrase.page_no,
        bbox=places[0].bbox,
        raw_text=" | ".join(place.raw_text for place in places),
        evidence=FieldEvidence(
            support=list(dict.fromkeys([*kept.support, Support.LABEL, Support.SHAPE])), doubts=kept.doubts
        ),
    )


def _settled_issues(extraction: ExtractionResult, read: set[str]) -> list[ValidationIssue]:
    """Extraction's issues less the 'a value is printed but none was read' ones for fields extraction left
    empty and the profile read at their learned label and place: that reading is what the issue asked for."""
    empty = {name for name in read if extraction.fields.get(name) is None or extraction.fields[name].value is None}
    return [i for i in extraction.issues if not (i.code is IssueCode.UNREADABLE_VALUE and i.field in empty)]


def _conflict_issue(match: VendorMatch) -> ValidationIssue:
    code = match.conflict_code or IssueCode.VENDOR_PROFILE_CONFLICT
    return ValidationIssue(code=code, message=match.message or code.value, field="vendor_name")


def apply_profile(
    extraction: ExtractionResult,
    layouts: list[PageLayout],
    match: VendorMatch,
    calibration: CalibrationTable | None,
) -> tuple[ExtractionResult, list[ValidationIssue]]:
    """The extraction with the matched profile's knowledge applied, and the issues it raised."""
    if match.conflict_code is not None:
        return extraction, [_conflict_issue(match)]
    profile = match.profile
    if profile is None:
        return extraction, []
    source = extraction.text_source.value
    own_of = {name: _own_confidence(field, calibration, source) for name, field in extraction.fields.items()}
    fields = dict(extraction.fields)
    issue = _apply_vendor_name(fields, layouts, profile, own_of)
    _apply_places(fields, layouts, profile, own_of)
    _apply_customer_name(fields, layouts, profile, own_of)
    _apply_currency(fields, profile, own_of)
    values = {name: field.value for name, field in fields.items() if field.extractor.startswith(PROVENANCE_PREFIX)}
    invoice = extraction.invoice.model_validate({**extraction.invoice.model_dump(), **values})
    issues = _settled_issues(extraction, set(values))
    result = extraction.model_copy(update={"fields": fields, "invoice": invoice, "issues": issues})
    return result, [issue] if issue is not None else []


def use_vendor_memory(
    document_id: str,
    pages: list[PageText],
    extraction: ExtractionResult,
    profiles: list[VendorProfile],
    calibration: CalibrationTable | None,
) -> tuple[ExtractionResult, list[ValidationIssue], VendorEvidence]:
    """Match the document against the profiles and apply the one that owns it; the evidence is returned
    either way, so a later decision on this document can be learned from."""
    evidence, layouts = document_evidence(document_id, pages)
    match = match_profile(evidence, profiles)
    result, issues = apply_profile(extraction, layouts, match, calibration)
    if match.profile is not None:
        evidence.profile_id = match.profile.profile_id
    return result, issues, evidence
