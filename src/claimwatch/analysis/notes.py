"""Community Notes facts per post, as of a date: notes proposed, shown then, ever shown, and
how the status at that date is known — from a snapshot, inferred, or not at all.

What the words mean here (the README's "Community Notes" section says the same):

- **proposed**: every stored note written on the post and created by ``as_of``, whatever
  its classification or status.
- **shown**: X displays a note on a post when its status is ``CURRENTLY_RATED_HELPFUL``
  and it says the post is misleading (``MISINFORMED_OR_POTENTIALLY_MISLEADING``); a helpful
  "not misleading" note is not displayed. A deleted note is not shown.
- **the status as of** ``as_of`` (None: the latest of all) is
  *known* when a noteStatusHistory snapshot taken on or before ``as_of`` has the note (its
  ``currentStatus`` in the latest such snapshot); *inferred* when only later snapshots have
  it and their dated status columns decide it by the rule below; *unknown* otherwise. A note
  whose status is unknown is neither shown nor "not shown": a post with such a note and none
  shown is counted apart, with the reason, never as showing none.
- **inferred from a later snapshot**: the status columns date when the note got a status
  (the download documentation: ``timestampMillisOfCurrentStatus`` is when it got its current
  status, ``…FirstNonNMRStatus`` / ``…LatestNonNMRStatus`` when it first / most recently got a
  status other than ``NEEDS_MORE_RATINGS``, ``…StatusLock`` when the status was locked). So a
  snapshot taken after ``as_of`` proves the status at ``as_of`` when

  1. the status was locked by ``as_of``: ``lockedStatus``;
  2. the current status began by ``as_of``: ``currentStatus``;
  3. the note first left ``NEEDS_MORE_RATINGS`` only after ``as_of``, or had never left it (no
     first or latest non-NMR status, current status ``NEEDS_MORE_RATINGS``): ``NEEDS_MORE_RATINGS``;
  4. its latest non-NMR status began by ``as_of`` and still holds, or gave way only after
     ``as_of`` (current status ``NEEDS_MORE_RATINGS``, dated after ``as_of``): that status —
     after its latest non-NMR status a note can only fall back to ``NEEDS_MORE_RATINGS``, and
     the current status's timestamp says when. So a note first rated helpful at or before
     ``as_of`` whose next dated status change came after ``as_of`` was shown at ``as_of``.

  Anything else stays unknown: between the first and the latest non-NMR status the downloads
  keep no history (the note may have lost and regained its status in between), the first
  (2021) files have no latest non-NMR status, and where later snapshots decide differently
  none of them is taken.
- **ever shown**: some snapshot not after ``as_of`` shows the note rated helpful at some
  point (its ``firstNonNMRStatus``, ``mostRecentNonNMRStatus``, ``lockedStatus`` or
  ``currentStatus``), or a later snapshot does with a timestamp not after ``as_of``; the
  earliest such timestamp is ``first_shown_at``. A spell of helpfulness that was neither the
  first nor the latest non-NMR status when a snapshot was taken is invisible: the downloads
  keep no full history.
- **deleted**: the notes download has no deletion marker; a deleted note is just absent.
  A note is taken as deleted once a notes download dated with ``--snapshot-date``, later
  than the last download it was in and not after ``as_of``, lacks it. Only explicitly dated
  downloads count: a file dated by its own latest timestamp may be one shard of several.
  Notes seen only in status history (never in a notes download) have no tweet id and no
  classification; they attach to no post and never count as shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa

from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.reach import Total, describe_views
from claimwatch.sources import cn_columns as c
from claimwatch.sources.cn_notes import FORMAT as NOTES_FORMAT
from claimwatch.store import repo
from claimwatch.store.rows import StoredNote, StoredNoteStatus
from claimwatch.wording import count

if TYPE_CHECKING:  # post_rows builds its rows from this module's facts
    from claimwatch.analysis.post_rows import CommunityNotes

#: How a notes download must be dated for its missing notes to count as deleted.
_DELETION_DATING = "--snapshot-date"
_NMR = c.NEEDS_MORE_RATINGS


class Knowledge(StrEnum):
    """How a note's status (or whether a post showed a note) as of a date is known."""

    KNOWN = "known"
    INFERRED = "inferred"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class NoteFacts:
    """One note on a post, as of the date asked."""

    note_id: str
    classification: str | None
    created_at: datetime | None
    #: the status as of the date: ``currentStatus`` of the snapshot used, or the status inferred
    #: from a later one; None when unknown
    status: str | None
    status_knowledge: Knowledge
    #: why the status is inferred or unknown (None when a snapshot states it)
    status_reason: str | None
    #: when that status began: ``timestampMillisOfCurrentStatus`` of the row used, or the
    #: timestamp an inference rests on
    status_at: datetime | None
    #: the noteStatusHistory snapshot the status comes from
    snapshot_at: datetime | None
    #: None when the status is unknown and the note could be shown (misleading, not deleted)
    shown_now: bool | None
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

    @property
    def shown_knowledge(self) -> Knowledge:
        """How ``shown_now`` is known: a note that is not misleading, or deleted, is not shown whatever its status."""
        return self.status_knowledge if self.misleading and self.deleted_by is None else Knowledge.KNOWN


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
    def shown_now(self) -> bool | None:
        """A note shown: True; no note shown and every note's status known or inferred: False; else None."""
        shown = [n.shown_now for n in self.notes]
        return True if True in shown else None if None in shown else False

    @property
    def shown_knowledge(self) -> Knowledge:
        """Whether :attr:`shown_now` rests on snapshots taken by ``as_of`` alone, or on an inference."""
        shown = self.shown_now
        if shown is None:
            return Knowledge.UNKNOWN
        deciding = [n for n in self.notes if n.shown_now] if shown else list(self.notes)
        known = (any if shown else all)(n.shown_knowledge is Knowledge.KNOWN for n in deciding)
        return Knowledge.KNOWN if known else Knowledge.INFERRED

    @property
    def status_reason(self) -> str | None:
        """Why :attr:`shown_now` is inferred or unknown: the reasons of the notes it rests on."""
        knowledge = self.shown_knowledge
        if knowledge is Knowledge.KNOWN:
            return None
        reasons = dict.fromkeys(
            n.status_reason for n in self.notes if n.shown_knowledge is knowledge and n.status_reason
        )
        return "; ".join(reasons) or None

    @property
    def ever_shown(self) -> bool:
        return any(n.ever_shown for n in self.notes)

    @property
    def shown_note_ids(self) -> list[str]:
        return [n.note_id for n in self.notes if n.shown_now]


def unknown_reason(as_of: datetime | None) -> str:
    """Why a note's status is unknown in the first place."""
    return f"no status snapshot on or before {_day(as_of)}" if as_of else "in no stored status snapshot"


def note_rule(as_of: datetime | None) -> str:
    """The rule a study counts a post as noted by, in words for its methods."""
    return (
        "post counted as noted if a note on it has currentStatus CURRENTLY_RATED_HELPFUL and classification "
        "MISINFORMED_OR_POTENTIALLY_MISLEADING and is not deleted, in the latest noteStatusHistory snapshot "
        + (f"not after {rfc3339(as_of)}" if as_of else "stored")
        + "; where no snapshot by then has the note, the dated status columns of a later snapshot decide it if "
        "they can (status locked or current status begun by then, first non-NMR status only after it, or "
        "latest non-NMR status begun by then and not yet lost), and otherwise its status is unknown: "
        "counted apart, never as not noted"
    )


@dataclass(frozen=True)
class NotesCoverage:
    """The notes on a study's posts, added up: the posts whose status is unknown are counted
    apart from those that showed none. Plain JSON values, so the study's JSON holds it as is."""

    as_of: str | None
    posts: int
    posts_with_note_shown: int
    #: posts known (or inferred) to have shown no note, and their views
    posts_without_note_shown: int
    views_on_posts_without_note: int | None
    views_unknown_on_posts_without_note: int
    posts_note_status_unknown: int
    #: why (None when there are none): "no status snapshot on or before DATE"
    status_unknown_reason: str | None
    #: posts whose shown / not shown rests on a later snapshot's dated statuses
    posts_note_status_inferred: int
    posts_with_proposed_notes: int
    posts_with_proposed_notes_none_shown: int
    posts_with_proposed_notes_status_unknown: int
    #: none shown among the posts with notes proposed whose status is known or inferred
    share_none_shown: float | None
    views_of_those: int | None
    views_unknown_of_those: int
    posts_note_ever_shown: int
    #: notes by status ("unknown"; an inferred one as "STATUS (inferred)")
    note_statuses: dict[str, int]

    def sentence(self) -> str:
        """The study headline's notes sentence; unknown statuses are said apart, with the reason."""
        without, views_unknown = self.posts_without_note_shown, self.views_unknown_on_posts_without_note
        views = describe_views(without, self.views_on_posts_without_note, views_unknown)
        clauses = [f"{self.posts_with_note_shown:,} of them showed a Community Note"]
        if without or not self.posts_note_status_unknown:
            clauses.append(f"the {without:,} without one had {views}")
        if self.posts_note_status_unknown:
            clauses.append(f"status unknown for {self.posts_note_status_unknown:,}: {self.status_unknown_reason}")
        proposed_unknown = (
            f" (status unknown for {self.posts_with_proposed_notes_status_unknown:,})"
            if self.posts_with_proposed_notes_status_unknown
            else ""
        )
        inferred = (
            f" Whether a note was shown is inferred for {count(self.posts_note_status_inferred, 'post')} "
            "from the dated statuses of a later snapshot."
            if self.posts_note_status_inferred
            else ""
        )
        return (
            f"{'; '.join(clauses)}. {self.posts_with_proposed_notes:,} had notes proposed, "
            f"{self.posts_with_proposed_notes_none_shown:,} of those showed none{proposed_unknown}.{inferred}"
        )


def coverage(posts: Iterable[tuple[CommunityNotes, int | None]], as_of: datetime | None) -> NotesCoverage:
    """Add up the notes of ``posts`` (each post row's notes with its views, None when unknown) as of ``as_of``."""
    posts = list(posts)
    shown = [p for p, _ in posts if p.shown_now]
    without, none_shown = Total(), Total()
    for p, views in posts:
        if p.shown_now is False:
            without.add(views)
            if p.proposed:
                none_shown.add(views)
    unknown = [p for p, _ in posts if p.shown_now is None]
    proposed = [p for p, _ in posts if p.proposed]
    decided = len(proposed) - sum(p.shown_now is None for p in proposed)
    statuses = Counter(
        n.status
        if n.status_knowledge is Knowledge.KNOWN
        else f"{n.status} (inferred)"
        if n.status_knowledge is Knowledge.INFERRED
        else "unknown"
        for p, _ in posts
        for n in p.notes
    )
    return NotesCoverage(
        as_of=rfc3339(as_of),
        posts=len(posts),
        posts_with_note_shown=len(shown),
        posts_without_note_shown=without.posts,
        views_on_posts_without_note=without.views,
        views_unknown_on_posts_without_note=without.views_unknown,
        posts_note_status_unknown=len(unknown),
        status_unknown_reason=unknown_reason(as_of) if unknown else None,
        posts_note_status_inferred=sum(p.shown_now_knowledge is Knowledge.INFERRED for p, _ in posts),
        posts_with_proposed_notes=len(proposed),
        posts_with_proposed_notes_none_shown=none_shown.posts,
        posts_with_proposed_notes_status_unknown=len(proposed) - decided,
        share_none_shown=round(none_shown.posts / decided, 4) if decided else None,
        views_of_those=none_shown.views,
        views_unknown_of_those=none_shown.views_unknown,
        posts_note_ever_shown=sum(p.ever_shown for p, _ in posts),
        note_statuses=dict(sorted(statuses.items())),
    )


@contextmanager
def connected(bind: sa.Engine | sa.Connection) -> Iterator[sa.Connection]:
    """A connection from an engine (closed afterwards), or the caller's own connection."""
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def post_notes(
    bind: sa.Engine | sa.Connection, platform_ids: Sequence[str], as_of: datetime | None = None
) -> dict[str, PostNotes]:
    """Notes facts for X posts by tweet id; every id asked gets an entry (no notes: empty)."""
    with connected(bind) as conn:
        notes = [
            n
            for n in repo.notes_on_posts(conn, platform_ids)
            if as_of is None or n.created_at is None or n.created_at <= as_of
        ]
        ids = [n.note_id for n in notes]
        statuses: dict[str, list[StoredNoteStatus]] = {}
        for row in repo.note_statuses(conn, ids):  # later snapshots too: their dated statuses are evidence
            statuses.setdefault(row.note_id, []).append(row)
        ratings = repo.note_rating_counts(conn, ids, as_of)
        downloads = sorted(
            d for d in repo.dated_files(conn, "notes", NOTES_FORMAT, _DELETION_DATING) if as_of is None or d <= as_of
        )
    by_post: dict[str, list[NoteFacts]] = {pid: [] for pid in platform_ids}
    for n in notes:
        by_post[n.tweet_id].append(_facts(n, statuses.get(n.note_id, []), ratings.get(n.note_id), downloads, as_of))
    return {pid: PostNotes(pid, as_of, tuple(facts)) for pid, facts in by_post.items()}


def post_notes_by_id(
    bind: sa.Engine | sa.Connection, post_ids: Sequence[int], as_of: datetime | None = None
) -> dict[int, PostNotes]:
    """The same keyed by store post id; posts on platforms without Community Notes get none."""
    with connected(bind) as conn:
        ids = repo.platform_ids_of(conn, post_ids)
        facts = post_notes(conn, [pid for platform, pid in ids.values() if platform == "x"], as_of)
    return {post_id: facts.get(pid) or PostNotes(pid, as_of, ()) for post_id, (_, pid) in ids.items()}


@dataclass(frozen=True)
class _Status:
    """A note's status as of the date, and how it is known."""

    status: str | None
    knowledge: Knowledge
    reason: str | None = None
    since: datetime | None = None
    snapshot_at: datetime | None = None


def _facts(
    note: StoredNote,
    statuses: list[StoredNoteStatus],
    ratings: dict[str, int] | None,
    downloads: list[datetime],
    as_of: datetime | None,
) -> NoteFacts:
    """``statuses`` are all the note's rows, oldest snapshot first."""
    deleted_by = next((d for d in downloads if d > note.last_snapshot_at), None)
    misleading = note.classification == c.MISLEADING
    now = _status_as_of(statuses, as_of)
    ever, first_shown = _rated_helpful(statuses, as_of) if misleading else (False, None)
    could_show = misleading and deleted_by is None
    return NoteFacts(
        note_id=note.note_id,
        classification=note.classification,
        created_at=note.created_at,
        status=now.status,
        status_knowledge=now.knowledge,
        status_reason=now.reason,
        status_at=now.since,
        snapshot_at=now.snapshot_at,
        shown_now=(None if now.knowledge is Knowledge.UNKNOWN else now.status == c.CURRENTLY_RATED_HELPFUL)
        if could_show
        else False,
        ever_shown=ever,
        first_shown_at=first_shown,
        deleted_by=deleted_by,
        ratings=ratings,
    )


def _status_as_of(statuses: list[StoredNoteStatus], as_of: datetime | None) -> _Status:
    """Known from the latest snapshot not after ``as_of``; else inferred from later ones; else unknown."""
    before = [row for row in statuses if as_of is None or row.snapshot_at <= as_of]
    if before:
        row = before[-1]
        return _Status(row.current_status, Knowledge.KNOWN, since=row.current_status_at, snapshot_at=row.snapshot_at)
    unknown = unknown_reason(as_of)
    if as_of is None or not statuses:
        return _Status(None, Knowledge.UNKNOWN, unknown)
    found = [(row, ev) for row in statuses for ev in _evidence(row, as_of)]
    decided = {ev.status for _, ev in found}
    if len(decided) != 1:
        why = (
            "later snapshots' dated statuses disagree"
            if decided
            else "the dated statuses of later snapshots cannot decide it"
        )
        return _Status(None, Knowledge.UNKNOWN, f"{unknown}; {why}")
    row, ev = found[0]
    return _Status(
        ev.status, Knowledge.INFERRED, f"{ev.why} (snapshot of {_day(row.snapshot_at)})", ev.since, row.snapshot_at
    )


@dataclass(frozen=True)
class _Evidence:
    status: str
    since: datetime | None
    why: str


def _evidence(row: StoredNoteStatus, as_of: datetime) -> list[_Evidence]:
    """What one snapshot taken after ``as_of`` proves about the status at ``as_of``: one entry per
    rule of the module docstring that applies (none: it cannot tell)."""
    out = []
    if row.locked_status and row.locked_at and row.locked_at <= as_of:
        out.append(
            _Evidence(
                row.locked_status, row.locked_at, f"status locked as {row.locked_status} at {rfc3339(row.locked_at)}"
            )
        )
    if row.current_status and row.current_status_at and row.current_status_at <= as_of:
        out.append(
            _Evidence(
                row.current_status,
                row.current_status_at,
                f"{row.current_status} since {rfc3339(row.current_status_at)}",
            )
        )
    if row.first_non_nmr_at and row.first_non_nmr_at > as_of:
        out.append(
            _Evidence(
                _NMR,
                None,
                f"first rated {row.first_non_nmr_status or 'other than ' + _NMR} "
                f"only at {rfc3339(row.first_non_nmr_at)}",
            )
        )
    if (
        row.current_status == _NMR
        and not row.first_non_nmr_status
        and not row.first_non_nmr_at
        and not row.latest_non_nmr_status
        and not row.latest_non_nmr_at
    ):
        out.append(_Evidence(_NMR, None, f"never rated other than {_NMR}"))
    latest, at = row.latest_non_nmr_status, row.latest_non_nmr_at
    if latest and at and at <= as_of:
        lost_after = row.current_status == _NMR and row.current_status_at is not None and row.current_status_at > as_of
        if row.current_status == latest or lost_after:
            until = f" until {rfc3339(row.current_status_at)}" if lost_after else ""
            out.append(
                _Evidence(latest, at, f"{latest} from {rfc3339(at)}{until}, its latest status other than {_NMR}")
            )
    return out


def _rated_helpful(statuses: list[StoredNoteStatus], as_of: datetime | None) -> tuple[bool, datetime | None]:
    """Whether a snapshot not after ``as_of`` shows the note rated helpful at a time not after it (or
    undated), or a later snapshot does with such a time; and the earliest time given for it."""
    ever, times = False, []
    for row in statuses:
        later = as_of is not None and row.snapshot_at > as_of
        for status, at in (
            (row.first_non_nmr_status, row.first_non_nmr_at),
            (row.latest_non_nmr_status, row.latest_non_nmr_at),
            (row.locked_status, row.locked_at),
            (row.current_status, row.current_status_at),
        ):
            if status != c.CURRENTLY_RATED_HELPFUL or (later and at is None):
                continue
            if at is None or as_of is None or at <= as_of:
                ever = True
                if at is not None:
                    times.append(at)
    return ever, min(times, default=None)


def _day(dt: datetime) -> str:
    """The day alone when the time means a whole day (a study's "as of" is its end, a snapshot date its start)."""
    return dt.date().isoformat() if dt.time() in (time(0), time(23, 59, 59)) else rfc3339(dt) or ""
