"""Per-post text analysis (language, check-worthiness, claim sentence) and topic scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from claimwatch.store import queue_table
from claimwatch.store import schema as s
from claimwatch.store.common import chunks
from claimwatch.store.db import retry_races
from claimwatch.store.rows import StoredAnalysis, StoredTopic

# --------------------------------------------------------------------------- text analysis and topics


@retry_races
def write_analysis(conn: sa.Connection, rows: Sequence[dict[str, Any]], refresh: bool = True) -> None:
    """Replace the stored analysis (language, check-worthiness, claim sentence) of these posts.
    ``refresh=False``: the caller refreshes their queue rows later in the same transaction."""
    for chunk in chunks([row["post_id"] for row in rows]):
        conn.execute(sa.delete(s.PostAnalysis).where(s.PostAnalysis.post_id.in_(chunk)))
    if rows:
        conn.execute(sa.insert(s.PostAnalysis), list(rows))
    if refresh:
        queue_table.refresh_posts(conn, [row["post_id"] for row in rows])  # the dashboard's unchecked list


@retry_races
def write_topics(conn: sa.Connection, post_ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
    """Replace the topic scores of these posts (all topics: a changed topic file drops old topics)."""
    for chunk in chunks(list(post_ids)):
        conn.execute(sa.delete(s.PostTopic).where(s.PostTopic.post_id.in_(chunk)))
    if rows:
        conn.execute(sa.insert(s.PostTopic), list(rows))


def analysis_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, StoredAnalysis]:
    out: dict[int, StoredAnalysis] = {}
    for chunk in chunks(list(post_ids)):
        q = sa.select(*s.PostAnalysis.__table__.c).where(s.PostAnalysis.post_id.in_(chunk))
        out.update({row.post_id: StoredAnalysis(**row._mapping) for row in conn.execute(q)})
    return out


def topics_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[StoredTopic]]:
    out: dict[int, list[StoredTopic]] = {}
    for chunk in chunks(list(post_ids)):
        q = (
            sa.select(*s.PostTopic.__table__.c)
            .where(s.PostTopic.post_id.in_(chunk))
            .order_by(s.PostTopic.post_id, s.PostTopic.topic)
        )
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(StoredTopic(**row._mapping))
    return out


def stored_topics(conn: sa.Connection) -> list[str]:
    return [row[0] for row in conn.execute(sa.select(s.PostTopic.topic).distinct().order_by(s.PostTopic.topic))]
