"""Line breaks and column widths for the PDF that never cut a figure in two.

fpdf2 breaks a line at spaces only; a word wider than its cell it cuts wherever the cell
ends, so a 19-digit post id, a date or "1,234,567,890" views came out as "1900000000000010" /
"660". Here every paragraph and cell is broken before fpdf2 sees it, and only where a reader
expects it: after a space, or after punctuation inside an id, handle, URL or path
(``did:plc:…/`` ``post/`` ``3kabc…``) — never between two digits (``1,234,567``,
``2024-08-01``, ``12:00`` stay whole). Table columns are sized so that the widest such piece
of every cell fits, shrinking the type before anything is cut; only a "word" of free text
wider than its column (a run of dozens of letters) is ever cut, and never one with a digit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: a line may break after these inside a token, unless they stand between two digits
_BREAK_AFTER = frozenset("/:@._-?&=#,;|+")
#: width a free-text column gets at least (mm), whatever its longest word
TEXT_MIN_WIDTH = 18.0
#: room (mm) left between the measured text and the cell's edge, for rounding
_EPS = 0.05

Measure = Callable[[str], float]


def pieces(text: str) -> list[str]:
    """``text`` cut at every place a line may break; the pieces join back to ``text``. A run of
    spaces or of punctuation stays with the piece before it."""
    out, start = [], 0
    for i in range(1, len(text)):
        prev, ch = text[i - 1], text[i]
        if ch.isspace() or ch in _BREAK_AFTER:
            continue
        if prev.isspace() or (prev in _BREAK_AFTER and not (ch.isdigit() and _digit_before(text, i - 1))):
            out.append(text[start:i])
            start = i
    out.append(text[start:])
    return [p for p in out if p]


def _digit_before(text: str, i: int) -> bool:
    """Whether the punctuation run ending at ``i`` follows a digit."""
    while i >= 0 and text[i] in _BREAK_AFTER:
        i -= 1
    return i >= 0 and text[i].isdigit()


def widest_piece(text: str, measure: Measure, digits_only: bool = False) -> float:
    """The width of the widest piece of ``text`` (of those with a digit, when ``digits_only``)."""
    return max(
        (
            measure(p.rstrip())
            for line in text.split("\n")
            for p in pieces(line)
            if not digits_only or any(ch.isdigit() for ch in p)
        ),
        default=0.0,
    )


def wrap(text: str, width: float, measure: Measure) -> str:
    """``text`` with line breaks so that no line is wider than ``width``, filling each line with
    as many pieces as fit. A piece wider than a whole line is cut where it must (the caller
    sizes columns so that this happens to free-text words only)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in pieces(paragraph):
            if not line or measure((line + piece).rstrip()) <= width - _EPS:
                line += piece
            else:
                lines.append(line.rstrip())
                line = piece
            while measure(line.rstrip()) > width - _EPS and len(line.rstrip()) > 1:
                cut = _longest_fitting(line, width, measure)
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return "\n".join(lines)


def _longest_fitting(text: str, width: float, measure: Measure) -> int:
    """How many leading characters of ``text`` fit in ``width`` (at least one)."""
    n = 1
    while n < len(text) and measure(text[: n + 1]) <= width - _EPS:
        n += 1
    return n


@dataclass(frozen=True)
class Column:
    heading: str
    #: share of the table's width the column gets when every column's pieces fit
    weight: float
    align: str = "L"
    #: free text (post text, fact-checks): a word wider than the column may be cut, a figure never
    text: bool = False


def column_widths(
    columns: Sequence[Column],
    cells: Sequence[Sequence[str]],
    total: float,
    padding: float,
    measure: Measure,
    measure_heading: Measure,
) -> list[float] | None:
    """Widths (mm, summing to ``total``) that give each column its weight's share where that is
    enough and at least the widest piece of each of its cells (free-text columns:
    :data:`TEXT_MIN_WIDTH`, or their widest piece with a digit if wider); None when that cannot
    fit in ``total``."""
    needs = []
    for j, col in enumerate(columns):
        column = [row[j] for row in cells]
        widest = max((widest_piece(c, measure) for c in column), default=0.0)
        if col.text:
            widest = max([min(TEXT_MIN_WIDTH, widest), *(widest_piece(c, measure, digits_only=True) for c in column)])
        needs.append(max(widest, widest_piece(col.heading, measure_heading)) + 2 * padding + 2 * _EPS)
    if sum(needs) > total:
        return None
    return _share(total, [c.weight for c in columns], needs)


def _share(total: float, weights: list[float], needs: list[float]) -> list[float]:
    """``total`` split by ``weights``, each part at least its need: parts below their need are
    raised to it, and the rest is split again among the others, until every part fits."""
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(len(weights)) if i not in fixed]
        room = total - sum(fixed.values())
        share = {i: room * weights[i] / sum(weights[k] for k in free) for i in free}
        short = {i: needs[i] for i in free if share[i] < needs[i]}
        if not short:
            return [fixed.get(i, share.get(i, 0.0)) for i in range(len(weights))]
        fixed |= short
