"""``claimwatch export posts --parquet``: the posts a batch run needs, as :data:`schema.POSTS`.

What is exported is what ``claimwatch match`` would read (collected posts, the first
:data:`~claimwatch.claims.compute.MAX_MATCH_CHARS` characters, the text hash the results will be
checked against); ``pending`` keeps only posts not yet matched against the current index.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from claimwatch import api, atomic
from claimwatch.batch import schema as S
from claimwatch.claims.compute import MAX_MATCH_CHARS, match_version
from claimwatch.store import repo

#: Rows per Parquet row group: large enough for fast scans, small enough to hand out as work.
ROW_GROUP = 16_384


def export_posts(ws: api.Workspace, out: Path, *, pending: bool = False) -> int:
    """Write the posts to ``out`` (whole or not at all); returns how many."""
    version = ""
    if pending:
        index = ws.load_index()
        version = match_version(index, ws.multilingual(index))
    with ws.engine.connect() as conn:
        rows = repo.posts_to_match(conn, version, not pending, MAX_MATCH_CHARS)
        keys = repo.platform_ids_of(conn, [row.id for row in rows])
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
    return len(rows)
