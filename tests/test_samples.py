"""The sample generator: deterministic output, all kinds and layouts, consistent truth, text layer or none."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from pipeline.samples import LAYOUTS, generate_samples

TRUTH_KEYS = {
    "document", "doc_type", "kind", "layout", "vendor_name", "customer_name", "invoice_number", "invoice_date",
    "due_date", "currency", "subtotal", "tax", "total", "line_items", "inconsistent",
}  # fmt: skip
KINDS = {"born_digital", "clean_scan", "hard_scan"}
CENT = Decimal("0.01")
TAX_RATES = ("0", "5", "7", "8.25", "10", "19", "20")

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None, reason="poppler-utils not installed"
)


def _truth(pdf: Path) -> dict[str, Any]:
    return json.loads(pdf.with_name(f"{pdf.stem}.truth.json").read_text(encoding="utf-8"))


def _pdftotext(pdf: Path) -> str:
    result = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two full rounds of layouts: every family and every kind appears."""
    return generate_samples(tmp_path_factory.mktemp("batch"), count=2 * len(LAYOUTS), seed=3)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate_samples(tmp_path / "a", count=4, seed=5)
    second = generate_samples(tmp_path / "b", count=4, seed=5)
    assert [p.name for p in first] == [p.name for p in second]
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(files_a) == 8  # a PDF and a truth file per sample
    assert files_a == files_b
    # Rerunning into the same folder rewrites the same bytes (idempotent document ids).
    generate_samples(tmp_path / "a", count=4, seed=5)
    assert _files(tmp_path / "a") == files_a


def test_sample_does_not_depend_on_batch_size(tmp_path: Path, batch: list[Path]) -> None:
    small = generate_samples(tmp_path, count=2, seed=3)
    for path, reference in zip(small, batch[:2], strict=True):
        assert path.name == reference.name
        assert path.read_bytes() == reference.read_bytes()


def test_different_seed_gives_different_invoices(tmp_path: Path) -> None:
    one = generate_samples(tmp_path / "one", count=4, seed=5)
    two = generate_samples(tmp_path / "two", count=4, seed=6)
    assert [p.read_bytes() for p in one] != [p.read_bytes() for p in two]
    truths_one = [{k: v for k, v in _truth(p).items() if k != "document"} for p in one]
    truths_two = [{k: v for k, v in _truth(p).items() if k != "document"} for p in two]
    assert all(a != b for a, b in zip(truths_one, truths_two, strict=True))


def test_count_four_has_every_kind(tmp_path: Path) -> None:
    pdfs = generate_samples(tmp_path, count=4, seed=0)
    assert len(pdfs) == 4
    assert all(p.is_file() and p.suffix == ".pdf" for p in pdfs)
    assert {_truth(p)["kind"] for p in pdfs} == KINDS


def test_batch_covers_every_layout_and_kind(batch: list[Path]) -> None:
    assert len(LAYOUTS) >= 5
    truths = [_truth(p) for p in batch]
    assert {t["layout"] for t in truths} == {layout.name for layout in LAYOUTS}
    assert {t["kind"] for t in truths} == KINDS
    kinds = [t["kind"] for t in truths]
    assert kinds.count("born_digital") == len(kinds) // 2


def test_truth_shape_and_arithmetic(batch: list[Path]) -> None:
    for pdf in batch:
        truth = _truth(pdf)
        assert set(truth) == TRUTH_KEYS, pdf.name
        assert truth["document"] == pdf.name
        assert truth["doc_type"] == "invoice"
        assert truth["inconsistent"] is False
        assert pdf.stem.split("-")[2:] == [truth["kind"], truth["layout"]]
        assert truth["currency"] in {"USD", "EUR", "GBP", "CHF", "CAD", "AUD"}
        issued, due = date.fromisoformat(truth["invoice_date"]), date.fromisoformat(truth["due_date"])
        assert 7 <= (due - issued).days <= 60

        items = truth["line_items"]
        assert 1 <= len(items) <= 8
        for item in items:
            assert set(item) == {"description", "quantity", "unit_price", "amount"}
            assert all(isinstance(value, str) for value in item.values())
            quantity = Decimal(item["quantity"])
            assert item["quantity"] == format(quantity.normalize(), "f")  # "2" or "1.5", no exponent or ".00"
            assert Decimal(item["amount"]) == (quantity * Decimal(item["unit_price"])).quantize(CENT, ROUND_HALF_UP)

        money = {name: Decimal(truth[name]) for name in ("subtotal", "tax", "total")}
        assert all(truth[name] == f"{value:.2f}" for name, value in money.items())
        assert money["subtotal"] == sum(Decimal(item["amount"]) for item in items)
        assert money["total"] == money["subtotal"] + money["tax"]
        taxes = {(money["subtotal"] * Decimal(rate) / 100).quantize(CENT, ROUND_HALF_UP) for rate in TAX_RATES}
        assert money["tax"] in taxes, pdf.name


@needs_poppler
def test_born_digital_text_layer_has_number_and_vendor(batch: list[Path]) -> None:
    born = [p for p in batch if _truth(p)["kind"] == "born_digital"]
    assert born
    for pdf in born:
        truth = _truth(pdf)
        text = " ".join(_pdftotext(pdf).split())
        assert truth["invoice_number"] in text, pdf.name
        assert truth["vendor_name"] in text, pdf.name
        assert truth["customer_name"] in text, pdf.name


@needs_poppler
def test_scans_are_image_only_and_readable(batch: list[Path]) -> None:
    scans = [p for p in batch if _truth(p)["kind"] != "born_digital"]
    assert {_truth(p)["kind"] for p in scans} == {"clean_scan", "hard_scan"}
    for pdf in scans:
        assert _pdftotext(pdf).strip() == "", pdf.name
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False)
        assert info.returncode == 0, info.stderr
        assert "Pages:           1" in info.stdout
