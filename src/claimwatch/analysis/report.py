"""Report v1: the study headline and one row per post, computed from the store.

Every figure is traceable: a row names the post id and URL, the snapshot (views and the
time they were observed) and the fact-check URL behind it. Machine proposals and
analyst decisions stay apart: each row says whether its match was confirmed by a person
or only proposed, and the headline counts both separately. A decision made on an earlier
text of a post (edited since) counts as nothing; the report lists it for re-review.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.analysis.reach import EngagementTotal, describe_reach, reach_as_of
from claimwatch.records import DEBUNKED_VERDICTS, MatchStatus, PostKind
from claimwatch.store import repo


@dataclass(frozen=True)
class Selection:
    """Which posts a report covers. ``until`` is exclusive; dates are UTC."""

    handles: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    keywords: tuple[str, ...] = ()
    #: False = analyst-confirmed matches only; True = confirmed and machine-proposed.
    include_proposed: bool = True
    #: The CCDH method counts originals and quotes; reposts carry no views of their own.
    include_reposts: bool = False
    platform: str | None = None
    #: posts assigned to any of these topics (scored by ``match --topics``)
    topics: tuple[str, ...] = ()
    #: posts in these languages (detected; the platform's tag where none was detected)
    langs: tuple[str, ...] = ()

    def statuses(self) -> list[str]:
        st = [MatchStatus.CONFIRMED.value]
        if self.include_proposed:
            st.append(MatchStatus.PROPOSED.value)
        return st

    def describe(self) -> dict[str, Any]:
        return {
            "accounts": list(self.handles) or "all",
            "from": self.since.isoformat() if self.since else None,
            "to_exclusive": self.until.isoformat() if self.until else None,
            "keywords": list(self.keywords),
            "match_statuses": self.statuses(),
            "kinds": [k.value for k in PostKind if self.include_reposts or k != PostKind.REPOST],
            "platform": self.platform or "all",
            "topics": list(self.topics) or "all",
            "languages": list(self.langs) or "all",
        }


@dataclass
class FactCheckRef:
    factcheck_id: int
    review_url: str
    publisher: str | None
    rating_text: str | None
    verdict: str | None
    claim_text: str
    review_date: str | None
    match_id: int
    match_status: str
    match_score: float
    #: calibrated P(correct) when a trained model proposed it; None for v1 proposals
    match_confidence: float | None
    match_method: str
    #: the analyst who decided on the post's current text (None for a machine status)
    decided_by: str | None
    #: an analyst decision made on an earlier text of the post, e.g. "confirmed by ana on 2024-08-02"
    earlier_decision: str | None = None


@dataclass
class EarlierDecision:
    """An analyst decision on a text the post no longer has: not counted, to be re-reviewed."""

    post_id: str
    url: str | None
    handle: str | None
    match_id: int
    #: where the pair stands now: outdated, or the machine's view of the new text
    status: str
    decision: str
    decided_by: str | None
    decided_at: str | None
    note: str | None
    review_url: str
    publisher: str | None
    rating_text: str | None


@dataclass
class ReportRow:
    post_id: str
    platform: str
    url: str | None
    created_at: str | None
    kind: str
    referenced_id: str | None
    handle: str | None
    lang: str | None
    text: str
    views: int | None
    views_observed_at: str | None
    snapshots: int
    #: likes, reposts, replies, quotes, bookmarks of the views' snapshot — or, where views are
    #: unknown (platforms without view counts), of the latest snapshot that counted any
    engagement: dict[str, int | None]
    #: the match shown for this post: a debunking one first, then confirmed before proposed, then score
    fact_check: FactCheckRef | None
    debunked: bool
    other_matches: list[FactCheckRef] = field(default_factory=list)
    #: the language the platform tagged (``lang`` is the detected one where detection ran)
    platform_lang: str | None = None
    #: the best sentence's check-worthiness, and that sentence (None before ``match`` analysed the post)
    checkworthiness: float | None = None
    claim_sentence: str | None = None
    #: the claim sentence's score from the sentence head (does it state a checkable fact)
    claim_score: float | None = None
    topics: list[str] = field(default_factory=list)
    #: when the figures shown (views, else engagement) were observed
    observed_at: str | None = None

    def reach(self) -> str:
        """The views cell: the count, else "unknown" with the engagement counts known."""
        return describe_reach(self.views, self.engagement)


@dataclass
class Headline:
    posts: int
    views: int
    posts_views_unknown: int
    debunked_posts: int
    debunked_views: int
    debunked_views_unknown: int
    debunked_confirmed: int
    debunked_proposed_only: int
    observed_from: str | None
    observed_to: str | None
    #: engagement of the debunked posts whose views are unknown but whose source counted engagement
    debunked_engagement: EngagementTotal = field(default_factory=EngagementTotal)
    #: analyst decisions made on an earlier text of a post in the selection (not counted)
    decisions_on_earlier_text: int = 0

    def sentence(self) -> str:
        when = ""
        if self.observed_to:
            when = (f" (views as last observed {self.observed_to[:10]})" if self.observed_from == self.observed_to
                    else f" (views as last observed between {self.observed_from[:10]} and {self.observed_to[:10]})")
        unknown = f"; views unknown for {self.debunked_views_unknown}" if self.debunked_views_unknown else ""
        if self.debunked_engagement.posts:
            unknown += f": {self.debunked_engagement.describe()}"
        return (f"{self.debunked_posts} posts repeat claims rated false or misleading, viewed "
                f"{self.debunked_views:,} times{when}{unknown}. "
                f"{self.debunked_confirmed} confirmed by an analyst, {self.debunked_proposed_only} machine-proposed only. "
                f"Selection: {self.posts} posts, {self.views:,} views."
                + (f" {self.decisions_on_earlier_text} analyst decisions were made on an earlier text of their post "
                   "and are not counted (re-review them)." if self.decisions_on_earlier_text else ""))


@dataclass
class LanguageCount:
    lang: str
    posts: int
    debunked_posts: int
    debunked_views: int


@dataclass
class Report:
    selection: dict[str, Any]
    generated_at: str
    headline: Headline
    rows: list[ReportRow]
    matching: dict[str, Any]
    #: posts per language (detected), so non-English posts are counted apart, never silently mixed in
    languages: list[LanguageCount] = field(default_factory=list)
    #: tomorrow's fact-check queue: check-worthy posts that match no fact-check, by score × views
    unchecked: list[ReportRow] = field(default_factory=list)
    unchecked_rule: str = ""
    #: analyst decisions made on an earlier text of a post (edited since): to re-review
    earlier_decisions: list[EarlierDecision] = field(default_factory=list)
    #: why the figures may count too few (posts not matched yet, no fact-checks): see analysis.checks
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> list[dict[str, Any]]:
        """Flat rows (one per post) for pandas / CSV: ``pd.DataFrame(report.table())``."""
        out = []
        for row in self.rows:
            fc = row.fact_check
            out.append({
                "post_id": row.post_id, "url": row.url, "created_at": row.created_at, "kind": row.kind,
                "handle": row.handle, "lang": row.lang, "text": row.text, "views": row.views,
                "views_observed_at": row.views_observed_at, **row.engagement,
                "observed_at": row.observed_at, "debunked": row.debunked,
                "factcheck_publisher": fc.publisher if fc else None, "factcheck_url": fc.review_url if fc else None,
                "factcheck_rating": fc.rating_text if fc else None, "factcheck_verdict": fc.verdict if fc else None,
                "match_status": fc.match_status if fc else None, "match_score": fc.match_score if fc else None,
                "match_confidence": fc.match_confidence if fc else None,
                "checkworthiness": row.checkworthiness, "claim_sentence": row.claim_sentence,
                "topics": ";".join(row.topics),
            })
        return out


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _ref(m: dict[str, Any]) -> FactCheckRef:
    return FactCheckRef(
        factcheck_id=m["factcheck_id"], review_url=m["review_url"], publisher=m["publisher_name"],
        rating_text=m["rating_text"], verdict=m["verdict"], claim_text=m["claim_text"],
        review_date=_iso(m["review_date"])[:10] if m["review_date"] else None, match_id=m["match_id"],
        match_status=m["status"], match_score=round(float(m["score"]), 4),
        match_confidence=None if m["confidence"] is None else round(float(m["confidence"]), 4), match_method=m["method"],
        decided_by=m["decided_by"],
        earlier_decision=None if m["decision"] is None or m["decision_current"] else
        f"{m['decision']} by {m['earlier_decided_by'] or 'an analyst'}"
        f"{' on ' + _iso(m['decided_at'])[:10] if m['decided_at'] else ''}, on an earlier text of the post")


def _preference(m: dict[str, Any]) -> tuple[bool, bool, float]:
    return (m["verdict"] in DEBUNKED_VERDICTS, m["status"] == MatchStatus.CONFIRMED, float(m["score"]))


#: Without model thresholds: posts from this check-worthiness on, with no fact-check match, go to
#: the "not yet checked" list.
UNCHECKED_MIN_SCORE = 0.5
UNCHECKED_LIMIT = 50


def build_report(engine: sa.Engine, selection: Selection, matching: dict[str, Any] | None = None,
                 checkworthy_from: tuple[float, float] = (UNCHECKED_MIN_SCORE, UNCHECKED_MIN_SCORE)) -> Report:
    """``checkworthy_from``: the check-worthiness model's yes/no thresholds for (post, sentence)."""
    with engine.connect() as conn:
        posts = repo.select_posts(conn, handles=selection.handles, since=selection.since, until=selection.until,
                                  keywords=selection.keywords, include_reposts=selection.include_reposts,
                                  platform=selection.platform, topics=selection.topics, langs=selection.langs)
        ids = [p["id"] for p in posts]
        snaps = repo.latest_snapshots(conn, ids)  # the latest with views
        # posts with no view count anywhere (Bluesky, Mastodon, …): their engagement snapshots
        no_views = repo.snapshots_for_posts(conn, [i for i in ids if i not in snaps])
        n_snaps = repo.snapshot_counts(conn, ids)
        matches = repo.matches_for_posts(conn, ids, selection.statuses())
        analysis = repo.analysis_for_posts(conn, ids)
        topics = repo.topics_for_posts(conn, ids)
        earlier = repo.decisions_on_earlier_text(conn, ids)

    rows: list[ReportRow] = []
    for p in posts:
        snap = snaps.get(p["id"])
        ms = sorted(matches.get(p["id"], []), key=_preference, reverse=True)
        a = analysis.get(p["id"], {})
        # A repost carries no views or engagement of its own, whatever a source put in its counters.
        own = [] if p["kind"] == PostKind.REPOST else [snap] if snap else no_views.get(p["id"], [])
        reach = reach_as_of(own, None)
        rows.append(ReportRow(
            post_id=p["platform_id"], platform=p["platform"], url=p["url"], created_at=_iso(p["created_at"]),
            kind=p["kind"], referenced_id=p["referenced_id"], handle=p["handle"], lang=p["lang"], text=p["text"],
            views=reach.views, views_observed_at=_iso(reach.observed_at) if reach.views is not None else None,
            snapshots=n_snaps.get(p["id"], 0), engagement=reach.engagement,
            observed_at=_iso(reach.observed_at),
            fact_check=_ref(ms[0]) if ms else None,
            debunked=bool(ms) and ms[0]["verdict"] in DEBUNKED_VERDICTS,
            other_matches=[_ref(m) for m in ms[1:]],
            platform_lang=p["platform_lang"], checkworthiness=a.get("checkworthiness"),
            claim_sentence=a.get("claim_sentence"),
            claim_score=max((sc[2] for sc in a.get("sentence_scores") or []), default=None),
            topics=[t["topic"] for t in topics.get(p["id"], []) if t["assigned"]],
        ))
    by_id = {p["id"]: p for p in posts}
    earlier_decisions = [_earlier(by_id[d["post_id"]], d) for d in earlier]
    headline = _headline(rows)
    headline.decisions_on_earlier_text = len(earlier_decisions)
    return Report(selection=selection.describe(), generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
                  headline=headline, rows=rows, matching=matching or {}, languages=_languages(rows),
                  earlier_decisions=earlier_decisions,
                  unchecked=_unchecked(rows, checkworthy_from),
                  unchecked_rule=(f"post check-worthiness ≥ {checkworthy_from[0]:.2f} or claim sentence ≥ "
                                  f"{checkworthy_from[1]:.2f} (the model's thresholds), no proposed or confirmed "
                                  "fact-check; score = the higher of the two; "
                                  f"ranked by check-worthiness × views (unknown views rank last); top {UNCHECKED_LIMIT}"))


def _earlier(p: dict[str, Any], d: dict[str, Any]) -> EarlierDecision:
    return EarlierDecision(post_id=p["platform_id"], url=p["url"], handle=p["handle"], match_id=d["match_id"],
                           status=d["status"], decision=d["decision"], decided_by=d["decided_by"],
                           decided_at=_iso(d["decided_at"]), note=d["decision_note"], review_url=d["review_url"],
                           publisher=d["publisher_name"], rating_text=d["rating_text"])


def _languages(rows: list[ReportRow]) -> list[LanguageCount]:
    by: dict[str, LanguageCount] = {}
    for r in rows:
        c = by.setdefault(r.lang or "und", LanguageCount(r.lang or "und", 0, 0, 0))
        c.posts += 1
        if r.debunked:
            c.debunked_posts += 1
            c.debunked_views += r.views or 0
    return sorted(by.values(), key=lambda c: (-c.posts, c.lang))


def queue_score(row: ReportRow) -> float:
    """The higher of the post's check-worthiness and its claim sentence's score."""
    return max(row.checkworthiness or 0.0, row.claim_score or 0.0)


def _unchecked(rows: list[ReportRow], checkworthy_from: tuple[float, float]) -> list[ReportRow]:
    todo = [r for r in rows if r.fact_check is None and r.checkworthiness is not None
            and (r.checkworthiness >= checkworthy_from[0] or (r.claim_score or 0.0) >= checkworthy_from[1])]
    todo.sort(key=lambda r: (r.views is None, -queue_score(r) * (r.views or 0), -queue_score(r), r.post_id))
    return todo[:UNCHECKED_LIMIT]


def _headline(rows: list[ReportRow]) -> Headline:
    debunked = [r for r in rows if r.debunked]
    observed = sorted(r.views_observed_at for r in rows if r.views_observed_at)
    engagement = EngagementTotal()
    for r in debunked:
        engagement.add(r.views, r.engagement, r.platform)
    return Headline(
        posts=len(rows),
        views=sum(r.views for r in rows if r.views is not None),
        posts_views_unknown=sum(r.views is None for r in rows),
        debunked_posts=len(debunked),
        debunked_views=sum(r.views for r in debunked if r.views is not None),
        debunked_views_unknown=sum(r.views is None for r in debunked),
        debunked_confirmed=sum(r.fact_check is not None and r.fact_check.match_status == MatchStatus.CONFIRMED
                               for r in debunked),
        debunked_proposed_only=sum(r.fact_check is not None and r.fact_check.match_status == MatchStatus.PROPOSED
                                   for r in debunked),
        observed_from=observed[0] if observed else None,
        observed_to=observed[-1] if observed else None,
        debunked_engagement=engagement,
    )
