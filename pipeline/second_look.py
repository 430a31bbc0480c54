"""A second look at OCR'd pages whose first reading fails the invoice's own cross-checks.

On degraded scans Tesseract's page segmentation (psm 3) sometimes drops whole labels ("Invoice No",
"Subtotal", "Due date") or misreads a digit, so a field goes missing or the amounts stop adding up. When
that happens, and only then, each OCR'd page is read once more in another segmentation mode (sparse text,
psm 11, which finds text psm 3 skipped) and two merged readings are tried:

- the first reading plus the words only the second one found (text psm 3 dropped);
- the second reading plus the words only the first one found (each word read the other way).

A merged reading is kept only when extraction on it fails fewer cross-checks (a missing field, amounts
that do not add up, a label with no readable value, a date order that breaks), or fails the same ones
with more header fields found. Nothing is taken on trust: the chosen reading is extracted, validated,
corroborated and routed like any first reading, so a value it brings must still fit the arithmetic and
carry its own evidence to be accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline.engines.ocr import OcrEngine
from pipeline.extract import extract_invoice
from pipeline.validate import validate_invoice
from schemas import HEADER_FIELDS, ExtractionResult, IssueCode, PageText, Severity, TextSource, Word

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
# Words of the two readings are one printed word when their boxes share this much of the smaller box.
SAME_WORD_OVERLAP = 0.3
# Line keys of words taken from the second reading are shifted past the first reading's.
_SECOND_BLOCKS = 10_000

ReadingKey = tuple[int, int]


def check_failures(result: ExtractionResult) -> set[tuple[str, str | None]]:
    """The cross-checks a reading fails: (issue code, field) of its blocking extraction and validation issues."""
    issues = [*result.issues, *validate_invoice(result.invoice)]
    return {
        (issue.code.value, issue.field)
        for issue in issues
        if issue.code in CROSS_CHECK_CODES and issue.severity is Severity.BLOCKING
    }


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


def second_look(pages: list[PageText], cleaned_images: Mapping[int, Path], engine: OcrEngine) -> list[PageText]:
    """The pages as read, or a merged reading of them that passes more of the invoice's cross-checks."""
    if not cleaned_images or not any(page.source is TextSource.OCR for page in pages):
        return pages
    best_key = reading_key(extract_invoice(pages))
    if best_key[0] == 0:
        return pages
    best = pages
    for candidate in merged_readings(pages, second_readings(cleaned_images, engine)):
        key = reading_key(extract_invoice(candidate))
        if key < best_key:
            best, best_key = candidate, key
    return best
