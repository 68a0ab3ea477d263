"""Views from metric snapshots: as of a date, growth over time, totals per group and week.

A view count is only ever read from a snapshot, with the time it was observed. "As of D"
uses the latest snapshot observed not after D. A post with no such snapshot has *unknown*
views: it is counted as unknown, never added as 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Views:
    value: int | None
    observed_at: datetime | None


def views_as_of(snapshots: list[dict[str, Any]], as_of: datetime | None) -> Views:
    """``snapshots`` oldest first; the latest with known views not after ``as_of`` (None: the latest)."""
    best: dict[str, Any] | None = None
    for snap in snapshots:
        if snap["views"] is None or (as_of is not None and snap["observed_at"] > as_of):
            continue
        if best is None or snap["observed_at"] >= best["observed_at"]:
            best = snap
    return Views(best["views"], best["observed_at"]) if best else Views(None, None)


@dataclass
class Total:
    """A sum of views that says how many posts it could not include."""

    posts: int = 0
    views: int = 0
    views_unknown: int = 0

    def add(self, views: int | None) -> None:
        self.posts += 1
        if views is None:
            self.views_unknown += 1
        else:
            self.views += views

    def to_dict(self) -> dict[str, int]:
        return {"posts": self.posts, "views": self.views, "views_unknown": self.views_unknown}


def ad_equivalent(views: int, cpm_usd: float | None) -> float | None:
    """What the views would cost as ads at ``cpm_usd`` per 1,000 views (cents, rounded half-even)."""
    return None if cpm_usd is None else round(views / 1000 * cpm_usd, 2)


def week_of(when: datetime) -> date:
    """The Monday starting the ISO week of ``when`` (UTC)."""
    d = when.date()
    return d - timedelta(days=d.weekday())


def views_over_time(series: Iterable[list[dict[str, Any]]], until: datetime | None) -> list[tuple[datetime, int, int]]:
    """Summed views of a group of posts at each time any of them was observed (not after ``until``).

    Each point is (time, views known by then, posts with no view count yet): a post adds its
    latest count observed by that time, so the curve never double-counts and never dips
    because one post was re-observed.
    """
    posts = [[s for s in snaps if s["views"] is not None and (until is None or s["observed_at"] <= until)]
             for snaps in series]
    times = sorted({s["observed_at"] for snaps in posts for s in snaps})
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
