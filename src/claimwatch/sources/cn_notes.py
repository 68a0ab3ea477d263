"""Community Notes notes download (``notes-00000.tsv``): one :class:`~claimwatch.records.Note` per row.

The download has no deletion marker: a deleted note is simply absent from it (its status
history stays in noteStatusHistory). See :mod:`claimwatch.analysis.notes` for how that
absence is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from claimwatch.records import FieldWarning, Note, Parsed, ReadResult
from claimwatch.sources import cn_columns as c
from claimwatch.sources.base import ReadContext
from claimwatch.sources.cn_tsv import TsvFile, TsvRow, numeric_id, participant_id, time_field

FORMAT = "cn-notes"
REQUIRED = c.NOTES_REQUIRED
ALIASES = {c.NOTE_AUTHOR: c.NOTE_AUTHOR_OLD}
#: The snapshot date of a file without ``--snapshot-date`` is the latest of these.
TIME_COLUMNS = (c.CREATED_AT_MILLIS,)


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Notes of one file; ``ctx.observed_at`` is the snapshot (download) date."""
    tsv = TsvFile(path, FORMAT, REQUIRED, ALIASES)

    def build(row: TsvRow) -> Parsed:
        warnings: list[FieldWarning] = []
        note = Note(note_id=numeric_id(row.get(c.NOTE_ID), c.NOTE_ID),
                    tweet_id=numeric_id(row.get(c.TWEET_ID), c.TWEET_ID),
                    classification=row.get(c.CLASSIFICATION) or None,
                    created_at=time_field(row, c.CREATED_AT_MILLIS, warnings),
                    author_id=participant_id(row.get(c.NOTE_AUTHOR), c.NOTE_AUTHOR), snapshot_at=ctx.observed_at,
                    raw=row.raw(tsv.columns), source=tsv.source(row.line))
        return Parsed(note, warnings)

    yield from tsv.records(build)
