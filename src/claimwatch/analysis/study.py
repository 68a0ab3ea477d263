"""Run a study: the posts, reach, Community Notes, labels and narratives behind a CCDH-style
report, computed from the store and a :class:`~claimwatch.analysis.study_file.Study`.

The result's JSON (``schemas/study.schema.json``) holds the shape of
``formats/ccdh_style_report_target.json`` (``study``, ``posts``, ``summary``) and adds what the
report's charts and methods need. Every figure is traceable: each post row (the
:class:`~claimwatch.analysis.post_rows.PostRow` every output shares) names its snapshot (value and
time observed), its fact-checks (URL, claim, rating, how the match was made and by whom) and its
notes; every total says how many posts it could not include, and a total of nothing known is
unknown, never 0. Posts the inclusion rules left out are listed with the rule that did
(:class:`ExcludedPost`), so a debunked post never vanishes without a trace. The same study file
and store always give the same result (apart from ``generated_at``).

The rules are applied in this order; an excluded post is listed under the first that left it out:
window, platform, post type (kind), topic, and then per match the verdict, the match status
(confirmed only, or proposals too) and the proposal's confidence. The posts considered are those
of the study's accounts with an analyst-confirmed or machine-proposed match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa

from claimwatch.analysis import narratives as nar
from claimwatch.analysis.jsonable import jsonable, rfc3339
from claimwatch.analysis.manipulated_media import ManipulatedMedia, manipulated_media, media_rule
from claimwatch.analysis.notes import NotesCoverage, coverage, note_rule
from claimwatch.analysis.post_rows import ANALYST_CONFIRMED, AsOf, FactCheckRef, PostRow, factcheck_ref, post_rows
from claimwatch.analysis.reach import (
    EngagementTotal,
    Total,
    ad_equivalent,
    describe_views,
    engagement_only,
    views_as_of,
    views_over_time,
    week_of,
)
from claimwatch.analysis.study_blocks import (
    Account,
    AccountTotal,
    CategoryTotal,
    LabelCoverage,
    NarrativeOnly,
    NarrativeProposal,
    Source,
    StudyInfo,
    Summary,
    SummedViews,
    TopicPosts,
    WeekTotal,
    Window,
)
from claimwatch.analysis.study_file import Study
from claimwatch.claims import relation as rel
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.text import clean_query
from claimwatch.media.records import MEDIA_METHOD_PREFIX
from claimwatch.records import MatchStatus, PostKind
from claimwatch.schemas import STUDY_SCHEMA
from claimwatch.store import repo
from claimwatch.store.rows import Snapshot, StoredAuthor, StoredMatch, StoredPost, StoredRun
from claimwatch.wording import count, noun

_K = TypeVar("_K", str, date)

#: The matches that put a post before the inclusion rules (and into the excluded list if it fails them).
_CONSIDERED = (MatchStatus.CONFIRMED.value, MatchStatus.PROPOSED.value)


@dataclass(frozen=True)
class Exclusion:
    """Why an inclusion rule left a post out."""

    #: window, platform, kind, topic, verdict, match status, confidence or relation
    rule: str
    detail: str


@dataclass(frozen=True)
class ExcludedPost:
    """A post with a confirmed or proposed fact-check match that the study's rules left out."""

    post_id: str
    platform: str
    url: str | None
    created_at: datetime | None
    post_type: str
    account: str | None
    text: str
    fact_checks: tuple[FactCheckRef, ...]
    #: the rule that left it out first; at the match rules, one reason per rule its matches failed
    reasons: tuple[Exclusion, ...]


@dataclass
class StudyResult:
    """A study's figures: the post rows and the aggregate blocks of :mod:`~claimwatch.analysis.study_blocks`,
    in the order of the JSON's keys."""

    study: StudyInfo
    posts: list[PostRow]
    summary: Summary
    topic_posts: TopicPosts
    by_account: list[AccountTotal]
    by_week: list[WeekTotal]
    #: per narrative name (and ``"all"``): summed views at each observation time
    views_over_time: dict[str, list[SummedViews]]
    notes_coverage: NotesCoverage
    labels: LabelCoverage
    #: posts with manipulated or AI-generated media, and those without a label or note (issue 14)
    manipulated_media: ManipulatedMedia
    proposed_narratives: list[NarrativeProposal]
    methods: list[str]
    sources: list[Source]
    #: posts with a confirmed or proposed match that the inclusion rules left out, and why
    excluded_posts: list[ExcludedPost] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    #: why the figures may count too few (posts not matched yet, no fact-checks): see analysis.checks
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON values, in the shape of ``schemas/study.schema.json``."""
        return {"schema": STUDY_SCHEMA, **jsonable(self)}

    def headline(self) -> list[str]:
        """The study's findings as sentences, each figure with what it leaves out."""
        s, t = self.summary, self.topic_posts
        who = ", ".join("@" + a.handle for a in self.study.accounts) or "the selected accounts"
        engagement = s.engagement_views_unknown.describe()
        if s.total_views is None:
            reach = f"views unknown for all {s.posts:,}" + (f": {engagement}" if engagement else "")
        else:
            unknown = (
                f"; views unknown for {s.posts_views_unknown}: {engagement}"
                if engagement
                else f" (views unknown for {s.posts_views_unknown})"
                if s.posts_views_unknown
                else ""
            )
            reach = f"viewed {count(s.total_views, 'time')}{unknown}"
        lines = [
            f"{count(s.posts, 'post')} by {who} {noun(s.posts, 'repeats', 'repeat')} claims that "
            f"fact-checkers rated false or misleading; {reach}. {s.posts_analyst_confirmed:,} confirmed by an "
            f"analyst, {s.posts_machine_proposed_only:,} machine-proposed only."
        ]
        lines += [
            f"  {c.claim_category}: {count(c.posts, 'post')}, {describe_views(c.posts, c.views, c.views_unknown)}"
            for c in s.by_category
        ]
        n = s.narrative_only
        if n.posts:
            lines.append(
                f"A further {count(n.posts, 'post')} {noun(n.posts, 'shares', 'share')} a rated claim's narrative "
                f"without repeating the claim ({describe_views(n.posts, n.views, n.views_unknown)}): counted in "
                "the narrative figures, not above."
            )
        lines.append(self.notes_coverage.sentence())
        lines.append(f"{s.posts_with_label:,} carried a platform label at {rfc3339(self.labels.at)[:10]}.")
        media = self.manipulated_media.sentence()
        if media:
            lines.append(media)
        lines.append(
            f"All {count(t.posts, 'on-topic post')} in the window: {describe_views(t.posts, t.views, t.views_unknown)}."
        )
        cpm = self.study.ad_equivalent_cpm_usd
        if cpm is not None:
            lines.append(
                f"Priced as ads at ${cpm:.2f} CPM: {_usd(t.ad_equivalent_usd)} for the on-topic posts, "
                f"{_usd(s.ad_equivalent_usd)} for the debunked-claim posts."
            )
        return lines


def _usd(amount: float | None) -> str:
    return "unknown (no known views)" if amount is None else f"${amount:,.0f}"


def run_study(engine: sa.Engine, study: Study, encoder: Encoder | None = None) -> StudyResult:
    """Compute the study. ``encoder`` is needed only for topic descriptions and narrative
    descriptions (embedding rules); keyword and seed rules work without it."""
    labels_at = study.labels_as_of or study.views_as_of or study.until
    with engine.connect() as conn:
        posts = _selected(conn, study)
        ids = [p.id for p in posts]
        snaps = repo.snapshots_for_posts(conn, ids)
        off_topic = _off_topic(conn, study, posts, encoder)
        on_topic = [i for i in ids if i not in off_topic]
        statuses = [MatchStatus.CONFIRMED.value] + ([] if study.confirmed_only else [MatchStatus.PROPOSED.value])
        matches = repo.matches_for_posts(conn, on_topic, statuses)
        earlier = repo.decisions_on_earlier_text(conn, on_topic)
        accounts = repo.authors_of(conn, study.accounts) if study.accounts else []
        runs = repo.ingest_runs(conn)
        qualifying = {pid: ms for pid, ms in ((pid, _qualifying(ms, study)) for pid, ms in matches.items()) if ms}
        matched = [p for p in posts if p.id in qualifying]
        # headlines count the posts that repeat a rated claim; narratives count these too
        sharing = {
            pid: ms
            for pid, ms in ((pid, _qualifying(ms, study, relation=False)) for pid, ms in matches.items())
            if ms and pid not in qualifying
        }
        narrative_only = [p for p in posts if p.id in sharing]
        considered = {p.id: _matched_post(p, qualifying.get(p.id) or sharing[p.id]) for p in matched + narrative_only}
        assignments = nar.assign(
            list(considered.values()),
            study.narratives,
            encoder if any(n.description for n in study.narratives) else None,
        )
        as_of = AsOf(study.views_as_of, study.notes_as_of, labels_at)
        rows = post_rows(conn, matched, qualifying, as_of, assignments)
        # the topic rule is not the media block's: a topic is read from a post's text, and a
        # re-shared image or video often comes with none (the bank is what makes media relevant)
        off_topic_matches = repo.matches_for_posts(conn, [i for i in ids if i in off_topic], statuses)
        media = manipulated_media(
            conn,
            posts,
            {**matches, **off_topic_matches},
            lambda m: _status_exclusion(m, study) is None,
            as_of,
            set(qualifying),
        )
        excluded = _excluded(conn, study, set(qualifying), off_topic)

    views = {p.id: views_as_of(snaps.get(p.id, []), study.views_as_of) for p in posts}
    unassigned = [m for key, m in considered.items() if assignments[key].narrative == nar.UNASSIGNED]
    proposals = nar.propose(unassigned, encoder)
    rows.sort(key=lambda r: (r.views is None, -(r.views or 0), r.post_id))
    topic_posts = [p for p in posts if p.id not in off_topic]
    cov = coverage(((r.community_notes, r.views) for r in rows), study.notes_as_of)
    platform_ids = {p.id: p.platform_id for p in matched}
    return StudyResult(
        study=_study_block(study, accounts, rows),
        posts=rows,
        summary=_summary(rows, study, cov, _narrative_only(narrative_only, views)),
        topic_posts=_topic_block(topic_posts, views, study),
        by_account=[
            AccountTotal(k, t.posts, t.views, t.views_unknown) for k, t in _most_first(rows, lambda r: r.account)
        ],
        # weeks in order; a post with no creation time is in no week
        by_week=[
            WeekTotal(k, t.posts, t.views, t.views_unknown)
            for k, t in sorted(_totals(rows, lambda r: week_of(r.created_at) if r.created_at else None).items())
        ],
        views_over_time=_views_over_time(matched, narrative_only, snaps, assignments, study),
        notes_coverage=cov,
        labels=_labels_block(rows, labels_at),
        manipulated_media=media,
        proposed_narratives=[
            NarrativeProposal(g.name, len(g.posts), tuple(sorted(platform_ids[k] for k in g.posts)), tuple(g.claims))
            for g in proposals
        ],
        methods=_methods(study, rows, topic_posts, views, runs, labels_at, len(earlier), excluded, media),
        sources=[_source(run) for run in runs],
        excluded_posts=excluded,
    )


# --------------------------------------------------------------------------- selection


def review_selection(
    conn: sa.Connection, study: Study, narrative: str | None = None, encoder: Encoder | None = None
) -> list[int]:
    """The ids of the posts ``study`` selects, for the review queue: the post rules
    :func:`run_study` applies — accounts, window, platforms, kinds and the topic rule (the same
    :func:`_off_topic`) — so the queue holds the posts the study would count once their
    matches are decided (its verdict, status and confidence rules are about matches: left to the
    decisions and the ratings).

    ``narrative`` (one of the study's names) keeps the posts that fall in it by the study's rules
    as :func:`run_study` assigns them (``nar.assign``: seed fact-checks, keywords, then the
    description by embedding), judged on a post's confirmed and proposed matches, or, when it has
    none, its candidates (a weak candidate never drags a proposed post into another narrative; a
    rejected match says nothing).

    ``encoder`` is needed when :func:`selection_needs_encoder` says so (a topic or the narrative
    with a description); keyword, seed and stored-topic rules work without it. Raises ValueError
    for a narrative the study does not name, a stored topic not scored in this store, or a
    description rule without an encoder."""
    if narrative is not None and narrative not in (names := [n.name for n in study.narratives]):
        known = ", ".join(names) or "none"
        raise ValueError(f"narrative {narrative!r} is not in {Path(study.source).name} (its narratives: {known})")
    described = _described(study, narrative)
    if described and encoder is None:
        raise ValueError(f"narrative {narrative!r} has a description, which needs the text encoder")
    selected = _selected(conn, study)
    off_topic = _off_topic(conn, study, selected, encoder)
    posts = [p for p in selected if p.id not in off_topic]
    if narrative is None:
        return [p.id for p in posts]
    statuses = (*_CONSIDERED, MatchStatus.CANDIDATE.value)
    matches = repo.matches_for_posts(conn, [p.id for p in posts], statuses)
    matched = [_matched_post(p, _strongest(matches[p.id])) for p in posts if p.id in matches]
    assignments = nar.assign(matched, study.narratives, encoder if described else None)
    return [key for key, a in assignments.items() if a.narrative == narrative]


def selection_needs_encoder(study: Study, narrative: str | None = None) -> bool:
    """Whether :func:`review_selection` needs the sentence encoder: the study's topic has
    descriptions, or the narrative filtered on has one."""
    topic = study.topic is not None and not isinstance(study.topic, str) and bool(study.topic.topics[0].descriptions)
    return topic or _described(study, narrative)


def selection_key(study: Study, narrative: str | None = None) -> tuple[object, ...]:
    """What :func:`review_selection` reads of a study, as a cache key: its post rules, topic and
    narratives (not its title or report settings, which select nothing; and not the file's
    hash, which a study changed in code keeps)."""
    topic = study.topic if study.topic is None or isinstance(study.topic, str) else tuple(study.topic.topics)
    return (study.accounts, study.since, study.until, study.platforms, study.kinds, topic, study.narratives, narrative)


def _described(study: Study, narrative: str | None) -> bool:
    """Whether ``narrative`` has a description. The embedding rule only places posts no seed or
    keyword rule placed, so filtering on a narrative without one never needs the encoder."""
    return any(n.name == narrative and n.description for n in study.narratives)


def _strongest(ms: list[StoredMatch]) -> list[StoredMatch]:
    """The confirmed and proposed matches, else (none) all: the candidates."""
    return [m for m in ms if m.status in _CONSIDERED] or ms


def _selected(conn: sa.Connection, study: Study) -> list[StoredPost]:
    """The study's accounts' posts that pass the window, platform and kind rules."""
    window = repo.select_posts(conn, handles=study.accounts, since=study.since, until=study.until, include_reposts=True)
    return [p for p in window if _funnel(p, study) is None]


def _funnel(p: StoredPost, study: Study) -> Exclusion | None:
    """The first of the window, platform and kind rules that leaves ``p`` out (None: it passes)."""
    if p.created_at is None or not study.since <= p.created_at < study.until:
        when = f"created {p.created_at.date()}" if p.created_at else "no creation time"
        return Exclusion("window", f"{when}; the window is {study.start} to {study.end}")
    if study.platforms and p.platform not in study.platforms:
        return Exclusion("platform", f"a {p.platform} post; the study covers {', '.join(study.platforms)}")
    if p.kind not in study.kinds:
        return Exclusion("kind", f"a {p.kind}; the study counts {', '.join(study.kinds)}")
    return None


def _off_topic(
    conn: sa.Connection, study: Study, posts: list[StoredPost], encoder: Encoder | None
) -> dict[int, Exclusion]:
    """The posts not on the study's topic, each with why."""
    if study.topic is None:
        return {}
    if isinstance(study.topic, str):
        name = study.topic
        stored = repo.topics_for_posts(conn, [p.id for p in posts])
        if not stored and posts:
            raise ValueError(
                f"topic {name!r} has not been scored in this store; run "
                f"`claimwatch match --topics FILE` (or `claimwatch topics score FILE`) first, "
                "or define the topic inline in the study file"
            )
        out = {}
        for p in posts:
            score = next((t for t in stored.get(p.id, []) if t.topic == name), None)
            if score is None:
                out[p.id] = Exclusion("topic", f"not scored for the stored topic {name!r}")
            elif not score.assigned:
                out[p.id] = Exclusion("topic", _off_topic_detail(name, score.similarity, None))
        return out
    topic = study.topic.topics[0]
    if not topic.descriptions:  # keywords alone: no encoder, exact and fast
        return {
            p.id: Exclusion("topic", _off_topic_detail(topic.name, None, None))
            for p in posts
            if not topic.keywords_in(p.text or "")
        }
    if encoder is None:
        raise ValueError("the study's topic has descriptions, which need the text encoder")
    texts = [clean_query(p.text or "") for p in posts]
    emb = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), np.float32)
    scores = study.topic.score([p.text or "" for p in posts], emb, encoder)
    return {
        p.id: Exclusion("topic", _off_topic_detail(topic.name, row[0].similarity, topic.threshold))
        for p, row in zip(posts, scores, strict=True)
        if not row[0].assigned
    }


def _off_topic_detail(name: str, similarity: float | None, threshold: float | None) -> str:
    sim = (
        ""
        if similarity is None
        else f", similarity {similarity:.4f} below " + (f"{threshold}" if threshold is not None else "its threshold")
    )
    return f"not on the topic {name!r}: no topic keyword{sim}"


def _qualifying(ms: list[StoredMatch], study: Study, relation: bool = True) -> list[StoredMatch]:
    """The post's matches that count: a study verdict, confirmed (or proposed sure enough) and,
    with ``relation``, not a post that only shares the claim's narrative."""
    out = [m for m in ms if _match_exclusion(m, study, relation) is None]
    return sorted(out, key=lambda m: (m.status != MatchStatus.CONFIRMED, -m.score, m.factcheck.review_url))


def _match_exclusion(m: StoredMatch, study: Study, relation: bool = True) -> Exclusion | None:
    """The first of the verdict, match status, confidence and (with ``relation``) relation rules a
    match fails (None: it counts). A match whose relation is unknown counts as a repeat, as
    claimwatch counted every match before it told the two apart; the methods say how many."""
    fc = m.factcheck
    if fc.verdict not in study.verdicts:
        rating = f"{fc.rating_text!r} ({fc.verdict or 'no verdict'})" if fc.rating_text else fc.verdict or "unrated"
        return Exclusion("verdict", f"{fc.review_url} is rated {rating}; the study counts {', '.join(study.verdicts)}")
    status = _status_exclusion(m, study)
    if status is not None:
        return status
    if relation and m.relation == rel.NARRATIVE:
        who = "an analyst confirmed it" if m.status == MatchStatus.CONFIRMED else "machine-proposed"
        return Exclusion(
            "relation",
            f"the post shares the narrative of {fc.review_url} without repeating the rated claim ({who}); "
            "counted in the narrative figures, not the headline",
        )
    return None


def _status_exclusion(m: StoredMatch, study: Study) -> Exclusion | None:
    """The match status and confidence rules alone (a media match has no verdict or relation of
    its own to judge: see :mod:`~claimwatch.analysis.manipulated_media`). The confidence rule is
    the text matcher's: a media proposal (``media:`` methods) has thresholds, not a confidence."""
    fc = m.factcheck
    if m.status == MatchStatus.PROPOSED and study.confirmed_only:
        return Exclusion(
            "match status",
            f"the match to {fc.review_url} is machine-proposed; the study counts analyst-confirmed matches only",
        )
    if (
        m.status == MatchStatus.PROPOSED
        and study.min_confidence is not None
        # a media proposal has no calibrated confidence: it passed the media matcher's thresholds
        and not m.method.startswith(MEDIA_METHOD_PREFIX)
        and (m.confidence is None or m.confidence < study.min_confidence)
    ):
        conf = "no calibrated confidence" if m.confidence is None else f"confidence {m.confidence:.0%}"
        return Exclusion(
            "confidence",
            f"the match to {fc.review_url} is machine-proposed with {conf}; the study "
            f"counts proposals from {study.min_confidence:.0%}",
        )
    return None


def _excluded(
    conn: sa.Connection, study: Study, included: set[int], off_topic: dict[int, Exclusion]
) -> list[ExcludedPost]:
    """Every post of the study's accounts with a confirmed or proposed match that is not in the
    study, with the rule that left it out (see the module docstring for the order)."""
    candidates = [
        p
        for p in repo.select_posts(conn, handles=study.accounts, include_reposts=True, matched=_CONSIDERED)
        if p.id not in included
    ]
    matches = repo.matches_for_posts(conn, [p.id for p in candidates], _CONSIDERED)
    out = []
    for p in candidates:
        ms = sorted(matches.get(p.id, []), key=lambda m: (m.status != MatchStatus.CONFIRMED, -m.score))
        first = _funnel(p, study) or off_topic.get(p.id)
        reasons = (first,) if first else tuple(dict.fromkeys(e for e in (_match_exclusion(m, study) for m in ms) if e))
        if reasons:
            out.append(
                ExcludedPost(
                    p.platform_id,
                    p.platform,
                    p.url,
                    p.created_at,
                    p.kind,
                    p.handle,
                    p.text,
                    tuple(factcheck_ref(m) for m in ms),
                    reasons,
                )
            )
    return out


def _matched_post(p: StoredPost, ms: list[StoredMatch]) -> nar.MatchedPost:
    return nar.MatchedPost(
        p.id,
        p.text or "",
        [m.factcheck.review_url for m in ms],
        [" ".join(x for x in (m.factcheck.claim_text, m.factcheck.title) if x) for m in ms],
    )


# --------------------------------------------------------------------------- totals


def _total(rows: list[PostRow]) -> Total:
    t = Total()
    for r in rows:
        t.add(r.views)
    return t


def _posts_total(posts: list[StoredPost], views: dict[int, Any]) -> Total:
    """The posts' views as of the study's date (unknown kept apart)."""
    t = Total()
    for p in posts:
        t.add(views[p.id].value)
    return t


def _narrative_only(posts: list[StoredPost], views: dict[int, Any]) -> NarrativeOnly:
    t = _posts_total(posts, views)
    return NarrativeOnly(t.posts, t.views, t.views_unknown)


def _summary(rows: list[PostRow], study: Study, cov: NotesCoverage, narrative_only: NarrativeOnly) -> Summary:
    t = _total(rows)
    engagement = EngagementTotal()
    for r in rows:
        engagement.add(r.views, r.engagement, r.platform)
    confirmed = sum(any(fc.match_method == ANALYST_CONFIRMED for fc in r.fact_checks) for r in rows)
    return Summary(
        posts=t.posts,
        total_views=t.views,
        posts_views_unknown=t.views_unknown,
        engagement_views_unknown=engagement,
        posts_analyst_confirmed=confirmed,
        posts_machine_proposed_only=t.posts - confirmed,
        posts_with_note_shown=cov.posts_with_note_shown,
        posts_without_note_shown=cov.posts_without_note_shown,
        views_on_posts_without_note=cov.views_on_posts_without_note,
        views_unknown_on_posts_without_note=cov.views_unknown_on_posts_without_note,
        posts_note_status_unknown=cov.posts_note_status_unknown,
        posts_with_label=sum(r.platform_label.present for r in rows),
        ad_equivalent_usd=ad_equivalent(t.views, study.cpm_usd),
        by_category=tuple(
            CategoryTotal(k, t.posts, t.views, t.views_unknown)
            for k, t in _most_first(rows, lambda r: r.claim_category)
        ),
        narrative_only=narrative_only,
    )


def _totals(rows: list[PostRow], key: Callable[[PostRow], _K | None]) -> dict[_K, Total]:
    """Views per group of posts; a post whose key is None is in no group."""
    groups: dict[_K, Total] = {}
    for r in rows:
        k = key(r)
        if k is not None:
            groups.setdefault(k, Total()).add(r.views)
    return groups


def _most_first(rows: list[PostRow], key: Callable[[PostRow], str | None]) -> list[tuple[str, Total]]:
    """Views per group, a post with no key in "unknown": most posts first, then most views, then name."""
    return sorted(
        _totals(rows, lambda r: key(r) or "unknown").items(), key=lambda kv: (-kv[1].posts, -(kv[1].views or 0), kv[0])
    )


def _topic_block(posts: list[StoredPost], views: dict[int, Any], study: Study) -> TopicPosts:
    t = _posts_total(posts, views)
    topic = study.topic
    return TopicPosts(
        topic if isinstance(topic, str) or topic is None else topic.topics[0],
        t.posts,
        t.views,
        t.views_unknown,
        ad_equivalent(t.views, study.cpm_usd),
    )


def _views_over_time(
    matched: list[StoredPost],
    narrative_only: list[StoredPost],
    snaps: dict[int, list[Snapshot]],
    assignments: dict[int, nar.Assignment],
    study: Study,
) -> dict[str, list[SummedViews]]:
    """Views over time per narrative (the posts repeating its claims and those sharing it only) and
    for ``all`` (the headline's posts: those repeating a rated claim)."""
    groups: dict[str, list[int]] = {}
    for p in matched + narrative_only:
        groups.setdefault(assignments[p.id].narrative, []).append(p.id)
    groups["all"] = [p.id for p in matched]
    return {
        name: [SummedViews(*point) for point in views_over_time((snaps.get(i, []) for i in ids), study.views_as_of)]
        for name, ids in sorted(groups.items())
    }


def _labels_block(rows: list[PostRow], at: datetime) -> LabelCoverage:
    return LabelCoverage(
        at, sum(r.platform_label.present for r in rows), sum(bool(r.platform_label.history) for r in rows)
    )


# --------------------------------------------------------------------------- provenance


def _accounts(study: Study, stored: list[StoredAuthor]) -> list[Account]:
    """Each account the study names, as stored (a handle on several platforms: each), or with
    unknown ids and followers when the store has no such account."""
    by_handle: dict[str, list[StoredAuthor]] = {}
    for a in stored:
        if a.handle and (not study.platforms or a.platform in study.platforms):
            by_handle.setdefault(a.handle.lower(), []).append(a)
    out: list[Account] = []
    for handle in study.accounts:
        found = by_handle.get(handle.lower())
        out += (
            [Account(a.platform, a.platform_id, a.handle, a.followers) for a in found]
            if found
            else [Account(None, None, handle, None)]
        )
    return out


def _study_block(study: Study, stored: list[StoredAuthor], rows: list[PostRow]) -> StudyInfo:
    accounts = _accounts(study, stored)
    observed = [r.observed_at for r in rows if r.observed_at]
    return StudyInfo(
        title=study.title,
        file=study.source,
        file_sha256=study.source_sha256,
        # the target shape's one account; every account (none named: every account in the store) in "accounts"
        account=accounts[0] if len(accounts) == 1 else None,
        accounts=tuple(accounts),
        window=Window(study.start, study.end),
        platforms=tuple(study.platforms),
        inclusion_rule=_inclusion_rule(study),
        # the latest observation behind the figures: the views' (or engagement's) snapshots used
        collected_at=max(observed, default=None),
        views_as_of=study.views_as_of,
        notes_as_of=study.notes_as_of,
        labels_as_of=study.labels_as_of,
        views_metric=(
            "views (X impression_count, Telegram message views; Bluesky and Mastodon count none, so "
            "their posts show likes, reposts, replies and quotes instead) from the latest snapshot observed "
            + (f"not after {rfc3339(study.views_as_of)}" if study.views_as_of else "in the store")
        ),
        community_note_rule=note_rule(study.notes_as_of),
        ad_equivalent_cpm_usd=study.cpm_usd,
        narratives=study.narratives,
    )


def _inclusion_rule(study: Study) -> str:
    kinds = " and ".join(f"{k} posts" for k in study.kinds)
    excluded = [k.value for k in PostKind if k.value not in study.kinds]
    who = f"by {', '.join('@' + a for a in study.accounts)}" if study.accounts else "by any account"
    matches = (
        "confirmed by an analyst"
        if study.confirmed_only
        else "confirmed by an analyst or proposed by the matcher"
        + (f" with confidence ≥ {study.min_confidence:.0%}" if study.min_confidence is not None else "")
    )
    topic = "" if study.topic is None else " on the study topic"
    return (
        f"{kinds.capitalize()} {who}{topic}, created {study.start} to {study.end} (UTC), "
        f"{'(' + ', '.join(excluded) + ' excluded) ' if excluded else ''}"
        f"whose text matches a fact-check rated {' or '.join(study.verdicts)}, the match {matches}."
    )


def _methods(
    study: Study,
    rows: list[PostRow],
    topic_posts: list[StoredPost],
    views: dict[int, Any],
    runs: list[StoredRun],
    labels_at: datetime,
    decisions_on_earlier_text: int,
    excluded: list[ExcludedPost],
    media: ManipulatedMedia,
) -> list[str]:
    observed = sorted(r.views_observed_at for r in rows if r.views_observed_at)
    confirmed = sum(fc.match_method == ANALYST_CONFIRMED for r in rows for fc in r.fact_checks)
    proposed = sum(fc.match_method != ANALYST_CONFIRMED for r in rows for fc in r.fact_checks)
    rules = Counter(r.category_rule for r in rows)
    no_views = sum(engagement_only(r.views, r.engagement) for r in rows)
    note_snaps = sorted({r.community_notes.snapshot_date for r in rows if r.community_notes.snapshot_date})
    left_out = Counter(e.reasons[0].rule for e in excluded)
    unlabelled = sum(fc.relation is None for r in rows for fc in r.fact_checks)
    by_media = sum(fc.matcher.startswith(MEDIA_METHOD_PREFIX) for r in rows for fc in r.fact_checks)
    out = [
        f"Study file {study.source} (sha256 {study.source_sha256[:12]}…).",
        f"Window: posts created {study.start} to {study.end} inclusive (UTC).",
        "Inclusion: " + _inclusion_rule(study),
        (
            f"Topic: {count(len(topic_posts), 'post in the window is', 'posts in the window are')} on the topic "
            f"({_topic_rule(study)}); views of {sum(views[p.id].value is None for p in topic_posts):,} of them unknown."
        ),
        (
            f"Views: {'as of ' + rfc3339(study.views_as_of) if study.views_as_of else 'latest observation'}; the snapshots "
            f"used were observed {observed[0].date()} to {observed[-1].date()}."
            if observed
            else "Views: no snapshot with views for any included post."
        ),
        (
            f"Posts whose views are unknown are counted as unknown, never as 0: {sum(r.views is None for r in rows)}"
            + (
                f" ({no_views} of them with engagement counts only: their likes, reposts, replies and quotes are "
                "shown instead)."
                if no_views
                else "."
            )
        ),
        (
            f"Matches: {count(confirmed, 'fact-check link')} confirmed by an analyst, {proposed} machine-proposed "
            f"(shown separately in every table)."
            + (
                f" {count(decisions_on_earlier_text, 'analyst decision was', 'analyst decisions were')} made on an "
                "earlier text of a post (edited since) "
                "and are not counted."
                if decisions_on_earlier_text
                else ""
            )
            + (
                " Claim vs narrative: the headline counts posts that repeat a rated claim; a post that only shares "
                "a claim’s narrative (the matcher’s label, or the analyst’s when they confirmed it) is counted in "
                "the narrative figures and listed among the excluded posts (rule: relation)."
            )
            + (
                f" {count(by_media, 'counted fact-check link is a media match', 'counted fact-check links are media matches')}"
                " (the post re-shares an image, video or sound the fact-check debunked, found by its hashes): it counts"
                " as repeating the fact-check’s claim; a media proposal passed the media matcher’s thresholds and has"
                " no calibrated confidence, so the confidence rule does not apply to it."
                if by_media
                else ""
            )
            + (
                f" {count(unlabelled, 'counted fact-check link has', 'counted fact-check links have')} no claim vs "
                "narrative label (matched before claimwatch told the two apart) and "
                f"{noun(unlabelled, 'is', 'are')} counted as repeating the claim."
                if unlabelled
                else ""
            )
        ),
        (
            "Excluded: "
            + (
                f"{len(excluded):,} posts with an analyst-confirmed or machine-proposed fact-check match were "
                "left out, by the first rule that did: "
                + ", ".join(f"{rule} {n:,}" for rule, n in sorted(left_out.items()))
                + " (each listed with the reason under excluded posts)."
                if excluded
                else "no post with an analyst-confirmed or machine-proposed fact-check match was left out."
            )
        ),
        "Narratives: "
        + (
            ", ".join(
                f"{n} unassigned" if rule == nar.UNASSIGNED else f"{n} assigned by {rule}"
                for rule, n in sorted(rules.items())
            )
            or "no posts"
        )
        + ".",
        ("Community Notes: status snapshots used " + (", ".join(str(d.date()) for d in note_snaps) or "none") + "."),
        f"Platform labels: a post counts as labelled if a label was on it at {rfc3339(labels_at)}.",
        media_rule(media),
    ]
    if study.cpm_usd is not None:
        out.append(f"Ad-equivalent cost: views / 1,000 × ${study.cpm_usd:.2f} (CPM).")
    out.append(f"Data: {count(len(runs), 'ingest run')} (see sources).")
    return out


def _topic_rule(study: Study) -> str:
    if study.topic is None:
        return "no topic filter: every post in the window"
    if isinstance(study.topic, str):
        return f"stored topic scores for {study.topic!r}"
    t = study.topic.topics[0]
    parts = []
    if t.keywords:
        parts.append("keywords " + ", ".join(t.keywords))
    if t.descriptions:
        parts.append(f"or cosine ≥ {t.threshold} to its descriptions")
    return " ".join(parts)


def _source(run: StoredRun) -> Source:
    counts = run.counts or {}
    files = [f.get("path") for f in counts.get("files", []) if isinstance(f, dict)] or list(run.files or [])
    return Source(
        run.id,
        run.kind,
        run.status,
        run.finished_at,
        tuple(files),
        tuple(sorted({t for f in counts.get("files", []) if isinstance(f, dict) for t in _observed(f)})),
    )


def _observed(file_report: dict[str, Any]) -> list[str]:
    """When a file's snapshots were observed: the range the source itself gave, and the fallback
    time (``--observed-at`` or the file's modification time) only if it dated some of them."""
    if file_report.get("source_observed_times"):
        fallback = [file_report["observed_at"]] if file_report.get("fallback_snapshots") else []
        times = [file_report["source_observed_from"], file_report["source_observed_to"], *fallback]
    else:
        times = [file_report["observed_at"]] if file_report.get("observed_at") else []
    return [_rfc3339_text(t) for t in times]


def _rfc3339_text(text: str) -> str:
    """An ingest report's ISO time in the outputs' one format (kept as it is if unreadable)."""
    try:
        return rfc3339(datetime.fromisoformat(text)) or text
    except ValueError:
        return text
