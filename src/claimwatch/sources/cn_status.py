"""Community Notes ``noteStatusHistory-00000.tsv``: one :class:`~claimwatch.records.NoteStatus`
per row, stamped with the snapshot (download) the file stands for.

Every era is read (see :mod:`claimwatch.sources.cn_columns`): the first files had only the
first and current status, 2022 ones spell ``timestampMillisOfMostRecentNonNMRStatus``, later
ones add lock and model columns. A column a file does not have is unknown (None).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from claimwatch.records import FieldWarning, NoteStatus, Parsed, ReadResult
from claimwatch.sources import cn_columns as c
from claimwatch.sources.base import ReadContext
from claimwatch.sources.cn_tsv import TsvFile, TsvRow

FORMAT = "cn-status"
FIELDS = c.STATUS_FIELDS
TIME_FIELDS = c.STATUS_TIME_FIELDS


def open_tsv(path: Path, column_map: Mapping[str, str]) -> TsvFile:
    return TsvFile(path, FORMAT, FIELDS, c.STATUS_REQUIRED, column_map, extra_times=c.STATUS_EXTRA_TIMES)


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Status rows of one file; ``ctx.observed_at`` is the snapshot date."""
    tsv = open_tsv(path, ctx.column_map)

    def build(row: TsvRow) -> Parsed:
        w: list[FieldWarning] = row.absent_warnings()
        status = NoteStatus(
            note_id=row.id("note_id"),
            snapshot_at=ctx.observed_at,
            created_at=row.time("created_at", w),
            current_status=row.word("current_status", w),
            current_status_at=row.time("current_status_at", w),
            first_non_nmr_status=row.word("first_non_nmr_status", w),
            first_non_nmr_at=row.time("first_non_nmr_at", w),
            latest_non_nmr_status=row.word("latest_non_nmr_status", w),
            latest_non_nmr_at=row.time("latest_non_nmr_at", w),
            locked_status=row.word("locked_status", w),
            locked_at=row.time("locked_at", w),
            decided_by=row.word("decided_by", w),
            raw=row.raw(),
            source=tsv.source(row.line),
        )
        return Parsed(status, w)

    yield from tsv.records(build)
