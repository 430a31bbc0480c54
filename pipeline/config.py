"""All settings in one place. Environment variables use the LEDGERLENS_ prefix; CLI flags override both."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError

ExtractorName = Literal["ocr", "vlm", "hybrid"]


class ModelPrice(BaseModel):
    """US dollars per million tokens."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal


def _price(input_per_mtok: int, output_per_mtok: int) -> ModelPrice:
    return ModelPrice(input_per_mtok=Decimal(input_per_mtok), output_per_mtok=Decimal(output_per_mtok))


# Anthropic list prices (USD per million tokens) at the time of writing (NOTES.md). Override the whole table
# with LEDGERLENS_VLM_PRICES='{"model": {"input_per_mtok": 1, "output_per_mtok": 5}}'. The SDK 2.14 marks
# claude-sonnet-4-5 deprecated (end of life 2026-11-30), so tier 2 defaults to claude-sonnet-4-6.
DEFAULT_VLM_PRICES: dict[str, ModelPrice] = {
    "claude-haiku-4-5": _price(1, 5),
    "claude-sonnet-4-6": _price(3, 15),
    "claude-sonnet-4-5": _price(3, 15),
    "claude-opus-4-6": _price(5, 25),
    "claude-opus-4-5": _price(5, 25),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERLENS_", extra="ignore")

    workers: int = Field(default=2, ge=1, description="Documents processed at once")
    render_dpi: int = Field(default=300, ge=72, le=600, description="DPI used to rasterise PDF pages for OCR")
    use_text_layer: bool = Field(default=True, description="Read a PDF's own text instead of OCR when present")
    min_text_layer_words: int = Field(default=8, description="Fewer words than this means: OCR the page")
    min_page_short_side_px: int = Field(
        default=300, description="Pages smaller than this (pixels, short side) are refused as unreadable"
    )
    ocr_target_short_side_px: int = Field(
        default=2400,
        ge=0,
        description="Images are scaled so their short side is near this before OCR; 0: each scan is read at its "
        "own size (less OCR CPU on scans under ~250 dpi, and fewer fields read: README, throughput)",
    )
    max_file_bytes: int = Field(default=100 * 1024 * 1024, description="Larger inputs are refused")
    max_pages: int = Field(default=50, description="Documents with more pages are refused")
    tesseract_lang: str = "eng"
    tesseract_timeout_s: int = Field(default=120, description="Per page; a stuck OCR run is stopped")
    ocr_engine: str = Field(
        default="tesseract-lib",
        description="OCR engine from pipeline/engines/ocr.py's registry: 'tesseract-lib' (Tesseract's library, "
        "loaded once in one OCR worker process per worker: a crash costs one page) or 'tesseract' (one command per "
        "page, ~0.3 s of CPU more per reading)",
    )
    second_look: bool = Field(
        default=True,
        description="Read again, in one OCR run of crops, the doubted words and the ink where no word was read "
        "when an OCR'd page's first reading fails the invoice's cross-checks, and keep the reading that passes "
        "more of them (pipeline/second_look.py)",
    )
    second_look_psm: int = Field(
        default=11, ge=0, le=13, description="Tesseract page segmentation mode of the second look's crops (11: sparse)"
    )
    max_image_pixels: int = Field(
        default=180_000_000, ge=1, description="Images (read from their headers) above this many pixels are refused"
    )
    decode_memory_limit_mb: int | None = Field(
        default=1024,
        ge=64,
        description="Hard address-space limit of each page-decoding / OCR process (pdfimages, pdftocairo, "
        "tesseract); None: no limit",
    )
    # Chosen out of distribution (README, "Measured out of distribution: leave one family out"): `ledgerlens
    # samples in --count 96 --seed 31 --families all && ledgerlens run in --out out && ledgerlens calibrate in out
    # --lofo --write pipeline/calibration.json` fits each of the 16 layout families' table on the other 15 and
    # routes the held-out family with it: pooled, 30/96 accepted at 0.65 with none wrong (worst family 0% wrong),
    # 25/96 at 0.80; the lowest threshold meeting <= 1% held-out errors was 0.577. 0.65 keeps a margin above it.
    # The corroboration veto (pipeline/corroboration.py) applies first, whatever the threshold.
    accept_threshold: float = Field(
        default=0.65, ge=0, le=1, description="Records whose confidence is below this go to review"
    )
    keep_page_images: Literal["all", "review", "none"] = Field(
        default="review",
        description="Which records keep page previews under OUT/pages/<document_id>/: review needs them",
    )
    preview_long_edge_px: int = Field(default=1568, ge=256, description="Long edge of kept page previews")
    review_db: Annotated[str | None, BeforeValidator(lambda v: str(v) if isinstance(v, os.PathLike) else v)] = Field(
        default=None,
        description="Review queue: a SQLite file, or a postgresql://user:password@host/db URL for a team's shared "
        "queue; unset: OUT/review.sqlite, or for an s3:// OUT a local file under the Ledgerlens state dir named "
        "after the URL",
    )
    calibration_file: Path | None = Field(
        default=None,
        description="Field calibration table (ledgerlens calibrate); the one shipped in pipeline/ when unset",
    )
    score_truth: bool = Field(
        default=False,
        description="After `ledgerlens run` on a local OUT, score its rows against <stem>.truth.json files beside "
        "the inputs (dev tooling: needs the devtools extra)",
    )
    review_token: str | None = Field(
        default=None,
        description="Token the review UI asks for (LEDGERLENS_REVIEW_TOKEN); generated when bound beyond loopback",
    )
    review_proxy_header: str | None = Field(
        default=None,
        description="Trust this request header (e.g. X-Forwarded-User) as the reviewer's name, only on connections "
        "from review_proxy_addresses: for an authenticating reverse proxy in front of `review serve`",
    )
    review_proxy_addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses the reverse proxy connects from (JSON list in the environment)",
    )
    review_session_hours: float = Field(default=12, gt=0, description="How long a review UI sign-in lasts")
    review_lease_minutes: float = Field(
        default=15, gt=0, description="How long a claimed review item stays with its reviewer"
    )
    reviewer: str | None = Field(
        default=None, description="Name recorded with review decisions; the login name if unset"
    )
    vendor_memory: bool = Field(
        default=True,
        description="Learn vendor profiles from review decisions and use them on new documents (OUT/vendors/)",
    )
    scratch_dir: Path | None = Field(default=None, description="Where page images go; a temp dir if unset")
    flush_every: int = Field(
        default=20, ge=1, description="Finished documents written to OUT at the latest after this many"
    )
    flush_seconds: float = Field(
        default=5.0, gt=0, description="... or after this many seconds, so a crash loses seconds of work, not documents"
    )
    in_flight_documents: int = Field(
        default=16,
        ge=1,
        description="Documents submitted to the task runner ahead of their results (at least twice the workers); "
        "more only holds more finished records in memory",
    )
    output_dir: Path = Field(default=Path("out"))
    task_runner: Literal["threads", "processes", "dask"] = Field(
        default="threads", description="How documents run in parallel: threads, processes, or a Dask cluster"
    )
    dask_address: str | None = Field(
        default=None, description="Scheduler address (tcp://host:8786); unset with task_runner=dask: a local cluster"
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint; unset: AWS_ENDPOINT_URL, then AWS's own"
    )
    s3_region: str | None = Field(default=None, description="S3 region; unset: AWS_REGION / the AWS config chain")
    s3_max_attempts: int = Field(default=10, ge=1, description="Attempts per S3 call (throttling, 5xx, resets)")
    s3_retry_mode: Literal["standard", "adaptive"] = Field(
        default="adaptive", description="botocore retry mode; adaptive also slows down when S3 throttles"
    )

    # --- E-invoices (issue 13): Factur-X / ZUGFeRD PDFs and standalone CII / UBL XML.
    einvoice: bool = Field(
        default=True, description="Read the invoice's own XML (embedded in the PDF, or a .xml input) when it has one"
    )
    einvoice_max_xml_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Larger XML (a .xml input or a PDF attachment, after decompression) is refused unparsed",
    )

    # --- Vision-language model (issue 4). The SDK reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL itself.
    extractor: ExtractorName | None = Field(
        default=None, description="ocr, vlm or hybrid; unset means hybrid when ANTHROPIC_API_KEY is set, else ocr"
    )
    vlm_mode: Literal["always", "below_threshold"] = Field(
        default="below_threshold",
        description="hybrid: ask the model for every record, or only for records OCR alone would not accept",
    )
    vlm_tier1_model: str = Field(default="claude-haiku-4-5", description="The cheap model asked first")
    vlm_tier2_model: str | None = Field(
        default="claude-sonnet-4-6", description="The stronger model, only for pages tier 1 left unresolved"
    )
    vlm_prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_VLM_PRICES))
    vlm_max_cost_usd: Decimal | None = Field(default=None, ge=0, description="Stop VLM calls once this is spent")
    vlm_max_retries: int = Field(default=4, ge=0, description="SDK retries on 429, 529, 5xx and timeouts")
    vlm_timeout_s: float = Field(default=120.0, gt=0, description="Per request")
    vlm_concurrency: int = Field(default=4, ge=1, description="VLM requests in flight at once, process-wide")
    vlm_requests_per_minute: int | None = Field(default=None, ge=1, description="Optional request rate cap")
    vlm_max_output_tokens: int = Field(default=2048, ge=256)
    vlm_max_pages: int = Field(default=4, ge=1, description="Documents with more pages stay on the OCR path")
    vlm_image_long_edge_px: int = Field(default=1568, description="The API downscales images beyond this edge")
    vlm_image_max_pixels: int = Field(
        default=1_150_000, description="About 1,600 image tokens; larger images are downscaled by the API"
    )

    # Message Batches (backfills only): half price, asynchronous; tier 1 requests of a chunk go in one batch.
    vlm_use_batches: bool = Field(default=False, description="Backfills send tier-1 requests as a Message Batch")
    vlm_batch_price_factor: Decimal = Field(
        default=Decimal("0.5"), gt=0, le=1, description="Batch price as a share of the price table (Anthropic: half)"
    )
    vlm_batch_poll_s: float = Field(default=30.0, gt=0, description="First wait between batch status polls")
    vlm_batch_poll_max_s: float = Field(default=300.0, gt=0, description="Longest wait between polls (backoff)")
    vlm_batch_max_wait_s: float = Field(
        default=86_400.0, gt=0, description="Give up on a batch after this long (it is canceled; calls go direct)"
    )

    def resolved_extractor(self) -> ExtractorName:
        if self.extractor is not None:
            return self.extractor
        return "hybrid" if os.environ.get("ANTHROPIC_API_KEY") else "ocr"

    def price_of(self, model: str) -> ModelPrice:
        try:
            return self.vlm_prices[model]
        except KeyError:
            raise ConfigError(
                f"No price for model {model!r}; add it to LEDGERLENS_VLM_PRICES so its cost can be counted."
            ) from None
