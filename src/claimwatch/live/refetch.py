"""Reach over time: re-fetch the metrics of matched posts on a schedule, each fetch a snapshot.

Every ``refetch.every`` (first one interval after the match) for ``refetch.span`` after a post was
matched (proposed or confirmed, text or media), the post's platform fetcher asks the platform for
its current metrics. The answer pages are read by the archive readers into posts with metrics
observed **at the fetch time** (an API response carries no observation time, so the reader's
fallback time is set to it), and ``repo.upsert_posts`` stores them: that is what adds a
``metric_snapshots`` row, the same path an ingest takes, so reports and studies show the growth
with no change. A post the platform says is gone is never fetched again (its snapshots stay); a
failure backs off (:class:`~claimwatch.live.backoff.Backoff` by consecutive failures); a platform
that answers with a rate limit (``retry_after``) is left alone until then, all its posts with it.

``on_snapshots(post_ids)`` is told which posts got a new snapshot, so the runner can check its
view thresholds (``alerts.rules.evaluate``) at once; it is called in a worker thread (it may use
the store, and wake the deliverer: ``Deliverer.wake`` is safe from any thread).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.live.backoff import Backoff
from claimwatch.live.metrics_fetch import (
    BlueskyMetricsFetcher,
    FetchedPage,
    FetchResult,
    MastodonMetricsFetcher,
    MetricsFetcher,
    XMetricsFetcher,
)
from claimwatch.live.wakeup import Wakeup
from claimwatch.live.watchlist import MastodonSpec, Refetch, Watchlist, XSpec
from claimwatch.sources.base import ReadContext
from claimwatch.sources.objects import read_object
from claimwatch.store import db, repo
from claimwatch.store import metric_fetches as q

#: ids per request, by platform: X ``GET /2/tweets`` takes 100, Bluesky ``getPosts`` 25; Mastodon
#: fetches one status a request, so a batch only bounds what one call does
BATCH = {"x": 100, "bluesky": 25, "mastodon": 20}
DEFAULT_BATCH = 20
#: a claimed post is left to its run this long (longer than any fetch takes)
LEASE = timedelta(minutes=10)
#: posts claimed per pass
CLAIM_LIMIT = 1000
IDLE_POLL_S = 60.0


@dataclass
class RefetchReport:
    """One pass: posts fetched (with a new snapshot), gone, failed (id → reason), and platforms
    that asked to wait (platform → seconds)."""

    fetched: list[int] = field(default_factory=list)
    snapshots: int = 0
    gone: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    waiting: dict[str, float] = field(default_factory=dict)
    scheduled: int = 0

    @property
    def attempted(self) -> int:
        return len(self.fetched) + len(self.gone) + len(self.failed)


class Refetcher:
    def __init__(
        self,
        engine: sa.Engine,
        fetchers: Mapping[str, MetricsFetcher],
        refetch: Refetch,
        on_snapshots: Callable[[list[int]], None] | None = None,
        *,
        backoff_base: float = 300.0,
        backoff_cap: float = 24 * 3600.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.fetchers = dict(fetchers)
        self.refetch = refetch
        self.on_snapshots = on_snapshots
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock or (lambda: datetime.now(UTC))
        #: platform → until when it asked us not to call (its ``retry_after``)
        self.paused: dict[str, datetime] = {}
        self._wake = Wakeup()

    def wake(self) -> None:
        """Look for due posts now (e.g. new matches were made). Safe from any thread."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, on_report: Callable[[RefetchReport], None] | None = None) -> None:
        """Pass after pass until ``stop``; between passes, wait for a wake or the next due post. A store error (``StoreError``: the store is gone,
        full, or busy past its timeout) ends the loop: it is raised to the caller, as it ends ``watch``."""
        self._wake.bind()
        while not stop.is_set():
            self._wake.clear()
            report = await self.run_due()
            if on_report is not None and (report.attempted or report.waiting):
                on_report(report)
            await self._wake.wait(stop, await asyncio.to_thread(self._until_next_due))

    def _until_next_due(self) -> float:
        with self.engine.connect() as conn:
            due = q.next_due(conn, list(self.fetchers))
        if due is None:
            return IDLE_POLL_S
        return min(IDLE_POLL_S, max(1.0, (due - self._clock()).total_seconds()))

    # ------------------------------------------------------------------ one pass

    async def run_due(self, now: datetime | None = None, *, due_only: bool = True) -> RefetchReport:
        """Schedule newly matched posts, then fetch every post due at ``now`` (default: the clock);
        ``due_only`` false: every followed post, due or not (``claimwatch metrics refetch``)."""
        fixed = now is not None
        now = now or self._clock()
        report = RefetchReport()
        if not self.refetch.enabled or not self.fetchers:
            return report
        platforms = [p for p in self.fetchers if self.paused.get(p, now) <= now]
        report.waiting = {p: (t - now).total_seconds() for p, t in self.paused.items() if t > now}
        report.scheduled, due = await asyncio.to_thread(self._schedule_and_claim, now, platforms, due_only)
        by_platform: dict[str, list[q.DueFetch]] = {}
        for d in due:
            by_platform.setdefault(d.platform, []).append(d)
        await asyncio.gather(*(self._platform(p, ds, now, fixed, report) for p, ds in by_platform.items()))
        if report.fetched and self.on_snapshots is not None:
            # in a worker thread: the runner's view rules read and write the store
            await asyncio.to_thread(self.on_snapshots, sorted(report.fetched))
        return report

    def _schedule_and_claim(self, now: datetime, platforms: list[str], due_only: bool) -> tuple[int, list[q.DueFetch]]:
        with db.writing(self.engine) as conn:
            added = q.schedule_new(conn, list(self.fetchers), self.refetch.every, self.refetch.span, now)
            return added, q.claim(conn, now, platforms, self.refetch.span, CLAIM_LIMIT, LEASE, due_only=due_only)

    async def _platform(
        self, platform: str, due: list[q.DueFetch], now: datetime, fixed: bool, report: RefetchReport
    ) -> None:
        """A platform's due posts, batch after batch, one request at a time (its rate limit is one).
        A snapshot is observed when its answer came (``now`` itself when the caller fixed it)."""
        fetcher = self.fetchers[platform]
        size = BATCH.get(platform, DEFAULT_BATCH)
        batches = [due[i : i + size] for i in range(0, len(due), size)]
        for n, batch in enumerate(batches):
            result = await self._fetch(fetcher, [d.platform_id for d in batch])
            observed = now if fixed else self._clock()
            await asyncio.to_thread(self._store, platform, batch, result, observed, report)
            if result.retry_after is not None:
                until = now + timedelta(seconds=max(result.retry_after, 0.0))
                self.paused[platform] = until
                report.waiting[platform] = result.retry_after
                rest = [d.post_id for b in batches[n + 1 :] for d in b]
                if rest:
                    await asyncio.to_thread(self._postpone, rest, until)
                return

    async def _fetch(self, fetcher: MetricsFetcher, platform_ids: list[str]) -> FetchResult:
        try:
            return await fetcher.fetch(platform_ids)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a fetcher bug costs this batch a retry, not the pass
            reason = f"fetcher error: {type(exc).__name__}: {exc}"
            return FetchResult([], [], {pid: reason for pid in platform_ids})

    def _store(
        self, platform: str, batch: list[q.DueFetch], result: FetchResult, now: datetime, report: RefetchReport
    ) -> None:
        """The pages' posts upserted (each with a snapshot observed ``now``), and the schedule."""
        posts = [p for page in result.pages for p in posts_of_page(page, platform, now)]
        asked = {d.platform_id: d for d in batch}
        read = {p.platform_id for p in posts if p.platform_id in asked and p.metrics is not None}
        gone = [asked[pid].post_id for pid in result.gone if pid in asked and pid not in read]
        failures: dict[int, tuple[str, datetime]] = {}
        for pid, d in asked.items():
            if pid in read or d.post_id in gone:
                continue
            reason = result.failed.get(pid) or "not in the platform's answer"
            failures[d.post_id] = (reason, now + self._wait(d, result.retry_after))
        with db.writing(self.engine) as conn:
            counts = repo.upsert_posts(conn, posts, None) if posts else None
            fetched = [asked[pid].post_id for pid in read]
            q.mark_fetched(conn, fetched, now, self.refetch.every)
            q.mark_gone(conn, gone, now)
            q.mark_failed(conn, failures)
        report.fetched += fetched
        report.snapshots += counts.snapshots_added if counts else 0
        report.gone += gone
        report.failed.update({post_id: reason for post_id, (reason, _) in failures.items()})

    def _wait(self, d: q.DueFetch, retry_after: float | None) -> timedelta:
        backoff = Backoff(base=self.backoff_base, cap=self.backoff_cap, failures=d.failures).next()
        return timedelta(seconds=max(backoff, retry_after or 0.0))

    def _postpone(self, post_ids: list[int], until: datetime) -> None:
        with db.writing(self.engine) as conn:
            q.postpone(conn, post_ids, until)


def posts_of_page(page: FetchedPage, platform: str, observed_at: datetime) -> list[r.Post]:
    """The posts of one fetched page with metrics observed at ``observed_at`` (the fetch time:
    API responses carry none). Rejected items are dropped: the post they stand for is then not in
    the answer and counts as a failed fetch."""
    ctx = ReadContext(observed_at=observed_at, platform=platform)
    results = read_object(page.fmt, page.payload, f"refetch:{platform}", page.location, ctx)
    return [res.record for res in results if isinstance(res, r.Parsed) and isinstance(res.record, r.Post)]


def fetchers_for(watchlist: Watchlist | None, env: Mapping[str, str] | None = None) -> dict[str, MetricsFetcher]:
    """The metric fetchers by platform: Bluesky (the public AppView) and Mastodon (public statuses;
    a watchlist Mastodon stream's token is sent to its own instance only) always, X when a watchlist
    X stream's bearer token variable is set (else ``X_BEARER_TOKEN``)."""
    env = os.environ if env is None else env
    streams = watchlist.streams if watchlist is not None else ()
    tokens = {
        urlsplit(s.instance).netloc: env[s.token_env]
        for s in streams
        if isinstance(s, MastodonSpec) and s.token_env and env.get(s.token_env)
    }
    fetchers: dict[str, MetricsFetcher] = {
        "bluesky": BlueskyMetricsFetcher(),
        "mastodon": MastodonMetricsFetcher(tokens=tokens),
    }
    x = next((s for s in streams if isinstance(s, XSpec) and env.get(s.bearer_token_env)), None)
    if x is not None:
        fetchers["x"] = XMetricsFetcher(env[x.bearer_token_env], api_base=x.api_base)
    elif env.get("X_BEARER_TOKEN"):
        fetchers["x"] = XMetricsFetcher(env["X_BEARER_TOKEN"])
    return fetchers


def refetch_once(
    engine: sa.Engine, fetchers: Mapping[str, MetricsFetcher], refetch: Refetch, *, due_only: bool = False
) -> RefetchReport:
    """One pass now (``claimwatch metrics refetch``, for cron): every followed post, or the due ones;
    the fetchers' HTTP clients are closed after it."""

    async def once() -> RefetchReport:
        try:
            return await Refetcher(engine, fetchers, refetch).run_due(due_only=due_only)
        finally:
            for fetcher in fetchers.values():
                close = getattr(fetcher, "aclose", None)
                if close is not None:
                    await close()

    return asyncio.run(once())
