"""The metric re-fetch schedule with a fake fetcher (the platform fetchers are tested against
loopback servers by their own tests): one snapshot per fetch observed at the fetch time, gone
posts never fetched again, back-off on failure, a platform's retry_after respected."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alert_store import add_factcheck, add_match, add_post, store

from claimwatch import api
from claimwatch.analysis.reach import Views, views_as_of
from claimwatch.live import refetch as refetch_mod
from claimwatch.live.metrics_fetch import FetchedPage, FetchResult
from claimwatch.live.refetch import Refetcher
from claimwatch.live.watchlist import Refetch
from claimwatch.store import metric_fetches, posts

EVERY = timedelta(hours=1)


class FakeX:
    """Answers like X ``GET /2/tweets?ids=``: a page with ``public_metrics`` for the ids it knows."""

    platform = "x"

    def __init__(self) -> None:
        self.views: dict[str, int] = {}
        self.gone: set[str] = set()
        self.failing: dict[str, str] = {}
        self.retry_after: float | None = None
        self.calls: list[list[str]] = []

    async def fetch(self, platform_ids: list[str]) -> FetchResult:
        self.calls.append(list(platform_ids))
        data = [
            {
                "id": pid,
                "text": "Synthetic post: the ballots were counted twice.",
                "author_id": "u-example_account",
                "created_at": "2026-11-01T12:00:00.000Z",
                "public_metrics": {"impression_count": self.views[pid], "like_count": 4, "retweet_count": 1},
            }
            for pid in platform_ids
            if pid in self.views and pid not in self.gone and pid not in self.failing
        ]
        page = {"data": data, "includes": {"users": [{"id": "u-example_account", "username": "example_account"}]}}
        return FetchResult(
            pages=[FetchedPage("x-v2", page, "GET /2/tweets")] if data else [],
            gone=[p for p in platform_ids if p in self.gone],
            failed={p: self.failing[p] for p in platform_ids if p in self.failing},
            retry_after=self.retry_after,
        )


def _matched(tmp_path: Path, *pids: str, proposed: bool = True) -> tuple[sa.Engine, list[int]]:
    engine = store(tmp_path)
    fc = add_factcheck(engine)
    ids = []
    for pid in pids:
        post_id = add_post(engine, pid, views=100)
        add_match(engine, post_id, fc, proposed=proposed)
        ids.append(post_id)
    return engine, ids


def _run(r: Refetcher, now: datetime) -> refetch_mod.RefetchReport:
    return asyncio.run(r.run_due(now))


def _snapshots(engine: sa.Engine, post_id: int) -> list[Any]:
    with engine.connect() as conn:
        return posts.snapshots_for_posts(conn, [post_id]).get(post_id, [])


def _state(engine: sa.Engine, post_id: int) -> metric_fetches.FetchState:
    with engine.connect() as conn:
        [st] = metric_fetches.states(conn, [post_id])
    return st


def test_one_snapshot_per_fetch_observed_at_the_fetch_time(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1001")
    fake = FakeX()
    fake.views["1001"] = 5000
    told: list[list[int]] = []
    r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)), told.append)
    now = datetime.now(UTC)
    first = _run(r, now)
    assert first.scheduled == 1 and first.attempted == 0 and fake.calls == []  # first fetch: one interval after
    t1 = now + timedelta(minutes=61)
    report = _run(r, t1)
    assert report.fetched == [post] and report.snapshots == 1 and told == [[post]]
    snaps = _snapshots(engine, post)
    assert [s.views for s in snaps] == [100, 5000] and snaps[-1].observed_at == t1
    assert _run(r, t1 + timedelta(minutes=1)).attempted == 0  # not due again yet
    fake.views["1001"] = 9000
    t2 = t1 + EVERY
    assert _run(r, t2).fetched == [post]
    assert [s.views for s in _snapshots(engine, post)] == [100, 5000, 9000]
    st = _state(engine, post)
    assert st.last_fetched_at == t2 and st.next_due_at == t2 + EVERY and st.failures == 0


@pytest.mark.slow
def test_the_report_shows_the_refetched_views(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1002")
    fake = FakeX()
    fake.views["1002"] = 77_000
    t1 = datetime.now(UTC) + timedelta(hours=2)
    r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)))
    _run(r, t1)
    assert api.open(tmp_path / "alerts.db").report().headline.views == 77_000
    # a study's views "as of" a date read the snapshot observed last before it
    snaps = _snapshots(engine, post)
    assert views_as_of(snaps, t1 - timedelta(minutes=1)).value == 100
    assert views_as_of(snaps, t1) == Views(77_000, t1)


def test_gone_is_never_fetched_again_and_keeps_its_snapshots(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1003")
    fake = FakeX()
    fake.gone.add("1003")
    r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)))
    now = datetime.now(UTC) + timedelta(hours=2)
    assert _run(r, now).gone == [post]
    assert _state(engine, post).gone
    assert _run(r, now + timedelta(days=1)).attempted == 0 and len(fake.calls) == 1
    assert [s.views for s in _snapshots(engine, post)] == [100]


def test_failures_back_off(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1004")
    fake = FakeX()
    fake.failing["1004"] = "HTTP 503 (synthetic)"
    r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)), backoff_base=600)
    now = datetime.now(UTC) + timedelta(hours=2)
    assert _run(r, now).failed == {post: "HTTP 503 (synthetic)"}
    st = _state(engine, post)
    assert st.failures == 1 and st.last_error == "HTTP 503 (synthetic)"
    assert 480 - 1 <= (st.next_due_at - now).total_seconds() <= 720 + 1
    _run(r, st.next_due_at)
    st2 = _state(engine, post)
    assert st2.failures == 2 and (st2.next_due_at - st.next_due_at).total_seconds() >= 2 * 480 - 1
    fake.failing.clear()
    fake.views["1004"] = 10
    assert _run(r, st2.next_due_at).fetched == [post] and _state(engine, post).failures == 0


def test_a_post_missing_from_the_answer_counts_as_failed(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1005")
    r = Refetcher(engine, {"x": FakeX()}, Refetch(EVERY, timedelta(days=7)))
    report = _run(r, datetime.now(UTC) + timedelta(hours=2))
    assert report.failed == {post: "not in the platform's answer"}


def test_retry_after_pauses_the_whole_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(refetch_mod.BATCH, "x", 1)  # one id a request: two requests due
    engine, ids = _matched(tmp_path, "1006", "1007")
    fake = FakeX()
    fake.failing = {"1006": "HTTP 429 (synthetic)", "1007": "HTTP 429 (synthetic)"}
    fake.retry_after = 900
    r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)), backoff_base=1)
    now = datetime.now(UTC) + timedelta(hours=2)
    report = _run(r, now)
    assert len(fake.calls) == 1 and report.waiting == {"x": 900}  # the second request was never made
    for post_id in ids:
        assert _state(engine, post_id).next_due_at == now + timedelta(seconds=900)
    fake.failing.clear()
    fake.retry_after = None
    fake.views.update({"1006": 1, "1007": 2})
    assert _run(r, now + timedelta(seconds=60)).attempted == 0 and len(fake.calls) == 1
    assert sorted(_run(r, now + timedelta(seconds=901)).fetched) == sorted(ids)


def test_only_proposed_or_confirmed_matches_within_the_span(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1008", proposed=False)  # a candidate only
    fake = FakeX()
    fake.views["1008"] = 1
    r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)))
    assert _run(r, datetime.now(UTC) + timedelta(hours=2)).scheduled == 0
    engine2, [post2] = _matched(tmp_path / "b", "1009")
    fake.views["1009"] = 1
    r2 = Refetcher(engine2, {"x": fake}, Refetch(EVERY, timedelta(days=7)))
    assert _run(r2, datetime.now(UTC) + timedelta(hours=2)).fetched == [post2]
    assert _run(r2, datetime.now(UTC) + timedelta(days=8)).attempted == 0  # the span is over
    # a platform without a fetcher is not scheduled
    assert (
        _run(Refetcher(engine2, {"bluesky": fake}, Refetch(EVERY, timedelta(days=7))), datetime.now(UTC)).scheduled == 0
    )


def test_run_fetches_what_is_due_and_stops(tmp_path: Path) -> None:
    engine, [post] = _matched(tmp_path, "1010")
    fake = FakeX()
    fake.views["1010"] = 3
    later = datetime.now(UTC) + timedelta(hours=2)
    told: list[list[int]] = []

    async def go() -> None:
        stop = asyncio.Event()
        r = Refetcher(engine, {"x": fake}, Refetch(EVERY, timedelta(days=7)), told.append, clock=lambda: later)
        task = asyncio.create_task(r.run(stop))
        while not told:
            await asyncio.sleep(0.01)
        r.wake()  # a wake with nothing due fetches nothing more
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 2)

    asyncio.run(go())
    assert told == [[post]] and fake.calls == [["1010"]]
