"""A second look at OCR'd pages whose first reading fails the invoice's own cross-checks.

On degraded scans Tesseract's page segmentation (psm 3) sometimes drops whole labels ("Invoice No",
"Subtotal", "Due date") or misreads a digit ("151522;CHh" for "151.22 CHF"), so a field goes missing, is
found without its label, or the amounts stop adding up. When that happens, and only then, parts of the page
are read again, all in one OCR run over a strip of crops (cut out, enlarged and binarised):

- the patches of ink where the first reading found no word (the page binarised, every word read blanked,
  what is left joined into line-sized patches): text the page segmentation skipped, such as a totals row;
- the words OCR was unsure of, and the digit words of the values a failed check puts in doubt (a tax read
  "28.568" for "28,568" when the sums fail), each on its own.

Three candidates come of it: the first reading plus the words found in its gaps, the first reading with its
doubted words replaced by their new reading (one with a digit) in either crop style, and both.
A new reading is kept only when extraction on it fails fewer cross-checks (a missing field, a key field
with no label, amounts or dates that contradict each other, a label with no readable value, an amount the
arithmetic had to restore), or fails the same ones with more header fields found. Nothing is taken on
trust: the chosen reading is extracted, validated, corroborated and routed like any first reading, so a
value it brings must still fit the arithmetic and carry its own evidence to be accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.corroboration import unheld_codes
from pipeline.engines.ocr import OcrEngine
from pipeline.extract import extract_invoice
from pipeline.extract.misreads import UNSURE_WORD_CONFIDENCE, confusable_id_slip
from pipeline.preprocess import LABELLING, GrayImage, load_gray
from pipeline.validate import validate_invoice
from schemas import (
    HEADER_FIELDS,
    BoundingBox,
    ExtractionResult,
    FieldEvidence,
    FieldValue,
    IssueCode,
    PageText,
    Severity,
    Support,
    TextSource,
    Word,
)

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
# A word OCR gave less than UNSURE_WORD_CONFIDENCE is read again on its own: cut out with a margin,
# enlarged and binarised (Otsu), all of a page's such words stacked in one image for one OCR run.
CROP_MARGIN_PX = 6
# Doubted words less than this many text heights apart on one line are cut out and read as one crop.
GROUP_GAP = 1.0
STRIP_GAP_PX = 40
# A strip is as wide as its widest crop, and Tesseract's CPU on it grows with its pixels, white or not: a crop
# wider than this (a receipt's whole line of unsure words, enlarged) is read in a second strip with the other
# wide ones, so it does not make every row of the narrow crops as wide (69-75 Mpx strips on till receipts).
# The crops of the generated invoices are narrower (at most ~1,100 px): their one strip is unchanged.
WIDE_CROP_PX = 1200
# Ink the first reading found no word in is re-read in line-sized patches: as tall as GAP_MIN_HEIGHT to
# GAP_MAX_HEIGHT times the page's median word height (specks, rules and frames are not), at most
# MAX_GAP_REGIONS of them, each read word blanked with a margin first.
GAP_MIN_HEIGHT = 0.6
GAP_MAX_HEIGHT = 2.5
MAX_GAP_REGIONS = 80
MASK_MARGIN_PX = 3
DEFAULT_WORD_HEIGHT_PX = 30.0
# Line keys of words taken from the second reading are shifted past the first reading's.
_SECOND_BLOCKS = 10_000
# How a second look ended: no OCR'd page to look at, the first reading passed its checks, the first reading
# kept (no candidate did better); otherwise the winning candidate's name.
NOT_TAKEN, PASSED, KEPT = "not_taken", "passed", "kept"
GAPS, REREADS = "gaps", "rereads"
# Appended to the outcome when an invoice number's confusable character was settled by reading it again.
ID_REREAD = "id_reread"

ReadingKey = tuple[int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in page-image pixels
# A crop's top in the strip, its height, its left and top on the page, and how much it was enlarged.
Placement = tuple[int, int, int, int, float]
# A crop prepared for OCR, its top-left corner on the page and how much it was enlarged.
Crop = tuple[GrayImage, tuple[int, int], float]


@dataclass(frozen=True)
class CropStyle:
    """How a crop is prepared for OCR: enlarged `scale` times, binarised (Otsu) or left as scanned."""

    scale: float
    binarise: bool


# Each doubted word is read in two styles, one candidate each: enlarged and binarised ("151.22" for "151522"),
# and as scanned (binarising an enlarged "28,568" read it "28,968"). Gap patches are read enlarged.
ENLARGED = CropStyle(2.0, True)
AS_SCANNED = CropStyle(1.0, False)
WORD_STYLES = {REREADS: ENLARGED, f"{REREADS}_as_scanned": AS_SCANNED}


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


def failures_that_count(result: ExtractionResult) -> set[tuple[str, str | None]]:
    """The failed cross-checks that make a second look: those routing holds against the record (not a till
    receipt's missing invoice number: many print none, and the look read every unsure word of such a
    receipt again for nothing)."""
    unheld = {code.value for code in unheld_codes(result.fields)}
    return {(code, name) for code, name in check_failures(result) if code not in unheld}


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


def unsure_words(page: PageText) -> list[Word]:
    """Words OCR was unsure of ("Die" for "2,582"): the ones worth reading again on their own."""
    return [w for w in page.words if w.confidence < UNSURE_WORD_CONFIDENCE]


def doubted_words(page: PageText, first: ExtractionResult) -> list[Word]:
    """The words worth reading again on their own: those OCR was unsure of, and the digit words of every
    value a failed check puts in doubt (a tax read "28.568" with some confidence, for "28,568", when the
    sums fail)."""
    doubted = doubted_fields(first)
    boxes = [
        found.bbox
        for name, found in first.fields.items()
        if name in doubted and found.page == page.page_no and found.bbox is not None
    ]
    return [
        w
        for w in page.words
        if w.confidence < UNSURE_WORD_CONFIDENCE or (any(ch.isdigit() for ch in w.text) and _inside(page, w, boxes))
    ]


def _inside(page: PageText, word: Word, boxes: list[BoundingBox]) -> bool:
    """The word's centre lies in one of the boxes (page fractions)."""
    x, y = word.cx / max(page.width, 1.0), word.cy / max(page.height, 1.0)
    return any(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1 for box in boxes)


def _median_word_height(page: PageText) -> float:
    heights = sorted(w.y1 - w.y0 for w in page.words)
    return max(heights[len(heights) // 2], 1.0) if heights else DEFAULT_WORD_HEIGHT_PX


def gap_regions(image: GrayImage, page: PageText) -> list[Box]:
    """Line-sized patches of ink where the first reading found no word: text its page segmentation
    skipped (a totals block, a label). The page is binarised with its own threshold (text included, so the
    background's grain stays white), every word read is blanked, and what ink is left is joined into
    line-sized patches; specks, rules and frames are not line-sized and are left out."""
    height = _median_word_height(page)
    _, ink = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    for word in page.words:
        if word.y1 - word.y0 <= GAP_MAX_HEIGHT * height:  # a taller "word" is a misread rule or frame
            top, left = max(int(word.y0) - MASK_MARGIN_PX, 0), max(int(word.x0) - MASK_MARGIN_PX, 0)
            ink[top : int(word.y1) + MASK_MARGIN_PX + 1, left : int(word.x1) + MASK_MARGIN_PX + 1] = 0
    kernel = np.ones((max(int(height * 0.25), 1), max(int(height), 1)), np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(cv2.dilate(ink, kernel), 8, cv2.CV_32S, LABELLING)
    regions = [
        (int(x), int(y), int(x + w), int(y + h))
        for x, y, w, h, _area in stats[1:]
        if GAP_MIN_HEIGHT * height <= h <= GAP_MAX_HEIGHT * height and w >= height
    ]
    return regions[:MAX_GAP_REGIONS]


def _crop(image: GrayImage, box: Box, style: CropStyle) -> tuple[GrayImage, tuple[int, int]]:
    """The box (with a margin) cut out and prepared in `style`; and the crop's top-left corner."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    left, top = max(x0 - CROP_MARGIN_PX, 0), max(y0 - CROP_MARGIN_PX, 0)
    right, bottom = min(x1 + CROP_MARGIN_PX, width), min(y1 + CROP_MARGIN_PX, height)
    crop = image[top:bottom, left:right]
    if style.scale != 1.0:
        crop = cv2.resize(crop, None, fx=style.scale, fy=style.scale, interpolation=cv2.INTER_CUBIC)
    if style.binarise:
        _, crop = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return crop, (left, top)


def crop_strip(crops: list[Crop], strip_path: Path) -> list[Placement]:
    """The crops stacked in one image (one OCR run for all of them), written to `strip_path`; returns each
    crop's placement."""
    width = max(crop.shape[1] for crop, _, _ in crops) + 2 * STRIP_GAP_PX
    height = sum(crop.shape[0] + STRIP_GAP_PX for crop, _, _ in crops) + STRIP_GAP_PX
    strip = np.full((height, width), 255, dtype=np.uint8)
    placed: list[Placement] = []
    cursor = STRIP_GAP_PX
    for crop, (left, top), scale in crops:
        strip[cursor : cursor + crop.shape[0], STRIP_GAP_PX : STRIP_GAP_PX + crop.shape[1]] = crop
        placed.append((cursor, crop.shape[0], left, top, scale))
        cursor += crop.shape[0] + STRIP_GAP_PX
    cv2.imwrite(str(strip_path), strip)
    return placed


def strips_by_width(crops: list[Crop]) -> list[list[int]]:
    """Which crops share a strip, by their index: those up to WIDE_CROP_PX wide in one, the wider ones in
    another (each in the order given); one strip when all are of one kind."""
    narrow = [number for number, (crop, _, _) in enumerate(crops) if crop.shape[1] <= WIDE_CROP_PX]
    wide = [number for number, (crop, _, _) in enumerate(crops) if crop.shape[1] > WIDE_CROP_PX]
    return [strip for strip in (narrow, wide) if strip]


def _on_page(word: Word, place: Placement, line: tuple[int, int, int]) -> Word:
    """A word read on the strip, moved back to where its crop sits on the page."""
    strip_top, _, left, top, scale = place
    return word.model_copy(
        update={
            "x0": left + (word.x0 - STRIP_GAP_PX) / scale,
            "x1": left + (word.x1 - STRIP_GAP_PX) / scale,
            "y0": top + (word.y0 - strip_top) / scale,
            "y1": top + (word.y1 - strip_top) / scale,
            "line_key": line,
        }
    )


class DecodedImages:
    """Cleaned page images decoded for one document's re-reads, the latest kept: the second look (gap
    patches and crops), the ID re-read and the party-ink check cut from the same page, so it is decoded
    once, and one page is held at a time. The decoded page is read-only: every cut copies."""

    def __init__(self) -> None:
        self._latest: tuple[Path, GrayImage] | None = None

    def gray(self, path: Path) -> GrayImage:
        if self._latest is None or self._latest[0] != path:
            image = load_gray(path)
            image.setflags(write=False)
            self._latest = (path, image)
        return self._latest[1]


def read_crops(
    image_path: Path,
    boxes: list[tuple[Box, CropStyle]],
    engine: OcrEngine,
    page_no: int,
    decoded: DecodedImages | None = None,
) -> list[list[Word]]:
    """The words inside each box of the page image, in page coordinates (line keys still to be set), left
    to right: one OCR run over a strip of the crops (two when some are wider than WIDE_CROP_PX)."""
    image = (decoded or DecodedImages()).gray(image_path)
    crops = [(*_crop(image, box, style), style.scale) for box, style in boxes]
    found: list[list[Word]] = [[] for _ in crops]
    for number, members in enumerate(strips_by_width(crops)):
        strip_path = image_path.with_name(f"{image_path.stem}-words-{number}.pgm")
        read = read_strip([crops[member] for member in members], strip_path, engine, page_no)
        for member, words in zip(members, read, strict=True):
            found[member] = words
    return found


def read_strip(crops: list[Crop], strip_path: Path, engine: OcrEngine, page_no: int) -> list[list[Word]]:
    """The words inside each crop, read in one OCR run over their strip, in page coordinates, left to right."""
    placed = crop_strip(crops, strip_path)
    try:
        read = engine.read(strip_path, page_no).words
    finally:
        strip_path.unlink(missing_ok=True)
    found = []
    for place in placed:
        strip_top, height = place[0], place[1]
        inside = sorted((w for w in read if strip_top <= w.cy < strip_top + height), key=lambda w: w.x0)
        found.append([_on_page(w, place, w.line_key) for w in without_crop_edges(inside)])
    return found


# A crop's edge cuts through the strokes of a neighbouring letter or rule, which OCR reads as a bar or a
# bracket beside the word ("18]" and "18 |" for "18"); no value printed in a field ends in one.
CROP_EDGE_MARKS = "|[]"


def without_crop_edges(words: list[Word]) -> list[Word]:
    """The words read in a crop with the bars and brackets at their ends taken off; a word of nothing else
    is dropped."""
    trimmed = [w.model_copy(update={"text": w.text.strip(CROP_EDGE_MARKS)}) for w in words]
    return [w for w in trimmed if w.text]


def word_groups(words: list[Word]) -> list[list[Word]]:
    """The words, those side by side on one line (less than a text height apart) in one group: read as one
    crop, "4 109,12" keeps its thousands separator instead of coming back as "4" and "109,12"."""
    groups: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.line_key, w.x0)):
        last = groups[-1][-1] if groups else None
        height = max(word.y1 - word.y0, last.y1 - last.y0) if last is not None else 0.0
        if last is not None and last.line_key == word.line_key and 0 <= word.x0 - last.x1 < GROUP_GAP * height:
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def _group_box(group: list[Word]) -> Box:
    return (
        int(min(w.x0 for w in group)),
        int(min(w.y0 for w in group)),
        int(max(w.x1 for w in group)),
        int(max(w.y1 for w in group)),
    )


def reread_page(
    page: PageText,
    image_path: Path,
    engine: OcrEngine,
    words: list[Word],
    find_gaps: bool,
    styles: Mapping[str, CropStyle] = WORD_STYLES,
    decoded: DecodedImages | None = None,
) -> tuple[dict[str, dict[int, list[Word]]], list[Word]]:
    """One OCR run over `words` (by `word_groups`), cropped in each of `styles`, and, with `find_gaps`, the
    patches of ink where the first reading found no word. Returns, per style, id of each word -> its new
    reading (when `_worth_taking`; a group's first word takes the group's reading, the others none), and the
    words read in the gaps (line keys past the first reading's)."""
    decoded = decoded or DecodedImages()
    regions = gap_regions(decoded.gray(image_path), page) if find_gaps else []
    groups = word_groups(words)
    boxes = [(_group_box(group), style) for style in styles.values() for group in groups]
    boxes += [(region, ENLARGED) for region in regions]
    if not boxes:
        return {}, []
    read = read_crops(image_path, boxes, engine, page.page_no, decoded)
    readings: dict[str, dict[int, list[Word]]] = {}
    for number, name in enumerate(styles):
        found = read[number * len(groups) : (number + 1) * len(groups)]
        taken: dict[int, list[Word]] = {}
        for group, new in zip(groups, found, strict=True):
            if _worth_taking(new):
                taken[id(group[0])] = [w.model_copy(update={"line_key": group[0].line_key}) for w in new]
                taken.update((id(rest), []) for rest in group[1:])
        if taken:
            readings[name] = taken
    in_gaps = [
        w.model_copy(update={"line_key": (_SECOND_BLOCKS + number, 0, 0)})
        for number, new in enumerate(read[len(styles) * len(groups) :])
        for w in new
    ]
    return readings, in_gaps


def _worth_taking(words: list[Word]) -> bool:
    """A word's new reading replaces the first when it has a digit ("151.22" for "151522"). Not a word
    without one: OCR was as sure of "Oue" for "Due" as of anything (measured), and a broken label costs more
    than a mended one buys."""
    return any(ch.isdigit() for w in words for ch in w.text)


def reread_words(page: PageText, image_path: Path, engine: OcrEngine) -> dict[int, list[Word]]:
    """The page's unsure words read again one by one: id of each word -> its new reading (when
    `_worth_taking`: a word that came back empty, or without a digit, keeps its first reading)."""
    readings, _ = reread_page(page, image_path, engine, unsure_words(page), False, {REREADS: ENLARGED})
    return readings.get(REREADS, {})


def with_words_reread(pages: list[PageText], readings: Mapping[int, list[Word]]) -> list[PageText]:
    """The pages with each re-read word replaced by its new reading."""
    return [
        page.model_copy(update={"words": [new for w in page.words for new in readings.get(id(w), [w])]})
        for page in pages
    ]


def with_gap_words(pages: list[PageText], gaps: Mapping[int, list[Word]]) -> list[PageText]:
    """The pages with the words read in their gaps added (those that cover no word read first)."""
    return [
        merged_page(page, page.model_copy(update={"words": gaps[page.page_no]}), second_wins=False)
        if page.page_no in gaps
        else page
        for page in pages
    ]


@dataclass(frozen=True)
class Look:
    """The reading the second look settled on, its rules extraction (None when no page was OCR'd: nothing
    was extracted) and how it got there: NOT_TAKEN, PASSED, KEPT or the winning candidate's name."""

    pages: list[PageText]
    extraction: ExtractionResult | None
    outcome: str


def look_again(
    pages: list[PageText],
    cleaned_images: Mapping[int, Path],
    engine: OcrEngine,
    decoded: DecodedImages | None = None,
) -> Look:
    """The pages as read, or a second reading of them that passes more of the invoice's cross-checks: the
    first reading with the words found where it read none, with its doubted words read again on their own,
    or both. One OCR run per page, over crops only. `decoded`: the document's decoded pages, shared with the
    re-reads that follow (pipeline/party_ink.py)."""
    ocr_pages = [page for page in pages if page.source is TextSource.OCR and page.page_no in cleaned_images]
    if not ocr_pages:
        return Look(pages, None, NOT_TAKEN)
    first = extract_invoice(pages)
    if not failures_that_count(first):
        return settle_id_slip(Look(pages, first, PASSED), cleaned_images, engine, decoded)
    readings: dict[str, dict[int, list[Word]]] = {}
    gaps: dict[int, list[Word]] = {}
    decoded = decoded or DecodedImages()
    for page in ocr_pages:
        words = doubted_words(page, first)
        found, in_gaps = reread_page(page, cleaned_images[page.page_no], engine, words, True, decoded=decoded)
        for name, taken in found.items():
            readings.setdefault(name, {}).update(taken)
        if in_gaps:
            gaps[page.page_no] = in_gaps
    candidates: dict[str, list[PageText]] = {GAPS: with_gap_words(pages, gaps)} if gaps else {}
    for name, taken in readings.items():
        candidates[name] = with_words_reread(pages, taken)
        if gaps:
            candidates[f"{GAPS}+{name}"] = with_words_reread(candidates[GAPS], taken)
    return settle_id_slip(best_reading(pages, first, candidates), cleaned_images, engine, decoded)


def best_reading(pages: list[PageText], first: ExtractionResult, candidates: Mapping[str, list[PageText]]) -> Look:
    """The candidate that fails fewer cross-checks than the first reading (or the same with more header
    fields found) and changes no field the first reading's failures left undoubted; else the first. When the
    best candidates pass as many checks but read a header field differently ("13263" enlarged, "73263" as
    scanned), nothing tells which is right: the first reading is kept, and its failed checks send it to review."""
    scored = []
    for name, candidate in candidates.items():
        result = extract_invoice(candidate)
        key = reading_key(result)
        if key < reading_key(first) and not changed_beyond_doubt(first, result):
            scored.append((key, name, candidate, result))
    if not scored:
        return Look(pages, first, KEPT)
    best_key = min(key for key, *_ in scored)
    best = [(name, candidate, result) for key, name, candidate, result in scored if key == best_key]
    readings = {tuple(getattr(result.invoice, field, None) for field in HEADER_FIELDS) for *_, result in best}
    if len(readings) > 1:
        return Look(pages, first, KEPT)
    name, candidate, result = best[0]
    return Look(candidate, result, name)


def second_look(pages: list[PageText], cleaned_images: Mapping[int, Path], engine: OcrEngine) -> list[PageText]:
    """The pages as read, or the second reading `look_again` settled on."""
    return look_again(pages, cleaned_images, engine).pages


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


def settle_id_slip(
    look: Look, cleaned_images: Mapping[int, Path], engine: OcrEngine, decoded: DecodedImages | None = None
) -> Look:
    """An OCR'd invoice number with a character OCR confuses standing among characters of the other kind
    ("8C-249858", see pipeline/extract/misreads.py) is read again on its own, enlarged. When that reading is
    the other kind's ("BC-249858") and nothing else changes, the value takes it; it keeps a doubt naming
    both readings, so a person still confirms which one is printed."""
    result = look.extraction
    found = result.fields.get("invoice_number") if result is not None else None
    if result is None or found is None or found.bbox is None or found.page not in cleaned_images:
        return look
    value = str(found.value)
    alternative = confusable_id_slip(value)
    page = next((p for p in look.pages if p.page_no == found.page and p.source is TextSource.OCR), None)
    if alternative is None or page is None:
        return look
    holding = [w for w in page.words if value in w.text and _inside(page, w, [found.bbox])]
    if len(holding) != 1:
        return look  # the number is one word as OCR read it, or it is left as read
    word = holding[0]
    box = [(_group_box([word]), ENLARGED)]
    reread = read_crops(cleaned_images[page.page_no], box, engine, page.page_no, decoded)[0]
    read_again = "".join(w.text for w in reread)
    alternative = other_kind_at_slip(word.text, value, alternative, read_again)
    if alternative is None:
        return look
    mended = with_words_reread(look.pages, {id(word): [word.model_copy(update={"text": read_again})]})
    second = extract_invoice(mended)
    if second.invoice.invoice_number != alternative or changed_fields(result, second) != ["invoice_number"]:
        return look
    if reading_key(second) > reading_key(result):
        return look
    doubted = with_doubt(second, "invoice_number", _slip_doubt(value, alternative))
    return Look(mended, doubted, f"{look.outcome}+{ID_REREAD}")


def other_kind_at_slip(word: str, value: str, alternative: str, read_again: str) -> str | None:
    """The ID as read again when that reading differs from the word only where `alternative` puts its slip,
    and there reads a character of the other kind (a letter for "1S-19666-23" read "TS-19666-23", not
    only the letter the digit looks like); else None."""
    start = word.find(value)
    slip = next((i for i, (a, b) in enumerate(zip(value, alternative, strict=True)) if a != b), None)
    if start < 0 or slip is None or len(read_again) != len(word):
        return None
    at = start + slip
    differs = [i for i, (a, b) in enumerate(zip(word, read_again, strict=True)) if a != b]
    if differs != [at] or word[at].isdigit() == read_again[at].isdigit() or not read_again[at].isalnum():
        return None
    return read_again[start : start + len(value)]


def _slip_doubt(value: str, alternative: str) -> str:
    return (
        f"the invoice number was read {value!r} on the page and {alternative!r} enlarged: a character OCR "
        "confuses (8/B, 0/O, 1/I, 5/S); check which one is printed"
    )


def changed_fields(first: ExtractionResult, second: ExtractionResult) -> list[str]:
    """Header fields the two readings read differently."""
    return [name for name in HEADER_FIELDS if getattr(first.invoice, name, None) != getattr(second.invoice, name, None)]


def with_doubt(result: ExtractionResult, name: str, doubt: str) -> ExtractionResult:
    """The extraction with one more doubt on a field's evidence (routing sends it to review, naming it)."""
    found: FieldValue = result.fields[name]
    evidence = found.evidence or FieldEvidence()
    evidence = evidence.model_copy(update={"doubts": [*evidence.doubts, doubt]})
    fields = {**result.fields, name: found.model_copy(update={"evidence": evidence})}
    return result.model_copy(update={"fields": fields})
