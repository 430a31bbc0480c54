"""OCR words laid out by hand, for tests that read a page without rendering one."""

from __future__ import annotations

from schemas import Word


def row_of_words(
    y: float, *phrases: tuple[float, str], char_width: float = 7, height: float = 10, confidence: float = 0.9
) -> list[Word]:
    """The words of each (x, text) phrase on one row at `y`, a word `char_width` a character wide, a space apart."""
    words = []
    for x, text in phrases:
        for word in text.split():
            width = char_width * len(word)
            words.append(Word(text=word, page_no=1, x0=x, y0=y, x1=x + width, y1=y + height, confidence=confidence))
            x += width + 4
    return words
