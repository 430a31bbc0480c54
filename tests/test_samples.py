"""The sample generator: deterministic output, all kinds and layouts, multi-page and inconsistent invoices."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from devtools.samples import LAYOUTS, generate_sample, generate_samples, plan_sample, sample_truth

TRUTH_KEYS = {
    "document", "doc_type", "kind", "layout", "vendor_name", "customer_name", "invoice_number", "invoice_date",
    "due_date", "currency", "subtotal", "tax", "total", "line_items", "inconsistent", "pages",
}  # fmt: skip
KINDS = {"born_digital", "clean_scan", "hard_scan"}
CURRENCIES = {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY"}
CENT = Decimal("0.01")
TAX_RATES = ("0", "5", "7", "8", "8.25", "10", "19", "20")
# The documented ways an inconsistent invoice is off (besides leaving one line out of the subtotal).
ROUND_ERRORS = {Decimal(sign * step) for sign in (1, -1) for step in (1, 10, 100)}
SEED = 3

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None, reason="poppler-utils not installed"
)


def _truth(pdf: Path) -> dict[str, Any]:
    return json.loads(pdf.with_name(f"{pdf.stem}.truth.json").read_text(encoding="utf-8"))


def _pdftotext(pdf: Path, *args: str) -> str:
    command = ["pdftotext", *args, str(pdf), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two full rounds of layouts: every family and kind, three multi-page samples and one inconsistent one."""
    return generate_samples(tmp_path_factory.mktemp("batch"), count=2 * len(LAYOUTS), seed=SEED)


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
    small = generate_samples(tmp_path, count=2, seed=SEED)
    # Alone, without the samples before it: a multi-page scan and an inconsistent invoice, byte for byte.
    alone = [generate_sample(tmp_path, index, seed=SEED) for index in (6, 9)]
    for path, reference in zip([*small, *alone], [*batch[:2], batch[6], batch[9]], strict=True):
        assert path.name == reference.name
        assert path.read_bytes() == reference.read_bytes()
        assert _truth(path) == _truth(reference)


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
    assert len(LAYOUTS) == 8
    truths = [_truth(p) for p in batch]
    assert {t["layout"] for t in truths} == {layout.name for layout in LAYOUTS}
    assert {t["kind"] for t in truths} == KINDS
    kinds = [t["kind"] for t in truths]
    assert kinds.count("born_digital") == len(kinds) // 2
    assert [t["pages"] for t in truths].count(2) == 3
    assert [t["inconsistent"] for t in truths].count(True) == 1


def test_multi_page_and_inconsistent_mix_is_fixed_by_index() -> None:
    plans = [plan_sample(index, seed) for seed in (0, 7) for index in range(96)]
    multi = [p for p in plans if p.multi_page]
    inconsistent = [p for p in plans if p.inconsistent]
    assert len(multi) == len(plans) // 6
    assert len(inconsistent) == len(plans) // 12
    assert not any(p.inconsistent for p in plans if p.index < 4)
    assert {p.kind for p in multi} == KINDS
    assert {p.kind for p in inconsistent} == KINDS
    assert {p.layout.name for p in multi if p.seed == 0 and p.index < 48} == {layout.name for layout in LAYOUTS}
    assert {p.layout.name for p in inconsistent} == {layout.name for layout in LAYOUTS}
    # Only the layout rotation depends on the seed.
    same_index = {(p.index, p.kind, p.multi_page, p.inconsistent) for p in plans}
    assert len(same_index) == 96


def _check_truth(truth: dict[str, Any]) -> None:
    name = truth["document"]
    assert set(truth) == TRUTH_KEYS, name
    assert truth["doc_type"] == "invoice"
    assert Path(name).stem.split("-")[2:] == [truth["kind"], truth["layout"]]
    assert truth["currency"] in CURRENCIES
    issued, due = date.fromisoformat(truth["invoice_date"]), date.fromisoformat(truth["due_date"])
    assert 7 <= (due - issued).days <= 60
    index = int(name.split("-")[1]) - 1
    plan = plan_sample(index)
    assert truth["pages"] == (2 if plan.multi_page else 1), name
    assert truth["inconsistent"] is plan.inconsistent, name

    items = truth["line_items"]
    assert (14 <= len(items) <= 30) if plan.multi_page else (1 <= len(items) <= 8), name
    assert len({item["description"] for item in items}) == len(items), name
    quantum = Decimal(1) if truth["currency"] == "JPY" else CENT  # yen are printed without decimals
    for item in items:
        assert set(item) == {"description", "quantity", "unit_price", "amount"}
        assert all(isinstance(value, str) for value in item.values())
        quantity = Decimal(item["quantity"])
        assert item["quantity"] == format(quantity.normalize(), "f")  # "2" or "1.5", no exponent or ".00"
        assert Decimal(item["amount"]) == (quantity * Decimal(item["unit_price"])).quantize(quantum, ROUND_HALF_UP)

    money = {field: Decimal(truth[field]) for field in ("subtotal", "tax", "total")}
    assert all(truth[field] == f"{value:.2f}" for field, value in money.items())
    assert all(value == value.quantize(quantum) for value in money.values()), name
    amounts = [Decimal(item["amount"]) for item in items]
    subtotal_off = money["subtotal"] - sum(amounts)
    total_off = money["total"] - money["subtotal"] - money["tax"]
    if truth["inconsistent"]:
        # Exactly one printed relation is broken, by one of the documented differences.
        assert (subtotal_off != 0) != (total_off != 0), name
        allowed = ROUND_ERRORS | ({-amount for amount in amounts} if subtotal_off else set())
        assert subtotal_off + total_off in allowed, name
    else:
        assert subtotal_off == 0 and total_off == 0, name
    # The tax line always matches the printed subtotal.
    taxes = {(money["subtotal"] * Decimal(rate) / 100).quantize(quantum, ROUND_HALF_UP) for rate in TAX_RATES}
    assert money["tax"] in taxes, name


def test_truth_shape_and_arithmetic(batch: list[Path]) -> None:
    for pdf in batch:
        truth = _truth(pdf)
        assert truth["document"] == pdf.name
        assert truth == sample_truth(int(pdf.name.split("-")[1]) - 1, SEED)
        _check_truth(truth)


def test_truth_arithmetic_without_rendering() -> None:
    """Every multi-page and inconsistent slot of two 48-sample rounds, checked from truth alone (fast)."""
    truths = [sample_truth(index) for index in range(96)]
    for truth in truths:
        _check_truth(truth)
    assert sum(t["inconsistent"] for t in truths) == 8
    assert sum(t["pages"] == 2 for t in truths) == 16


def test_label_vocabulary_covers_the_evaluation_set() -> None:
    vocabularies = [layout.vocabulary for layout in LAYOUTS]
    vocabularies += [vocab for layout in LAYOUTS for _, vocab in layout.translations]
    numbers = {label for vocab in vocabularies for label in vocab.invoice_number}
    totals = {label for vocab in vocabularies for label in vocab.total}
    subtotals = {label for vocab in vocabularies for label in vocab.subtotal}
    assert {"Invoice No.", "Inv #", "Document number", "Rechnungsnummer", "Facture N°"} <= numbers
    assert {"Amount Due", "Balance", "Grand Total", "Amount Payable", "Gesamtbetrag", "Total TTC"} <= totals
    assert {"Nettobetrag", "Total HT"} <= subtotals


@needs_poppler
def test_page_counts_match_truth(batch: list[Path]) -> None:
    multi = [p for p in batch if _truth(p)["pages"] == 2]
    assert {_truth(p)["kind"] for p in multi} == KINDS
    for pdf in batch:
        truth = _truth(pdf)
        assert _page_count(pdf) == truth["pages"], pdf.name
        if truth["pages"] == 2:
            assert len(truth["line_items"]) > 12, pdf.name


@needs_poppler
def test_born_digital_text_layer_has_number_and_vendor(batch: list[Path]) -> None:
    born = [p for p in batch if _truth(p)["kind"] == "born_digital"]
    assert born
    for pdf in born:
        truth = _truth(pdf)
        # Reading order differs with the column structure, so either extraction mode may hold a wrapped name.
        texts = [" ".join(_pdftotext(pdf, *mode).split()) for mode in (("-layout",), ())]
        for field in ("invoice_number", "vendor_name", "customer_name"):
            assert any(truth[field] in text for text in texts), (pdf.name, field)
        if truth["pages"] == 2:
            # Page 2 is headed by the invoice number, and the last line item is printed there.
            page_two = " ".join(_pdftotext(pdf, "-f", "2", "-l", "2").split())
            assert truth["invoice_number"] in page_two, pdf.name
            assert truth["line_items"][-1]["description"].split(" (")[0] in page_two, pdf.name


@needs_poppler
def test_scans_are_image_only_and_readable(batch: list[Path]) -> None:
    scans = [p for p in batch if _truth(p)["kind"] != "born_digital"]
    assert {_truth(p)["kind"] for p in scans} == {"clean_scan", "hard_scan"}
    for pdf in scans:
        assert _pdftotext(pdf).strip() == "", pdf.name
        assert _page_count(pdf) == _truth(pdf)["pages"], pdf.name
