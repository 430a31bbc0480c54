"""Vendor profiles and per-document evidence as Parquet under OUT/vendors/, local folder or s3:// alike.

``vendors/profiles/profiles.parquet`` is the current set of profiles, replaced in one atomic write (a
rename locally, one PUT on S3). ``vendors/forgotten/`` lists the documents of
forgotten profiles, never learned from again. ``vendors/evidence/ingest_date=YYYY-MM-DD/part-*.parquet`` is
append-only: what each processed document showed (identifiers, fingerprint, words), so a later review decision can be
learned from. It is partitioned by write date like the datasets, so `compact` merges a closed day's parts into one
file (parts written flat before that are still read).
Learning from decisions reads ``reviews/`` and ``invoices/`` of the same OUT.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipeline.config import Settings
from pipeline.errors import ConfigError, OutputError
from pipeline.sinks import corrupt_part_error, ingest_date_today, parquet_files, write_table_atomically
from pipeline.storage import filesystem_for
from schemas import HEADER_FIELDS, Invoice, VendorEvidence
from schemas.arrow import (
    INVOICES_SCHEMA,
    PARTITION_KEY,
    REVIEWS_SCHEMA,
    VENDOR_EVIDENCE_SCHEMA,
    VENDOR_PROFILES_SCHEMA,
)
from schemas.vendors import VendorProfile

VENDORS_DIR = "vendors"
EVIDENCE_DIR = f"{VENDORS_DIR}/evidence"
PROFILES_FILE = "profiles.parquet"
LEARNED_DECISIONS = ("approved", "corrected")
FORGOTTEN_SCHEMA = pa.schema([pa.field("document_id", pa.string(), nullable=False)])


class VendorStore:
    """Reads and writes OUT/vendors/ through pyarrow's filesystem for OUT."""

    def __init__(self, out: str, settings: Settings | None = None, ingest_date: date | None = None) -> None:
        self.out = str(out)
        self.ingest_date = ingest_date
        self._kept: set[str] | None = None  # documents with evidence: read once, then kept up to date by appends
        try:
            self.fs, self.base = filesystem_for(self.out, settings or Settings())
        except ConfigError as exc:
            raise OutputError(f"Cannot open the vendor profiles under {self.out}: {exc}") from exc

    def _read(self, folder: str, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
        try:
            files = parquet_files(self.fs, f"{self.base}/{folder}", recursive=True)
            return ds.dataset(files, schema=schema, filesystem=self.fs, format="parquet").to_table(columns=columns)
        except pa.ArrowInvalid as exc:
            raise corrupt_part_error(f"{self.out}/{folder}", exc) from exc
        except OSError as exc:
            raise OutputError(f"Cannot read {self.out}/{folder}: {exc}") from exc

    def load_profiles(self) -> list[VendorProfile]:
        table = self._read(f"{VENDORS_DIR}/profiles", VENDOR_PROFILES_SCHEMA, ["profile_json"])
        return [VendorProfile.model_validate_json(text) for text in table.column("profile_json").to_pylist()]

    def save_profiles(self, profiles: Sequence[VendorProfile]) -> None:
        rows = [
            {
                "profile_id": profile.profile_id,
                "vendor_name": profile.vendor_name,
                "identifiers": profile.identifiers,
                "documents_learned": len(profile.learned_from),
                "updated_at": profile.updated_at,
                "profile_json": profile.model_dump_json(),
            }
            for profile in sorted(profiles, key=lambda p: p.profile_id)
        ]
        table = pa.Table.from_pylist(rows, schema=VENDOR_PROFILES_SCHEMA)
        write_table_atomically(self.fs, f"{self.base}/{VENDORS_DIR}/profiles", PROFILES_FILE, table)

    def evidence_ids(self) -> set[str]:
        table = self._read(EVIDENCE_DIR, VENDOR_EVIDENCE_SCHEMA, ["document_id"])
        return {str(value) for value in table.column("document_id").to_pylist()}

    def append_evidence(self, evidence: Iterable[VendorEvidence]) -> int:
        """One part file with the documents not yet kept; returns how many were written. The ids kept are read on
        the first append only: a run flushes every few seconds, and rereading every part each time grew with OUT."""
        if self._kept is None:
            self._kept = self.evidence_ids()
        fresh = {item.document_id: item for item in evidence if item.document_id not in self._kept}
        if not fresh:
            return 0
        rows = [
            {
                "document_id": item.document_id,
                "identifiers": item.identifiers,
                "profile_id": item.profile_id,
                "evidence_json": item.model_dump_json(),
            }
            for item in fresh.values()
        ]
        part = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
        table = pa.Table.from_pylist(rows, schema=VENDOR_EVIDENCE_SCHEMA)
        partition = f"{PARTITION_KEY}={(self.ingest_date or ingest_date_today()).isoformat()}"
        write_table_atomically(self.fs, f"{self.base}/{EVIDENCE_DIR}/{partition}", part, table)
        self._kept.update(fresh)
        return len(rows)

    def read_evidence(self, document_ids: set[str]) -> dict[str, VendorEvidence]:
        if not document_ids:
            return {}
        table = self._read(EVIDENCE_DIR, VENDOR_EVIDENCE_SCHEMA)
        table = table.filter(pc.is_in(table.column("document_id"), value_set=pa.array(sorted(document_ids))))
        found = (VendorEvidence.model_validate_json(text) for text in table.column("evidence_json").to_pylist())
        return {item.document_id: item for item in found}

    def decided_invoices(self) -> dict[str, Invoice]:
        """Every approved or corrected document as decided (its extracted header with the corrections applied),
        in the order of the decisions."""
        reviews = self._read("reviews", REVIEWS_SCHEMA).to_pylist()
        changes: dict[str, dict[str, Any]] = defaultdict(dict)
        for row in sorted(reviews, key=lambda r: r["decided_at"]):
            if row["decision"] in LEARNED_DECISIONS:
                changes.setdefault(row["document_id"], {})
                if row["field"] in HEADER_FIELDS:
                    changes[row["document_id"]][row["field"]] = row["new_value"]
        if not changes:
            return {}
        invoices = self._read("invoices", INVOICES_SCHEMA, ["document_id", *HEADER_FIELDS])
        decided: dict[str, Invoice] = {}
        for row in invoices.to_pylist():
            if row["document_id"] in changes and row["document_id"] not in decided:
                header = {name: row[name] for name in HEADER_FIELDS} | changes[row["document_id"]]
                decided[row["document_id"]] = Invoice.model_validate(header)
        return {document_id: decided[document_id] for document_id in changes if document_id in decided}

    def forget(self, profile_id: str) -> VendorProfile | None:
        """Remove one profile; returns it, or None when no profile has that id (or unique prefix)."""
        profiles = self.load_profiles()
        chosen = [p for p in profiles if p.profile_id == profile_id] or [
            p for p in profiles if p.profile_id.startswith(profile_id)
        ]
        if len(chosen) != 1:
            return None
        forgotten = chosen[0]
        self._append_ids("forgotten", forgotten.learned_from)
        self.save_profiles([p for p in profiles if p.profile_id != forgotten.profile_id])
        return forgotten

    def forgotten_ids(self) -> set[str]:
        table = self._read(f"{VENDORS_DIR}/forgotten", FORGOTTEN_SCHEMA)
        return {str(value) for value in table.column("document_id").to_pylist()}

    def _append_ids(self, folder: str, document_ids: Sequence[str]) -> None:
        if document_ids:
            part = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
            table = pa.Table.from_pylist([{"document_id": d} for d in document_ids], schema=FORGOTTEN_SCHEMA)
            write_table_atomically(self.fs, f"{self.base}/{VENDORS_DIR}/{folder}", part, table)
