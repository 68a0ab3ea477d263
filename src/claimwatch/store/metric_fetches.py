"""The metric re-fetch schedule (``metric_fetch_state``): every SQL statement of re-fetching.

Which posts: those with a proposed or confirmed match (text or media) made within the last
``span``, on a platform that has a fetcher. A post enters the schedule (:func:`schedule_new`) due
one ``every`` after its first such match, and is due again ``every`` after each fetch. A fetch is
claimed like a delivery (:func:`claim` moves ``next_due_at`` one lease ahead; ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write transaction on SQLite), so two runs never
fetch one post at once. ``gone`` posts are never fetched again (their snapshots stay); failures
back off (``failures``, ``last_error``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from claimwatch.records import MatchStatus
from claimwatch.store import common
from claimwatch.store import schema as s
from claimwatch.store.alert_deliveries import one_line
from claimwatch.store.common import chunks
from claimwatch.store.db import retry_races

F, M, P = s.MetricFetchState, s.Match, s.Post
#: the matches whose posts are followed
FOLLOWED = (MatchStatus.PROPOSED.value, MatchStatus.CONFIRMED.value)


@dataclass(frozen=True, slots=True)
class DueFetch:
    post_id: int
    platform: str
    platform_id: str
    failures: int


@dataclass(frozen=True, slots=True)
class FetchState:
    post_id: int
    next_due_at: datetime
    last_attempt_at: datetime | None
    last_fetched_at: datetime | None
    failures: int
    last_error: str | None
    gone: bool


def _matched_since(since: datetime) -> sa.ColumnElement[bool]:
    """The post has a followed match made at or after ``since``."""
    return sa.exists().where(M.post_id == P.id, M.status.in_(FOLLOWED), M.created_at >= since)


@retry_races
def schedule_new(
    conn: sa.Connection, platforms: Sequence[str], every: timedelta, span: timedelta, now: datetime
) -> int:
    """Add the newly matched posts of ``platforms`` to the schedule; returns how many."""
    if not platforms:
        return 0
    first = (
        sa.select(M.post_id, sa.func.min(M.created_at).label("first"))
        .join(P, P.id == M.post_id)
        .outerjoin(F, F.post_id == M.post_id)
        .where(M.status.in_(FOLLOWED), M.created_at >= now - span, P.platform.in_(platforms), F.post_id.is_(None))
        .group_by(M.post_id)
    )
    rows = conn.execute(first).all()
    if rows:
        conn.execute(
            sa.insert(F),
            [dict(post_id=r.post_id, next_due_at=r.first + every, failures=0, gone=False) for r in rows],
        )
    return len(rows)


def claim(
    conn: sa.Connection,
    now: datetime,
    platforms: Sequence[str],
    span: timedelta,
    limit: int,
    lease: timedelta,
    *,
    due_only: bool = True,
) -> list[DueFetch]:
    """Up to ``limit`` posts due at ``now`` (earliest due first), leased until ``now + lease``;
    ``due_only`` false: every followed post not gone, due or not (a fetch on demand)."""
    if not platforms:
        return []
    due = sa.and_(F.gone.is_(False), F.next_due_at <= now) if due_only else F.gone.is_(False)
    pick = (
        sa.select(F.post_id)
        .join(P, P.id == F.post_id)
        .where(due, P.platform.in_(platforms), _matched_since(now - span))
        .order_by(F.next_due_at, F.post_id)
        .limit(limit)
    )
    ids = common.lease(conn, pick, F.post_id, due, next_due_at=now + lease, last_attempt_at=now)
    if not ids:
        return []
    rows = conn.execute(
        sa.select(F.post_id, P.platform, P.platform_id, F.failures)
        .join(P, P.id == F.post_id)
        .where(F.post_id.in_(ids))
        .order_by(F.post_id)
    )
    return [DueFetch(r.post_id, r.platform, r.platform_id, r.failures) for r in rows]


def post_ids(conn: sa.Connection, platform: str, platform_ids: Sequence[str]) -> dict[str, int]:
    """Store ids of posts by platform id."""
    out: dict[str, int] = {}
    for chunk in chunks(list(platform_ids)):
        for r in conn.execute(sa.select(P.platform_id, P.id).where(P.platform == platform, P.platform_id.in_(chunk))):
            out[r.platform_id] = r.id
    return out


def mark_fetched(conn: sa.Connection, post_ids: Sequence[int], now: datetime, every: timedelta) -> None:
    for chunk in chunks(list(post_ids)):
        conn.execute(
            sa.update(F)
            .where(F.post_id.in_(chunk))
            .values(last_fetched_at=now, failures=0, last_error=None, next_due_at=now + every)
        )


def mark_gone(conn: sa.Connection, post_ids: Sequence[int], now: datetime) -> None:
    for chunk in chunks(list(post_ids)):
        conn.execute(sa.update(F).where(F.post_id.in_(chunk)).values(gone=True, last_error=None, next_due_at=now))


def mark_failed(conn: sa.Connection, failures: Mapping[int, tuple[str, datetime]]) -> None:
    """Failed fetches: ``post id → (reason, when to try again)``."""
    for post_id, (reason, retry_at) in failures.items():
        conn.execute(
            sa.update(F)
            .where(F.post_id == post_id)
            .values(failures=F.failures + 1, last_error=one_line(reason), next_due_at=retry_at)
        )


def postpone(conn: sa.Connection, post_ids: Sequence[int], until: datetime) -> None:
    """Claimed posts not fetched (their platform asked us to wait, or the run stopped): due at ``until``."""
    for chunk in chunks(list(post_ids)):
        conn.execute(sa.update(F).where(F.post_id.in_(chunk), F.gone.is_(False)).values(next_due_at=until))


def next_due(conn: sa.Connection, platforms: Sequence[str]) -> datetime | None:
    """When the earliest post of ``platforms`` not gone is due (None: nothing scheduled)."""
    return conn.execute(
        sa.select(sa.func.min(F.next_due_at))
        .join(P, P.id == F.post_id)
        .where(F.gone.is_(False), P.platform.in_(platforms))
    ).scalar()


def states(conn: sa.Connection, post_ids: Sequence[int] | None = None) -> list[FetchState]:
    q = sa.select(F.post_id, F.next_due_at, F.last_attempt_at, F.last_fetched_at, F.failures, F.last_error, F.gone)
    if post_ids is not None:
        q = q.where(F.post_id.in_(list(post_ids)))
    return [FetchState(*r) for r in conn.execute(q.order_by(F.post_id))]
