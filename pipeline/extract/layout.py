"""Page geometry: words grouped into visual rows, and rows split into phrases at wide gaps.

Everything downstream reasons about phrases ("Invoice No.", "INV-2024-001", "1,234.56") and their
positions, which is what lets one set of rules read many layouts without templates.
"""

from __future__ import annotations

import re
import statistics
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas import BoundingBox, PageText, TextSource, Word


class _measured_once:  # a decorator, like property
    """A property worked out on first use and kept in the instance (functools.cached_property without its
    lock, which cost more than most of what it kept)."""

    def __init__(self, measure: Callable[[Any], Any]) -> None:
        self.measure = measure
        self.name = measure.__name__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.measure(instance)
        return value


@dataclass
class Phrase:
    """Words read as one phrase. Its words never change once it is made (a longer or shorter phrase is a new
    Phrase), so what is measured on them (text, edges, height) is worked out once, on first use: extraction
    asks a phrase's text and edges hundreds of thousands of times a document."""

    words: list[Word]
    page_no: int
    page_width: float
    page_height: float
    row_index: int = -1

    @_measured_once
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @_measured_once
    def x0(self) -> float:
        return min(word.x0 for word in self.words)

    @_measured_once
    def x1(self) -> float:
        return max(word.x1 for word in self.words)

    @_measured_once
    def y0(self) -> float:
        return min(word.y0 for word in self.words)

    @_measured_once
    def y1(self) -> float:
        return max(word.y1 for word in self.words)

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @_measured_once
    def height(self) -> float:
        return statistics.median(word.height for word in self.words)

    @_measured_once
    def shape_heights(self) -> dict[tuple[bool, bool], float]:
        """The median height of each word shape among the words (see `_heights_by_shape`); read-only."""
        return _heights_by_shape(self.words)

    @property
    def confidence(self) -> float:
        return min(word.confidence for word in self.words)

    def bbox(self, words: list[Word] | None = None) -> BoundingBox:
        chosen = words or self.words

        def clamp(value: float) -> float:
            return min(max(value, 0.0), 1.0)

        return BoundingBox(
            x0=clamp(min(w.x0 for w in chosen) / self.page_width),
            y0=clamp(min(w.y0 for w in chosen) / self.page_height),
            x1=clamp(max(w.x1 for w in chosen) / self.page_width),
            y1=clamp(max(w.y1 for w in chosen) / self.page_height),
        )

    def tail(self, start_word: int) -> Phrase:
        return Phrase(self.words[start_word:], self.page_no, self.page_width, self.page_height, self.row_index)


# Letters that reach the cap height or an ascender line, and letters that descend below the baseline: a word's
# box is as tall as the letters it holds, so type sizes are compared between words of the same shape.
_TALL_LETTERS = frozenset("bdfhklt")
_DESCENDING_LETTERS = frozenset("gjpqyQ")


def _word_shape(text: str) -> tuple[bool, bool]:
    tall = any(ch.isupper() or ch.isdigit() or ch in _TALL_LETTERS for ch in text)
    return tall, any(ch in _DESCENDING_LETTERS for ch in text)


def _heights_by_shape(words: list[Word]) -> dict[tuple[bool, bool], float]:
    """The median box height of each word shape among ``words`` (punctuation-only words left out)."""
    heights: dict[tuple[bool, bool], list[float]] = {}
    for word in words:
        if any(ch.isalnum() for ch in word.text):
            heights.setdefault(_word_shape(word.text), []).append(word.height)
    return {shape: statistics.median(values) for shape, values in heights.items()}


def shape_scales(rows: list[list[Word]]) -> dict[tuple[bool, bool], float]:
    """How tall each word shape measures next to words with capitals or ascenders and no descenders, in the
    same rows (so in the same type): 1.0 everywhere in a text layer, whose boxes are the font's; about 1.25
    for "Group" next to "Retail" in OCR boxes, which hug the ink."""
    ratios: dict[tuple[bool, bool], list[float]] = {}
    for row in rows:
        heights = _heights_by_shape(row)
        reference = heights.pop((True, False), 0.0)
        for shape, height in heights.items():
            if reference > 0:
                ratios.setdefault(shape, []).append(height / reference)
    return {(True, False): 1.0, **{shape: statistics.median(values) for shape, values in ratios.items()}}


def type_size_ratio(
    first: Phrase, second: Phrase, scales: dict[tuple[bool, bool], float] | None = None
) -> float | None:
    """How large ``second``'s type is next to ``first``'s (1.0: the same size), comparing words of the same
    shape ("Practice" with "Seestrasse": capitals or ascenders, no descenders). With no shape in both lines,
    each word's height is scaled by how tall its shape measures on the page (``scales``, see `shape_scales`);
    None when nothing can be said."""
    ours, theirs = first.shape_heights, second.shape_heights
    if not ours or not theirs:
        return None  # punctuation only: no letters to measure
    shared = [theirs[shape] / ours[shape] for shape in ours.keys() & theirs.keys() if ours[shape] > 0]
    if shared:
        return statistics.median(shared)
    if not scales or not (ours.keys() | theirs.keys()) <= scales.keys():
        return None
    scaled = [statistics.median(h / scales[shape] for shape, h in side.items()) for side in (ours, theirs)]
    return scaled[1] / scaled[0] if scaled[0] > 0 else None


@dataclass
class Row:
    phrases: list[Phrase]
    page_no: int
    index: int
    y0: float
    y1: float
    page_height: float
    page_width: float

    @property
    def text(self) -> str:
        return "  ".join(phrase.text for phrase in self.phrases)

    @property
    def words(self) -> list[Word]:
        return [word for phrase in self.phrases for word in phrase.words]

    @property
    def height(self) -> float:
        return statistics.median(word.height for word in self.words)


@dataclass
class PageLayout:
    page_no: int
    width: float
    height: float
    rows: list[Row] = field(default_factory=list)
    median_word_height: float = 10.0
    shape_scale: dict[tuple[bool, bool], float] = field(default_factory=dict)  # see `shape_scales`


def _group_rows(words: list[Word]) -> list[list[Word]]:
    """Words whose vertical centres lie within half a line height of a row's centre share that row."""
    rows: list[list[Word]] = []
    centres: list[float] = []
    heights: list[float] = []
    row_heights: list[float] = []  # the last row's word heights, kept sorted: its median without sorting anew
    for word in sorted(words, key=lambda w: (w.cy, w.x0)):
        if rows and abs(word.cy - centres[-1]) <= 0.5 * max(heights[-1], word.height):
            rows[-1].append(word)
            count = len(rows[-1])
            centres[-1] += (word.cy - centres[-1]) / count
            insort(row_heights, word.height)
            heights[-1] = _sorted_median(row_heights)
        else:
            rows.append([word])
            centres.append(word.cy)
            heights.append(word.height)
            row_heights = [word.height]
    return rows


def _sorted_median(ordered: list[float]) -> float:
    """statistics.median of values already sorted (the same value: the middle one, or the mean of the two)."""
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


_RULE_MARKS = frozenset({"|", "||", "¦", "│", "[", "]", "!"})


def _split_phrases(row_words: list[Word], gap_factor: float, min_height: float = 0.0) -> list[list[Word]]:
    """Split a row at wide gaps and at table rules, which OCR reads as "|" marks.

    The gap is measured against the row's text height, but never less than ``min_height``: specks
    read as tiny words must not make ordinary spaces look wide.
    """
    ordered = sorted(row_words, key=lambda w: w.x0)
    height = max(statistics.median(w.height for w in ordered), min_height)
    phrases: list[list[Word]] = [[]]
    for word in ordered:
        if word.text in _RULE_MARKS:
            phrases.append([])
            continue
        if phrases[-1] and word.x0 - phrases[-1][-1].x1 > gap_factor * height:
            phrases.append([])
        phrases[-1].append(word)
    return [phrase for phrase in phrases if phrase]


def _is_speck(word: Word, typical_height: float) -> bool:
    """OCR's reading of dot leaders, dust or stamp fragments: short, low, unsure and without digits."""
    text = word.text
    if word.confidence >= 0.5 or any(ch.isdigit() for ch in text):
        return False
    # a run of dots is read as a low line of letters, or as one long unsure non-word
    return (word.height < 0.7 * typical_height and len(text) <= 6) or len(text) > 15


def _rejoin_split_capitals(row_words: list[Word]) -> list[Word]:
    """OCR splits a letter-spaced capital from its word ("J uniper", "C orp."): join them back.

    Only a lone capital other than the English words "A" and "I", directly followed by a lower-case
    word at less than a normal space, is joined.
    """
    ordered = sorted(row_words, key=lambda w: w.x0)
    result: list[Word] = []
    for word in ordered:
        if result:
            previous = result[-1]
            lone_capital = len(previous.text) == 1 and previous.text.isupper() and previous.text not in "AI"
            gap = word.x0 - previous.x1
            if lone_capital and word.text[:1].islower() and gap < 0.5 * max(previous.height, word.height):
                result[-1] = previous.model_copy(
                    update={
                        "text": previous.text + word.text,
                        "x1": word.x1,
                        "y0": min(previous.y0, word.y0),
                        "y1": max(previous.y1, word.y1),
                        "confidence": min(previous.confidence, word.confidence),
                    }
                )
                continue
        result.append(word)
    return result


# A run of leader dots or underscores ("..........", "____"): a drawn guide line, not text. A text layer
# may lay it under a label and its value alike, which would glue the two into one phrase.
_LEADER = re.compile(r"^[.\u2026\u00b7_]{4,}$")


def build_layout(page: PageText, gap_factor: float = 1.1) -> PageLayout:
    words = [w for w in page.words if w.text.strip() and w.height > 0 and not _LEADER.match(w.text.strip())]
    layout = PageLayout(page_no=page.page_no, width=page.width, height=page.height)
    if not words:
        return layout
    layout.median_word_height = statistics.median(w.height for w in words)
    if page.source is TextSource.OCR:
        words = [w for w in words if not _is_speck(w, layout.median_word_height)] or words
    grouped = _group_rows(words)
    layout.shape_scale = shape_scales(grouped)
    for index, row_words in enumerate(grouped):
        if page.source is TextSource.OCR:
            row_words = _rejoin_split_capitals(row_words)
        chunks = _split_phrases(row_words, gap_factor, 0.75 * layout.median_word_height)
        if not chunks:
            continue
        row_words = [word for chunk in chunks for word in chunk]
        phrases = [Phrase(chunk, page.page_no, page.width, page.height, index) for chunk in chunks]
        layout.rows.append(
            Row(
                phrases=phrases,
                page_no=page.page_no,
                index=index,
                y0=min(w.y0 for w in row_words),
                y1=max(w.y1 for w in row_words),
                page_height=page.height,
                page_width=page.width,
            )
        )
    return layout


def within_a_space(left: Word, right: Word) -> bool:
    """`right` follows `left` at about a typed space's distance or less (0.6 of the taller word's height):
    OCR splits one printed token at such gaps ("INV -2023-001", "INV" "988722")."""
    return right.x0 - left.x1 < 0.6 * max(right.height, left.height)


def horizontal_overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """Overlap of two spans as a share of the shorter one."""
    overlap = min(a1, b1) - max(a0, b0)
    shorter = max(min(a1 - a0, b1 - b0), 1e-6)
    return max(overlap, 0.0) / shorter
