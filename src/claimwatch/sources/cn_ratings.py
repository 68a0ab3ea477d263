"""Community Notes ``ratings-00000.tsv``, reduced to per-note counts.

The real ratings download has hundreds of millions of rows; a study needs only how many
ratings a note had and how they split, so the rows are counted as they stream by and one
:class:`~claimwatch.records.NoteRatings` per note is yielded at the end of the file. Memory
grows with the notes one file covers (about 200 bytes a note), not with its rows.

Every era is read: 2021 ratings have 0/1 ``helpful`` / ``notHelpful`` columns (rating form
version 1) and the rater as ``participantId``; ``helpfulnessLevel`` came in mid-2021 and a
file of that time mixes both kinds of row. A row that cannot be counted right (an unknown
level, both 0/1 answers set, a row too short to have its level) is rejected, so the counts
of a note are always those of its readable ratings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from claimwatch.records import NoteRatings, Parsed, ReadResult, SourceRef
from claimwatch.sources import cn_columns as c
from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.cn_tsv import TsvFile, TsvRow, shown

FORMAT = "cn-ratings"
FIELDS = c.RATING_FIELDS
TIME_FIELDS = ("created_at",)
#: Position of each helpfulness level in a count list [all, helpful, somewhat, not helpful].
_LEVELS = {c.HELPFUL: 1, c.SOMEWHAT_HELPFUL: 2, c.NOT_HELPFUL: 3}
#: The 0/1 answers of the 2021 form ("1.0" where a tool wrote them as floats).
_FLAGS = {"": False, "0": False, "1": True, "0.0": False, "1.0": True}


def open_tsv(path: Path, column_map: Mapping[str, str]) -> TsvFile:
    tsv = TsvFile(path, FORMAT, FIELDS, c.RATING_REQUIRED, column_map)
    if not any(f in tsv.index for f in c.RATING_LEVEL_FIELDS):
        raise FormatError(
            f"neither {c.HELPFULNESS_LEVEL!r} nor {c.HELPFUL_2021!r} is among the columns, so the "
            "ratings cannot be split by helpfulness (name one with --map helpfulness_level=COLUMN)"
        )
    return tsv


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Bad rows are rejected as they come; the per-note counts follow at the end."""
    tsv = open_tsv(path, ctx.column_map)
    counts: dict[str, list[int]] = {}

    def count(row: TsvRow) -> None:
        if row.absent:  # counts carry no warnings: a rating whose level is cut off is not counted
            raise ValueError(row.absent_reason())
        note_id = row.id("note_id")
        level = _LEVELS.get(_level(row))
        tally = counts.get(note_id)
        if tally is None:
            tally = counts[note_id] = [0, 0, 0, 0]
        tally[0] += 1
        if level:
            tally[level] += 1

    yield from tsv.records(count)
    where = SourceRef(str(path), "whole file", FORMAT)
    for note_id, (n, helpful, somewhat, not_helpful) in counts.items():
        yield Parsed(
            NoteRatings(
                note_id=note_id,
                snapshot_at=ctx.observed_at,
                file_name=path.name,
                ratings=n,
                helpful=helpful,
                somewhat_helpful=somewhat,
                not_helpful=not_helpful,
                source=where,
            )
        )


def _level(row: TsvRow) -> str:
    """``helpfulnessLevel``, or its equivalent from the 0/1 answers of 2021 ("" when neither says)."""
    level = row.get("helpfulness_level")
    if level:
        if level not in _LEVELS:
            raise ValueError(f"{row.name('helpfulness_level')} {shown(level)!r} is not one of {', '.join(_LEVELS)}")
        return level
    helpful, not_helpful = _flag(row, "helpful"), _flag(row, "not_helpful")
    if helpful and not_helpful:
        raise ValueError(f"{row.name('helpful')} and {row.name('not_helpful')} are both 1")
    return c.HELPFUL if helpful else c.NOT_HELPFUL if not_helpful else ""


def _flag(row: TsvRow, field: str) -> bool:
    value = row.get(field)
    try:
        return _FLAGS[value]
    except KeyError:
        raise ValueError(f"{row.name(field)} {shown(value)!r} is not 0 or 1") from None
