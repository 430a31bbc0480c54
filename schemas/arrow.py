"""Arrow schemas of the Parquet datasets: fixed, so every file of a dataset reads back as one table."""

from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
QUANTITY = pa.decimal128(18, 4)
UNIT_PRICE = pa.decimal128(18, 4)
COST = pa.decimal128(18, 8)  # model calls cost fractions of a cent
PERCENT = pa.decimal128(9, 4)
TAX_BREAKDOWN = pa.list_(
    pa.struct(
        [
            pa.field("rate", PERCENT),
            pa.field("category", pa.string()),
            pa.field("taxable_amount", MONEY),
            pa.field("tax_amount", MONEY),
        ]
    )
)

INVOICES_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("duplicate_sources", pa.list_(pa.string()), nullable=False),
        pa.field("page_count", pa.int32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("review_reasons", pa.list_(pa.string()), nullable=False),
        pa.field("blocking_codes", pa.list_(pa.string()), nullable=False),
        pa.field("warning_codes", pa.list_(pa.string()), nullable=False),
        pa.field("error", pa.string()),
        pa.field("error_code", pa.string()),  # schemas.codes.FailureCode of a failed row
        pa.field("vendor_name", pa.string()),
        pa.field("customer_name", pa.string()),
        pa.field("invoice_number", pa.string()),
        pa.field("invoice_date", pa.date32()),
        pa.field("due_date", pa.date32()),
        pa.field("currency", pa.string()),
        pa.field("subtotal", MONEY),
        pa.field("tax", MONEY),
        pa.field("total", MONEY),
        pa.field("line_item_count", pa.int32(), nullable=False),
        pa.field("extractor", pa.string(), nullable=False),
        pa.field("text_source", pa.string()),
        pa.field("processing_seconds", pa.float64(), nullable=False),
        pa.field("processed_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("page_images", pa.list_(pa.string()), nullable=False),
        pa.field("vlm_models", pa.list_(pa.string()), nullable=False),
        pa.field("vlm_input_tokens", pa.int64(), nullable=False),
        pa.field("vlm_output_tokens", pa.int64(), nullable=False),
        pa.field("vlm_cost_usd", COST, nullable=False),
        # E-invoices only (null for documents read from the page): what the structured XML adds.
        pa.field("einvoice_profile", pa.string()),
        pa.field("profile_has_line_items", pa.bool_()),
        pa.field("document_type", pa.string()),
        pa.field("tax_breakdown", TAX_BREAKDOWN),
        pa.field("seller_vat_id", pa.string()),
        pa.field("buyer_vat_id", pa.string()),
        pa.field("iban", pa.string()),
        pa.field("order_reference", pa.string()),
        pa.field("amount_due", MONEY),
        pa.field("einvoice_check", pa.string()),
    ]
)

LINE_ITEMS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("line_no", pa.int32(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("quantity", QUANTITY),
        pa.field("unit_price", UNIT_PRICE),
        pa.field("amount", MONEY),
    ]
)

FIELDS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("extractor", pa.string(), nullable=False),
        pa.field("page", pa.int32()),
        pa.field("x0", pa.float32()),
        pa.field("y0", pa.float32()),
        pa.field("x1", pa.float32()),
        pa.field("y1", pa.float32()),
        pa.field("raw_text", pa.string()),
    ]
)

REVIEWS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("decision", pa.string(), nullable=False),  # approved | corrected | rejected
        pa.field("field", pa.string()),  # null for a decision that changed nothing
        pa.field("old_value", pa.string()),
        pa.field("new_value", pa.string()),
        pa.field("reviewer", pa.string(), nullable=False),
        pa.field("decided_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("reason", pa.string()),  # the reviewer's reason for a rejection
    ]
)

# Every dataset is hive-partitioned by the UTC date its rows were written: OUT/<dataset>/ingest_date=YYYY-MM-DD/.
# The column comes from the folder name (pyarrow/pandas/duckdb with hive partitioning); the files do not hold it.
PARTITION_KEY = "ingest_date"

DATASETS: dict[str, pa.Schema] = {
    "invoices": INVOICES_SCHEMA,
    "line_items": LINE_ITEMS_SCHEMA,
    "fields": FIELDS_SCHEMA,
    "reviews": REVIEWS_SCHEMA,
}

# `ledgerlens export`: the analysts' table, review decisions applied (OUT/export/invoices.parquet).
EXPORT_INVOICES_SCHEMA = pa.schema(
    [
        *INVOICES_SCHEMA,
        pa.field("review_decision", pa.string()),
        pa.field("reviewed_by", pa.string()),
        pa.field("reviewed_at", pa.timestamp("us", tz="UTC")),
        pa.field("review_note", pa.string()),
        pa.field("corrected_fields", pa.list_(pa.string()), nullable=False),
    ]
)

# Vendor memory (pipeline/vendors/): OUT/vendors/profiles/ holds the current profiles (one file, replaced
# atomically), OUT/vendors/evidence/ what each processed document showed about its issuer (append-only).
VENDOR_PROFILES_SCHEMA = pa.schema(
    [
        pa.field("profile_id", pa.string(), nullable=False),
        pa.field("vendor_name", pa.string(), nullable=False),
        pa.field("identifiers", pa.list_(pa.string()), nullable=False),
        pa.field("documents_learned", pa.int32(), nullable=False),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("profile_json", pa.string(), nullable=False),  # the whole VendorProfile
    ]
)
VENDOR_EVIDENCE_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("identifiers", pa.list_(pa.string()), nullable=False),
        pa.field("profile_id", pa.string()),
        pa.field("evidence_json", pa.string(), nullable=False),  # the whole VendorEvidence
    ]
)
