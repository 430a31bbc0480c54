"""`ledgerlens vlm-check IMAGE`: one page to the configured API, to try a key, a gateway or a model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pipeline.config import Settings
from pipeline.ocr import ocr_page
from pipeline.previews import render_pdf_preview
from pipeline.vlm.client import ask_model, make_client
from pipeline.vlm.cost import RunBudget
from pipeline.vlm.image import load_for_budget
from pipeline.vlm.prompt import ocr_hints


def check_page(path: Path, model: str | None = None, settings: Settings | None = None) -> str:
    """The model's parsed answer for the page (a PDF's first page), with tokens and cost, as text."""
    settings = settings or Settings()
    model = model or settings.vlm_tier1_model
    price = settings.price_of(model)
    client = make_client(settings)
    with tempfile.TemporaryDirectory(prefix="ll-vlm-check-") as scratch:
        image_path = path
        if path.read_bytes()[:5] == b"%PDF-":
            image_path = render_pdf_preview(path, 1, Path(scratch) / "page.png", settings.vlm_image_long_edge_px)
        page = ocr_page(image_path, 1, lang=settings.tesseract_lang, timeout_s=settings.tesseract_timeout_s)
        image = load_for_budget(image_path, settings.vlm_image_long_edge_px, settings.vlm_image_max_pixels)
    hints = ocr_hints([page])
    outcome = ask_model(
        client, model, [image.png], [(image.width, image.height)], hints, settings, RunBudget(settings.vlm_max_cost_usd)
    )
    lines = [
        f"model: {model}",
        f"image: {image.source_width}x{image.source_height} px (~{image.source_tokens} tokens) sent as "
        f"{image.width}x{image.height} px (~{image.tokens} tokens)",
        f"OCR hint rows: {len(hints.splitlines())}",
        f"calls: {len(outcome.usages)}; tokens: {outcome.input_tokens} in / {outcome.output_tokens} out; "
        f"cost: ${outcome.cost_usd:.6f} (at ${price.input_per_mtok}/${price.output_per_mtok} per million)",
    ]
    if outcome.answer is not None:
        lines.append(json.dumps(outcome.answer.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        lines.append(f"no usable answer: {outcome.error}")
    return "\n".join(lines)
