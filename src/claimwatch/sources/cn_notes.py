"""Community Notes notes download (``notes-00000.tsv``): one :class:`~claimwatch.records.Note` per row.

Every era is read: the 2021 Birdwatch file names the author ``participantId``; later files
add columns (``isMediaNote``, ``isCollaborativeNote``), kept in ``raw``. The download has no
deletion marker: a deleted note is simply absent from it (its status history stays in
noteStatusHistory). See :mod:`claimwatch.analysis.notes` for how that absence is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from claimwatch.records import FieldWarning, Note, Parsed, ReadResult
from claimwatch.sources import cn_columns as c
from claimwatch.sources.base import ReadContext
from claimwatch.sources.cn_tsv import TsvFile, TsvRow

FORMAT = "cn-notes"
FIELDS = c.NOTE_FIELDS
#: The snapshot date of a file without ``--snapshot-date`` is the latest of these.
TIME_FIELDS = ("created_at",)


def open_tsv(path: Path, column_map: Mapping[str, str]) -> TsvFile:
    return TsvFile(path, FORMAT, FIELDS, c.NOTE_REQUIRED, column_map)


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Notes of one file; ``ctx.observed_at`` is the snapshot (download) date."""
    tsv = open_tsv(path, ctx.column_map)

    def build(row: TsvRow) -> Parsed:
        warnings: list[FieldWarning] = row.absent_warnings()
        note = Note(
            note_id=row.id("note_id"),
            tweet_id=row.id("tweet_id"),
            classification=row.word("classification", warnings),
            created_at=row.time("created_at", warnings),
            author_id=row.participant("author_id", warnings),
            snapshot_at=ctx.observed_at,
            raw=row.raw(),
            source=tsv.source(row.line),
        )
        return Parsed(note, warnings)

    yield from tsv.records(build)
