"""Fetching post media, as the library does it: queue the references, claim, download, record.

What ``claimwatch media fetch`` / ``media status`` / ``media add`` call. Each outcome is written
in its own short transaction right after its download (never while one runs), so a run stopped at
any point has recorded everything it finished; what it had claimed and not finished is handed
back (Ctrl-C) or taken again after its lease (a killed process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from claimwatch.media import refs
from claimwatch.media.fetch import Fetcher, FetchLimits, FetchResult, Outcome
from claimwatch.media.storage import MediaStore
from claimwatch.store import db
from claimwatch.store import media_fetches as q
from claimwatch.store import schema as s
from claimwatch.store.posts import LOCAL_MEDIA_PREFIX

#: references queued per transaction
ENQUEUE_BATCH = 500
#: rows claimed at once (each is leased for the worst case of all of them)
CLAIM_BATCH = 4

Clock = Callable[[], datetime]
#: called after each download: the queue row's URL and what happened
ProgressFn = Callable[[str, FetchResult], None]


@dataclass
class FetchSummary:
    queued: int = 0
    #: references found with nothing to fetch (queued as skipped)
    skipped: int = 0
    fetched: int = 0
    failed: int = 0
    refused: int = 0
    #: bytes of the files fetched in this run
    bytes: int = 0
    #: failed rows made due again by ``--retry-failed``
    retried: int = 0
    errors: list[str] = field(default_factory=list)


def enqueue(engine: sa.Engine, max_bytes: int | None, now: Clock = s.utcnow) -> tuple[int, int]:
    """Queue every ``media`` row that has no queue row yet; (queued to fetch, skipped)."""
    queued = skipped = 0
    after = 0
    while True:
        with db.writing(engine) as conn:
            sources = q.unqueued_media(conn, after, ENQUEUE_BATCH)
            if not sources:
                return queued, skipped
            rows = [refs.fetch_target(src, max_bytes) for src in sources]
            q.add_fetches(conn, rows, now())
        after = sources[-1].media_id
        skipped += sum(1 for r in rows if r.url is None)
        queued += sum(1 for r in rows if r.url is not None)


def lease_for(limits: FetchLimits, rows: int) -> timedelta:
    """How long a claim of ``rows`` rows may take at worst (every attempt to its deadline)."""
    per_row = limits.tries * (limits.total_timeout_s + limits.retry_after_cap_s)
    return timedelta(seconds=rows * per_row + 60)


def fetch_media(
    engine: sa.Engine,
    store: MediaStore,
    limits: FetchLimits,
    *,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: ProgressFn | None = None,
    now: Clock = s.utcnow,
    fetcher: Fetcher | None = None,
) -> FetchSummary:
    """Queue new references, then download due rows until none is left (or ``limit`` were tried)."""
    summary = FetchSummary()
    store.sweep()
    if retry_failed:
        with db.writing(engine) as conn:
            summary.retried = q.retry_failed(conn, now())
    summary.queued, summary.skipped = enqueue(engine, limits.max_bytes, now)
    own = fetcher is None
    fetcher = fetcher or Fetcher(store, limits)
    tried = 0
    try:
        while limit is None or tried < limit:
            size = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - tried)
            with db.writing(engine) as conn:
                claimed = q.claim(conn, now(), size, lease_for(limits, size))
            if not claimed:
                break
            unfinished = [c.id for c in claimed]
            try:
                for due in claimed:
                    result = fetcher.fetch(due.url)
                    _record(engine, due, result, now(), summary)
                    unfinished.remove(due.id)
                    tried += 1
                    if progress:
                        progress(due.url, result)
            finally:
                if unfinished:
                    with db.writing(engine) as conn:
                        q.release(conn, unfinished, now())
    finally:
        if own:
            fetcher.close()
    return summary


def _record(engine: sa.Engine, due: q.DueFetch, result: FetchResult, at: datetime, summary: FetchSummary) -> None:
    reason = result.reason or "unknown error"
    with db.writing(engine) as conn:
        if result.outcome is Outcome.FAILED:
            later = timedelta(seconds=result.retry_after_s) if result.retry_after_s is not None else None
            q.mark_failed(conn, due, reason, at, http_status=result.http_status, retry_after=later)
            summary.failed += 1
        else:
            fetched = result.outcome is Outcome.FETCHED and result.stored is not None and result.info is not None
            q.finish(
                conn,
                due.id,
                at,
                file_id=q.file_row(conn, result.stored, result.info, at) if fetched else None,
                reason=None if fetched else reason,
                http_status=result.http_status,
                declared_type=result.declared_type,
            )
            if fetched:
                summary.fetched += 1
                summary.bytes += result.stored.size_bytes
                return
            summary.refused += 1
    summary.errors.append(f"{due.url}: {reason}")


@dataclass(frozen=True, slots=True)
class Attached:
    media_key: str
    sha256: str
    mime: str | None
    size_bytes: int
    #: False when the post already had this file
    added: bool


def add_local(
    engine: sa.Engine, store: MediaStore, limits: FetchLimits, platform: str, post_id: str, path: Path
) -> Attached:
    """Attach a local file (one an analyst saved) to a stored post: copied into the media folder
    under the same cap and type check as a download, then recorded as that post's media, fetched.
    Raises ValueError with a one-line reason (no such post, not a file, not media)."""
    with engine.connect() as conn:
        if q.post_id_of(conn, platform, post_id) is None:
            raise ValueError(f"no {platform} post {post_id} in the store")
    resolved = path.expanduser().resolve()
    with Fetcher(store, limits) as fetcher:
        result = fetcher.fetch_file(resolved)
    if result.outcome is not Outcome.FETCHED or result.stored is None or result.info is None:
        raise ValueError(result.reason or f"{path}: not attached")
    stored, info = result.stored, result.info
    key = f"{LOCAL_MEDIA_PREFIX}{stored.sha256[:16]}"
    raw = {"file_name": resolved.name, "size_bytes": stored.size_bytes, "mime": info.mime}
    at = s.utcnow()
    with db.writing(engine) as conn:
        internal = q.post_id_of(conn, platform, post_id)
        if internal is None:  # deleted meanwhile
            raise ValueError(f"no {platform} post {post_id} in the store")
        file_id = q.file_row(conn, stored, info, at)
        added = q.attach_local(conn, internal, key, info.kind.value, raw, file_id, resolved.as_uri(), at)
    return Attached(key, stored.sha256, info.mime, stored.size_bytes, added)


def status(engine: sa.Engine, recent: int = 10) -> q.QueueStatus:
    with engine.connect() as conn:
        return q.queue_status(conn, recent)
