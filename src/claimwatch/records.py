"""The core records that flow from sources to the store and on to analysis.

Readers produce these; the store persists them; analysis and reports consume rows
built from them. Every record keeps the untouched source record (``raw``) so that a
later parser can always re-derive what an earlier one got wrong (the twarc lesson).
Ids coming from platforms are strings everywhere: 19-digit X ids do not survive floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    and are never overwritten by re-matching.
    """

    CANDIDATE = "candidate"
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


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

    record: Post | FactCheck
    warnings: list[FieldWarning] = field(default_factory=list)


ReadResult = Parsed | Rejected
