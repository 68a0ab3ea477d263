"""What a live stream hands the watch runner: raw events with their resume position, or problems.

A stream client only connects, reconnects, pages and decodes frames; it never parses posts. The
runner reads each event's ``payload`` with the same source reader an archive of that format goes
through (``fmt``), so a live post and an ingested one are the same record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class LiveEvent:
    """One decoded event. ``cursor`` is the stream position *after* this event (the runner stores it
    with the event's posts; None: the event moves no cursor, e.g. a back-filled page's older items).
    ``received_mono`` (``time.monotonic()`` at arrival) is where alert latency starts."""

    stream: str
    fmt: str  # the sources reader of the payload: "bluesky" | "mastodon" | "x-v2"
    payload: dict[str, Any]
    cursor: str | None
    location: str  # e.g. "jetstream wss://host/subscribe frame 1234": names the record in errors
    received_at: datetime
    received_mono: float


@dataclass(frozen=True)
class LiveProblem:
    """A frame that could not be used (not JSON, not an object, a server error message…): the runner
    quarantines it with ``reason`` and the stream goes on. ``raw`` is the frame, clipped."""

    stream: str
    location: str
    reason: str
    raw: str
    received_at: datetime


@dataclass(frozen=True)
class LiveStatus:
    """A change in the connection the runner reports (connected, disconnected, back-off, back-fill,
    rate limited): shown to the user, never stored as a post."""

    stream: str
    message: str
    at: datetime
    details: dict[str, str] = field(default_factory=dict)


LiveItem = LiveEvent | LiveProblem | LiveStatus


class LiveSource(Protocol):
    """A followed stream. ``events`` resumes after ``cursor`` (the last stored one, None: from now),
    reconnects on its own with back-off, and runs until cancelled."""

    name: str

    def key(self) -> str:
        """The name plus a hash of what the stream follows: the ``watch_cursors`` row."""
        ...

    def events(self, cursor: str | None) -> AsyncIterator[LiveItem]: ...
