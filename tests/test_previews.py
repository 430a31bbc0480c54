"""Page previews are kept for records a person will look at, in the geometry of the field boxes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from devtools.samples import generate_sample, plan_sample
from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.errors import CorruptDocumentError
from pipeline.previews import render_pdf_preview, scale_image_to_long_edge
from pipeline.process import process_document
from schemas import RecordStatus


def _process(path: Path, out: Path, **settings: object) -> object:
    documents, _ = discover_documents([str(path)])
    return process_document(documents[0], Settings(**settings), out)  # type: ignore[arg-type]


def test_text_layer_page_preview_is_rendered_at_the_long_edge(simple_invoice_pdf: Path, tmp_path: Path) -> None:
    record = _process(simple_invoice_pdf, tmp_path, keep_page_images="all", preview_long_edge_px=800)
    assert record.page_images == [f"pages/{record.document_id}/page-0001.png"]  # type: ignore[attr-defined]
    image = cv2.imread(str(tmp_path / record.page_images[0]), cv2.IMREAD_GRAYSCALE)  # type: ignore[attr-defined]
    assert image is not None
    assert max(image.shape) == 800
    # A4 portrait: the height is the long edge.
    assert image.shape[0] > image.shape[1]


def test_accepted_records_keep_no_previews_by_default(simple_invoice_pdf: Path, tmp_path: Path) -> None:
    record = _process(simple_invoice_pdf, tmp_path)
    assert record.status is RecordStatus.ACCEPTED  # type: ignore[attr-defined]
    assert record.page_images == []  # type: ignore[attr-defined]
    assert not (tmp_path / "pages").exists()


def test_review_record_keeps_scanned_page_previews(tmp_path: Path) -> None:
    index = next(i for i in range(48) if plan_sample(i).inconsistent and plan_sample(i).kind != "born_digital")
    (tmp_path / "in").mkdir()
    record = _process(generate_sample(tmp_path / "in", index), tmp_path / "out")
    assert record.status is RecordStatus.NEEDS_REVIEW  # type: ignore[attr-defined]
    assert len(record.page_images) == record.page_count  # type: ignore[attr-defined]
    for relative in record.page_images:  # type: ignore[attr-defined]
        image = cv2.imread(str(tmp_path / "out" / relative), cv2.IMREAD_GRAYSCALE)
        assert image is not None and max(image.shape) <= 1568


def test_text_layer_preview_has_the_pixels_pdftocairo_draws(simple_invoice_pdf: Path, tmp_path: Path) -> None:
    """Encoded by Pillow from an uncompressed drawing: the same pixels as pdftocairo's own (slower) PNG, and
    the drawing is not left beside the preview."""
    target = render_pdf_preview(simple_invoice_pdf, 1, tmp_path / "previews" / "page-0001.png", 900)
    subprocess.run(
        ["pdftocairo", "-png", "-gray", "-singlefile", "-scale-to", "900", "-f", "1", "-l", "1",
         str(simple_invoice_pdf), str(tmp_path / "reference")],
        check=True, capture_output=True,
    )  # fmt: skip
    drawn = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    reference = cv2.imread(str(tmp_path / "reference.png"), cv2.IMREAD_UNCHANGED)
    assert drawn is not None and reference is not None
    assert drawn.ndim == 2 and drawn.shape == reference.shape
    assert np.array_equal(drawn, reference)
    assert sorted(path.name for path in target.parent.iterdir()) == ["page-0001.png"]


def test_scaled_preview_keeps_the_pixels_of_an_area_resize(tmp_path: Path) -> None:
    page = np.random.default_rng(7).integers(0, 256, size=(2000, 1400), dtype=np.uint8)
    source = tmp_path / "clean.pgm"
    cv2.imwrite(str(source), page)
    preview = cv2.imread(str(scale_image_to_long_edge(source, tmp_path / "page.png", 1000)), cv2.IMREAD_UNCHANGED)
    assert preview is not None
    assert np.array_equal(preview, cv2.resize(page, (700, 1000), interpolation=cv2.INTER_AREA))


def test_unreadable_pdf_page_fails_its_preview_with_a_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nnot a pdf\n%%EOF\n")
    with pytest.raises(CorruptDocumentError, match="could not be drawn"):
        render_pdf_preview(broken, 1, tmp_path / "out" / "page-0001.png", 800)
    assert list((tmp_path / "out").iterdir()) == []
