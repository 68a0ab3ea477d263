"""One post row for every output: ``claimwatch report``, a study and the web app show the same
typed record of a post, built in one place from the store.

A row is what a reader needs to check one post behind a figure: the post (id, URL, time, type,
account, text, language), its reach as of a date (views and the time they were observed, else the
engagement counts of a platform without view counts), the fact-checks it was matched to (claim,
publisher, rating, verdict, and how the match stands: analyst-confirmed or machine-proposed, score,
confidence, who decided), its Community Notes and platform label state, its check-worthiness and
topics, and — in a study — its narrative. Machine proposals and analyst decisions stay apart in
every field. JSON names are the attribute names (:mod:`~claimwatch.analysis.jsonable`); the study's
rows hold the target shape of ``formats/ccdh_style_report_target.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from claimwatch.analysis.labels import LabelHistory, LabelPeriod, label_histories_by_id
from claimwatch.analysis.narratives import Assignment
from claimwatch.analysis.notes import Knowledge, PostNotes, post_notes_by_id
from claimwatch.analysis.reach import describe_reach, reach_as_of
from claimwatch.claims.relation import NARRATIVE
from claimwatch.records import DEBUNKED_VERDICTS, MatchStatus, PostKind
from claimwatch.store import repo
from claimwatch.store.rows import Snapshot, StoredAnalysis, StoredMatch, StoredMedia, StoredPost

#: ``match_method``: how the link between post and fact-check was made.
ANALYST_CONFIRMED = "analyst-confirmed"
MACHINE_PROPOSED = "machine-proposed"
#: Where label state comes from (X's label stream; other platforms' labels are not read).
LABEL_SOURCE = "x_label_stream"


@dataclass(frozen=True)
class FactCheckRef:
    """A fact-check matched to a post, and how the match stands."""

    factcheck_id: int
    url: str
    #: the fact-checked claim, as the fact-checker wrote it
    claim: str
    publisher: str | None
    rating_text: str | None
    #: the normalised verdict (false, misleading, …); None when no rule maps the rating
    rating_class: str | None
    review_date: date | None
    match_id: int
    #: analyst-confirmed or machine-proposed
    match_method: str
    #: the match's status (a :class:`~claimwatch.records.MatchStatus` value)
    match_status: str
    match_score: float
    #: calibrated P(correct) when a trained model proposed it; None for v1 proposals
    match_confidence: float | None
    #: the matcher that ranked the pair
    matcher: str
    #: the analyst who decided on the post's current text (None for a machine status)
    decided_by: str | None
    #: an analyst decision made on an earlier text of the post, e.g. "confirmed by ana on 2024-08-02, …"
    earlier_decision: str | None
    #: the post repeats the rated claim or shares its narrative only (:mod:`claimwatch.claims.relation`;
    #: the analyst's word when they confirmed it); None: unknown (matched before claimwatch told them apart)
    relation: str | None = None

    @property
    def debunked(self) -> bool:
        return self.rating_class in DEBUNKED_VERDICTS

    @property
    def confirmed(self) -> bool:
        return self.match_status == MatchStatus.CONFIRMED


def factcheck_ref(m: StoredMatch) -> FactCheckRef:
    fc, d = m.factcheck, m.decision
    earlier = None
    if d is not None and not d.on_current_text:
        earlier = (
            f"{d.decision} by {d.by or 'an analyst'}{' on ' + d.at.date().isoformat() if d.at else ''}, "
            "on an earlier text of the post"
        )
    return FactCheckRef(
        factcheck_id=fc.id,
        url=fc.review_url,
        claim=fc.claim_text,
        publisher=fc.publisher_name,
        rating_text=fc.rating_text,
        rating_class=fc.verdict,
        review_date=fc.review_date.date() if fc.review_date else None,
        match_id=m.id,
        match_method=ANALYST_CONFIRMED if m.status == MatchStatus.CONFIRMED else MACHINE_PROPOSED,
        match_status=m.status,
        match_score=round(m.score, 4),
        match_confidence=None if m.confidence is None else round(m.confidence, 4),
        matcher=m.method,
        decided_by=m.decided_by,
        earlier_decision=earlier,
        relation=m.relation,
    )


@dataclass(frozen=True)
class ViewPoint:
    observed_at: datetime
    views: int


@dataclass(frozen=True)
class NoteRef:
    note_id: str
    classification: str | None
    #: the status as of the date: ``currentStatus`` of the snapshot used, or inferred from a later
    #: one; None when unknown
    status: str | None
    #: known, inferred or unknown (:class:`~claimwatch.analysis.notes.Knowledge`)
    status_knowledge: Knowledge
    #: why the status is inferred or unknown (None when a snapshot states it)
    status_reason: str | None
    status_at: datetime | None
    #: the noteStatusHistory snapshot the status comes from
    snapshot_at: datetime | None
    first_shown_at: datetime | None
    deleted_by: datetime | None


@dataclass(frozen=True)
class CommunityNotes:
    """The notes on a post as of a date (see :mod:`claimwatch.analysis.notes` for the words)."""

    proposed: int
    #: a note shown: True; none shown and every note's status known or inferred: False; else None (unknown)
    shown_now: bool | None
    #: whether ``shown_now`` rests on snapshots taken by the date (known), a later one's dated statuses
    #: (inferred), or neither (unknown)
    shown_now_knowledge: Knowledge
    #: why ``shown_now`` is inferred or unknown (None when known)
    status_reason: str | None
    ever_shown: bool
    shown_note_ids: tuple[str, ...]
    #: shown through a media note matching the post's image or video: not read yet, so unknown
    shown_via_media_match: bool | None
    note_ids: tuple[str, ...]
    notes: tuple[NoteRef, ...]
    #: the latest noteStatusHistory snapshot behind the statuses
    snapshot_date: datetime | None
    as_of: datetime | None

    def describe(self) -> str:
        """The notes in a table cell: "3 proposed, none shown", "2 proposed, shown (inferred from a
        later snapshot)", "1 proposed, status unknown: …"."""
        shown = self.shown_now
        state = f"status unknown: {self.status_reason}" if shown is None else "shown" if shown else "none shown"
        before = " (shown before)" if self.ever_shown and not shown else ""
        inferred = " (inferred from a later snapshot)" if self.shown_now_knowledge is Knowledge.INFERRED else ""
        return f"{self.proposed:,} proposed, {state}{before}{inferred}"


def community_notes(notes: PostNotes) -> CommunityNotes:
    """A post's notes facts as a row shows them."""
    return CommunityNotes(
        proposed=notes.proposed,
        shown_now=notes.shown_now,
        shown_now_knowledge=notes.shown_knowledge,
        status_reason=notes.status_reason,
        ever_shown=notes.ever_shown,
        shown_note_ids=tuple(notes.shown_note_ids),
        shown_via_media_match=None,
        note_ids=tuple(notes.note_ids),
        notes=tuple(
            NoteRef(
                n.note_id,
                n.classification,
                n.status,
                n.status_knowledge,
                n.status_reason,
                n.status_at,
                n.snapshot_at,
                n.first_shown_at,
                n.deleted_by,
            )
            for n in notes.notes
        ),
        snapshot_date=max((n.snapshot_at for n in notes.notes if n.snapshot_at), default=None),
        as_of=notes.as_of,
    )


@dataclass(frozen=True)
class PlatformLabel:
    """Whether the post carried a platform label at ``at`` (None: as of the latest stored event)."""

    present: bool
    at: datetime | None
    source: str
    #: the event type of the label carried, e.g. misleading
    event_type: str | None
    history: tuple[LabelPeriod, ...]


def platform_label(history: LabelHistory | None, at: datetime | None) -> PlatformLabel:
    periods = tuple(history.periods) if history else ()
    carried = [pd for pd in periods if pd.covers(at)] if at else [pd for pd in periods if pd.end is None]
    return PlatformLabel(bool(carried), at, LABEL_SOURCE, carried[0].event_type if carried else None, periods)


@dataclass(frozen=True)
class C2pa:
    """Content credentials of a media item (the target shape's block); not read yet."""

    manifest_found: bool | None
    digital_source_type: str | None


@dataclass(frozen=True)
class MediaRef:
    media_key: str
    type: str | None
    view_count: int | None
    #: None: content credentials are not read yet (unknown, not absent)
    c2pa: C2pa | None


@dataclass(frozen=True)
class CategoryEvidence:
    keywords: tuple[str, ...]
    similarity: float | None


@dataclass(frozen=True)
class PostRow:
    """One post and everything that stands behind it in a figure."""

    post_id: str
    platform: str
    url: str | None
    created_at: datetime | None
    #: original, quote, reply or repost
    post_type: str
    referenced_id: str | None
    #: the author's handle
    account: str | None
    author_name: str | None
    text: str
    #: the detected language, else the platform's tag
    lang: str | None
    platform_lang: str | None
    #: views as of the date asked, from the snapshot observed at ``views_observed_at``; None: unknown
    views: int | None
    views_observed_at: datetime | None
    #: every snapshot with views, oldest first (later ones too: the growth after the date asked)
    views_history: tuple[ViewPoint, ...]
    #: likes, reposts, replies, quotes, bookmarks of the views' snapshot — or, where views are unknown
    #: (platforms without view counts), of the latest snapshot that counted any
    engagement: dict[str, int | None]
    #: when the figures shown (views, else engagement) were observed
    observed_at: datetime | None
    #: metric snapshots stored for the post
    snapshots: int
    #: the matches counted, the one shown first: a debunking one, confirmed before proposed, then by score
    fact_checks: tuple[FactCheckRef, ...]
    #: the shown fact-check rates the claim false or misleading, and the post repeats the claim (a
    #: post that only shares its narrative is not counted as a debunked-claim post)
    debunked: bool
    community_notes: CommunityNotes
    platform_label: PlatformLabel
    media: tuple[MediaRef, ...]
    #: the post's check-worthiness and its best claim sentence (None before ``match`` analysed it)
    checkworthiness: float | None
    claim_sentence: str | None
    #: the claim sentence's score from the sentence head (does it state a checkable fact)
    claim_score: float | None
    topics: tuple[str, ...]
    #: a study's narrative for the post, the rule that assigned it and its evidence (None outside studies)
    claim_category: str | None = None
    category_rule: str | None = None
    category_evidence: CategoryEvidence | None = None

    @property
    def fact_check(self) -> FactCheckRef | None:
        """The fact-check shown for the post."""
        return self.fact_checks[0] if self.fact_checks else None

    def reach(self) -> str:
        """The views cell: the count, else "unknown" with the engagement counts known."""
        return describe_reach(self.views, self.engagement)


@dataclass(frozen=True)
class AsOf:
    """The dates a set of rows is computed for (None: the latest stored)."""

    views: datetime | None = None
    notes: datetime | None = None
    labels: datetime | None = None


def preference(m: StoredMatch) -> tuple[bool, bool, bool, float]:
    """The order a post's matches are shown in: debunking first, a repeated claim before a shared
    narrative, confirmed before proposed, score."""
    return (
        m.factcheck.verdict in DEBUNKED_VERDICTS,
        m.relation != NARRATIVE,
        m.status == MatchStatus.CONFIRMED,
        m.score,
    )


def post_rows(
    conn: sa.Connection,
    posts: Sequence[StoredPost],
    matches: Mapping[int, Sequence[StoredMatch]],
    as_of: AsOf,
    narratives: Mapping[int, Assignment] | None = None,
) -> list[PostRow]:
    """The rows of ``posts`` (in their order) with the matches given for each, in that order."""
    ids = [p.id for p in posts]
    snaps = repo.snapshots_for_posts(conn, ids)
    analysis = repo.analysis_for_posts(conn, ids)
    topics = repo.topics_for_posts(conn, ids)
    media = repo.media_for_posts(conn, ids)
    notes = post_notes_by_id(conn, ids, as_of.notes)
    labels = label_histories_by_id(conn, ids)
    return [
        _row(
            p,
            snaps.get(p.id, []),
            matches.get(p.id, ()),
            analysis.get(p.id),
            [t.topic for t in topics.get(p.id, []) if t.assigned],
            media.get(p.id, []),
            notes[p.id],
            labels.get(p.id),
            as_of,
            (narratives or {}).get(p.id),
        )
        for p in posts
    ]


def _row(
    p: StoredPost,
    snaps: Sequence[Snapshot],
    ms: Sequence[StoredMatch],
    a: StoredAnalysis | None,
    topics: list[str],
    media: list[StoredMedia],
    notes: PostNotes,
    labels: LabelHistory | None,
    as_of: AsOf,
    narrative: Assignment | None,
) -> PostRow:
    # A repost carries no views or engagement of its own, whatever a source put in its counters.
    own = [] if p.kind == PostKind.REPOST else snaps
    reach = reach_as_of(own, as_of.views)
    refs = tuple(factcheck_ref(m) for m in ms)
    return PostRow(
        post_id=p.platform_id,
        platform=p.platform,
        url=p.url,
        created_at=p.created_at,
        post_type=p.kind,
        referenced_id=p.referenced_id,
        account=p.handle,
        author_name=p.author_name,
        text=p.text,
        lang=p.lang,
        platform_lang=p.platform_lang,
        views=reach.views,
        views_observed_at=reach.observed_at if reach.views is not None else None,
        views_history=tuple(ViewPoint(s.observed_at, s.views) for s in own if s.views is not None),
        engagement=reach.engagement,
        observed_at=reach.observed_at,
        snapshots=len(snaps),
        fact_checks=refs,
        debunked=bool(refs) and refs[0].debunked and refs[0].relation != NARRATIVE,
        community_notes=community_notes(notes),
        platform_label=platform_label(labels, as_of.labels),
        media=tuple(MediaRef(m.media_key, m.type, m.view_count, None) for m in media),
        checkworthiness=a.checkworthiness if a else None,
        claim_sentence=a.claim_sentence if a else None,
        claim_score=a.claim_score if a else None,
        topics=tuple(topics),
        claim_category=narrative.narrative if narrative else None,
        category_rule=narrative.method if narrative else None,
        category_evidence=CategoryEvidence(tuple(narrative.keywords), narrative.similarity) if narrative else None,
    )


def headline_first(rows: Sequence[PostRow]) -> list[PostRow]:
    """The posts behind a headline first: debunked, then other matched, then the rest; within each
    the most viewed first (unknown views last), ties in the given order."""
    return sorted(rows, key=lambda r: (not r.debunked, not r.fact_checks, r.views is None, -(r.views or 0)))
