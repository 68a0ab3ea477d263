"""Community Notes ``noteStatusHistory-00000.tsv``: one :class:`~claimwatch.records.NoteStatus`
per row, stamped with the snapshot (download) the file stands for.

Older downloads with fewer columns (no lock or model columns, author as ``participantId``)
are read as long as :data:`~claimwatch.sources.cn_columns.STATUS_REQUIRED` is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from claimwatch.records import FieldWarning, NoteStatus, Parsed, ReadResult
from claimwatch.sources import cn_columns as c
from claimwatch.sources.base import ReadContext
from claimwatch.sources.cn_tsv import TsvFile, TsvRow, numeric_id, time_field

FORMAT = "cn-status"
REQUIRED = c.STATUS_REQUIRED
ALIASES = {c.NOTE_AUTHOR: c.NOTE_AUTHOR_OLD}
TIME_COLUMNS = c.STATUS_TIMES


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Status rows of one file; ``ctx.observed_at`` is the snapshot date."""
    tsv = TsvFile(path, FORMAT, REQUIRED, ALIASES)

    def build(row: TsvRow) -> Parsed:
        warnings: list[FieldWarning] = []
        status = NoteStatus(
            note_id=numeric_id(row.get(c.NOTE_ID), c.NOTE_ID), snapshot_at=ctx.observed_at,
            created_at=time_field(row, c.CREATED_AT_MILLIS, warnings),
            current_status=row.get(c.CURRENT_STATUS) or None,
            current_status_at=time_field(row, c.CURRENT_STATUS_AT, warnings),
            first_non_nmr_status=row.get(c.FIRST_NON_NMR_STATUS) or None,
            first_non_nmr_at=time_field(row, c.FIRST_NON_NMR_AT, warnings),
            latest_non_nmr_status=row.get(c.LATEST_NON_NMR_STATUS) or None,
            latest_non_nmr_at=time_field(row, c.LATEST_NON_NMR_AT, warnings),
            locked_status=row.get(c.LOCKED_STATUS) or None,
            locked_at=time_field(row, c.LOCKED_AT, warnings),
            decided_by=row.get(c.DECIDED_BY) or None,
            raw=row.raw(tsv.columns), source=tsv.source(row.line))
        return Parsed(status, warnings)

    yield from tsv.records(build)
