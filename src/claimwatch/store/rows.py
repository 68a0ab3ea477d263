"""Typed, frozen records of what the store's reads return to analysis and reports.

The write side has :mod:`claimwatch.records` (what readers produce); these are the read side:
a row as a query selected it, joined where analysis needs it (a match with its fact-check, a
post with its author). Frozen, so a row handed to several reports cannot be changed by one of
them; built by name from the query's labelled columns (``Row(**row._mapping)``), so a column
added to a query without a field here fails loudly instead of being dropped silently.
Times are UTC-aware :class:`~datetime.datetime`; ``None`` is unknown, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A collected post as a selection reads it, with its author."""

    id: int
    platform: str
    platform_id: str
    created_at: datetime | None
    text: str
    #: the detected language, else the platform's tag
    lang: str | None
    #: the language the platform tagged
    platform_lang: str | None
    url: str | None
    #: a :class:`~claimwatch.records.PostKind` value
    kind: str
    referenced_id: str | None
    handle: str | None
    author_name: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A post's public metrics as observed at one time."""

    post_id: int
    observed_at: datetime
    views: int | None
    reposts: int | None
    quotes: int | None
    replies: int | None
    likes: int | None
    bookmarks: int | None


@dataclass(frozen=True, slots=True)
class StoredFactCheck:
    """What reports show of a fact-check."""

    id: int
    review_url: str
    claim_text: str
    title: str | None
    publisher_name: str | None
    publisher_site: str | None
    rating_text: str | None
    #: a :class:`~claimwatch.records.Verdict` value, None when the rating maps to none
    verdict: str | None
    review_date: datetime | None
    language: str | None


@dataclass(frozen=True, slots=True)
class CurrentDecision:
    """The analyst decision a match stands on now (its full history is :class:`Decision` rows)."""

    #: confirmed or rejected
    decision: str
    by: str | None
    at: datetime | None
    note: str | None
    #: made on the post's current text; a decision on an earlier text counts nowhere
    on_current_text: bool
    #: the relation a confirmation fixed (repeats | narrative; None: unknown)
    relation: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """A post × fact-check match with its fact-check and the analyst's decision, if any."""

    id: int
    post_id: int
    rank: int
    score: float
    #: calibrated P(correct) when a trained model proposed it
    confidence: float | None
    #: a :class:`~claimwatch.records.MatchStatus` value
    status: str
    #: the matcher that ranked the pair
    method: str
    evidence: dict[str, Any]
    factcheck: StoredFactCheck
    decision: CurrentDecision | None
    #: bumped by every decision (see :class:`Decision`)
    version: int = 0
    #: the machine's claim vs narrative label (:mod:`claimwatch.claims.relation`; None: unknown)
    machine_relation: str | None = None

    @property
    def relation(self) -> str | None:
        """Repeats the rated claim or shares its narrative: the confirmation's label when an analyst
        confirmed the match on the post's current text, else the machine's; None: unknown."""
        d = self.decision
        if d is not None and d.on_current_text and d.decision == "confirmed" and d.relation is not None:
            return d.relation
        return self.machine_relation

    @property
    def decided_by(self) -> str | None:
        """The analyst behind the status: set only for a decision on the post's current text."""
        return self.decision.by if self.decision and self.decision.on_current_text else None


@dataclass(frozen=True, slots=True)
class Decision:
    """One entry of a match's decision history (``match_decisions``): appended, never changed."""

    id: int
    match_id: int
    decided_by: str
    decided_at: datetime
    #: confirmed | rejected | reopened | chosen (a :class:`~claimwatch.records.DecisionKind` value)
    decision: str
    note: str | None
    #: the match's status before; None for a decision made before the history was kept
    previous_status: str | None
    new_status: str
    #: the match's version after this decision: pass it as ``expected_version`` to decide again
    version: int
    #: hash of the post text decided on
    post_text_hash: str | None
    #: the relation a confirmation gave the match (repeats | narrative; None: unknown or not a confirmation)
    relation: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the append-only audit log. Writers build it without ``id`` and ``at`` (the
    store sets both); ``before`` / ``after`` are the object's state as JSON-able mappings
    (None: the object did not exist before, or no longer exists after)."""

    actor: str
    #: ``<object>.<verb>``, e.g. match.confirm, study.run, user.add, token.revoke
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fact-check proposed (or ranked below the threshold) for a post in the review queue."""

    match_id: int
    #: pass as ``expected_version`` when deciding: a decision made since is then a conflict
    version: int
    #: a :class:`~claimwatch.records.MatchStatus` value
    status: str
    rank: int
    score: float
    confidence: float | None
    method: str
    factcheck: StoredFactCheck
    #: words the post and the claim share (the matcher's evidence)
    matched_terms: list[str]
    #: cosine similarity of post and claim embeddings; None when the matcher did not record it
    similarity: float | None
    #: everything the matcher stored as evidence (features, the query it read)
    evidence: dict[str, Any]
    decision: CurrentDecision | None
    #: repeats the rated claim or shares its narrative only (the confirmation's, else the
    #: matcher's label; :mod:`claimwatch.claims.relation`); None: unknown or a candidate
    relation: str | None = None


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One post to review: the pending match to decide and every candidate of the post beside it."""

    #: the post's best pending match (highest confidence, else score)
    match_id: int
    post: StoredPost
    #: the sentence that holds the claim and its offsets in ``post.text`` (for highlighting)
    claim_sentence: str | None
    claim_start: int | None
    claim_end: int | None
    #: views at the latest snapshot, and when it was taken (None: unknown)
    views: int | None
    views_observed_at: datetime | None
    media: list[StoredMedia]
    #: all the post's matches but outdated ones, best rank first
    candidates: list[Candidate]
    #: the confidence the queue is ordered by (the best pending match's, else its score)
    confidence: float


@dataclass(frozen=True, slots=True)
class ReviewPage:
    """A page of the review queue; ``total`` counts every post the filters select."""

    items: list[QueueItem]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    """A post's language, check-worthiness and claim sentence, as ``match`` stored them."""

    post_id: int
    lang: str
    lang_confidence: float | None
    checkworthiness: float | None
    claim_sentence: str | None
    claim_start: int | None
    claim_end: int | None
    #: [start, end, score] of each sentence scored
    sentence_scores: list[list[float]]
    models: dict[str, Any]
    analysed_at: datetime

    @property
    def claim_score(self) -> float | None:
        """The best sentence's score from the sentence head (does it state a checkable fact)."""
        return claim_score(self.sentence_scores)


def claim_score(sentence_scores: list[list[float]] | None) -> float | None:
    """The best sentence's score among ``[start, end, score]`` triples (None when none was scored)."""
    return max((sc[2] for sc in sentence_scores or []), default=None)


@dataclass(frozen=True, slots=True)
class StoredTopic:
    """A post's score for one topic."""

    post_id: int
    topic: str
    similarity: float | None
    keywords: list[str]
    assigned: bool
    topics_version: str
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class StoredMedia:
    post_id: int
    media_key: str
    type: str | None
    url: str | None
    view_count: int | None
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class StoredAuthor:
    platform: str
    platform_id: str
    handle: str | None
    name: str | None
    followers: int | None
    #: when the author's record (and its follower count) was last written
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A finished ingest run: what it read, when, and its report (``counts``, as the run wrote it)."""

    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    files: list[str]
    counts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredNote:
    """A Community Note, with the span of downloads (snapshots) it was in."""

    note_id: str
    tweet_id: str
    classification: str | None
    created_at: datetime | None
    first_snapshot_at: datetime
    last_snapshot_at: datetime


@dataclass(frozen=True, slots=True)
class StoredNoteStatus:
    """A note's row in one noteStatusHistory snapshot."""

    note_id: str
    snapshot_at: datetime
    created_at: datetime | None
    current_status: str | None
    current_status_at: datetime | None
    first_non_nmr_status: str | None
    first_non_nmr_at: datetime | None
    latest_non_nmr_status: str | None
    latest_non_nmr_at: datetime | None
    locked_status: str | None
    locked_at: datetime | None
    decided_by: str | None


@dataclass(frozen=True, slots=True)
class StoredLabelEvent:
    """One apply or remove of a platform label on a post."""

    platform_id: str
    label: str
    event_type: str
    action: str
    event_at: datetime
    label_title: str | None
    details: str | None
    details_url: str | None


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A record that could not be used (``claimwatch quarantine list``): where it came from, why, verbatim."""

    id: int
    fingerprint: str
    ingest_run_id: int | None
    kind: str
    #: rejected (the record did not land), field_dropped (one field stored as unknown) or conflict
    action: str
    source_path: str
    location: str
    source_format: str | None
    reason: str
    raw: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RatingCount:
    """A rating text no verdict rule maps, and how many fact-checks carry it."""

    rating: str | None
    count: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts of everything in the store (``claimwatch stats``); the ``by_…`` mappings are keyed by
    the stored values (kinds, verdicts, statuses, languages, topics)."""

    posts: int
    #: posts stored only because a collected post refers to them
    context_posts: int
    posts_by_kind: dict[str, int]
    authors: int
    media: int
    snapshots: int
    post_versions: int
    factchecks: int
    factchecks_by_verdict: dict[str, int]
    #: by match status, every status listed
    matches: dict[str, int]
    decisions_on_earlier_text: int
    posts_matched: int
    posts_skipped: int
    quarantined: int
    field_warnings: int
    unmapped_ratings: tuple[RatingCount, ...]
    posts_analysed: int
    posts_by_language: dict[str, int]
    posts_by_topic: dict[str, int]
    notes: int
    notes_on_stored_posts: int
    note_status_rows: int
    note_status_snapshots: int
    notes_with_rating_counts: int
    label_events: int
    labelled_posts: int
    ingest_runs: dict[str, int]


@dataclass(frozen=True, slots=True)
class User:
    """A workspace user as the store keeps it (never with the password hash)."""

    id: int
    name: str
    #: a :class:`~claimwatch.records.Role` value
    role: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """An API token's record: who, what it is called, when it was used (never the token)."""

    id: int
    user: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
