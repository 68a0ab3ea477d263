"""Where each live stream of ``claimwatch watch`` stands (``watch_cursors``).

The runner saves a stream's cursor in the transaction that stores the posts of the events before
it, so a crash replays events (absorbed by the post upsert and incremental matching), never skips
one. Keys are :meth:`~claimwatch.live.watchlist.StreamSpec.key` (name + hash of what is followed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from claimwatch.store import schema as s
from claimwatch.store.common import chunks
from claimwatch.store.db import retry_races


def read_cursors(conn: sa.Connection, streams: Sequence[str]) -> dict[str, str | None]:
    """The stored cursor of each of ``streams`` that has one (absent: never stored, start from now)."""
    out: dict[str, str | None] = {}
    for chunk in chunks(list(streams)):
        q = sa.select(s.WatchCursor.stream, s.WatchCursor.cursor).where(s.WatchCursor.stream.in_(chunk))
        out.update((row.stream, row.cursor) for row in conn.execute(q))
    return out


@retry_races
def save_cursors(conn: sa.Connection, positions: Mapping[str, tuple[str, int]]) -> None:
    """Set each stream's cursor and add its events: ``{stream: (cursor, events in this batch)}``.
    Insert or update, portable (a concurrent first insert of the same stream is retried)."""
    if not positions:
        return
    now = s.utcnow()
    known = set(read_cursors(conn, list(positions)))
    for stream, (cursor, events) in positions.items():
        if stream in known:
            conn.execute(
                sa.update(s.WatchCursor)
                .where(s.WatchCursor.stream == stream)
                .values(cursor=cursor, events=s.WatchCursor.events + events, updated_at=now)
            )
        else:
            conn.execute(sa.insert(s.WatchCursor).values(stream=stream, cursor=cursor, events=events, updated_at=now))


# --------------------------------------------------------------------------- the watch sessions' runs
#: ``ingest_runs.kind`` of a watch session; ``recovered``: an interrupted session whose stored
#: posts were matched and alerted on by the next one.
WATCH_RUN = "watch"
RECOVERED = "recovered"


def interrupted_watch_posts(conn: sa.Connection) -> tuple[list[int], list[int]]:
    """(runs, collected posts they stored) of watch sessions that were interrupted: a crash may
    have come after a batch's posts were committed and before they were matched or alerted on."""
    runs = list(
        conn.scalars(
            sa.select(s.IngestRun.id).where(s.IngestRun.kind == WATCH_RUN, s.IngestRun.status == "interrupted")
        )
    )
    posts: list[int] = []
    for chunk in chunks(runs):
        posts.extend(
            conn.scalars(sa.select(s.Post.id).where(s.Post.ingest_run_id.in_(chunk), s.Post.collected.is_(True)))
        )
    return runs, posts


def mark_recovered(conn: sa.Connection, run_ids: Sequence[int]) -> None:
    for chunk in chunks(list(run_ids)):
        conn.execute(sa.update(s.IngestRun).where(s.IngestRun.id.in_(chunk)).values(status=RECOVERED))
