"""What the study renderers (HTML, Markdown, PDF, charts) show beyond the
:class:`~claimwatch.analysis.study.StudyResult` itself: which posts stand behind each row of the
narrative, account and week tables, which posts are the top ones, and the excluded posts shown.
Computed once here so every format links the same figure to the same posts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from claimwatch.analysis.manipulated_media import MediaPost
from claimwatch.analysis.post_rows import PostRow
from claimwatch.analysis.reach import week_of
from claimwatch.analysis.study import ExcludedPost, StudyResult
from claimwatch.analysis.study_blocks import AccountTotal, CategoryTotal, WeekTotal
from claimwatch.media.evidence import media_match_phrase

#: How many posts the "top posts" chart and the PDF's top-post table show.
TOP_POSTS = 10
#: How many excluded posts the HTML and Markdown list (all of them are in study.json).
EXCLUDED_SHOWN = 100


@dataclass
class Group:
    """One row of a by-narrative / by-account / by-week table and the posts behind it."""

    kind: str
    label: str
    posts: int
    #: None when every post's views are unknown (shown as "unknown", never 0)
    views: int | None
    views_unknown: int
    #: HTML id of the list of this row's posts (index-based: labels are free text)
    anchor: str
    post_ids: list[str] = field(default_factory=list)
    #: (review URL, publisher) of every fact-check behind the row, in first-seen order
    factchecks: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def views_cell(self) -> str:
        return "unknown" if self.views is None else f"{self.views:,}"


def week_key(row: PostRow) -> str | None:
    """The ISO Monday of the post's week, as the study's ``by_week`` keys it."""
    return week_of(row.created_at).isoformat() if row.created_at else None


def _groups(
    kind: str,
    totals: Sequence[CategoryTotal | AccountTotal | WeekTotal],
    rows: list[PostRow],
    key_of: Callable[[PostRow], str | None],
) -> list[Group]:
    members: dict[str, list[PostRow]] = {}
    for r in rows:
        key = key_of(r)
        if key is not None:
            members.setdefault(key, []).append(r)
    out = []
    for i, t in enumerate(totals, start=1):
        posts = members.get(t.label, [])
        fcs = {fc.url: fc.publisher for r in posts for fc in r.fact_checks}
        out.append(
            Group(
                kind,
                t.label,
                t.posts,
                t.views,
                t.views_unknown,
                f"group-{kind}-{i}",
                [r.post_id for r in posts],
                list(fcs.items()),
            )
        )
    return out


def groups(result: StudyResult) -> dict[str, list[Group]]:
    """narrative / account / week → its table rows, each with the posts and fact-checks behind it."""
    return {
        "narrative": _groups(
            "narrative", result.summary.by_category, result.posts, lambda r: r.claim_category or "unknown"
        ),
        "account": _groups("account", result.by_account, result.posts, lambda r: r.account or "unknown"),
        "week": _groups("week", result.by_week, result.posts, week_key),
    }


def top_posts(result: StudyResult, n: int = TOP_POSTS) -> list[PostRow]:
    """The ``n`` most viewed posts with known views (the study sorts posts by views already)."""
    return [r for r in result.posts if r.views is not None][:n]


def excluded_shown(result: StudyResult) -> list[ExcludedPost]:
    """The excluded posts the readable formats list (the first :data:`EXCLUDED_SHOWN`)."""
    return result.excluded_posts[:EXCLUDED_SHOWN]


def human(n: float) -> str:
    """A view count as people say it in a chart: 532 M, 1.3 bn."""
    for size, unit in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:g}"


def media_evidence(m: MediaPost) -> list[str]:
    """The bank items and manifests behind a flagged post, one phrase each (Markdown, CSV, PDF)."""
    out = [
        f"bank item {b.bank_item} ({b.label}) {b.factcheck_url}, {b.match_method}: {media_match_phrase(b.evidence)}"
        for b in m.bank_matches
    ]
    out += [
        f"C2PA manifest on {a.media_key}: {a.digital_source_type}"
        + (f", made with {a.claim_generator}" if a.claim_generator else "")
        + (f", signed by {a.issuer} ({a.signer or 'signer trust unknown'})" if a.issuer else "")
        for a in m.ai_manifests
    ]
    return out


def media_state(m: MediaPost) -> str:
    """The label / note state cell: "unlabelled; notes: 0 proposed, none shown", with why if unknown."""
    label = f": {m.label}" if m.label else ""
    reason = f" ({m.state_reason})" if m.state_reason else ""
    return f"{m.label_state}{label}; notes: {m.notes}{reason}"
