"""The core records that flow from sources to the store and on to analysis.

Readers produce these; the store persists them; analysis and reports consume rows
built from them. Every record keeps the untouched source record (``raw``) so that a
later parser can always re-derive what an earlier one got wrong (the twarc lesson).
Ids coming from platforms are strings everywhere: 19-digit X ids do not survive floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class PostKind(StrEnum):
    ORIGINAL = "original"
    QUOTE = "quote"
    REPLY = "reply"
    REPOST = "repost"


class Verdict(StrEnum):
    """Normalised fact-check verdict classes (see ``verdicts.py``)."""

    FALSE = "false"
    MISLEADING = "misleading"
    MIXED = "mixed"
    TRUE = "true"
    UNPROVEN = "unproven"
    SATIRE = "satire"
    OTHER = "other"


#: Verdicts that count as "rated false or misleading" in a study headline.
DEBUNKED_VERDICTS: frozenset[Verdict] = frozenset({Verdict.FALSE, Verdict.MISLEADING})


class MatchStatus(StrEnum):
    """Lifecycle of a post × fact-check pair.

    ``candidate`` rows are stored top-k evidence below the proposal threshold;
    ``proposed`` is a machine proposal; ``confirmed``/``rejected`` are analyst decisions
    and are never overwritten by re-matching. ``outdated``: an analyst decision made on an
    earlier text of the post (it was edited since); it counts as nothing until re-reviewed.
    """

    CANDIDATE = "candidate"
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    OUTDATED = "outdated"


class DecisionKind(StrEnum):
    """What an analyst did to a match (a ``match_decisions`` row). ``chosen``: confirmed as the
    right one of a post's candidates, the post's other proposals rejected with it; ``reopened``:
    the decision withdrawn, the match back to the machine's status, pending again."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    REOPENED = "reopened"
    CHOSEN = "chosen"


class Role(StrEnum):
    """What a workspace user may do; each role may do everything the ones below it may.

    ``viewer`` reads; ``analyst`` also decides matches and runs studies; ``admin`` also manages
    users and their API tokens."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(slots=True)
class SourceRef:
    """Where a record came from: file and line (1-based) or row/offset description."""

    path: str
    location: str
    format: str


@dataclass(slots=True)
class Author:
    platform: str
    platform_id: str
    handle: str | None = None
    name: str | None = None
    followers: int | None = None
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class MediaRef:
    media_key: str
    type: str | None = None
    url: str | None = None
    preview_url: str | None = None
    duration_ms: int | None = None
    view_count: int | None = None
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class MetricSnapshot:
    """Public metrics of one post as seen at ``observed_at``. ``None`` means unknown, never 0."""

    observed_at: datetime
    views: int | None = None
    reposts: int | None = None
    quotes: int | None = None
    replies: int | None = None
    likes: int | None = None
    bookmarks: int | None = None


#: The counters of a :class:`MetricSnapshot` (its field names, as stored): the one list readers,
#: the store and reports use.
METRIC_FIELDS = tuple(f.name for f in fields(MetricSnapshot) if f.name != "observed_at")
#: The counters other than views, in the order reports show them.
ENGAGEMENT_FIELDS = ("likes", "reposts", "replies", "quotes", "bookmarks")


@dataclass(slots=True)
class Post:
    platform: str
    platform_id: str
    author: Author | None
    created_at: datetime | None
    text: str
    kind: PostKind = PostKind.ORIGINAL
    referenced_id: str | None = None
    lang: str | None = None
    url: str | None = None
    media: list[MediaRef] = field(default_factory=list)
    #: ``None`` for reposts: a repost never carries views of its own.
    metrics: MetricSnapshot | None = None
    #: False for posts seen only as context (e.g. X ``includes.tweets``), not collected.
    collected: bool = True
    raw: dict[str, Any] = field(default_factory=dict)
    source: SourceRef | None = None


@dataclass(slots=True)
class FactCheck:
    """One reviewed claim in the ClaimReview shape."""

    review_url: str
    claim_text: str
    publisher_name: str | None = None
    publisher_site: str | None = None
    title: str | None = None
    review_date: datetime | None = None
    claimant: str | None = None
    claim_date: datetime | None = None
    appearances: list[str] = field(default_factory=list)
    rating_text: str | None = None
    rating_value: float | None = None
    best_rating: float | None = None
    worst_rating: float | None = None
    language: str | None = None
    verdict: Verdict | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    source: SourceRef | None = None


@dataclass(slots=True)
class Note:
    """One Community Note as the notes download states it.

    Linked to its post by the tweet id *string*, never by a store key, so a note lands
    before (or without) the post and joins when the post arrives. ``snapshot_at`` is the
    download the row came from (see :class:`NoteStatus`).
    """

    note_id: str
    tweet_id: str
    classification: str | None
    created_at: datetime | None
    author_id: str | None
    snapshot_at: datetime
    raw: dict[str, Any] = field(default_factory=dict)
    source: SourceRef | None = None


@dataclass(slots=True)
class NoteStatus:
    """A note's status as one noteStatusHistory download (``snapshot_at``) states it.

    Downloads are kept side by side, one row per (note, snapshot), so "as of" questions
    read the latest snapshot not after a date. ``None`` means the file left it empty.
    """

    note_id: str
    snapshot_at: datetime
    created_at: datetime | None = None
    current_status: str | None = None
    current_status_at: datetime | None = None
    first_non_nmr_status: str | None = None
    first_non_nmr_at: datetime | None = None
    latest_non_nmr_status: str | None = None
    latest_non_nmr_at: datetime | None = None
    locked_status: str | None = None
    locked_at: datetime | None = None
    decided_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    source: SourceRef | None = None


@dataclass(slots=True)
class NoteRatings:
    """Per-note rating counts of one ratings file (the ratings themselves are not kept)."""

    note_id: str
    snapshot_at: datetime
    #: the file's name: a download's ratings come in several files, each counted once
    file_name: str
    ratings: int = 0
    helpful: int = 0
    somewhat_helpful: int = 0
    not_helpful: int = 0
    source: SourceRef | None = None


@dataclass(slots=True)
class LabelEvent:
    """One platform label being applied to or removed from a post (every event is kept).

    ``label`` is the kind of event (``notice`` or ``unviewable``); ``event_type`` the
    notice's type (e.g. "misleading"), empty for kinds that have none.
    """

    platform: str
    platform_id: str
    label: str
    event_type: str
    action: str
    event_at: datetime
    label_title: str | None = None
    details: str | None = None
    details_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    source: SourceRef | None = None


@dataclass(slots=True)
class FieldWarning:
    """A field that could not be used and was stored as unknown; the record itself landed."""

    field: str
    value: Any
    reason: str


@dataclass(slots=True)
class Rejected:
    """A record that could not be read at all; it goes to the quarantine."""

    source: SourceRef
    reason: str
    raw: str


@dataclass(slots=True)
class Parsed:
    """A record read from a source, with warnings about fields set to unknown."""

    record: Post | FactCheck | Note | NoteStatus | NoteRatings | LabelEvent
    warnings: list[FieldWarning] = field(default_factory=list)


ReadResult = Parsed | Rejected
