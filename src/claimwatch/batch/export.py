"""``claimwatch export posts --parquet``: the posts a batch run needs, as :data:`schema.POSTS`.

What is exported is what ``claimwatch match`` would read (collected posts, the first
:data:`~claimwatch.claims.compute.MAX_MATCH_CHARS` characters, the text hash the results will be
checked against); ``pending`` keeps only posts not yet matched against the current index.

Row groups (and, with ``part_rows``, part files) hold multiples of
:data:`~claimwatch.claims.retrieval.STREAM_BATCH` posts, so every runner cuts the chunks
``claimwatch match`` cuts (the encoder's int8 scales depend on a chunk's posts). Ray Data splits a
single file evenly whatever its row groups, but reads a folder of part files one block per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from claimwatch import api, atomic
from claimwatch.batch import schema as S
from claimwatch.claims.compute import MAX_MATCH_CHARS, match_version
from claimwatch.claims.retrieval import STREAM_BATCH
from claimwatch.store import repo

#: Rows per Parquet row group: large enough for fast scans, small enough to hand out as work.
ROW_GROUP = 16 * STREAM_BATCH
#: Name of the n-th part file of a folder export (sorted by name = the store's order).
PART_NAME = "part-{:05d}.parquet"


def check_part_rows(part_rows: int) -> None:
    if part_rows <= 0 or part_rows % STREAM_BATCH:
        raise S.BatchInputError(
            f"--part-rows must be a positive multiple of {STREAM_BATCH:,} (matching's chunk), not {part_rows:,}"
        )


def export_posts(ws: api.Workspace, out: Path, *, pending: bool = False, part_rows: int | None = None) -> int:
    """Write the posts to ``out`` (whole or not at all); returns how many. With ``part_rows``,
    ``out`` is a new folder of part files of that many posts each (the last may hold fewer)."""
    if part_rows is not None:
        check_part_rows(part_rows)
    version = ""
    if pending:
        index = ws.load_index()
        version = match_version(index, ws.multilingual(index))
    with ws.engine.connect() as conn:
        rows = repo.posts_to_match(conn, version, not pending, MAX_MATCH_CHARS)
        keys = repo.platform_ids_of(conn, [row.id for row in rows])
    if part_rows is None:
        _write(out, rows, keys)
    else:
        out.mkdir(parents=True)
        for k, start in enumerate(range(0, max(len(rows), 1), part_rows)):
            _write(out / PART_NAME.format(k), rows[start : start + part_rows], keys)
    return len(rows)


def _write(out: Path, rows: Sequence[Any], keys: dict[int, tuple[str, str]]) -> None:
    with atomic.replacing(out, "wb") as fh, pq.ParquetWriter(fh, S.POSTS, compression="zstd") as writer:
        for start in range(0, max(len(rows), 1), ROW_GROUP):
            chunk = rows[start : start + ROW_GROUP]
            writer.write_table(
                pa.table(
                    {
                        S.POST_ID: [row.id for row in chunk],
                        S.PLATFORM: [keys[row.id][0] for row in chunk],
                        S.PLATFORM_ID: [keys[row.id][1] for row in chunk],
                        S.TEXT: [row.text for row in chunk],
                        S.TEXT_LENGTH: [row.text_length for row in chunk],
                        S.TEXT_HASH: [row.text_hash for row in chunk],
                        S.CREATED_AT: [row.created_at for row in chunk],
                    },
                    schema=S.POSTS,
                )
            )
