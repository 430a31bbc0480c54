"""Ink on a party name's line that OCR read no word in: the name may be longer than it was read.

Tesseract sometimes drops a short word at the end (or start) of a line in large type: "Blue Harbor Foods SA"
comes back as "Blue Harbor Foods", a name that is plausible, printed nowhere else, and wrong. The page still
shows the word: ink about a space beyond the name's last word that no word read covers. When a vendor or
customer name read by OCR has such ink beside it, the line is read again, cut out and enlarged:

- the enlarged reading repeats the name's words and adds only a legal form read with confidence ("SA",
  "GmbH") where the ink is: the name takes it, and the record is extracted again (nothing else may change);
- any other outcome (nothing more read, other words, the name read otherwise): the name keeps its reading and
  gets a doubt naming the unread ink, so routing sends the record to a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2

from pipeline.engines.ocr import OcrEngine
from pipeline.extract import extract_invoice
from pipeline.extract.labels import LEGAL_FORM_ONLY
from pipeline.preprocess import LABELLING, GrayImage
from pipeline.second_look import (
    ENLARGED,
    MASK_MARGIN_PX,
    Box,
    DecodedImages,
    Look,
    changed_fields,
    read_crops,
    reading_key,
    with_doubt,
    with_words_reread,
)
from schemas import BoundingBox, ExtractionResult, PageText, TextSource, Word

PARTY_FIELDS = ("vendor_name", "customer_name")
# Ink that starts within this many text heights of the name's first or last word is on the name's line, about
# a space away: a dropped word. A title or a column further along the line is not.
INK_REACH = 1.5
INK_SEARCH = 6.0  # how far along the line ink that runs on from there is followed, in text heights
# A piece of ink counts when it is at least this share of the name's text height (a letter, not a speck) and
# at most this many text heights tall (a letter, not a logo or a rule).
INK_MIN_HEIGHT = 0.4
INK_MAX_HEIGHT = 1.5
INK_MIN_WIDTH = 0.15
# The enlarged reading's extra word is taken only when OCR is this sure of it.
SURE_WORD_CONFIDENCE = 0.9
INK_SETTLED = "party_ink"


def settle_party_ink(
    look: Look, cleaned_images: Mapping[int, Path], engine: OcrEngine, decoded: DecodedImages | None = None
) -> Look:
    """The look with each OCR'd party name checked for unread ink beside it (see the module's docstring).
    `decoded`: the document's decoded pages (the second look's: both names usually sit on page 1, decoded
    once for the look, the ink and its re-read)."""
    decoded = decoded or DecodedImages()
    for name in PARTY_FIELDS:
        look = _settle_one(look, name, cleaned_images, engine, decoded)
    return look


def _settle_one(
    look: Look, name: str, cleaned_images: Mapping[int, Path], engine: OcrEngine, decoded: DecodedImages
) -> Look:
    result = look.extraction
    found = result.fields.get(name) if result is not None else None
    if result is None or found is None or found.bbox is None or found.page not in cleaned_images:
        return look
    page = next((p for p in look.pages if p.page_no == found.page and p.source is TextSource.OCR), None)
    line = _name_line(page, found.bbox) if page is not None else []
    if page is None or not line:
        return look
    ink = unread_ink_beside(decoded.gray(cleaned_images[page.page_no]), page, line)
    if ink is None:
        return look
    reread = read_crops(cleaned_images[page.page_no], [(ink, ENLARGED)], engine, page.page_no, decoded)[0]
    extra = _extra_legal_form(line, reread)
    if extra is not None:
        mended = _mended(look, result, name, line, extra)
        if mended is not None:
            return mended
    read_as = " ".join(w.text for w in reread) or "nothing"
    doubt = (
        f"the {name.replace('_', ' ')} {found.value!r} has unread ink beside it on its line (read enlarged: "
        f"{read_as!r}): a word of the name may be missing"
    )
    return Look(look.pages, with_doubt(result, name, doubt), look.outcome)


def _name_line(page: PageText, bbox: BoundingBox) -> list[Word]:
    """The words of the name's last line (a name may wrap), left to right."""
    width, height = max(page.width, 1.0), max(page.height, 1.0)
    inside = [w for w in page.words if bbox.x0 <= w.cx / width <= bbox.x1 and bbox.y0 <= w.cy / height <= bbox.y1]
    if not inside:
        return []
    last = max(inside, key=lambda w: w.cy)
    return sorted((w for w in inside if w.line_key == last.line_key), key=lambda w: w.x0)


def _top(line: list[Word]) -> int:
    return int(min(w.y0 for w in line))


def _bottom(line: list[Word]) -> int:
    return int(max(w.y1 for w in line)) + 1


def _text_height(line: list[Word]) -> float:
    return max(_bottom(line) - _top(line), 1)


def unread_ink_beside(image: GrayImage, page: PageText, line: list[Word]) -> Box | None:
    """The box of the line grown by letter-sized ink that no word read covers, starting within INK_REACH text
    heights before the line's first word or after its last (and the ink that runs on from it at gaps no
    wider); None when there is no such ink. The band is binarised with its own threshold (the name's letters
    included, so the background's grain stays white) before the read words are blanked."""
    height = _text_height(line)
    top, bottom = _top(line), _bottom(line)
    left = max(int(line[0].x0 - INK_SEARCH * height), 0)
    right = min(int(line[-1].x1 + INK_SEARCH * height), image.shape[1])
    band = image[top:bottom, left:right]
    if band.size == 0:
        return None
    _, ink = cv2.threshold(band, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    for word in page.words:
        x0, x1 = int(word.x0) - MASK_MARGIN_PX - left, int(word.x1) + MASK_MARGIN_PX + 1 - left
        y0, y1 = int(word.y0) - MASK_MARGIN_PX - top, int(word.y1) + MASK_MARGIN_PX + 1 - top
        if x1 > 0 and y1 > 0 and x0 < ink.shape[1] and y0 < ink.shape[0]:
            ink[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 0
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(ink, 8, cv2.CV_32S, LABELLING)
    letters = [
        (int(x) + left, int(x + w) + left)
        for x, _y, w, h, _area in stats[1:]
        if INK_MIN_HEIGHT * height <= h <= INK_MAX_HEIGHT * height and w >= INK_MIN_WIDTH * height
    ]
    start, end = _ink_run(letters, line[0].x0, line[-1].x1, INK_REACH * height)
    if start >= line[0].x0 and end <= line[-1].x1:
        return None
    return int(start), top, int(end), bottom


def _ink_run(letters: list[tuple[int, int]], start: float, end: float, gap: float) -> tuple[float, float]:
    """The span from `start` to `end` grown by every piece of ink less than `gap` beyond it, on either side."""
    grown = True
    while grown:
        grown = False
        for x0, x1 in letters:
            if end < x1 and x0 - end < gap:
                end, grown = x1, True
            if x0 < start and start - x1 < gap:
                start, grown = x0, True
    return start, end


def _extra_legal_form(line: list[Word], reread: list[Word]) -> list[Word] | None:
    """The enlarged reading's words beyond the name's, when it repeats the name's words exactly and adds only
    a legal form OCR was sure of; else None."""
    texts = [w.text for w in line]
    for start in range(len(reread) - len(texts) + 1):
        if [w.text for w in reread[start : start + len(texts)]] != texts:
            continue
        extra = reread[:start] + reread[start + len(texts) :]
        words_ok = all(w.confidence >= SURE_WORD_CONFIDENCE for w in extra)
        if extra and words_ok and LEGAL_FORM_ONLY.match(" ".join(w.text for w in extra)):
            return extra
    return None


def _mended(look: Look, result: ExtractionResult, name: str, line: list[Word], extra: list[Word]) -> Look | None:
    """The pages with the legal form put on the name's line, extracted again: kept when the name is the only
    field that changed, now with the legal form, and the reading fails no more cross-checks."""
    placed = [w.model_copy(update={"line_key": line[0].line_key}) for w in extra]
    before = [w for w in placed if w.x1 <= line[0].x0]
    after = [w for w in placed if w.x1 > line[0].x0]
    readings = {id(line[0]): [*before, line[0]], id(line[-1]): [line[-1], *after]}
    if len(line) == 1:
        readings = {id(line[0]): [*before, line[0], *after]}
    pages = with_words_reread(look.pages, readings)
    second = extract_invoice(pages)
    value = str(second.fields[name].value) if name in second.fields else ""
    form = " ".join(w.text for w in extra)
    if changed_fields(result, second) != [name] or form not in value or reading_key(second) > reading_key(result):
        return None
    return Look(pages, second, f"{look.outcome}+{INK_SETTLED}")
