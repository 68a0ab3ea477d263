"""Views from metric snapshots: as of a date, growth over time, totals per group and week.

A view count is only ever read from a snapshot, with the time it was observed. "As of D"
uses the latest snapshot observed not after D. A post with no such snapshot has *unknown*
views: it is counted as unknown, never added as 0.

Some platforms count no views at all (Bluesky, Mastodon; Telegram only in channels): their
posts have engagement counts and unknown views. Reports show those counts instead, labelled
as such (:func:`reach_as_of`, :func:`describe_reach`, :class:`EngagementTotal`), so such a post
is neither a fake 0 nor silently left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from claimwatch.records import ENGAGEMENT_FIELDS as ENGAGEMENT
from claimwatch.store.rows import Snapshot
from claimwatch.wording import count


@dataclass(frozen=True)
class Views:
    value: int | None
    observed_at: datetime | None


def views_as_of(snapshots: Sequence[Snapshot], as_of: datetime | None) -> Views:
    """``snapshots`` oldest first; the latest with known views not after ``as_of`` (None: the latest)."""
    best: Snapshot | None = None
    for snap in snapshots:
        if snap.views is None or (as_of is not None and snap.observed_at > as_of):
            continue
        if best is None or snap.observed_at >= best.observed_at:
            best = snap
    return Views(best.views, best.observed_at) if best else Views(None, None)


@dataclass(frozen=True)
class Reach:
    """What is known of a post's reach as of a time: its views, and the engagement counts of the
    same snapshot — or, when no snapshot has views, of the latest snapshot that counted any."""

    views: int | None
    #: when the figures shown were observed (the views' snapshot, else the engagement's)
    observed_at: datetime | None
    engagement: dict[str, int | None]


def engagement_only(views: int | None, engagement: Mapping[str, int | None]) -> bool:
    """Views unknown, but the source counted engagement (a platform without view counts)."""
    return views is None and any(v is not None for v in engagement.values())


def reach_as_of(snapshots: Sequence[Snapshot], as_of: datetime | None) -> Reach:
    """``snapshots`` oldest first; see :class:`Reach` (None ``as_of``: the latest)."""
    views = views_as_of(snapshots, as_of)
    if views.value is not None:
        used = next(s for s in reversed(snapshots) if s.observed_at == views.observed_at and s.views is not None)
    else:
        used = next(
            (
                s
                for s in reversed(snapshots)
                if (as_of is None or s.observed_at <= as_of) and any(getattr(s, k) is not None for k in ENGAGEMENT)
            ),
            None,
        )
    return Reach(
        views.value, used.observed_at if used else None, {k: getattr(used, k) if used else None for k in ENGAGEMENT}
    )


def describe_reach(views: int | None, engagement: Mapping[str, int | None]) -> str:
    """A views cell: the count, else "unknown" with the engagement counts that are known."""
    if views is not None:
        return f"{views:,}"
    known = [f"{name} {engagement[name]:,}" for name in ENGAGEMENT if engagement.get(name) is not None]
    return f"unknown; {', '.join(known)}" if known else "unknown"


@dataclass
class EngagementTotal:
    """Engagement summed over the posts whose views are unknown but whose source counted
    engagement, with how many posts each sum could not include and their platforms."""

    posts: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENGAGEMENT, 0))
    unknown: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENGAGEMENT, 0))
    platforms: dict[str, int] = field(default_factory=dict)

    def add(self, views: int | None, engagement: Mapping[str, int | None], platform: str) -> None:
        """Count a post if its views are unknown and its engagement is not (see :class:`Reach`)."""
        if not engagement_only(views, engagement):
            return
        self.posts += 1
        self.platforms[platform] = self.platforms.get(platform, 0) + 1
        for name in ENGAGEMENT:
            value = engagement.get(name)
            if value is None:
                self.unknown[name] += 1
            else:
                self.counts[name] += value

    def describe(self) -> str:
        """E.g. "4 of them with engagement counts only (bluesky: 3, mastodon: 1): likes 1,930, reposts
        430, replies 15, quotes 27 (1 unknown)"; "" when there are none. A count no post had is
        left out. (Bluesky and Mastodon count no views; an X post before late 2022 has none either.)"""
        if not self.posts:
            return ""
        where = ", ".join(f"{p}: {n:,}" for p, n in sorted(self.platforms.items(), key=lambda pn: (-pn[1], pn[0])))
        sums = ", ".join(
            f"{name} {self.counts[name]:,}" + (f" ({self.unknown[name]:,} unknown)" if self.unknown[name] else "")
            for name in ENGAGEMENT
            if self.unknown[name] < self.posts
        )
        return f"{self.posts:,} of them with engagement counts only ({where}): {sums}"


@dataclass
class Total:
    """A sum of views that says how many posts it could not include. ``views`` is None when
    every post's views are unknown: a sum of nothing known is unknown, not 0."""

    posts: int = 0
    known: int = 0
    views_unknown: int = 0

    def add(self, views: int | None) -> None:
        self.posts += 1
        if views is None:
            self.views_unknown += 1
        else:
            self.known += views

    @property
    def views(self) -> int | None:
        return None if self.posts and self.views_unknown == self.posts else self.known

    def to_dict(self) -> dict[str, int | None]:
        return {"posts": self.posts, "views": self.views, "views_unknown": self.views_unknown}

    def describe(self) -> str:
        """ "1,234 views", "1,234 views (views unknown for 2)" or "views unknown for all 3"."""
        return describe_views(self.posts, self.views, self.views_unknown)


def describe_views(posts: int, views: int | None, unknown: int) -> str:
    """A sum of views in words that never passes unknown views off as 0 (see :class:`Total`)."""
    if views is None:
        return f"views unknown for all {posts:,}"
    return count(views, "view") + (f" (views unknown for {unknown:,})" if unknown else "")


def ad_equivalent(views: int | None, cpm_usd: float | None) -> float | None:
    """What the views would cost as ads at ``cpm_usd`` per 1,000 views (cents, rounded half-even);
    None when the price or the views are unknown."""
    return None if cpm_usd is None or views is None else round(views / 1000 * cpm_usd, 2)


def week_of(when: datetime) -> date:
    """The Monday starting the ISO week of ``when`` (UTC)."""
    d = when.date()
    return d - timedelta(days=d.weekday())


def views_over_time(series: Iterable[Sequence[Snapshot]], until: datetime | None) -> list[tuple[datetime, int, int]]:
    """Summed views of a group of posts at each time any of them was observed (not after ``until``).

    Each point is (time, views known by then, posts with no view count yet): a post adds its
    latest count observed by that time, so the curve never double-counts and never dips
    because one post was re-observed.
    """
    posts = [
        [s for s in snaps if s.views is not None and (until is None or s.observed_at <= until)] for snaps in series
    ]
    times = sorted({s.observed_at for snaps in posts for s in snaps})
    out = []
    for t in times:
        total, unknown = 0, 0
        for snaps in posts:
            v = views_as_of(snaps, t).value
            if v is None:
                unknown += 1
            else:
                total += v
        out.append((t, total, unknown))
    return out
