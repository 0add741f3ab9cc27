"""Reading PDFs back as a reader sees them: every word with its box, from PDFium (pypdfium2),
so that text drawn over text, or a running header, can be checked page by page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Two words overlap when their boxes share more than this, in points, both ways: the glyph
# boxes of neighbouring words on a line touch at most; text drawn over text shares far more.
TOLERANCE = 1.0


@dataclass(frozen=True)
class Word:
    text: str
    left: float
    bottom: float
    right: float
    top: float


@dataclass(frozen=True)
class Overlap:
    page: int
    first: Word
    second: Word

    def __str__(self) -> str:
        return (
            f"page {self.page}: {self.first.text!r} and {self.second.text!r} overlap at "
            f"({self.second.left:.0f}, {self.second.top:.0f})"
        )


def words(textpage: Any) -> list[Word]:
    """The page's words: runs of characters, split at spaces and where the text jumps."""
    out: list[Word] = []
    text = textpage.get_text_range()
    cur: list[Any] | None = None
    for i in range(textpage.count_chars()):
        ch = text[i] if i < len(text) else ""
        if not ch or ch.isspace():
            if cur:
                out.append(Word(cur[4], *cur[:4]))
            cur = None
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        if cur is not None and (
            left - cur[2] > 1.5 or abs(bottom - cur[1]) > 2 or left < cur[0] - 0.5
        ):
            out.append(Word(cur[4], *cur[:4]))
            cur = None
        if cur is None:
            cur = [left, bottom, right, top, ch]
        else:
            cur = [
                min(cur[0], left),
                min(cur[1], bottom),
                max(cur[2], right),
                max(cur[3], top),
                cur[4] + ch,
            ]
    if cur:
        out.append(Word(cur[4], *cur[:4]))
    return out


def overlaps(path: Path) -> list[Overlap]:
    """Every pair of words, on every page, whose boxes overlap by more than TOLERANCE."""
    import pypdfium2 as pdfium

    found: list[Overlap] = []
    pdf = pdfium.PdfDocument(str(path))
    try:
        for n in range(len(pdf)):
            page = pdf[n]
            ws = sorted(words(page.get_textpage()), key=lambda w: -w.top)
            for i, a in enumerate(ws):
                for b in ws[i + 1 :]:
                    if b.top <= a.bottom + TOLERANCE:
                        break  # sorted by top, downwards: no later word reaches up into this one
                    dx = min(a.right, b.right) - max(a.left, b.left)
                    dy = min(a.top, b.top) - max(a.bottom, b.bottom)
                    if dx > TOLERANCE and dy > TOLERANCE:
                        found.append(Overlap(n + 1, a, b))
    finally:
        pdf.close()
    return found


def header_texts(path: Path, height: float = 48.0) -> list[str]:
    """The running header of each page: the text within `height` points of its top edge."""
    import pypdfium2 as pdfium

    out = []
    pdf = pdfium.PdfDocument(str(path))
    try:
        for n in range(len(pdf)):
            page = pdf[n]
            w, h = page.get_size()
            out.append(page.get_textpage().get_text_bounded(0, h - height, w, h))
    finally:
        pdf.close()
    return out


def page_sizes(path: Path) -> list[tuple[float, float]]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [tuple(pdf[n].get_size()) for n in range(len(pdf))]  # type: ignore[misc]
    finally:
        pdf.close()
