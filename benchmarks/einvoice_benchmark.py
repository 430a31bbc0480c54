"""Measure the e-invoice path on a generated set (agreeing, disagreeing, hostile) and count e-invoices in a corpus.

    .venv/bin/python benchmarks/einvoice_benchmark.py --count 40 --seed 13
    .venv/bin/python benchmarks/einvoice_benchmark.py --count 0 --inputs ../shared/benchmarks/real-invoices

The generated set: `count` Factur-X PDFs whose XML and page agree (profiles en16931, basicwl, minimum,
xrechnung), `count // 2` whose page contradicts the XML (a total a cent apart, another invoice's number and
date, another currency, another tax rate), `count // 4` standalone Peppol UBL files (every other one a credit
note), `--scans` scanned hybrids (no text layer) and every hostile case as a .xml and embedded as
factur-x.xml. It prints status counts per group, header-field accuracy and line items on the agreeing PDFs,
how many contradictions were flagged with both values, how many documents went through OCR, and the time per
document on the e-invoice path against the same PDFs read by OCR. Timings on a shared machine are noisy; the
ratio is measured in one run. With --inputs it also counts the corpus's e-invoices (embedded or standalone).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.einvoice_samples import (
    CONTRADICTIONS,
    HOSTILE_XML,
    Spec,
    cii_xml,
    contradicted,
    facturx_pdf,
    huge_xml,
    page_pdf,
    pdf_with_attachment,
    random_spec,
    scanned,
    ubl_xml,
)
from pipeline.config import Settings
from pipeline.discover import discover_documents
from pipeline.einvoice import EInvoiceError, read_einvoice
from pipeline.process import process_document
from schemas import ExtractionRecord, TextSource


def generate(folder: Path, count: int, scans: int, seed: int) -> dict[str, tuple[str, Spec | None, Spec | None]]:
    """Files by name: (group, the XML's spec, the page's spec)."""
    rng = random.Random(seed)
    made: dict[str, tuple[str, Spec | None, Spec | None]] = {}

    def put(name: str, data: bytes, group: str, xml: Spec | None = None, page: Spec | None = None) -> None:
        (folder / name).write_bytes(data)
        made[name] = (group, xml, page)

    for i in range(count):
        spec = random_spec(rng, i)
        put(f"agree-{i:03d}.pdf", facturx_pdf(page_pdf(spec), cii_xml(spec)), "agreeing", spec, spec)
    for i in range(count // 2):
        spec = random_spec(rng, 1000 + i)
        page = contradicted(spec, CONTRADICTIONS[i % len(CONTRADICTIONS)])
        put(f"disagree-{i:03d}.pdf", facturx_pdf(page_pdf(page), cii_xml(spec)), "disagreeing", spec, page)
    for i in range(count // 4):
        spec = random_spec(rng, 2000 + i)
        spec = Spec(**{**spec.__dict__, "profile": "en16931", "type_code": "381" if i % 2 else "380"})
        put(f"peppol-{i:03d}.xml", ubl_xml(spec), "standalone UBL", spec, None)
    for i in range(scans):
        spec = Spec(**{**random_spec(rng, 3000 + i).__dict__, "profile": "en16931"})
        pdf = facturx_pdf(scanned(page_pdf(spec), folder / f"work-{i}"), cii_xml(spec))
        put(f"scan-{i:03d}.pdf", pdf, "scanned hybrid", spec, spec)
    for name, data in {**HOSTILE_XML, "huge": huge_xml(Settings().einvoice_max_xml_bytes)}.items():
        put(f"hostile-{name}.xml", data, "hostile .xml")
        put(f"hostile-{name}.pdf", pdf_with_attachment(page_pdf(Spec()), "factur-x.xml", data), "hostile embedded")
    return made


def header_truth(spec: Spec) -> dict[str, object]:
    sign = -1 if spec.type_code == "381" else 1
    return {
        "vendor_name": spec.seller,
        "customer_name": spec.buyer,
        "invoice_number": spec.number,
        "invoice_date": spec.issued,
        "due_date": None if spec.profile == "minimum" else spec.due,
        "currency": spec.currency,
        "subtotal": sign * spec.net,
        "tax": sign * spec.tax,
        "total": sign * spec.total,
    }


def flagged_with_both(record: ExtractionRecord, xml: Spec, page: Spec) -> bool:
    """Review, and one reason that names the XML's value and the page's for what was contradicted."""
    shown = {"total": (f"{xml.total:,.2f}", page.printed.get("total")),
             "number": (xml.number, page.printed.get("number")),
             "currency": (xml.currency, page.printed.get("currency")),
             "rate": (f"{xml.rate.normalize():f}%", f"{page.printed.get('rate')}%")}  # fmt: skip
    key = next(k for k in shown if k in page.printed)
    want = shown[key]
    return record.status.value == "needs_review" and any(all(v in r for v in want) for r in record.review_reasons)


def measure_generated(folder: Path, made: dict[str, tuple[str, Spec | None, Spec | None]]) -> dict[str, Any]:
    settings = Settings()
    documents, _ = discover_documents([str(folder)])
    by_name = {Path(d.source).name: d for d in documents}
    statuses: dict[str, Counter[str]] = {}
    fields_right = fields_total = lines_right = lines_expected = flagged = disagreeing = ocr_runs = 0
    seconds: list[float] = []
    for name, (group, xml, page) in sorted(made.items()):
        started = time.perf_counter()
        record = process_document(by_name[name], settings)
        if group == "agreeing":
            seconds.append(time.perf_counter() - started)
        statuses.setdefault(group, Counter())[record.status.value] += 1
        ocr_runs += record.text_source is TextSource.OCR
        if group in ("agreeing", "scanned hybrid", "standalone UBL") and xml is not None:
            truth = header_truth(xml)
            got = record.invoice.model_dump(include=set(truth))
            fields_right += sum(got[k] == v for k, v in truth.items())
            fields_total += len(truth)
            if xml.profile not in ("minimum", "basicwl"):
                lines_expected += 1
                lines_right += len(record.invoice.line_items) == len(xml.lines)
        if group == "disagreeing" and xml is not None and page is not None:
            disagreeing += 1
            flagged += flagged_with_both(record, xml, page)
    return {
        "status_counts": {group: dict(counts) for group, counts in statuses.items()},
        "header_field_accuracy": round(fields_right / fields_total, 4) if fields_total else None,
        "header_fields_checked": fields_total,
        "line_items_complete": f"{lines_right}/{lines_expected}",
        "disagreements_flagged_with_both_values": f"{flagged}/{disagreeing}",
        "documents_through_ocr": ocr_runs,
        "seconds_per_agreeing_pdf": round(sum(seconds) / len(seconds), 3) if seconds else None,
    }


def ocr_comparison(folder: Path, sample: int) -> dict[str, Any]:
    """The same agreeing PDFs read by OCR (no XML, no text layer): what the e-invoice path saves."""
    documents, _ = discover_documents([str(p) for p in sorted(folder.glob("agree-*.pdf"))[:sample]])
    timings: dict[str, float] = {}
    for label, settings in (("einvoice", Settings()), ("ocr", Settings(einvoice=False, use_text_layer=False))):
        started = time.perf_counter()
        for document in documents:
            process_document(document, settings)
        timings[label] = (time.perf_counter() - started) / max(len(documents), 1)
    ratio = timings["ocr"] / timings["einvoice"] if timings["einvoice"] else None
    return {"documents": len(documents), "seconds_per_doc": {k: round(v, 3) for k, v in timings.items()},
            "ocr_over_einvoice": round(ratio, 1) if ratio else None}  # fmt: skip


def count_corpus(inputs: Path) -> dict[str, Any]:
    """E-invoices in a folder (detection only: the attachment scan and XML read, no OCR)."""
    documents, _ = discover_documents([str(inputs)])
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    for document in documents:
        try:
            reading = read_einvoice(document, Settings().einvoice_max_xml_bytes)
        except EInvoiceError as exc:
            kinds[f"unusable ({exc.code})"] += 1
            continue
        kinds[
            f"{reading.data.syntax.value}:{reading.data.profile}" if reading else f"none ({document.media_type})"
        ] += 1
    elapsed = time.perf_counter() - started
    return {"documents": len(documents), "kinds": dict(kinds),
            "detection_ms_per_document": round(1000 * elapsed / max(len(documents), 1), 1)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="agreeing Factur-X PDFs (others scale with it)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--scans", type=int, default=2, help="scanned hybrid PDFs (OCR'd to compare)")
    parser.add_argument("--ocr-sample", type=int, default=4, help="agreeing PDFs also timed through OCR")
    parser.add_argument("--inputs", type=Path, help="also count the e-invoices in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ledgerlens-einvoice-") as work:
        folder = Path(work)
        if args.count > 0:
            made = generate(folder, args.count, args.scans, args.seed)
            figures["generated"] = measure_generated(folder, made)
            figures["einvoice_vs_ocr"] = ocr_comparison(folder, args.ocr_sample)
    if args.inputs is not None:
        figures["corpus"] = count_corpus(args.inputs)
    text = json.dumps(figures, indent=2, default=str)
    print(text)
    if args.json is not None:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
