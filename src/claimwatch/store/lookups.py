"""Small read-only questions about what a store holds, asked before a command relies on it:
which accounts, topics, languages and platforms its posts have, how many posts are not matched
yet, which files were ingested. (Kept apart from ``repo``: these answer checks, not reports.)"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from claimwatch.store import schema as s

_CHUNK = 500


def ingested_files(conn: sa.Connection) -> set[str]:
    """Every file any ingest run (finished or not) read into the store."""
    return {str(f) for (files,) in conn.execute(sa.select(s.IngestRun.files)) for f in files or ()}
