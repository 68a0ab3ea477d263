"""Cheap marks of how far the store has changed, for caches of results computed from it (the
review queue's study selection): each mark is a max id or an indexed count, so reading them costs
milliseconds at a million posts where recomputing costs seconds. A cache keyed by the marks is
stale only after a change that moves none of them; which changes each mark sees is listed below.
"""

from __future__ import annotations

import sqlalchemy as sa

from claimwatch.store import schema as s


def change_marks(conn: sa.Connection, *, topic: str | None = None, matches: bool = False) -> tuple[object, ...]:
    """The marks of what a post selection depends on.

    Always: the last post id (new posts), the last post version id (a post's text changed: the
    earlier one is kept as a version) and the last ingest run id (any ingest, also one that
    changed a post's author, time or kind in place, or a fact-check's claim). ``topic`` (a stored
    topic's name): how many posts were scored for it and how many were assigned to it (a
    re-scoring that changes neither is not seen). ``matches``: the last match id and the match
    count (matching inserts rows; re-matching a post to nothing deletes them) and the last
    decision id (confirm, reject, reopen, choose, attach)."""
    marks: list[object] = [
        conn.execute(sa.select(sa.func.max(s.Post.id))).scalar(),
        conn.execute(sa.select(sa.func.max(s.PostVersion.id))).scalar(),
        conn.execute(sa.select(sa.func.max(s.IngestRun.id))).scalar(),
    ]
    if topic is not None:
        scored = sa.select(sa.func.count(), sa.func.count().filter(s.PostTopic.assigned.is_(True)))
        marks.extend(conn.execute(scored.where(s.PostTopic.topic == topic)).one())
    if matches:
        marks.extend(conn.execute(sa.select(sa.func.max(s.Match.id), sa.func.count())).one())
        marks.append(conn.execute(sa.select(sa.func.max(s.MatchDecision.id))).scalar())
    return tuple(marks)
