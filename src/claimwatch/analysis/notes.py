"""Community Notes facts per post, as of a date: notes proposed, shown now, ever shown.

What the words mean here (the README's "Community Notes" section says the same):

- **proposed**: every stored note written on the post and created by ``as_of``, whatever
  its classification or status.
- **shown**: X displays a note on a post when its status is ``CURRENTLY_RATED_HELPFUL``
  and it says the post is misleading (``MISINFORMED_OR_POTENTIALLY_MISLEADING``); a helpful
  "not misleading" note is not displayed. A deleted note is not shown.
- **shown now**: the note's status row from the latest noteStatusHistory snapshot not after
  ``as_of`` (the latest of all without it) has ``currentStatus`` rated helpful.
- **ever shown**: some snapshot not after ``as_of`` shows the note rated helpful at some
  point: its ``firstNonNMRStatus``, ``mostRecentNonNMRStatus``, ``lockedStatus`` or
  ``currentStatus``, with the matching timestamp (not after ``as_of``) as ``first_shown_at``.
  A spell of helpfulness that was neither the first nor the latest non-NMR status when a
  snapshot was taken is invisible: the downloads keep no full history.
- **deleted**: the notes download has no deletion marker; a deleted note is just absent.
  A note is taken as deleted once a notes download dated with ``--snapshot-date``, later
  than the last download it was in and not after ``as_of``, lacks it. Only explicitly dated
  downloads count: a file dated by its own latest timestamp may be one shard of several.
  Notes seen only in status history (never in a notes download) have no tweet id and no
  classification; they attach to no post and never count as shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.sources import cn_columns as c
from claimwatch.sources.cn_notes import FORMAT as NOTES_FORMAT
from claimwatch.store import repo

#: How a notes download must be dated for its missing notes to count as deleted.
_DELETION_DATING = "--snapshot-date"


@dataclass(frozen=True)
class NoteFacts:
    """One note on a post, as of the date asked."""

    note_id: str
    classification: str | None
    created_at: datetime | None
    #: ``currentStatus`` in the status snapshot used; None when no snapshot by ``as_of`` has the note
    status: str | None
    #: ``timestampMillisOfCurrentStatus`` of that row
    status_at: datetime | None
    #: the noteStatusHistory snapshot the status comes from
    snapshot_at: datetime | None
    shown_now: bool
    ever_shown: bool
    #: the earliest time the note is known to have been rated helpful (misleading notes only)
    first_shown_at: datetime | None
    #: date of the first notes download (not after ``as_of``) the note was missing from
    deleted_by: datetime | None
    #: rating counts (ratings, helpful, somewhat_helpful, not_helpful) of the latest ratings snapshot, if ingested
    ratings: dict[str, int] | None

    @property
    def misleading(self) -> bool:
        return self.classification == c.MISLEADING


@dataclass(frozen=True)
class PostNotes:
    """The notes on one post (X tweet id), as of ``as_of`` (None: everything stored)."""

    platform_id: str
    as_of: datetime | None
    notes: tuple[NoteFacts, ...]

    @property
    def proposed(self) -> int:
        return len(self.notes)

    @property
    def note_ids(self) -> list[str]:
        return [n.note_id for n in self.notes]

    @property
    def shown_now(self) -> bool:
        return any(n.shown_now for n in self.notes)

    @property
    def ever_shown(self) -> bool:
        return any(n.ever_shown for n in self.notes)

    @property
    def shown_note_ids(self) -> list[str]:
        return [n.note_id for n in self.notes if n.shown_now]


@contextmanager
def connected(bind: sa.Engine | sa.Connection) -> Iterator[sa.Connection]:
    """A connection from an engine (closed afterwards), or the caller's own connection."""
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def post_notes(bind: sa.Engine | sa.Connection, platform_ids: Sequence[str], as_of: datetime | None = None
               ) -> dict[str, PostNotes]:
    """Notes facts for X posts by tweet id; every id asked gets an entry (no notes: empty)."""
    with connected(bind) as conn:
        notes = [n for n in repo.notes_on_posts(conn, platform_ids)
                 if as_of is None or n.created_at is None or n.created_at <= as_of]
        ids = [n.note_id for n in notes]
        statuses: dict[str, list[Any]] = {}
        for row in repo.note_statuses(conn, ids, as_of):
            statuses.setdefault(row.note_id, []).append(row)
        ratings = repo.note_rating_counts(conn, ids, as_of)
        downloads = sorted(d for d in repo.dated_files(conn, "notes", NOTES_FORMAT, _DELETION_DATING)
                           if as_of is None or d <= as_of)
    by_post: dict[str, list[NoteFacts]] = {pid: [] for pid in platform_ids}
    for n in notes:
        by_post[n.tweet_id].append(_facts(n, statuses.get(n.note_id, []), ratings.get(n.note_id), downloads, as_of))
    return {pid: PostNotes(pid, as_of, tuple(facts)) for pid, facts in by_post.items()}


def post_notes_by_id(bind: sa.Engine | sa.Connection, post_ids: Sequence[int], as_of: datetime | None = None
                     ) -> dict[int, PostNotes]:
    """The same keyed by store post id; posts on platforms without Community Notes get none."""
    with connected(bind) as conn:
        ids = repo.platform_ids_of(conn, post_ids)
        facts = post_notes(conn, [pid for platform, pid in ids.values() if platform == "x"], as_of)
    return {post_id: facts.get(pid) or PostNotes(pid, as_of, ()) for post_id, (_, pid) in ids.items()}


def _facts(note: Any, statuses: list[Any], ratings: dict[str, int] | None, downloads: list[datetime],
           as_of: datetime | None) -> NoteFacts:
    """``statuses`` are the note's rows not after ``as_of``, oldest snapshot first."""
    deleted_by = next((d for d in downloads if d > note.last_snapshot_at), None)
    misleading = note.classification == c.MISLEADING
    now = statuses[-1] if statuses else None
    ever, first_shown = _rated_helpful(statuses, as_of) if misleading else (False, None)
    return NoteFacts(
        note_id=note.note_id, classification=note.classification, created_at=note.created_at,
        status=now.current_status if now else None, status_at=now.current_status_at if now else None,
        snapshot_at=now.snapshot_at if now else None,
        shown_now=bool(misleading and now and now.current_status == c.CURRENTLY_RATED_HELPFUL and deleted_by is None),
        ever_shown=ever, first_shown_at=first_shown, deleted_by=deleted_by, ratings=ratings)


def _rated_helpful(statuses: list[Any], as_of: datetime | None) -> tuple[bool, datetime | None]:
    """Whether any snapshot shows the note rated helpful (not after ``as_of``), and the earliest
    time given for it (None when no such status carries its timestamp)."""
    ever, times = False, []
    for row in statuses:
        for status, at in ((row.first_non_nmr_status, row.first_non_nmr_at),
                           (row.latest_non_nmr_status, row.latest_non_nmr_at),
                           (row.locked_status, row.locked_at), (row.current_status, row.current_status_at)):
            if status == c.CURRENTLY_RATED_HELPFUL and (at is None or as_of is None or at <= as_of):
                ever = True
                if at is not None:
                    times.append(at)
    return ever, min(times, default=None)
