"""The held-out layouts (devtools/novel_layouts.py) print what their truth says, with the traps they promise."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devtools.novel_layouts import FAMILIES, generate


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_each_family_draws_its_truth_and_its_traps(tmp_path: Path) -> None:
    written = generate(tmp_path, count=8, seed=3)
    truths = [json.loads(path.with_suffix(".truth.json").read_text()) for path in written]
    assert {truth["layout"] for truth in truths} == set(FAMILIES)
    born = [(path, truth) for path, truth in zip(written, truths, strict=True) if truth["kind"] == "born_digital"]
    assert born and all(truth["pages"] == 1 for truth in truths)
    for path, truth in born:
        text = _text(path)
        assert truth["invoice_number"] in text and truth["vendor_name"].casefold() in text.casefold()
        traps = {
            "remit": ["REMIT PAYMENT TO:", "Balance Due", "PO Number", "Order Date"],
            "captions": ["invoice no.", "payable by", "customer no."],
            "summary": ["Please pay within", "Gross"],
            "from_to": ["From", "Issued", "·"],
        }[truth["layout"]]
        assert all(trap in text for trap in traps), (truth["layout"], text)
    scanned = [path for path, truth in zip(written, truths, strict=True) if truth["kind"] != "born_digital"]
    assert scanned and all(_text(path).strip() == "" for path in scanned)  # image-only: OCR has to read them
