"""Re-fetching the metrics of stored posts: the interface between the re-fetch scheduler
(:mod:`claimwatch.live.refetch`) and the platform fetchers (X ``GET /2/tweets?ids=``, Bluesky
``app.bsky.feed.getPosts``, Mastodon ``GET /api/v1/statuses/:id``).

A fetcher answers in the platform's own response pages, read by the same source readers as an
archive (so a re-fetched post is the same record as an ingested one, metrics and all), and says
which ids are gone and which failed. It never raises for a platform's failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FetchedPage:
    """A response holding posts with their current metrics, for the sources readers."""

    fmt: str  # "x-v2" | "bluesky" | "mastodon"
    payload: dict[str, Any]
    location: str


@dataclass(frozen=True)
class FetchResult:
    pages: list[FetchedPage]
    #: platform ids the platform says no longer exist / are not visible
    gone: list[str]
    #: platform id → one-line reason (network, rate limit, server error)
    failed: dict[str, str]
    #: seconds the platform asked us to wait before the next request (rate limit)
    retry_after: float | None = None


class MetricsFetcher(Protocol):
    platform: str

    async def fetch(self, platform_ids: list[str]) -> FetchResult: ...
