"""Vendor memory (issue 14): identifiers, learning from decisions, matching, conflicts, provenance, storage, CLI.

Documents come from the vendor stream generator (born-digital, real text layer) and are processed by the
real pipeline; decisions are the truth values, as a reviewer would enter them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from devtools.vendor_stream import StreamInvoice, generate_vendor_stream, valid_iban
from flows.cli import main
from pipeline.config import Settings
from pipeline.discover import describe_file
from pipeline.process import process_document
from pipeline.vendors import VendorStore, learn_decision, learn_from_decisions
from pipeline.vendors.identifiers import iban_is_valid, identifiers_in_text
from schemas import ExtractionRecord, Invoice, RecordStatus, VendorEvidence
from schemas.codes import IssueCode
from schemas.vendors import FieldHint, VendorProfile
from tests.s3_support import bucket, moto_s3  # noqa: F401

HEADER = ("vendor_name", "customer_name", "invoice_number", "invoice_date", "due_date", "currency")


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[int, int], StreamInvoice]]:
    folder = tmp_path_factory.mktemp("vendor-stream")
    plan = generate_vendor_stream(folder, vendors=3, per_vendor=3, seed=2, scan_every=0)
    return folder, {(item.vendor, item.rank): item for item in plan}


def path_of(stream: tuple[Path, dict[tuple[int, int], StreamInvoice]], vendor: int, rank: int) -> Path:
    folder, plan = stream
    return folder / f"{plan[(vendor, rank)].stem}.pdf"


def truth_of(pdf: Path) -> Invoice:
    truth = json.loads(pdf.with_suffix(".truth.json").read_text(encoding="utf-8"))
    return Invoice.model_validate({name: truth[name] for name in (*HEADER, "subtotal", "tax", "total")})


def process(pdf: Path, profiles: list[VendorProfile] | None = None) -> ExtractionRecord:
    return process_document(describe_file(pdf), Settings(), vendors=profiles)


def evidence_of(record: ExtractionRecord) -> VendorEvidence:
    assert record.vendor_evidence is not None
    return record.vendor_evidence


def learned(*pdfs: Path, name: str | None = None) -> list[VendorProfile]:
    profiles: list[VendorProfile] = []
    for pdf in pdfs:
        decided = truth_of(pdf)
        if name is not None:
            decided = decided.model_copy(update={"vendor_name": name})
        profiles = learn_decision(profiles, evidence_of(process(pdf)), decided)
    return profiles


def test_identifiers_are_read_normalised_and_iban_is_checked() -> None:
    assert iban_is_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_is_valid("DE88 3704 0044 0532 0130 00")
    found = identifiers_in_text("VAT ID DE 123.456.789  IBAN DE89 3704 0044 0532 0130 00  billing@acme.example")
    assert found == ["vat:DE123456789", "iban:DE89370400440532013000", "domain:acme.example"]
    assert identifiers_in_text("IBAN DE88 3704 0044 0532 0130 00") == []  # fails mod-97: a misprint, not an ID
    import random

    assert iban_is_valid(valid_iban(random.Random(1), "FR## #### #### #### #### #### ###"))


def test_learning_is_idempotent_and_keyed_by_printed_identifiers(stream: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    first = path_of(stream, 0, 0)
    evidence = evidence_of(process(first))
    assert any(item.startswith("vat:") for item in evidence.identifiers)
    assert any(item.startswith("iban:") for item in evidence.identifiers)
    once = learn_decision([], evidence, truth_of(first))
    twice = learn_decision(once, evidence, truth_of(first))
    assert twice == once and len(once) == 1
    profile = once[0]
    assert profile.vendor_name == truth_of(first).vendor_name
    assert set(evidence.identifiers) <= set(profile.identifiers)
    assert {"total", "invoice_number", "invoice_date"} <= set(profile.hints)
    assert profile.learned_from == [evidence.document_id]
    again = learn_decision(once, evidence_of(process(path_of(stream, 0, 1))), truth_of(path_of(stream, 0, 1)))
    assert len(again) == 1 and again[0].hints["total"].seen == 2


def test_a_matching_profile_confirms_fields_read_on_the_page_with_profile_provenance(stream: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    profiles = learned(path_of(stream, 0, 0))
    profile_id = profiles[0].profile_id
    record = process(path_of(stream, 0, 2), profiles)
    assert evidence_of(record).profile_id == profile_id
    truth = truth_of(path_of(stream, 0, 2))
    assert record.fields["total"].extractor == f"profile:{profile_id}"
    assert record.fields["vendor_name"].extractor == f"profile:{profile_id}"
    assert record.invoice.total == truth.total and record.invoice.invoice_number == truth.invoice_number
    assert record.invoice.customer_name == truth.customer_name
    other = process(path_of(stream, 1, 0), profiles)
    assert evidence_of(other).profile_id is None
    assert not any(field.extractor.startswith("profile:") for field in other.fields.values())


def test_a_learned_place_must_still_show_a_value_that_fits_the_arithmetic(stream: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    profile = learned(path_of(stream, 0, 0))[0]
    target = path_of(stream, 0, 1)
    assert truth_of(target).tax != Decimal(0)
    plain = process(target)
    # A profile whose total label points at the subtotal: the value is printed there, but it breaks
    # subtotal + tax = total, so the amounts keep their own reading.
    wrong_total = profile.hints["subtotal"].model_copy(update={"field": "total"})
    lying = profile.model_copy(update={"hints": {**profile.hints, "total": wrong_total}})
    record = process(target, [lying])
    assert record.invoice.total == plain.invoice.total == truth_of(target).total
    assert not record.fields["total"].extractor.startswith("profile:")
    # A label the page does not print gives no candidate at all.
    absent = profile.hints["invoice_number"].model_copy(update={"label": "reference code zz"})
    unseen = profile.model_copy(update={"hints": {"invoice_number": absent}})
    assert not process(target, [unseen]).fields["invoice_number"].extractor.startswith("profile:")


def _codes(record: ExtractionRecord) -> set[str]:
    return {issue.code for issue in record.issues}


def test_conflicts_go_to_review_with_a_reason(stream: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    first, second, third = (path_of(stream, 0, rank) for rank in range(3))
    # Two profiles claim one IBAN: the second decision names another vendor behind the same identifiers.
    profiles = learned(first)
    profiles = learn_decision(
        profiles, evidence_of(process(second)), truth_of(second).model_copy(update={"vendor_name": "Somebody Else Ltd"})
    )
    assert len(profiles) == 2
    record = process(third, profiles)
    assert IssueCode.VENDOR_PROFILE_CONFLICT.value in _codes(record)
    assert record.status is RecordStatus.NEEDS_REVIEW
    assert any("forget" in reason for reason in record.review_reasons)
    # The vendor name on the page contradicts the profile.
    renamed = learned(first, name="Somebody Else Ltd")
    record = process(third, renamed)
    assert IssueCode.VENDOR_NAME_CONTRADICTS_PROFILE.value in _codes(record)
    assert record.status is RecordStatus.NEEDS_REVIEW
    # The identifier matches but the layout is another vendor's.
    foreign = learned(path_of(stream, 1, 0))[0]
    own_ids = evidence_of(process(first)).identifiers
    impostor = foreign.model_copy(update={"identifiers": own_ids, "vendor_name": truth_of(first).vendor_name})
    record = process(third, [impostor])
    assert IssueCode.VENDOR_LAYOUT_MISMATCH.value in _codes(record)
    assert record.status is RecordStatus.NEEDS_REVIEW


def _batch(folder: Path, *pdfs: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for pdf in pdfs:
        (folder / pdf.name).symlink_to(pdf)
    return folder


def _approve_all(out: Path, capsys: pytest.CaptureFixture[str]) -> int:
    from pipeline.review import SQLiteReviewStore
    from schemas import OPEN_STATES

    store = SQLiteReviewStore(out / "review.sqlite")
    items = store.list_items(OPEN_STATES)
    for item in items:
        truth = truth_of(Path(item.source).resolve())
        sets = [arg for name in HEADER for arg in ("--set", f"{name}={getattr(truth, name)}")]
        assert main(["review", "approve", item.document_id, "--out", str(out), "--reviewer", "t", *sets]) == 0
    capsys.readouterr()
    return len(items)


def test_decisions_teach_the_next_run_and_the_cli_lists_shows_and_forgets(
    stream: tuple[Path, dict],  # type: ignore[type-arg]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    first = _batch(tmp_path / "b1", path_of(stream, 0, 0), path_of(stream, 1, 0))
    second = _batch(tmp_path / "b2", path_of(stream, 0, 1), path_of(stream, 1, 1))
    assert main(["run", str(first), "--out", str(out), "--accept-threshold", "0.9999"]) == 0
    assert _approve_all(out, capsys) == 2
    assert main(["vendors", "learn", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("2 new decisions learned of 2")
    assert main(["vendors", "learn", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("0 new decisions learned of 2")
    assert main(["vendors", "list", "--out", str(out)]) == 0
    listing = capsys.readouterr().out.splitlines()
    names = {truth_of(path_of(stream, v, 0)).vendor_name for v in (0, 1)}
    assert len(listing) == 2 and all(any(name in line for line in listing) for name in names)
    profile_id = listing[0].split()[0]
    assert main(["vendors", "show", profile_id[:6], "--out", str(out)]) == 0
    assert "total: label" in capsys.readouterr().out

    assert main(["run", str(second), "--out", str(out)]) == 0
    assert main(["run", str(second), "--out", str(out)]) == 0  # a rerun adds nothing
    invoices = pd.read_parquet(out / "invoices")
    assert len(invoices) == 4 and invoices["document_id"].is_unique
    evidence = pd.read_parquet(out / "vendors" / "evidence")
    assert len(evidence) == 4 and evidence["document_id"].is_unique
    fields = pd.read_parquet(out / "fields")
    new_ids = set(evidence.loc[evidence["profile_id"].notna(), "document_id"])
    assert len(new_ids) == 2
    assert fields[fields["document_id"].isin(new_ids)]["extractor"].str.startswith("profile:").any()

    assert main(["vendors", "forget", profile_id, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["vendors", "learn", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("0 new decisions learned")
    assert [p.profile_id for p in VendorStore(str(out)).load_profiles()] != [profile_id]
    assert len(VendorStore(str(out)).load_profiles()) == 1
    assert main(["vendors", "show", profile_id, "--out", str(out)]) == 2


def test_profiles_and_evidence_live_on_s3_alike(
    bucket: str,  # noqa: F811
    stream: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    store = VendorStore(f"s3://{bucket}/out", Settings())
    assert store.load_profiles() == [] and store.evidence_ids() == set()
    pdf = path_of(stream, 2, 0)
    evidence = evidence_of(process(pdf))
    assert store.append_evidence([evidence]) == 1
    assert store.append_evidence([evidence]) == 0  # kept once
    assert store.read_evidence({evidence.document_id})[evidence.document_id] == evidence
    profiles = learn_decision([], evidence, truth_of(pdf))
    store.save_profiles(profiles)
    assert VendorStore(f"s3://{bucket}/out", Settings()).load_profiles() == profiles
    assert learn_from_decisions(store).learned == 0  # no reviews/ on this OUT yet: nothing to learn
    assert store.forget(profiles[0].profile_id) == profiles[0]
    assert store.load_profiles() == [] and store.forgotten_ids() == {evidence.document_id}


def test_a_profile_match_saves_the_model_call_against_the_stand_in(
    stream: tuple[Path, dict],  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """With Claude on (the real SDK against tests/fake_anthropic.py), a record the profile lets through asks
    no model: the stand-in sees one request fewer, the record costs nothing, and the evidence counts the
    saved call; the same page without the profile is sent to the model."""
    from pipeline.vlm.cascade import VlmSession
    from tests.fake_anthropic import FakeAnthropic, answer, invoice_answer, serve

    target = path_of(stream, 0, 2)
    truth = json.loads(target.with_suffix(".truth.json").read_text(encoding="utf-8"))
    profiles = learned(path_of(stream, 0, 0), path_of(stream, 0, 1))
    # OCR alone: the profile's confirmations raise the record's confidence; a threshold between the two
    # readings is one the page reaches only with the profile.
    plain_ocr, remembered_ocr = process(target), process(target, profiles)
    assert remembered_ocr.confidence > plain_ocr.confidence
    threshold = (plain_ocr.confidence + remembered_ocr.confidence) / 2
    with serve(FakeAnthropic(script=[answer(invoice_answer(truth))])) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        config = Settings(
            extractor="hybrid", vlm_mode="below_threshold", accept_threshold=threshold, keep_page_images="none"
        )
        session = VlmSession(config, tmp_path / "out")  # the run's: one budget ledger for both records
        without = process_document(describe_file(target), config, tmp_path / "out", session)
        assert len(fake.requests) == 1 and without.vlm_cost_usd > 0
        assert session.budget.spent == without.vlm_cost_usd
        # A fresh answer cache (no cached reading to fall back on), the same run ledger.
        fresh = VlmSession(config, tmp_path / "out-2", ledger=session.ledger)
        with_profile = process_document(describe_file(target), config, tmp_path / "out-2", fresh, vendors=profiles)
        assert len(fake.requests) == 1  # no second request: the profile made it unnecessary
        assert session.budget.spent == without.vlm_cost_usd  # and the run's ledger paid nothing more
    assert with_profile.status is RecordStatus.ACCEPTED
    assert with_profile.vlm_models == [] and with_profile.vlm_cost_usd == 0
    assert evidence_of(with_profile).model_call_saved
    assert not evidence_of(without).model_call_saved


def test_one_garbled_label_does_not_undo_a_label_confirmed_twice(stream: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    profiles = learned(path_of(stream, 0, 0), path_of(stream, 0, 1))
    confirmed = profiles[0].hints["total"]
    assert confirmed.seen == 2
    third = path_of(stream, 0, 2)
    evidence = evidence_of(process(third))
    label_words = set(confirmed.label.split())
    # The third page's total label as OCR might garble it: the same value, found beside other wording.
    pages = [
        page.model_copy(
            update={
                "words": [
                    word.model_copy(update={"text": "T0ta1"}) if word.text.lower().rstrip(":") in label_words else word
                    for word in page.words
                ]
            }
        )
        for page in evidence.pages
    ]
    garbled = evidence.model_copy(update={"pages": pages})
    after = learn_decision(profiles, garbled, truth_of(third))[0].hints["total"]
    assert (after.label, after.seen) == (confirmed.label, 1)  # one confirmation spent, the label kept


def test_show_lists_the_learned_adjustment_and_tax_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def hint(field: str, label: str) -> FieldHint:
        return FieldHint(field=field, label=label, relation="right", page=1, dx=0.1, dy=0.0, seen=2)

    profile = VendorProfile(
        profile_id="abc123def456",
        vendor_name="Harbor Freight Ltd",
        identifiers=["vat:GB123456789"],
        fingerprint=[],
        hints={"total": hint("total", "amount due")},
        adjustments={"freight": hint("charge", "freight")},
        tax_parts={"vat 20%": hint("tax", "vat 20%"), "vat 5%": hint("tax", "vat 5%")},
    )
    out = tmp_path / "out"
    VendorStore(str(out)).save_profiles([profile])
    assert main(["vendors", "show", "abc123", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "total: label 'amount due'" in shown
    assert "charge line 'freight': label 'freight'" in shown
    assert shown.count("(summed into the tax)") == 2
