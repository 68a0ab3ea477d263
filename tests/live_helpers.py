"""Helpers of the live-client tests: drain a LiveSource for a while, read a payload with its reader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claimwatch.live.events import LiveEvent, LiveItem, LiveProblem, LiveStatus
from claimwatch.records import Parsed, Post
from claimwatch.sources.base import ReadContext
from claimwatch.sources.posts import POST_FORMATS


class Waits:
    """An injected ``sleep`` that records the waits asked for and does not wait."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


async def drain(
    items: AsyncIterator[LiveItem], stop: Callable[[list[LiveItem]], bool], timeout: float = 3.0
) -> list[LiveItem]:
    """Items until ``stop(items so far)`` is true (checked on every item and every 10 ms), the
    stream ends, or ``timeout``; then the stream is closed."""
    got: list[LiveItem] = []

    async def run() -> None:
        async for item in items:
            got.append(item)
            if stop(got):
                return

    task = asyncio.ensure_future(run())
    deadline = asyncio.get_running_loop().time() + timeout
    while not task.done() and not stop(got) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    await items.aclose()  # type: ignore[attr-defined]
    return got


def events(items: list[LiveItem]) -> list[LiveEvent]:
    return [i for i in items if isinstance(i, LiveEvent)]


def problems(items: list[LiveItem]) -> list[LiveProblem]:
    return [i for i in items if isinstance(i, LiveProblem)]


def statuses(items: list[LiveItem]) -> list[LiveStatus]:
    return [i for i in items if isinstance(i, LiveStatus)]


def count_events(n: int) -> Callable[[list[LiveItem]], bool]:
    return lambda got: len(events(got)) >= n


def read_payload(tmp_path: Path, fmt: str, payload: dict[str, Any]) -> list[Post]:
    """The posts the archive reader of ``fmt`` reads from ``payload`` (written as a file, as the
    runner's reader sees it)."""
    path = tmp_path / f"payload-{fmt}.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    results = list(POST_FORMATS[fmt](path, ReadContext(observed_at=datetime(2026, 12, 1, tzinfo=UTC))))
    assert all(isinstance(r, Parsed) for r in results), results
    return [r.record for r in results if isinstance(r.record, Post)]
