"""The wider layout families: the variation real invoices show, with truth that still adds up."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from devtools.samples import (
    ALL_LAYOUTS,
    LAYOUTS,
    WIDE_LAYOUTS,
    format_number,
    generate_sample,
    layouts_for,
    sample_spec,
    sample_truth,
)

SPECS = [sample_spec(index, seed, "wide") for seed in (0, 1) for index in range(64)]


def test_sixteen_families_and_the_classic_default() -> None:
    assert len({layout.name for layout in ALL_LAYOUTS}) == len(ALL_LAYOUTS) >= 16
    assert layouts_for("classic") == LAYOUTS == layouts_for([layout.name for layout in LAYOUTS])
    assert layouts_for("wide") == WIDE_LAYOUTS
    assert layouts_for("twoline,factura") == tuple(f for f in WIDE_LAYOUTS if f.name in ("twoline", "factura"))
    with pytest.raises(ValueError, match="Unknown layout families"):
        layouts_for("classic,nonesuch")
    # A batch of the default families is what it was before the wider families existed.
    assert sample_truth(5, 3) == sample_truth(5, 3, "classic")


def test_printed_amounts_add_up_with_discount_shipping_and_two_rates() -> None:
    for spec in SPECS:
        lines = sum((line.amount for line in spec.lines), Decimal(0))
        assert spec.subtotal == lines + spec.subtotal_error
        assert spec.total == spec.subtotal - spec.discount + spec.shipping + sum(spec.taxes) + spec.total_error
        assert len(spec.taxes) == (2 if spec.second_rate is not None else 1)
        assert spec.discount >= 0 and spec.shipping >= 0
        if spec.credit:
            assert all(line.amount < 0 for line in spec.lines) and spec.total < 0


def test_the_variation_real_invoices_show_is_drawn() -> None:
    assert any(spec.credit for spec in SPECS)
    assert any(spec.discount for spec in SPECS) and any(spec.shipping for spec in SPECS)
    assert any(spec.second_rate is not None for spec in SPECS)
    assert any(spec.vendor_split for spec in SPECS) and any(spec.customer_split for spec in SPECS)
    assert {spec.language for spec in SPECS} >= {"en", "de", "fr", "nl", "es", "it"}
    assert any(" " in spec.wordmark for spec in SPECS) and any(spec.wordmark.endswith(".") for spec in SPECS)
    assert any(spec.layout.vendor_mark == "footer" for spec in SPECS)
    assert any(spec.layout.totals_box for spec in SPECS)
    assert any(spec.page_break is not None for spec in SPECS)
    styled = [s.invoice_number for s in SPECS if any(c.isalpha() for c in s.invoice_number) and "/" in s.invoice_number]
    assert styled


def _text(pdf: Path, *args: str) -> str:
    command = ["pdftotext", "-layout", *args, str(pdf), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_vendor_only_in_wordmark_or_footer_is_named_in_the_legal_line(tmp_path: Path) -> None:
    hidden = [
        index
        for index in range(0, 64, 2)  # born-digital
        if sample_spec(index, 0, "wide").layout.vendor_mark != "name"
    ]
    assert hidden
    for index in hidden[:3]:
        spec = sample_spec(index, 0, "wide")
        text = _text(generate_sample(tmp_path, index, 0, "wide"))
        header, footer = text[: len(text) // 3], text[-len(text) // 4 :]
        assert spec.vendor_name not in header, index
        assert spec.vendor_name in footer, index


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_credit_note_prints_negative_amounts_and_its_title(tmp_path: Path) -> None:
    index = next(i for i in range(0, 64, 2) if sample_spec(i, 0, "wide").credit)
    spec = sample_spec(index, 0, "wide")
    truth = sample_truth(index, 0, "wide")
    assert truth["doc_type"] == "credit_note" and Decimal(truth["total"]) < 0
    text = " ".join(_text(generate_sample(tmp_path, index, 0, "wide")).split())
    assert spec.labels.title in text
    assert format_number(spec.total, spec.number_style, spec.region.decimals) in text
    assert format_number(spec.total, spec.number_style, spec.region.decimals).startswith("-")
