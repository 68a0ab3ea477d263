"""The review queues and the dashboard's lists, materialised (``review_queue_entries``).

A post's rows are a function of its own rows only: its matches' statuses and scores, its latest
views, its analysis, whether it was matched, its kind. So every writer of those calls
:func:`refresh_posts` with the posts it touched, in its own transaction, and the table stays what
:func:`rebuild` would make of the store (the property the tests check). Counts are kept as
deltas (``review_queue_counts``): a change appends how many rows each list gained or lost.

On PostgreSQL a refresh locks its posts' rows first (``FOR UPDATE``, in id order): two writers
refreshing one post take turns, so the second reads the first's rows and its deltas are exact.
Every writer that locks a post's matches locks the post before them (:func:`lock_posts`), so the
order is always post, then matches — no deadlock between a decision and a re-match.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import schema as s
from claimwatch.store.common import chunks
from claimwatch.store.rows import claim_score

E = s.ReviewQueueEntry
#: the review queue's statuses (``review queue --status``), the dashboard's list of check-worthy
#: posts no fact-check covers, the posts a whole-store report counts, and those never matched
REVIEW_QUEUES = ("proposed", "candidate", "all", "decided")
UNCHECKED, REPORT, UNMATCHED = "unchecked", "report", "unmatched"
_PROPOSED, _CANDIDATE = r.MatchStatus.PROPOSED.value, r.MatchStatus.CANDIDATE.value
_CONFIRMED, _REJECTED = r.MatchStatus.CONFIRMED.value, r.MatchStatus.REJECTED.value
#: posts per id range when everything is rebuilt
_RANGE = 20_000


@dataclass(frozen=True)
class _PostState:
    """What a post's rows are made of."""

    collected: bool
    kind: str
    platform: str
    created_at: datetime | None
    #: detected, else the platform's tag (``posts.post_lang``)
    lang: str | None
    views: int | None
    views_at: datetime | None
    matched: bool
    #: status -> max(coalesce(confidence, score)) over the post's matches in that status
    best: dict[str, float]
    checkworthiness: float | None
    claim_score: float | None


#: the match statuses an item of each review queue is about (its confidence, the match to decide)
ACTING = {
    "proposed": (_PROPOSED,),
    "candidate": (_CANDIDATE,),
    "all": (_PROPOSED, _CANDIDATE),
    "decided": (_CONFIRMED, _REJECTED),
}


def queue_confidence(best: dict[str, float], queue: str) -> float | None:
    """The post's confidence in a review queue, None when it is not in it. proposed: posts with a
    machine proposal. candidate: posts with candidates below the threshold and no proposal or
    confirmed match (what the machine missed). all: either. decided: posts with a confirmed or
    rejected match (to review a decision again or reopen it)."""
    candidate_only = _CANDIDATE in best and not (_PROPOSED in best or _CONFIRMED in best)
    member = {
        "proposed": _PROPOSED in best,
        "candidate": candidate_only,
        "all": _PROPOSED in best or candidate_only,
        "decided": _CONFIRMED in best or _REJECTED in best,
    }[queue]
    return max(best[st] for st in ACTING[queue] if st in best) if member else None


def _rows(post_id: int, p: _PostState) -> list[dict[str, Any]]:
    def row(queue: str, confidence: float, cw: float | None = None, cs: float | None = None) -> dict[str, Any]:
        return dict(
            queue=queue,
            post_id=post_id,
            confidence=confidence,
            views=p.views,
            views_at=p.views_at,
            views_unknown=p.views is None,
            rank_key=-(confidence * (p.views or 0)),
            rank_confidence=-confidence,
            checkworthiness=cw,
            claim_score=cs,
            platform=p.platform,
            created_at=p.created_at,
            lang=p.lang,
        )

    out = []
    for queue in REVIEW_QUEUES:
        confidence = queue_confidence(p.best, queue)
        if confidence is not None:
            out.append(row(queue, confidence))
    # what a whole-store report lists: collected posts, reposts left out (they carry no views)
    if p.collected and p.kind != r.PostKind.REPOST.value:
        out.append(row(REPORT, 0.0))
        if not p.matched:
            out.append(row(UNMATCHED, 0.0))
        if p.checkworthiness is not None and not (_PROPOSED in p.best or _CONFIRMED in p.best):
            score = max(p.checkworthiness, p.claim_score or 0.0)  # the report's queue_score
            out.append(row(UNCHECKED, score, p.checkworthiness, p.claim_score))
    return out


def _states(conn: sa.Connection, where: Any) -> dict[int, _PostState]:
    """The state of the posts selected by ``where(column)`` (a condition on a post id column)."""
    best: dict[int, dict[str, float]] = {}
    q = sa.select(
        s.Match.post_id, s.Match.status, sa.func.max(sa.func.coalesce(s.Match.confidence, s.Match.score))
    ).where(where(s.Match.post_id))
    for post_id, status, confidence in conn.execute(q.group_by(s.Match.post_id, s.Match.status)):
        best.setdefault(post_id, {})[status] = float(confidence)
    analysis = {
        row.post_id: (row.lang, row.checkworthiness, claim_score(row.sentence_scores))
        for row in conn.execute(
            sa.select(
                s.PostAnalysis.post_id,
                s.PostAnalysis.lang,
                s.PostAnalysis.checkworthiness,
                s.PostAnalysis.sentence_scores,
            ).where(where(s.PostAnalysis.post_id))
        )
    }
    matched = sa.exists().where(s.MatchState.post_id == s.Post.id)
    q = sa.select(
        s.Post.id,
        s.Post.collected,
        s.Post.kind,
        s.Post.platform,
        s.Post.created_at,
        s.Post.lang,
        s.Post.views_latest,
        s.Post.views_latest_at,
        matched.label("matched"),
    ).where(where(s.Post.id))
    out = {}
    for row in conn.execute(q):
        lang, cw, cs = analysis.get(row.id, (None, None, None))
        out[row.id] = _PostState(
            bool(row.collected),
            row.kind,
            row.platform,
            row.created_at,
            lang if lang is not None else row.lang,
            row.views_latest,
            row.views_latest_at,
            bool(row.matched),
            best.get(row.id, {}),
            cw,
            cs,
        )
    return out


def lock_posts(conn: sa.Connection, post_ids: Iterable[int]) -> None:
    """Lock these posts' rows until the transaction ends (PostgreSQL; SQLite has one writer at a
    time), in id order. Taken before any lock on their matches: see the module's note."""
    for chunk in chunks(sorted(set(post_ids))):
        conn.execute(sa.select(s.Post.id).where(s.Post.id.in_(chunk)).order_by(s.Post.id).with_for_update()).all()


def _insert(conn: sa.Connection, states: dict[int, _PostState]) -> dict[str, int]:
    """Write these posts' rows; how many each list gained."""
    rows = [row for post_id, p in states.items() for row in _rows(post_id, p)]
    if rows:
        conn.execute(sa.insert(E), rows)
    added: dict[str, int] = {}
    for row in rows:
        added[row["queue"]] = added.get(row["queue"], 0) + 1
    return added


def refresh_posts(conn: sa.Connection, post_ids: Collection[int]) -> None:
    """Recompute the rows of these posts from the store, in the caller's transaction."""
    for chunk in chunks(sorted(set(post_ids))):
        lock_posts(conn, chunk)
        before: dict[str, int] = dict(
            conn.execute(sa.select(E.queue, sa.func.count()).where(E.post_id.in_(chunk)).group_by(E.queue)).all()
        )
        conn.execute(sa.delete(E).where(E.post_id.in_(chunk)))
        after = _insert(conn, _states(conn, lambda col, chunk=chunk: col.in_(chunk)))
        deltas = [
            {"queue": q, "delta": after.get(q, 0) - before.get(q, 0)}
            for q in sorted(before.keys() | after.keys())
            if after.get(q, 0) != before.get(q, 0)
        ]
        if deltas:
            conn.execute(sa.insert(s.ReviewQueueCount), deltas)


def rebuild(conn: sa.Connection, progress: bool = False) -> int:
    """Recompute the whole table from the store (the migration's backfill); returns its rows."""
    conn.execute(sa.delete(E))
    conn.execute(sa.delete(s.ReviewQueueCount))
    top = conn.scalar(sa.select(sa.func.max(s.Post.id))) or 0
    totals: dict[str, int] = {}
    for lo in range(0, top + 1, _RANGE):
        added = _insert(conn, _states(conn, lambda col, lo=lo: col.between(lo, lo + _RANGE - 1)))
        for q, n in added.items():
            totals[q] = totals.get(q, 0) + n
    if totals:
        conn.execute(sa.insert(s.ReviewQueueCount), [{"queue": q, "delta": n} for q, n in sorted(totals.items())])
    return sum(totals.values())


def count(conn: sa.Connection, queue: str) -> int:
    """How many posts a list holds (the sum of its deltas)."""
    return int(
        conn.scalar(sa.select(sa.func.sum(s.ReviewQueueCount.delta)).where(s.ReviewQueueCount.queue == queue)) or 0
    )


def ordered(queue: str) -> tuple[sa.Select[Any], tuple[sa.ColumnElement[Any], ...]]:
    """A list's rows (post id, confidence, views, views time) and their order, the order of the
    index ``ix_review_queue_order``: known views first, confidence × views, confidence, post id."""
    q = sa.select(
        E.post_id.label("id"), E.confidence, E.views, E.views_at, E.views_unknown, E.rank_key, E.rank_confidence
    ).where(E.queue == queue)
    return q, (E.views_unknown, E.rank_key, E.rank_confidence, E.post_id)


def unchecked_ids(conn: sa.Connection, post_from: float, sentence_from: float, limit: int) -> list[int]:
    """The first ``limit`` posts of the dashboard's unchecked list at these thresholds (the
    check-worthiness model's, for the post and its claim sentence), in the index's order — and
    every post tied with the last one, whose order a report breaks by platform id (the caller
    sorts them as the report does)."""
    q, order = ordered(UNCHECKED)
    q = q.where(sa.or_(E.checkworthiness >= post_from, sa.func.coalesce(E.claim_score, 0.0) >= sentence_from)).order_by(
        *order
    )

    def key(row: Any) -> tuple[bool, float, float]:
        return (row.views_unknown, row.rank_key, row.rank_confidence)

    # read on past the last post until the ties end (one read unless the ties are many)
    n = limit + 50
    while True:
        page = conn.execute(q.limit(n)).all()
        if len(page) < n or key(page[-1]) != key(page[limit - 1]):
            break
        n *= 2
    tied = page[limit:] if len(page) > limit else []
    return [row.id for row in page[:limit]] + [row.id for row in tied if key(row) == key(page[limit - 1])]


def entries(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every row as stored, in a stable order (what the tests compare with a rebuild)."""
    q = sa.select(*E.__table__.c).order_by(E.queue, E.post_id)
    return [dict(row._mapping) for row in conn.execute(q)]
