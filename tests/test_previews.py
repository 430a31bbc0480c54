"""Page previews are kept for records a person will look at, in the geometry of the field boxes."""

from __future__ import annotations

from pathlib import Path

import cv2

from devtools.samples import generate_sample, plan_sample
from pipeline.config import Settings
from pipeline.discover import discover_documents
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
