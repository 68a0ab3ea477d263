"""Community Notes: notes by note id, status rows per (note, snapshot), rating counts per
(note, snapshot, file); and the reads behind notes per post."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import sanitise
from claimwatch.store import schema as s
from claimwatch.store.common import BatchCounts, chunks
from claimwatch.store.db import retry_races
from claimwatch.store.keyed import keyed_row, row_digest, upsert_keyed
from claimwatch.store.rows import StoredNote, StoredNoteStatus


@retry_races
def upsert_notes(conn: sa.Connection, notes: Sequence[r.Note], run_id: int | None) -> BatchCounts:
    """Notes keyed by note id. The content of the latest download wins; each download a note
    is in widens its ``first/last_snapshot_at`` span (how deletions are told later)."""
    now = s.utcnow()
    fitted = sanitise.fit_notes(notes)
    items = [
        keyed_row(
            (n.note_id,),
            dict(
                note_id=n.note_id,
                tweet_id=n.tweet_id,
                classification=n.classification,
                created_at=n.created_at,
                author_id=n.author_id,
                first_snapshot_at=n.snapshot_at,
                last_snapshot_at=n.snapshot_at,
            ),
            n.raw,
            n.source,
            run_id,
            row_digest(n.raw),
            now,
        )
        for n in fitted.records
    ]

    def resolve(old: Any, values: dict[str, Any]) -> dict[str, Any] | None:
        snap = values["last_snapshot_at"]
        span = dict(
            first_snapshot_at=min(old.first_snapshot_at, snap), last_snapshot_at=max(old.last_snapshot_at, snap)
        )
        if old.content_hash != values["content_hash"] and snap > old.last_snapshot_at:
            return {**{k: v for k, v in values.items() if k != "first_seen_at"}, **span}
        if (span["first_snapshot_at"], span["last_snapshot_at"]) != (old.first_snapshot_at, old.last_snapshot_at):
            return span
        return None

    counts = upsert_keyed(
        conn,
        s.Note.__table__,
        ("note_id",),
        items,
        lambda k: f"note {k[0]}",
        resolve,
        version="last_snapshot_at",
        extra_cols=("first_snapshot_at",),
    )
    counts.take(fitted)
    return counts


_STATUS_FIELDS = (
    "created_at",
    "current_status",
    "current_status_at",
    "first_non_nmr_status",
    "first_non_nmr_at",
    "latest_non_nmr_status",
    "latest_non_nmr_at",
    "locked_status",
    "locked_at",
    "decided_by",
)


@retry_races
def add_note_statuses(conn: sa.Connection, rows: Sequence[r.NoteStatus], run_id: int | None) -> BatchCounts:
    """Status rows keyed by (note, snapshot); never updated (see :func:`upsert_keyed`)."""
    now = s.utcnow()
    fitted = sanitise.fit_statuses(rows)
    items = [
        keyed_row(
            (st.note_id, st.snapshot_at),
            dict(note_id=st.note_id, snapshot_at=st.snapshot_at, **{f: getattr(st, f) for f in _STATUS_FIELDS}),
            st.raw,
            st.source,
            run_id,
            row_digest(st.raw),
            now,
        )
        for st in fitted.records
    ]
    counts = upsert_keyed(
        conn,
        s.NoteStatus.__table__,
        ("note_id", "snapshot_at"),
        items,
        lambda k: f"status of note {k[0]} in the snapshot of {k[1].isoformat()}",
        None,
        version="snapshot_at",
    )
    counts.take(fitted)
    return counts


_RATING_COUNTS = ("ratings", "helpful", "somewhat_helpful", "not_helpful")


@retry_races
def set_note_ratings(conn: sa.Connection, rows: Sequence[r.NoteRatings], run_id: int | None) -> BatchCounts:
    """Per-note counts of one ratings file, keyed by (note, snapshot, file name): a re-read
    of the same file replaces its counts instead of adding them again."""
    counts = BatchCounts()
    rows = counts.take(sanitise.fit_ratings(rows))
    t = s.NoteRatings.__table__
    existing: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for chunk in chunks(sorted({x.note_id for x in rows})):
        for row in conn.execute(
            sa.select(t.c.note_id, t.c.snapshot_at, t.c.file_name, *(t.c[k] for k in _RATING_COUNTS)).where(
                t.c.note_id.in_(chunk)
            )
        ):
            existing[tuple(row[:3])] = tuple(row[3:])
    inserts = []
    for x in rows:
        key, numbers = (x.note_id, x.snapshot_at, x.file_name), tuple(getattr(x, k) for k in _RATING_COUNTS)
        old = existing.get(key)
        if old is None:
            inserts.append(
                dict(
                    note_id=x.note_id,
                    snapshot_at=x.snapshot_at,
                    file_name=x.file_name,
                    ingest_run_id=run_id,
                    **dict(zip(_RATING_COUNTS, numbers, strict=True)),
                )
            )
            counts.inserted += 1
        elif old == numbers:
            counts.unchanged += 1
        else:
            conn.execute(
                sa.update(t)
                .where(t.c.note_id == key[0], t.c.snapshot_at == key[1], t.c.file_name == key[2])
                .values(ingest_run_id=run_id, **dict(zip(_RATING_COUNTS, numbers, strict=True)))
            )
            counts.updated += 1
    if inserts:
        conn.execute(sa.insert(t), inserts)
    return counts


def notes_on_posts(conn: sa.Connection, tweet_ids: Sequence[str]) -> list[StoredNote]:
    """Every stored note written on these posts, by tweet id then creation time."""
    out: list[StoredNote] = []
    for chunk in chunks(sorted(set(tweet_ids))):
        out.extend(
            StoredNote(**row._mapping)
            for row in conn.execute(
                sa.select(
                    s.Note.note_id,
                    s.Note.tweet_id,
                    s.Note.classification,
                    s.Note.created_at,
                    s.Note.first_snapshot_at,
                    s.Note.last_snapshot_at,
                )
                .where(s.Note.tweet_id.in_(chunk))
                .order_by(s.Note.tweet_id, s.Note.created_at, s.Note.note_id)
            )
        )
    return out


def note_statuses(
    conn: sa.Connection, note_ids: Sequence[str], as_of: datetime | None = None
) -> list[StoredNoteStatus]:
    """Status rows of these notes from snapshots not after ``as_of``, oldest snapshot first."""
    out: list[StoredNoteStatus] = []
    for chunk in chunks(sorted(set(note_ids))):
        q = (
            sa.select(
                s.NoteStatus.note_id, s.NoteStatus.snapshot_at, *(getattr(s.NoteStatus, f) for f in _STATUS_FIELDS)
            )
            .where(s.NoteStatus.note_id.in_(chunk))
            .order_by(s.NoteStatus.note_id, s.NoteStatus.snapshot_at)
        )
        if as_of is not None:
            q = q.where(s.NoteStatus.snapshot_at <= as_of)
        out.extend(StoredNoteStatus(**row._mapping) for row in conn.execute(q))
    return out


def note_rating_counts(
    conn: sa.Connection, note_ids: Sequence[str], as_of: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Per note, its rating counts in the latest ratings snapshot not after ``as_of`` (summed over that
    snapshot's files)."""
    t = s.NoteRatings.__table__
    latest: dict[str, tuple[datetime, dict[str, int]]] = {}
    for chunk in chunks(sorted(set(note_ids))):
        q = (
            sa.select(t.c.note_id, t.c.snapshot_at, *(sa.func.sum(t.c[k]).label(k) for k in _RATING_COUNTS))
            .where(t.c.note_id.in_(chunk))
            .group_by(t.c.note_id, t.c.snapshot_at)
            .order_by(t.c.note_id, t.c.snapshot_at)
        )
        if as_of is not None:
            q = q.where(t.c.snapshot_at <= as_of)
        for row in conn.execute(q):
            latest[row.note_id] = (row.snapshot_at, {k: int(getattr(row, k)) for k in _RATING_COUNTS})
    return {note_id: numbers for note_id, (_, numbers) in latest.items()}
