"""Report v1: the study headline and one row per post, computed from the store.

Every figure is traceable: a row (:class:`~claimwatch.analysis.post_rows.PostRow`, the same row
a study shows) names the post id and URL, the snapshot (views and the time they were observed)
and the fact-check behind it. Machine proposals and analyst decisions stay apart: each row says
whether its match was confirmed by a person or only proposed, and the headline counts both
separately. A decision made on an earlier text of a post (edited since) counts as nothing; the
report lists it for re-review. A sum of views never passes unknown views off as 0, and says
when the views behind it were observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.analysis.jsonable import jsonable, rfc3339
from claimwatch.analysis.post_rows import AsOf, PostRow, headline_first, post_rows, preference
from claimwatch.analysis.reach import ENGAGEMENT, EngagementTotal, Total, describe_views
from claimwatch.claims.relation import NARRATIVE
from claimwatch.records import MatchStatus, PostKind
from claimwatch.schemas import REPORT_SCHEMA
from claimwatch.store import repo
from claimwatch.store.rows import StoredMatch, StoredPost
from claimwatch.wording import count


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
            "from": rfc3339(self.since),
            "to_exclusive": rfc3339(self.until),
            "keywords": list(self.keywords),
            "match_statuses": self.statuses(),
            "kinds": [k.value for k in PostKind if self.include_reposts or k != PostKind.REPOST],
            "platform": self.platform or "all",
            "topics": list(self.topics) or "all",
            "languages": list(self.langs) or "all",
        }


@dataclass(frozen=True)
class EarlierDecision:
    """An analyst decision on a text the post no longer has: not counted, to be re-reviewed."""

    post_id: str
    url: str | None
    account: str | None
    match_id: int
    #: where the pair stands now: outdated, or the machine's view of the new text
    status: str
    decision: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    review_url: str
    publisher: str | None
    rating_text: str | None


@dataclass
class Headline:
    posts: int
    #: None when no post of the selection has known views
    views: int | None
    posts_views_unknown: int
    debunked_posts: int
    #: None when no debunked post has known views
    debunked_views: int | None
    debunked_views_unknown: int
    debunked_confirmed: int
    debunked_proposed_only: int
    #: when the views of the debunked posts were observed (the posts behind the figure only)
    observed_from: datetime | None
    observed_to: datetime | None
    #: engagement of the debunked posts whose views are unknown but whose source counted engagement
    debunked_engagement: EngagementTotal = field(default_factory=EngagementTotal)
    #: analyst decisions made on an earlier text of a post in the selection (not counted)
    decisions_on_earlier_text: int = 0
    #: posts whose shown debunking fact-check they only share the narrative of (not counted above)
    narrative_only: int = 0

    def sentence(self) -> str:
        n = self.debunked_posts
        if self.debunked_views is None:
            reach = f"; views unknown for all {n:,}"
        else:
            when = ""
            if self.observed_from and self.observed_to:
                first, last = self.observed_from.date(), self.observed_to.date()
                when = (
                    f" (views as last observed {last})"
                    if first == last
                    else f" (views as last observed between {first} and {last})"
                )
            reach = f", viewed {count(self.debunked_views, 'time')}{when}" + (
                f"; views unknown for {self.debunked_views_unknown:,}" if self.debunked_views_unknown else ""
            )
        if self.debunked_engagement.posts:
            reach += f": {self.debunked_engagement.describe()}"
        return (
            f"{count(n, 'post repeats', 'posts repeat')} claims rated false or misleading{reach}. "
            f"{self.debunked_confirmed} confirmed by an analyst, {self.debunked_proposed_only} machine-proposed only. "
            + (
                f"{count(self.narrative_only, 'more post shares', 'more posts share')} a rated claim's narrative "
                "without repeating the claim (not counted). "
                if self.narrative_only
                else ""
            )
            + f"Selection: {count(self.posts, 'post')}, "
            f"{describe_views(self.posts, self.views, self.posts_views_unknown)}."
            + (
                f" {count(self.decisions_on_earlier_text, 'analyst decision was', 'analyst decisions were')} "
                "made on an earlier text of their post "
                "and are not counted (re-review them)."
                if self.decisions_on_earlier_text
                else ""
            )
        )


@dataclass
class LanguageCount:
    lang: str
    posts: int
    debunked_posts: int
    #: None when no debunked post in the language has known views
    debunked_views: int | None
    debunked_views_unknown: int


@dataclass
class Report:
    selection: dict[str, Any]
    generated_at: datetime
    headline: Headline
    #: every post of the selection, oldest first (:meth:`ordered` for the order readable reports use)
    rows: list[PostRow]
    matching: dict[str, Any]
    #: posts per language (detected), so non-English posts are counted apart, never silently mixed in
    languages: list[LanguageCount] = field(default_factory=list)
    #: tomorrow's fact-check queue: check-worthy posts that match no fact-check, by score × views
    unchecked: list[PostRow] = field(default_factory=list)
    unchecked_rule: str = ""
    #: analyst decisions made on an earlier text of a post (edited since): to re-review
    earlier_decisions: list[EarlierDecision] = field(default_factory=list)
    #: why the figures may count too few (posts not matched yet, no fact-checks): see analysis.checks
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON values, in the shape of ``schemas/report.schema.json``."""
        return {"schema": REPORT_SCHEMA, **jsonable(self)}

    def ordered(self) -> list[PostRow]:
        """The rows as every readable format lists them: the posts behind the headline first."""
        return headline_first(self.rows)

    def table(self) -> list[dict[str, Any]]:
        """Flat rows (one per post, in :meth:`ordered` order) for pandas / CSV:
        ``pd.DataFrame(report.table())``; times in RFC 3339 (UTC, ``Z``)."""
        out = []
        for row in self.ordered():
            fc = row.fact_check
            out.append(
                {
                    "post_id": row.post_id,
                    "url": row.url,
                    "created_at": rfc3339(row.created_at),
                    "post_type": row.post_type,
                    "account": row.account,
                    "lang": row.lang,
                    "text": row.text,
                    "factcheck_claim": fc.claim if fc else None,
                    "views": row.views,
                    "views_observed_at": rfc3339(row.views_observed_at),
                    **row.engagement,
                    "observed_at": rfc3339(row.observed_at),
                    "debunked": row.debunked,
                    "factcheck_publisher": fc.publisher if fc else None,
                    "factcheck_url": fc.url if fc else None,
                    "factcheck_rating": fc.rating_text if fc else None,
                    "factcheck_verdict": fc.rating_class if fc else None,
                    "match_method": fc.match_method if fc else None,
                    "match_status": fc.match_status if fc else None,
                    "match_score": fc.match_score if fc else None,
                    "match_confidence": fc.match_confidence if fc else None,
                    "match_relation": fc.relation if fc else None,
                    "decided_by": fc.decided_by if fc else None,
                    "checkworthiness": row.checkworthiness,
                    "claim_sentence": row.claim_sentence,
                    "topics": ";".join(row.topics),
                }
            )
        return out


#: The columns of :meth:`Report.table` (and the report's CSV), also when it has no rows.
TABLE_COLUMNS = (
    "post_id",
    "url",
    "created_at",
    "post_type",
    "account",
    "lang",
    "text",
    "factcheck_claim",
    "views",
    "views_observed_at",
    *ENGAGEMENT,
    "observed_at",
    "debunked",
    "factcheck_publisher",
    "factcheck_url",
    "factcheck_rating",
    "factcheck_verdict",
    "match_method",
    "match_status",
    "match_score",
    "match_confidence",
    "match_relation",
    "decided_by",
    "checkworthiness",
    "claim_sentence",
    "topics",
)

#: Without model thresholds: posts from this check-worthiness on, with no fact-check match, go to
#: the "not yet checked" list.
UNCHECKED_MIN_SCORE = 0.5
UNCHECKED_LIMIT = 50


def build_report(
    engine: sa.Engine,
    selection: Selection,
    matching: dict[str, Any] | None = None,
    checkworthy_from: tuple[float, float] = (UNCHECKED_MIN_SCORE, UNCHECKED_MIN_SCORE),
) -> Report:
    """``checkworthy_from``: the check-worthiness model's yes/no thresholds for (post, sentence)."""
    with engine.connect() as conn:
        posts = repo.select_posts(
            conn,
            handles=selection.handles,
            since=selection.since,
            until=selection.until,
            keywords=selection.keywords,
            include_reposts=selection.include_reposts,
            platform=selection.platform,
            topics=selection.topics,
            langs=selection.langs,
        )
        ids = [p.id for p in posts]
        matches = {
            pid: sorted(ms, key=preference, reverse=True)
            for pid, ms in repo.matches_for_posts(conn, ids, selection.statuses()).items()
        }
        rows = post_rows(conn, posts, matches, AsOf())
        earlier = repo.decisions_on_earlier_text(conn, ids)

    by_id = {p.id: p for p in posts}
    earlier_decisions = [_earlier(by_id[m.post_id], m) for m in earlier]
    headline = _headline(rows)
    headline.decisions_on_earlier_text = len(earlier_decisions)
    return Report(
        selection=selection.describe(),
        generated_at=datetime.now(UTC).replace(microsecond=0),
        headline=headline,
        rows=rows,
        matching=matching or {},
        languages=_languages(rows),
        earlier_decisions=earlier_decisions,
        unchecked=_unchecked(rows, checkworthy_from),
        unchecked_rule=unchecked_rule(checkworthy_from),
    )


def unchecked_rule(checkworthy_from: tuple[float, float]) -> str:
    """The "not yet checked" list's rule, in words (reports and the dashboard)."""
    return (
        f"post check-worthiness ≥ {checkworthy_from[0]:.2f} or claim sentence ≥ "
        f"{checkworthy_from[1]:.2f} (the model's thresholds), no proposed or confirmed "
        "fact-check; score = the higher of the two; "
        f"ranked by check-worthiness × views (unknown views rank last); top {UNCHECKED_LIMIT}"
    )


def unchecked_rows(
    conn: sa.Connection, checkworthy_from: tuple[float, float], limit: int = UNCHECKED_LIMIT
) -> list[PostRow]:
    """The first ``limit`` rows of a whole-store report's ``unchecked`` list, without building the
    report: the store keeps the list's posts in order (``review_queue_entries``: check-worthiness
    known, no proposed or confirmed fact-check, collected, not a repost), the thresholds are
    applied as it is read, and the rows are made and ordered as the report makes and orders them."""
    ids = repo.unchecked_ids(conn, checkworthy_from[0], checkworthy_from[1], limit)
    by_id = repo.posts_by_id(conn, ids)
    posts = [by_id[i] for i in ids]
    matches = repo.matches_for_posts(conn, ids, Selection().statuses())
    return _unchecked(post_rows(conn, posts, matches, AsOf()), checkworthy_from)[:limit]


def _earlier(p: StoredPost, m: StoredMatch) -> EarlierDecision:
    assert m.decision is not None
    fc = m.factcheck
    return EarlierDecision(
        post_id=p.platform_id,
        url=p.url,
        account=p.handle,
        match_id=m.id,
        status=m.status,
        decision=m.decision.decision,
        decided_by=m.decision.by,
        decided_at=m.decision.at,
        note=m.decision.note,
        review_url=fc.review_url,
        publisher=fc.publisher_name,
        rating_text=fc.rating_text,
    )


def _languages(rows: list[PostRow]) -> list[LanguageCount]:
    posts: dict[str, int] = {}
    debunked: dict[str, Total] = {}
    for r in rows:
        lang = r.lang or "und"
        posts[lang] = posts.get(lang, 0) + 1
        t = debunked.setdefault(lang, Total())
        if r.debunked:
            t.add(r.views)
    counts = [
        LanguageCount(lang, n, debunked[lang].posts, debunked[lang].views, debunked[lang].views_unknown)
        for lang, n in posts.items()
    ]
    return sorted(counts, key=lambda c: (-c.posts, c.lang))


def queue_score(row: PostRow) -> float:
    """The higher of the post's check-worthiness and its claim sentence's score."""
    return max(row.checkworthiness or 0.0, row.claim_score or 0.0)


def _unchecked(rows: list[PostRow], checkworthy_from: tuple[float, float]) -> list[PostRow]:
    todo = [
        r
        for r in rows
        if r.fact_check is None
        and r.checkworthiness is not None
        and (r.checkworthiness >= checkworthy_from[0] or (r.claim_score or 0.0) >= checkworthy_from[1])
    ]
    # the store's index breaks ties by store id, not platform id: unchecked_rows re-sorts here
    todo.sort(key=lambda r: (r.views is None, -queue_score(r) * (r.views or 0), -queue_score(r), r.post_id))
    return todo[:UNCHECKED_LIMIT]


def _headline(rows: list[PostRow]) -> Headline:
    debunked = [r for r in rows if r.debunked]
    everything, behind = Total(), Total()
    for r in rows:
        everything.add(r.views)
    engagement = EngagementTotal()
    for r in debunked:
        behind.add(r.views)
        engagement.add(r.views, r.engagement, r.platform)
    observed = sorted(r.views_observed_at for r in debunked if r.views_observed_at)
    return Headline(
        posts=everything.posts,
        views=everything.views,
        posts_views_unknown=everything.views_unknown,
        debunked_posts=behind.posts,
        debunked_views=behind.views,
        debunked_views_unknown=behind.views_unknown,
        debunked_confirmed=sum(r.fact_check is not None and r.fact_check.confirmed for r in debunked),
        debunked_proposed_only=sum(
            r.fact_check is not None and r.fact_check.match_status == MatchStatus.PROPOSED for r in debunked
        ),
        observed_from=observed[0] if observed else None,
        observed_to=observed[-1] if observed else None,
        debunked_engagement=engagement,
        narrative_only=sum(
            r.fact_check is not None and r.fact_check.debunked and r.fact_check.relation == NARRATIVE for r in rows
        ),
    )
