"""Sent once on PostgreSQL: two deliverers (and two re-fetchers) on one store at the same time
take different rows (``FOR UPDATE SKIP LOCKED``). Set CLAIMWATCH_TEST_PG_URL to run."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alert_store import add_factcheck, add_match, add_post, deliveries, queue_alert, receiver, store
from test_refetch import FakeX

import claimwatch
from claimwatch.alerts.deliver import Deliverer
from claimwatch.live.refetch import Refetcher
from claimwatch.live.watchlist import Channel, Refetch

PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL"),
]


@pytest.fixture()
def pg_url() -> str:
    assert PG_URL
    claimwatch.open(PG_URL).reset()
    return PG_URL


def test_two_deliverers_on_postgres_send_each_alert_once(pg_url: str, tmp_path: Path) -> None:
    engine, other = store(tmp_path, pg_url), store(tmp_path, pg_url)
    assert engine.dialect.name == "postgresql"
    posts = [add_post(engine, f"7{i:02d}") for i in range(30)]
    with receiver() as rec:
        ch = Channel("desk", "webhook", url=rec.url("/desk"))
        ids = [queue_alert(engine, p, [("desk", "webhook")]) for p in posts]

        async def both():  # noqa: ANN202
            async with (
                Deliverer(engine, (ch,), batch=4, concurrency=4) as a,
                Deliverer(other, (ch,), batch=4, concurrency=4) as b,
            ):
                return await asyncio.gather(a.deliver_due(), b.deliver_due())

        ra, rb = asyncio.run(both())
        got = sorted(x.json()["alert_id"] for x in rec.on("/desk"))
    assert got == sorted(ids)
    assert ra.sent + rb.sent == 30 and ra.sent > 0 and rb.sent > 0
    assert {x.status for x in deliveries(engine)} == {"sent"}


def test_two_refetchers_on_postgres_fetch_each_post_once(pg_url: str, tmp_path: Path) -> None:
    engine, other = store(tmp_path, pg_url), store(tmp_path, pg_url)
    fc = add_factcheck(engine)
    fake = FakeX()
    for i in range(10):
        post = add_post(engine, f"8{i:02d}")
        add_match(engine, post, fc)
        fake.views[f"8{i:02d}"] = i
    now = datetime.now(UTC) + timedelta(hours=2)
    settings = Refetch(timedelta(hours=1), timedelta(days=7))

    async def both():  # noqa: ANN202
        return await asyncio.gather(
            Refetcher(engine, {"x": fake}, settings).run_due(now), Refetcher(other, {"x": fake}, settings).run_due(now)
        )

    a, b = asyncio.run(both())
    assert sorted(a.fetched + b.fetched) == sorted(set(a.fetched + b.fetched)) and len(a.fetched + b.fetched) == 10
    assert sorted(pid for call in fake.calls for pid in call) == sorted(fake.views)
