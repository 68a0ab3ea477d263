"""A recorded stream replayed from a JSON-lines file: ``claimwatch watch --replay FILE``.

Each line is one event as a stream delivered it, its format told per line (a recording may mix
streams): a Jetstream v1 event (``time_us``) or v2 message (``$type: message``) → ``bluesky``; a
Mastodon streaming event (``{event, payload}``) or status (``content`` + ``account``) →
``mastodon``; an X filtered-stream message (``{data, includes, matching_rules}``), API page
(``data``/``meta``) or post object (``id`` + ``text``) → ``x-v2``. A line that is none of them,
not JSON or not UTF-8 is a :class:`LiveProblem` naming ``FILE:line N``; the replay goes on.

The cursor is the line number: the runner stores it with the line's posts, and a restart on the
same file resumes after the last stored line. ``rate`` paces the replay (events per second, as a
live stream would arrive) for latency measurements; None replays as fast as the runner takes them.
The replay ends at the end of the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claimwatch.live.events import LiveEvent, LiveItem, LiveProblem, LiveStatus
from claimwatch.sources import bluesky, mastodon, x_v2
from claimwatch.sources.base import iter_json_objects

FORMAT = "replay"
#: Lines read between yields to the event loop when not paced (the loop must stay responsive).
_YIELD_EVERY = 50


def detect_format(obj: dict[str, Any]) -> str | None:
    """The sources reader of one recorded event, or None when it is no stream's event."""
    if "time_us" in obj or obj.get("$type") == bluesky.JETSTREAM_V2_MESSAGE:
        return bluesky.FORMAT
    if ("event" in obj and "payload" in obj) or ("content" in obj and "account" in obj):
        return mastodon.FORMAT
    if "matching_rules" in obj or any(k in obj for k in x_v2.PAGE_KEYS) or ("id" in obj and "text" in obj):
        return x_v2.FORMAT
    return None


class ReplaySource:
    """A :class:`~claimwatch.live.events.LiveSource` over a recorded JSON-lines file."""

    def __init__(self, path: str | Path, name: str = "replay", rate: float | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"replay rate must be a positive number of events per second, not {rate}")
        self.path = Path(path)
        #: where the events' records come from, in quarantine entries (with "line N")
        self.origin = str(self.path)
        self.name = name
        self.rate = rate

    def key(self) -> str:
        """The name plus a hash of the file's absolute path: the same file resumes, another starts over."""
        digest = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:12]
        return f"{self.name}:{digest}"

    async def events(self, cursor: str | None) -> AsyncIterator[LiveItem]:
        after = int(cursor) if cursor and cursor.isdigit() else 0
        origin = self.origin
        yield LiveStatus(
            self.name,
            f"replaying {origin}"
            + (f" after line {after:,}" if after else "")
            + (f" at {self.rate:g} events/s" if self.rate else ""),
            datetime.now(UTC),
        )
        start, sent = time.monotonic(), 0
        for no, obj, rejection in iter_json_objects(self.path, FORMAT):
            if no <= after:
                continue
            if self.rate:
                wait = start + sent / self.rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            elif sent % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            sent += 1
            location = f"line {no}"
            now = datetime.now(UTC)
            if rejection is not None:
                yield LiveProblem(self.name, location, rejection.reason, rejection.raw, now)
                continue
            assert obj is not None
            fmt = detect_format(obj)
            if fmt is None:
                reason = f"not a recorded Jetstream, Mastodon or X stream event (keys {sorted(obj)[:12]})"
                yield LiveProblem(self.name, location, reason, str(obj)[:2000], now)
                continue
            yield LiveEvent(self.name, fmt, obj, str(no), location, now, time.monotonic())
        yield LiveStatus(self.name, f"end of {origin}", datetime.now(UTC), {"ended": "true"})
