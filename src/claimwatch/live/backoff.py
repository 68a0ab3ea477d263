"""Waiting after a failure: exponential back-off with jitter, and the server's own word on when to
come back (``Retry-After``, X's ``x-rate-limit-reset``), which always wins over our guess."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass
class Backoff:
    """``next()`` gives the wait before the next attempt: base × factor^n, capped, ± jitter (so many
    clients cut off at once do not come back at once); ``reset()`` after a success."""

    base: float = 1.0
    cap: float = 300.0
    factor: float = 2.0
    jitter: float = 0.2
    failures: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def next(self) -> float:
        wait = min(self.cap, self.base * self.factor**self.failures)
        self.failures += 1
        return max(0.0, wait * (1 + self._random.uniform(-self.jitter, self.jitter)))

    def reset(self) -> None:
        self.failures = 0


def server_wait(headers: Mapping[str, str], now: datetime | None = None, cap: float = 3600.0) -> float | None:
    """Seconds the server asked us to wait, or None when it did not say: ``Retry-After`` (seconds or
    an HTTP date), else ``x-rate-limit-reset`` / ``X-RateLimit-Reset`` (epoch seconds, or an ISO
    time as Mastodon sends). Capped, never negative; nonsense is ignored."""
    now = now or datetime.now(UTC)
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return min(cap, float(value))
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return min(cap, max(0.0, (when.astimezone(UTC) - now).total_seconds()))
    reset = lower.get("x-rate-limit-reset") or lower.get("x-ratelimit-reset")
    if reset is None:
        return None
    reset = reset.strip()
    try:
        when = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else datetime.fromisoformat(reset)
    except (ValueError, OverflowError, OSError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(cap, max(0.0, (when - now).total_seconds()))
