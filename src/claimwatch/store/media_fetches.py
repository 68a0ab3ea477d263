"""The download queue of post media (``media_fetches``): every SQL statement of fetching.

A row per ``media`` row, made once (:func:`unqueued_media` finds the rows without one). Its
``status``:

- ``pending`` — to fetch; ``failed`` — to fetch again after ``next_attempt_at`` (exponential
  back-off); after :data:`MAX_ATTEMPTS` its ``next_attempt_at`` is cleared and it stays failed
  until :func:`retry_failed`;
- ``fetching`` — claimed by a run (:func:`claim`) until ``next_attempt_at`` (the lease): a second
  run skips it. A run that stops on Ctrl-C hands its claims back (:func:`release`); one that is
  killed leaves them to expire, and the next run after the lease takes them again;
- ``fetched`` — done: ``file_id`` names the file row, written in the same transaction;
- ``refused`` — never retried (too large, not media, a forbidden address);
- ``skipped`` — the reference has nothing fetchable (a Telethon media object, a link card);
  ``last_error`` says why.

On PostgreSQL a claim selects ``FOR UPDATE SKIP LOCKED``; on SQLite the claim's write
transaction (``BEGIN IMMEDIATE``) already serialises claimers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from claimwatch.media.records import MediaInfo
from claimwatch.media.storage import StoredBytes
from claimwatch.store import common
from claimwatch.store import schema as s

F = s.MediaFetch
PENDING, FETCHING, FETCHED, FAILED, REFUSED, SKIPPED = "pending", "fetching", "fetched", "failed", "refused", "skipped"
STATUSES = (PENDING, FETCHING, FETCHED, FAILED, REFUSED, SKIPPED)
#: attempts before a failed row waits for ``--retry-failed``
MAX_ATTEMPTS = 5
#: the first back-off after a failure; doubled per attempt, capped at :data:`BACKOFF_CAP`
BACKOFF = timedelta(minutes=5)
BACKOFF_CAP = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MediaSource:
    """A ``media`` row without a queue row, with what its fetch target depends on: the post's
    platform and source file (a Telegram export's paths are relative to it) and the author's
    platform id (a Bluesky DID names the CDN path)."""

    media_id: int
    media_key: str
    type: str | None
    url: str | None
    preview_url: str | None
    duration_ms: int | None
    raw: dict[str, Any] | None
    platform: str
    post_platform_id: str
    source_format: str | None
    source_path: str | None
    author_platform_id: str | None


@dataclass(frozen=True, slots=True)
class NewFetch:
    """A queue row to add: ``url`` to fetch (status pending), or ``reason`` it has none (skipped)."""

    media_id: int
    url: str | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DueFetch:
    id: int
    media_id: int
    url: str
    attempts: int


@dataclass(frozen=True, slots=True)
class QueueError:
    fetch_id: int
    status: str
    url: str
    error: str
    http_status: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class QueueStatus:
    #: (status, media type) -> rows
    counts: dict[tuple[str, str | None], int]
    #: ``media`` rows not queued yet (the next fetch enqueues them)
    unqueued: int
    fetched_bytes: int
    recent_errors: list[QueueError]


# ----------------------------------------------------------------------------- enqueue


def unqueued_media(conn: sa.Connection, after_id: int, limit: int) -> list[MediaSource]:
    """``media`` rows with no queue row, in id order after ``after_id``. On PostgreSQL the rows
    are locked (``SKIP LOCKED``): two runs enqueueing at once take different rows."""
    m, p = s.Media, s.Post
    q = (
        sa.select(
            m.id,
            m.media_key,
            m.type,
            m.url,
            m.preview_url,
            m.duration_ms,
            m.raw,
            p.platform,
            p.platform_id,
            p.source_format,
            p.source_path,
            s.Author.platform_id.label("author_platform_id"),
        )
        .join(p, p.id == m.post_id)
        .outerjoin(s.Author, s.Author.id == p.author_id)
        .outerjoin(F, F.media_id == m.id)
        .where(F.id.is_(None), m.id > after_id)
        .order_by(m.id)
        .limit(limit)
        .with_for_update(of=m, skip_locked=True)
    )
    return [
        MediaSource(
            media_id=row.id,
            media_key=row.media_key,
            type=row.type,
            url=row.url,
            preview_url=row.preview_url,
            duration_ms=row.duration_ms,
            raw=row.raw,
            platform=row.platform,
            post_platform_id=row.platform_id,
            source_format=row.source_format,
            source_path=row.source_path,
            author_platform_id=row.author_platform_id,
        )
        for row in conn.execute(q)
    ]


def add_fetches(conn: sa.Connection, rows: Sequence[NewFetch], now: datetime) -> None:
    if rows:
        conn.execute(
            sa.insert(F),
            [
                dict(
                    media_id=r.media_id,
                    url=r.url or "",
                    status=PENDING if r.url else SKIPPED,
                    attempts=0,
                    last_error=r.reason,
                    updated_at=now,
                )
                for r in rows
            ],
        )


# ------------------------------------------------------------------------------- claim


def _due(now: datetime) -> sa.ColumnElement[bool]:
    waited = F.next_attempt_at <= now
    return sa.or_(
        sa.and_(F.status == PENDING, sa.or_(F.next_attempt_at.is_(None), waited)),
        sa.and_(F.status.in_((FAILED, FETCHING)), F.next_attempt_at.is_not(None), waited),
    )


def claim(conn: sa.Connection, now: datetime, limit: int, lease: timedelta) -> list[DueFetch]:
    """Up to ``limit`` due rows, marked ``fetching`` until ``now + lease`` (no other run takes them)."""
    pick = sa.select(F.id).where(_due(now)).order_by(F.id).limit(limit)
    ids = common.lease(conn, pick, F.id, _due(now), status=FETCHING, next_attempt_at=now + lease, updated_at=now)
    if not ids:
        return []
    rows = conn.execute(
        sa.select(F.id, F.media_id, F.url, F.attempts).where(F.id.in_(ids), F.status == FETCHING).order_by(F.id)
    )
    return [DueFetch(r.id, r.media_id, r.url, r.attempts) for r in rows]


def release(conn: sa.Connection, fetch_ids: Sequence[int], now: datetime) -> None:
    """Hand back claims a run did not finish (Ctrl-C): due again at once, as before the claim."""
    if fetch_ids:
        conn.execute(
            sa.update(F)
            .where(F.id.in_(fetch_ids), F.status == FETCHING)
            .values(status=sa.case((F.attempts > 0, FAILED), else_=PENDING), next_attempt_at=now, updated_at=now)
        )


def retry_failed(conn: sa.Connection, now: datetime) -> int:
    """Make every failed row due now, those past :data:`MAX_ATTEMPTS` included (one more try each)."""
    return conn.execute(sa.update(F).where(F.status == FAILED).values(next_attempt_at=now, updated_at=now)).rowcount


# ------------------------------------------------------------------------------ outcomes


def file_row(conn: sa.Connection, stored: StoredBytes, info: MediaInfo, now: datetime) -> int:
    """The ``media_files`` row of these bytes, found by SHA-256 or made (not hashed yet: the
    matcher hashes it). Two runs storing the same bytes at once end with one row."""
    found = conn.execute(sa.select(s.MediaFile.id).where(s.MediaFile.sha256 == stored.sha256)).scalar()
    if found is not None:
        return int(found)
    try:
        with conn.begin_nested():
            return int(
                conn.execute(
                    sa.insert(s.MediaFile).values(
                        sha256=stored.sha256,
                        md5=stored.md5,
                        size_bytes=stored.size_bytes,
                        mime=info.mime,
                        kind=info.kind.value,
                        path=stored.path,
                        created_at=now,
                    )
                ).inserted_primary_key[0]
            )
    except sa.exc.IntegrityError:  # another run inserted the same bytes in between
        return int(conn.execute(sa.select(s.MediaFile.id).where(s.MediaFile.sha256 == stored.sha256)).scalar_one())


def finish(
    conn: sa.Connection,
    fetch_id: int,
    now: datetime,
    *,
    file_id: int | None,
    reason: str | None,
    http_status: int | None,
    declared_type: str | None,
) -> None:
    """A final outcome: fetched (``file_id``, the file row written in this transaction) or
    refused (``reason``; never retried)."""
    conn.execute(
        sa.update(F)
        .where(F.id == fetch_id)
        .values(
            status=FETCHED if file_id is not None else REFUSED,
            file_id=file_id,
            fetched_at=now if file_id is not None else None,
            attempts=F.attempts + 1,
            last_error=_clip(reason, 1000),
            next_attempt_at=None,
            http_status=http_status,
            declared_type=_clip(declared_type, 256),
            updated_at=now,
        )
    )


def mark_failed(
    conn: sa.Connection,
    fetch: DueFetch,
    reason: str,
    now: datetime,
    *,
    http_status: int | None,
    retry_after: timedelta | None = None,
) -> None:
    """A failed attempt: retried after the back-off (or the server's Retry-After, if later);
    after :data:`MAX_ATTEMPTS` it waits for :func:`retry_failed`."""
    attempts = fetch.attempts + 1
    backoff = min(BACKOFF * 2 ** min(attempts - 1, 16), BACKOFF_CAP)
    wait = max(backoff, retry_after) if retry_after is not None else backoff
    conn.execute(
        sa.update(F)
        .where(F.id == fetch.id)
        .values(
            status=FAILED,
            attempts=attempts,
            last_error=_clip(reason, 1000),
            http_status=http_status,
            next_attempt_at=now + wait if attempts < MAX_ATTEMPTS else None,
            updated_at=now,
        )
    )


def _clip(text: str | None, size: int) -> str | None:
    return text if text is None or len(text) <= size else text[: size - 1] + "…"


# ------------------------------------------------------------------------ local files


def post_id_of(conn: sa.Connection, platform: str, platform_id: str) -> int | None:
    return conn.execute(
        sa.select(s.Post.id).where(s.Post.platform == platform, s.Post.platform_id == platform_id)
    ).scalar()


def attach_local(
    conn: sa.Connection,
    post_id: int,
    media_key: str,
    kind: str,
    raw: dict[str, Any],
    file_id: int,
    source: str,
    now: datetime,
) -> bool:
    """A local file attached to a post: its ``media`` row and a ``fetched`` queue row naming the
    file. False (nothing written) when the post already has this file under this key."""
    m = s.Media
    if conn.execute(sa.select(m.id).where(m.post_id == post_id, m.media_key == media_key)).scalar() is not None:
        return False
    media_id = conn.execute(
        sa.insert(m).values(post_id=post_id, media_key=media_key, type=kind, raw=raw)
    ).inserted_primary_key[0]
    conn.execute(
        sa.insert(F).values(
            media_id=media_id,
            url=source,
            status=FETCHED,
            attempts=1,
            file_id=file_id,
            fetched_at=now,
            updated_at=now,
        )
    )
    return True


# ----------------------------------------------------------------------------- status


def queue_status(conn: sa.Connection, recent: int = 10) -> QueueStatus:
    counts = {
        (row.status, row.type): int(row.n)
        for row in conn.execute(
            sa.select(F.status, s.Media.type, sa.func.count().label("n"))
            .join(s.Media, s.Media.id == F.media_id)
            .group_by(F.status, s.Media.type)
        )
    }
    unqueued = conn.execute(
        sa.select(sa.func.count()).select_from(s.Media).outerjoin(F, F.media_id == s.Media.id).where(F.id.is_(None))
    ).scalar_one()
    fetched_bytes = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(s.MediaFile.size_bytes), 0)).where(
            s.MediaFile.id.in_(sa.select(F.file_id).where(F.status == FETCHED))
        )
    ).scalar_one()
    errors = [
        QueueError(r.id, r.status, r.url, r.last_error, r.http_status, r.updated_at)
        for r in conn.execute(
            sa.select(F.id, F.status, F.url, F.last_error, F.http_status, F.updated_at)
            .where(F.last_error.is_not(None), F.status.in_((FAILED, REFUSED, SKIPPED)))
            .order_by(F.updated_at.desc(), F.id.desc())
            .limit(recent)
        )
    ]
    return QueueStatus(counts, int(unqueued), int(fetched_bytes), errors)
