"""`ledgerlens vendors list | show ID | forget ID | learn`: inspect and remove learned vendor profiles."""

from __future__ import annotations

import argparse
import sys

from pipeline.config import Settings
from pipeline.errors import LedgerlensError
from pipeline.vendors import VendorStore, learn_from_decisions
from schemas.vendors import FieldHint, VendorProfile

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_OUTPUT = 3


def _find(profiles: list[VendorProfile], wanted: str) -> VendorProfile | None:
    exact = [p for p in profiles if p.profile_id == wanted]
    chosen = exact or [p for p in profiles if p.profile_id.startswith(wanted)]
    return chosen[0] if len(chosen) == 1 else None


def _list(store: VendorStore) -> int:
    profiles = store.load_profiles()
    if not profiles:
        print("No vendor profiles yet: they are learned from approved or corrected review decisions.")
    for profile in sorted(profiles, key=lambda p: p.vendor_name.lower()):
        ids = ", ".join(profile.identifiers[:3])
        print(f"{profile.profile_id}  {len(profile.learned_from):>3} docs  {profile.vendor_name}  [{ids}]")
    return EXIT_OK


def _show(store: VendorStore, wanted: str) -> int:
    profile = _find(store.load_profiles(), wanted)
    if profile is None:
        print(f"ledgerlens vendors show: no single profile matches {wanted!r}; see `vendors list`", file=sys.stderr)
        return EXIT_USAGE
    print(f"Profile {profile.profile_id}: {profile.vendor_name}")
    print(f"  learned from {len(profile.learned_from)} decisions, updated {profile.updated_at:%Y-%m-%d %H:%M} UTC")
    print(f"  identifiers: {', '.join(profile.identifiers)}")
    print(f"  currency: {profile.currency or '-'}; tax rates: {', '.join(profile.tax_rates) or '-'}%")
    print(f"  layout words: {len(profile.fingerprint)}")
    for name, hint in sorted(profile.hints.items()):
        print(f"  {name}: {_hint_text(hint)}")
    for label, hint in sorted(profile.adjustments.items()):
        print(f"  {hint.field} line {label!r}: {_hint_text(hint)}")
    for label, hint in sorted(profile.tax_parts.items()):
        print(f"  tax line {label!r} (summed into the tax): {_hint_text(hint)}")
    return EXIT_OK


def _hint_text(hint: FieldHint) -> str:
    return f"label {hint.label!r} ({hint.relation}, page {hint.page}), confirmed {hint.seen}x"


def _forget(store: VendorStore, wanted: str) -> int:
    removed = store.forget(wanted)
    if removed is None:
        print(f"ledgerlens vendors forget: no single profile matches {wanted!r}; see `vendors list`", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"Forgot {removed.profile_id} ({removed.vendor_name}); "
        f"its {len(removed.learned_from)} documents stay unlearned."
    )
    return EXIT_OK


def _learn(store: VendorStore) -> int:
    report = learn_from_decisions(store)
    print(
        f"{report.learned} new decisions learned of {report.decisions}; {len(report.profiles)} profiles"
        + (f"; {report.without_evidence} decided documents have no vendor evidence" if report.without_evidence else "")
    )
    return EXIT_OK


def run_vendors_command(args: argparse.Namespace) -> int:
    try:
        store = VendorStore(args.out, Settings())
        if args.vendors_command == "list":
            return _list(store)
        if args.vendors_command == "show":
            return _show(store, args.id)
        if args.vendors_command == "forget":
            return _forget(store, args.id)
        return _learn(store)
    except LedgerlensError as exc:
        print(f"ledgerlens vendors {args.vendors_command}: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
