"""Community Notes ``ratings-00000.tsv``, reduced to per-note counts.

The real ratings download has hundreds of millions of rows; a study needs only how many
ratings a note had and how they split, so the rows are counted as they stream by and one
:class:`~claimwatch.records.NoteRatings` per note is yielded at the end of the file. Memory
grows with the notes one file covers (about 200 bytes a note), not with its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from claimwatch.records import NoteRatings, Parsed, ReadResult, SourceRef
from claimwatch.sources import cn_columns as c
from claimwatch.sources.base import ReadContext
from claimwatch.sources.cn_tsv import TsvFile, TsvRow, numeric_id, participant_id

FORMAT = "cn-ratings"
REQUIRED = c.RATINGS_REQUIRED
#: Older ratings files name the rater ``participantId``.
ALIASES = {c.RATER: c.NOTE_AUTHOR_OLD}
TIME_COLUMNS = (c.CREATED_AT_MILLIS,)
#: Position of each helpfulness level in a count list [all, helpful, somewhat, not helpful].
_LEVELS = {c.HELPFUL: 1, c.SOMEWHAT_HELPFUL: 2, c.NOT_HELPFUL: 3}


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Bad rows are rejected as they come; the per-note counts follow at the end."""
    tsv = TsvFile(path, FORMAT, REQUIRED, ALIASES)
    counts: dict[str, list[int]] = {}

    def count(row: TsvRow) -> None:
        note_id = numeric_id(row.get(c.NOTE_ID), c.NOTE_ID)
        participant_id(row.get(c.RATER), c.RATER)
        tally = counts.get(note_id)
        if tally is None:
            tally = counts[note_id] = [0, 0, 0, 0]
        tally[0] += 1
        level = _LEVELS.get(_level(row))
        if level:
            tally[level] += 1

    yield from tsv.records(count)
    where = SourceRef(str(path), "whole file", FORMAT)
    for note_id, (n, helpful, somewhat, not_helpful) in counts.items():
        yield Parsed(NoteRatings(note_id=note_id, snapshot_at=ctx.observed_at, file_name=path.name, ratings=n,
                                 helpful=helpful, somewhat_helpful=somewhat, not_helpful=not_helpful, source=where))


def _level(row: TsvRow) -> str:
    """``helpfulnessLevel``, or its equivalent from the 0/1 columns of the oldest files."""
    level = row.get(c.HELPFULNESS_LEVEL)
    if level:
        return level
    if row.get(c.HELPFUL_OLD) == "1":
        return c.HELPFUL
    if row.get(c.NOT_HELPFUL_OLD) == "1":
        return c.NOT_HELPFUL
    return ""
