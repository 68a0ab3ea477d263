"""Sent once on PostgreSQL: two deliverers (and two re-fetchers) on one store at the same time
take different rows (``FOR UPDATE SKIP LOCKED``). Set CLAIMWATCH_TEST_PG_URL to run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alert_store import add_factcheck, add_match, add_post, assert_sent_once_by_two, store
from test_postgres import PG_URL, pg_url  # noqa: F401 - the fixture that empties the test database
from test_refetch import FakeX

from claimwatch.live.refetch import Refetcher
from claimwatch.live.watchlist import Refetch

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL"),
    pytest.mark.usefixtures("pg_url"),  # each test starts on an emptied database
]


def test_two_deliverers_on_postgres_send_each_alert_once(tmp_path: Path) -> None:
    engine = store(tmp_path, PG_URL)
    assert engine.dialect.name == "postgresql"
    assert_sent_once_by_two(engine, store(tmp_path, PG_URL), 30)


def test_two_refetchers_on_postgres_fetch_each_post_once(tmp_path: Path) -> None:
    engine, other = store(tmp_path, PG_URL), store(tmp_path, PG_URL)
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
