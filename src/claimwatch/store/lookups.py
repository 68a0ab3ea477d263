"""Small read-only questions about what a store holds, asked before a command relies on it
(:mod:`claimwatch.analysis.checks`, the demo): which accounts, topics, languages and platforms its
posts have, how many posts were never matched, which files were ingested. Kept apart from
``repo``, whose queries build reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from claimwatch.store import schema as s

_CHUNK = 500


def _distinct(conn: sa.Connection, column: sa.ColumnElement[str], joined: sa.FromClause | None = None) -> list[str]:
    """The distinct non-empty values of ``column`` over collected posts (``joined``: posts and what
    the column comes from), sorted."""
    q = (
        sa.select(column)
        .select_from(joined if joined is not None else s.Post.__table__)
        .where(s.Post.collected.is_(True), column.is_not(None))
        .distinct()
    )
    return sorted(v for (v,) in conn.execute(q) if v)


def account_handles(conn: sa.Connection) -> list[str]:
    """Handles of the accounts that wrote a collected post."""
    return _distinct(conn, s.Author.handle, sa.join(s.Post, s.Author, s.Author.id == s.Post.author_id))


def post_languages(conn: sa.Connection) -> list[str]:
    """The languages reports select on: detected, else the platform's tag (as ``repo.select_posts``)."""
    return _distinct(
        conn,
        sa.func.coalesce(s.PostAnalysis.lang, s.Post.lang),
        sa.outerjoin(s.Post, s.PostAnalysis, s.PostAnalysis.post_id == s.Post.id),
    )


def platforms(conn: sa.Connection) -> list[str]:
    return _distinct(conn, s.Post.platform)


def topic_names(conn: sa.Connection) -> list[str]:
    """Topics posts were scored against (``match --topics`` / ``topics score``)."""
    return [t for (t,) in conn.execute(sa.select(s.PostTopic.topic).distinct().order_by(s.PostTopic.topic))]


def factcheck_count(conn: sa.Connection) -> int:
    return conn.scalar(sa.select(sa.func.count()).select_from(s.FactCheck)) or 0


def factcheck_signature(conn: sa.Connection) -> tuple[int, int | None, datetime | None]:
    """Count, newest id and last change of the fact-checks: moves whenever one is added, edited or
    removed (a running ``watch`` reloads its index when it does)."""
    f = s.FactCheck
    row = conn.execute(sa.select(sa.func.count(), sa.func.max(f.id), sa.func.max(f.updated_at))).one()
    return int(row[0] or 0), row[1], row[2]


def _never_matched() -> sa.Select[tuple[int]]:
    return (
        sa.select(sa.func.count())
        .select_from(s.Post)
        .outerjoin(s.MatchState, s.MatchState.post_id == s.Post.id)
        .where(s.MatchState.post_id.is_(None))
    )


def unmatched_among(conn: sa.Connection, keys: Sequence[tuple[str, str]]) -> int:
    """How many of these posts (platform, platform id) were never matched (or re-opened by an edit)."""
    key = sa.tuple_(s.Post.platform, s.Post.platform_id)
    return sum(
        conn.scalar(_never_matched().where(key.in_(keys[i : i + _CHUNK]))) or 0 for i in range(0, len(keys), _CHUNK)
    )


def unmatched_in_window(
    conn: sa.Connection,
    *,
    handles: Sequence[str],
    since: datetime,
    until: datetime,
    kinds: Sequence[str],
    platforms: Sequence[str],
) -> tuple[int, int]:
    """(never matched, all) collected posts of a study's window: these accounts (any, when none;
    case-insensitive), created in [since, until), of these kinds and platforms (any, when none)."""
    where = [
        s.Post.collected.is_(True),
        s.Post.created_at >= since,
        s.Post.created_at < until,
        s.Post.kind.in_(list(kinds)),
    ]
    if platforms:
        where.append(s.Post.platform.in_(list(platforms)))
    if handles:
        where.append(
            s.Post.author_id.in_(
                sa.select(s.Author.id).where(
                    sa.func.lower(s.Author.handle).in_([h.lstrip("@").lower() for h in handles])
                )
            )
        )
    total = sa.select(sa.func.count()).select_from(s.Post).where(*where)
    return conn.scalar(_never_matched().where(*where)) or 0, conn.scalar(total) or 0


def ingested_files(conn: sa.Connection) -> set[str]:
    """Every file any ingest run (finished or not) read into the store."""
    return {str(f) for (files,) in conn.execute(sa.select(s.IngestRun.files)) for f in files or ()}
