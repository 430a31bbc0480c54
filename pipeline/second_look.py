"""A second look at OCR'd pages whose first reading fails the invoice's own cross-checks.

On degraded scans Tesseract's page segmentation (psm 3) sometimes drops whole labels ("Invoice No",
"Subtotal", "Due date") or misreads a digit ("151522;CHh" for "151.22 CHF"), so a field goes missing, is
found without its label, or the amounts stop adding up. When that happens, and only then, the page is read
again, two ways:

- the whole page in another segmentation mode (sparse text, psm 11, which finds text psm 3 skipped),
  merged with the first reading: the first reading plus the words only the second found, or the second
  plus the words only the first found;
- each digit-bearing word OCR was unsure of, on its own: cut out, enlarged and binarised, all of a page's
  such words stacked into one image for one OCR run.

A new reading is kept only when extraction on it fails fewer cross-checks (a missing field, a key field
with no label, amounts or dates that contradict each other, a label with no readable value, an amount the
arithmetic had to restore), or fails the same ones with more header fields found. Nothing is taken on
trust: the chosen reading is extracted, validated, corroborated and routed like any first reading, so a
value it brings must still fit the arithmetic and carry its own evidence to be accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from pipeline.engines.ocr import OcrEngine
from pipeline.extract import extract_invoice
from pipeline.preprocess import GrayImage, load_gray
from pipeline.validate import validate_invoice
from schemas import HEADER_FIELDS, ExtractionResult, IssueCode, PageText, Severity, Support, TextSource, Word

# What a better reading can settle: a field not found, a label whose value was not read, amounts or
# dates that contradict each other, an amount the arithmetic had to restore.
CROSS_CHECK_CODES = frozenset(
    {
        IssueCode.MISSING_VENDOR_NAME,
        IssueCode.MISSING_INVOICE_NUMBER,
        IssueCode.MISSING_INVOICE_DATE,
        IssueCode.MISSING_TOTAL,
        IssueCode.TOTAL_MISMATCH,
        IssueCode.LINE_ITEMS_SUM_MISMATCH,
        IssueCode.LINE_ITEM_ARITHMETIC,
        IssueCode.DUE_BEFORE_ISSUE,
        IssueCode.NO_LINE_ITEMS,
        IssueCode.AMOUNT_REPAIRED,
        IssueCode.LINE_AMOUNT_REPAIRED,
        IssueCode.UNREADABLE_VALUE,
    }
)
# Fields every invoice prints beside a label: one read without it was found by a fallback.
LABELLED_FIELDS = ("invoice_number", "invoice_date", "total")
AMOUNT_FIELDS = frozenset({"subtotal", "tax", "total", "line_items", "adjustments"})
DATE_FIELDS = frozenset({"invoice_date", "due_date"})
# Words of the two readings are one printed word when their boxes share this much of the smaller box.
SAME_WORD_OVERLAP = 0.3
# A word with a digit OCR gave less than this confidence is read again on its own: cut out with a margin,
# enlarged and binarised (Otsu), all of a page's such words stacked in one image for one OCR run.
UNSURE_WORD_CONFIDENCE = 0.6
CROP_MARGIN_PX = 6
CROP_SCALE = 2.0
STRIP_GAP_PX = 40
# Line keys of words taken from the second reading are shifted past the first reading's.
_SECOND_BLOCKS = 10_000

ReadingKey = tuple[int, int]


def check_failures(result: ExtractionResult) -> set[tuple[str, str | None]]:
    """The cross-checks a reading fails: (issue code, field) of its blocking extraction and validation
    issues, and ("unlabelled", field) for a key field read with no label beside it (an invoice date taken
    from the first date printed, because the "Date" label was not read)."""
    issues = [*result.issues, *validate_invoice(result.invoice)]
    failures: set[tuple[str, str | None]] = {
        (issue.code.value, issue.field)
        for issue in issues
        if issue.code in CROSS_CHECK_CODES and issue.severity is Severity.BLOCKING
    }
    for name in LABELLED_FIELDS:
        found = result.fields.get(name)
        if found is not None and (found.evidence is None or Support.LABEL not in found.evidence.support):
            failures.add(("unlabelled", name))
    return failures


def reading_key(result: ExtractionResult) -> ReadingKey:
    """Lower is better: fewer failed cross-checks, then more header fields found."""
    found = sum(1 for name in HEADER_FIELDS if getattr(result.invoice, name, None) is not None)
    return len(check_failures(result)), -found


def _overlap(a: Word, b: Word) -> float:
    """The share of the smaller box the two boxes have in common."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
    return width * height / smaller if smaller > 0 else 0.0


def _words_in_gaps(base: list[Word], other: list[Word]) -> list[Word]:
    """The other reading's words that cover no word of the base reading."""
    return [word for word in other if all(_overlap(word, kept) < SAME_WORD_OVERLAP for kept in base)]


def _shifted(word: Word) -> Word:
    block, paragraph, line = word.line_key
    return word.model_copy(update={"line_key": (block + _SECOND_BLOCKS, paragraph, line)})


def merged_page(first: PageText, second: PageText, second_wins: bool) -> PageText:
    """One page from two readings: the winning reading's words plus the other's words where it read none."""
    second_words = [_shifted(word) for word in second.words]
    base, other = (second_words, first.words) if second_wins else (first.words, second_words)
    words = sorted([*base, *_words_in_gaps(base, other)], key=lambda w: (w.y0, w.x0))
    return first.model_copy(update={"words": words})


def second_readings(cleaned_images: Mapping[int, Path], engine: OcrEngine) -> dict[int, PageText]:
    """Every OCR'd page read again by the second-look engine."""
    return {page_no: engine.read(path, page_no) for page_no, path in sorted(cleaned_images.items())}


def merged_readings(pages: list[PageText], second: Mapping[int, PageText]) -> list[list[PageText]]:
    """The two merges of first and second readings (pages without a second reading stay as read)."""
    return [
        [
            merged_page(page, second[page.page_no], second_wins)
            if page.source is TextSource.OCR and page.page_no in second
            else page
            for page in pages
        ]
        for second_wins in (False, True)
    ]


def unsure_words(page: PageText) -> list[Word]:
    """Words OCR was unsure of ("Die" for "2,582"): the ones worth reading again on their own."""
    return [w for w in page.words if w.confidence < UNSURE_WORD_CONFIDENCE]


def _word_crop(image: GrayImage, word: Word) -> tuple[GrayImage, tuple[int, int]]:
    """The word's box (with a margin) cut out, enlarged and binarised; and the crop's top-left corner."""
    height, width = image.shape[:2]
    left, top = max(int(word.x0) - CROP_MARGIN_PX, 0), max(int(word.y0) - CROP_MARGIN_PX, 0)
    right, bottom = min(int(word.x1) + CROP_MARGIN_PX, width), min(int(word.y1) + CROP_MARGIN_PX, height)
    crop = cv2.resize(image[top:bottom, left:right], None, fx=CROP_SCALE, fy=CROP_SCALE, interpolation=cv2.INTER_CUBIC)
    _, binary = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary, (left, top)


def word_strip(image_path: Path, words: list[Word], strip_path: Path) -> list[tuple[int, int, int, int]]:
    """Every word's crop stacked in one image (one OCR run for all of them), written to `strip_path`;
    returns each crop's (top in the strip, height, left and top on the page)."""
    image = load_gray(image_path)
    crops = [_word_crop(image, word) for word in words]
    width = max(crop.shape[1] for crop, _ in crops) + 2 * STRIP_GAP_PX
    height = sum(crop.shape[0] + STRIP_GAP_PX for crop, _ in crops) + STRIP_GAP_PX
    strip = np.full((height, width), 255, dtype=np.uint8)
    placed: list[tuple[int, int, int, int]] = []
    cursor = STRIP_GAP_PX
    for crop, (left, top) in crops:
        strip[cursor : cursor + crop.shape[0], STRIP_GAP_PX : STRIP_GAP_PX + crop.shape[1]] = crop
        placed.append((cursor, crop.shape[0], left, top))
        cursor += crop.shape[0] + STRIP_GAP_PX
    cv2.imwrite(str(strip_path), strip)
    return placed


def _on_page(word: Word, place: tuple[int, int, int, int], line: tuple[int, int, int]) -> Word:
    """A word read on the strip, moved back to where its crop sits on the page."""
    strip_top, _, left, top = place
    return word.model_copy(
        update={
            "x0": left + (word.x0 - STRIP_GAP_PX) / CROP_SCALE,
            "x1": left + (word.x1 - STRIP_GAP_PX) / CROP_SCALE,
            "y0": top + (word.y0 - strip_top) / CROP_SCALE,
            "y1": top + (word.y1 - strip_top) / CROP_SCALE,
            "line_key": line,
        }
    )


def reread_words(page: PageText, image_path: Path, engine: OcrEngine) -> dict[int, list[Word]]:
    """The page's unsure words read again one by one: id of each word -> its new reading (words that came
    back empty, or without a digit, keep their first reading)."""
    words = unsure_words(page)
    if not words:
        return {}
    strip_path = image_path.with_name(f"{image_path.stem}-words.pgm")
    placed = word_strip(image_path, words, strip_path)
    read = engine.read(strip_path, page.page_no).words
    strip_path.unlink(missing_ok=True)
    readings: dict[int, list[Word]] = {}
    for word, place in zip(words, placed, strict=True):
        strip_top, height = place[0], place[1]
        inside = sorted((w for w in read if strip_top <= w.cy < strip_top + height), key=lambda w: w.x0)
        if any(ch.isdigit() for w in inside for ch in w.text):
            readings[id(word)] = [_on_page(w, place, word.line_key) for w in inside]
    return readings


def with_words_reread(pages: list[PageText], readings: Mapping[int, list[Word]]) -> list[PageText]:
    """The pages with each re-read word replaced by its new reading."""
    return [
        page.model_copy(update={"words": [new for w in page.words for new in readings.get(id(w), [w])]})
        for page in pages
    ]


def second_look(pages: list[PageText], cleaned_images: Mapping[int, Path], engine: OcrEngine) -> list[PageText]:
    """The pages as read, or a second reading of them that passes more of the invoice's cross-checks:
    the page read in another segmentation mode and merged with the first reading, or the unsure words
    read again on their own."""
    if not cleaned_images or not any(page.source is TextSource.OCR for page in pages):
        return pages
    first = extract_invoice(pages)
    best_key = reading_key(first)
    if best_key[0] == 0:
        return pages
    readings: dict[int, list[Word]] = {}
    for page in pages:
        if page.source is TextSource.OCR and page.page_no in cleaned_images:
            readings.update(reread_words(page, cleaned_images[page.page_no], engine))
    merged = merged_readings(pages, second_readings(cleaned_images, engine))
    # Without re-read words the last two candidates would repeat the first reading and merged[0]: not extracted twice.
    reread = [with_words_reread(pages, readings), with_words_reread(merged[0], readings)] if readings else []
    best = pages
    for candidate in [*merged, *reread]:
        result = extract_invoice(candidate)
        key = reading_key(result)
        if key < best_key and not changed_beyond_doubt(first, result):
            best, best_key = candidate, key
    return best


def doubted_fields(result: ExtractionResult) -> set[str]:
    """The header fields a reading's failed checks put in doubt: every amount when the sums fail, both
    dates when their order does."""
    fields = {name for _, name in check_failures(result) if name is not None}
    for group in (AMOUNT_FIELDS, DATE_FIELDS):
        if fields & group:
            fields |= group
    return fields


def changed_beyond_doubt(first: ExtractionResult, second: ExtractionResult) -> list[str]:
    """Header fields the first reading read and the second reads otherwise, though no failed check of the
    first put them in doubt: a re-read that settles the amounts must not also change the invoice number."""
    doubted = doubted_fields(first)
    changed = []
    for name in HEADER_FIELDS:
        before, after = getattr(first.invoice, name, None), getattr(second.invoice, name, None)
        if before is not None and after != before and name not in doubted:
            changed.append(name)
    return changed
