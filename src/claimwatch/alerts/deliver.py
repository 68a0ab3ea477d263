"""Sending recorded alerts: claim due deliveries, send them, record each outcome.

**Sent once.** A delivery is claimed before it is sent (a lease: see
``store.alert_deliveries``), so two watchers on one store never send one alert twice, and its
outcome is recorded as soon as it is known (see :meth:`Deliverer._deliver`). A crash between a send
and that record is the one gap: that delivery (only it, and the others sent but not yet recorded
at that moment — a few milliseconds' worth) is due again when its lease ends and is sent a second
time. Receivers can drop such a copy: webhooks carry
``Idempotency-Key: claimwatch-alert-<id>-<channel>`` and the alert id, mails a ``Message-ID`` made
from both.

**Retries.** A failed attempt is retried after the back-off (:class:`~claimwatch.live.backoff.Backoff`
by the number of attempts so far) or, when later, the server's ``Retry-After``; after
``max_attempts`` — or at once for an answer that retrying cannot change (a 4xx other than 408/429, a
refused recipient) — the delivery is ``failed`` with its reason, until ``claimwatch alerts retry``.

**Speed.** The happy path never sleeps: :meth:`Deliverer.wake` (the runner calls it after it records
alerts) starts a pass at once, and a pass sends up to ``concurrency`` deliveries at a time over
kept-open connections. Store work runs in a thread (``asyncio.to_thread``), as everywhere else.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from claimwatch.alerts.email import SmtpTransport
from claimwatch.alerts.outcome import Outcome, Transport
from claimwatch.alerts.webhook import WebhookTransport
from claimwatch.live.backoff import Backoff
from claimwatch.live.wakeup import Wakeup
from claimwatch.live.watchlist import Channel
from claimwatch.store import alert_deliveries as q
from claimwatch.store import db

#: how long a claimed delivery is left to its sender before another may take it: longer than
#: any send takes (the transports time out well within it)
LEASE = timedelta(minutes=5)
#: the longest :meth:`Deliverer.run` sleeps without looking at the store (new rows written by
#: another process, e.g. ``claimwatch alerts retry``, are picked up at the latest then)
IDLE_POLL_S = 30.0


@dataclass
class DeliveryReport:
    """One pass: how many deliveries were sent, will be retried, failed for good; the errors."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    by_channel: Counter[str] = field(default_factory=Counter)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.errors += other.errors
        self.by_channel.update(other.by_channel)


def make_transport(channel: Channel, timeout: float) -> Transport:
    if channel.kind == "webhook":
        return WebhookTransport(channel, timeout)
    if channel.kind == "smtp":
        return SmtpTransport(channel, timeout)
    raise ValueError(f"channel {channel.name}: unknown kind {channel.kind!r}")


class Deliverer:
    """Sends the pending deliveries of ``channels`` (the watchlist's) from the store of ``engine``.

    ``transports``: a transport per channel name instead of the one its kind makes (tests, and the
    SMTP TLS settings). Use it as an async context manager, or call :meth:`aclose`."""

    def __init__(
        self,
        engine: sa.Engine,
        channels: tuple[Channel, ...],
        max_attempts: int = 8,
        *,
        timeout: float = 10.0,
        concurrency: int = 16,
        batch: int = 200,
        backoff_base: float = 30.0,
        backoff_cap: float = 6 * 3600.0,
        transports: dict[str, Transport] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.channels = {c.name: c for c in channels}
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.concurrency = concurrency
        self.batch = batch
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._given = dict(transports or {})
        self._transports: dict[str, Transport] = {}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._wake = Wakeup()

    # ------------------------------------------------------------------ the loop

    def wake(self) -> None:
        """Start a pass now (new alerts were recorded). Safe from any thread."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, on_report: Callable[[DeliveryReport], None] | None = None) -> None:
        """Pass after pass until ``stop``: each pass sends what is due, then waits for a wake, the
        next due retry, or :data:`IDLE_POLL_S`. A store error (``StoreError``: the store is gone,
        full, or busy past its timeout) ends the loop: it is raised to the caller, as it ends ``watch``."""
        self._wake.bind()
        try:
            while not stop.is_set():
                self._wake.clear()
                report = await self.deliver_due()
                if on_report is not None and report.attempted:
                    on_report(report)
                await self._wake.wait(stop, await self._until_next_due())
        finally:
            await self.aclose()

    async def _until_next_due(self) -> float:
        due = await asyncio.to_thread(self._next_due)
        if due is None:
            return IDLE_POLL_S
        return min(IDLE_POLL_S, max(0.0, (due - self._clock()).total_seconds()))

    def _next_due(self) -> datetime | None:
        with self.engine.connect() as conn:
            return q.next_due(conn, list(self.channels))

    # ------------------------------------------------------------------ one pass

    async def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        """Send everything due at ``now`` (default: the clock), batch after batch; record each outcome."""
        report = DeliveryReport()
        while True:
            claimed = await asyncio.to_thread(self._claim, now or self._clock())
            if not claimed:
                return report
            await self._deliver(claimed, now, report)
            if len(claimed) < self.batch:
                return report

    async def _deliver(self, claimed: list[q.DueDelivery], now: datetime | None, report: DeliveryReport) -> None:
        """Send a batch, ``concurrency`` at a time. Outcomes are recorded as they come: one writer
        records whatever has finished since its last write in one transaction (one row when
        alerts trickle in, many in a burst), so the store never holds the sending up."""
        limit = asyncio.Semaphore(self.concurrency)
        unrecorded = {d.id for d in claimed}
        done: asyncio.Queue[tuple[q.DueDelivery, Outcome] | None] = asyncio.Queue()

        async def one(d: q.DueDelivery) -> None:
            async with limit:
                done.put_nowait((d, await self._send(d)))

        async def writer() -> None:
            finished = False
            while not finished:
                items = [await done.get()]
                while not done.empty():
                    items.append(done.get_nowait())
                finished = None in items
                sent = [x for x in items if x is not None]
                if sent:
                    retry_at = await asyncio.to_thread(self._record, sent, now)
                    for (d, outcome), when in zip(sent, retry_at, strict=True):
                        unrecorded.discard(d.id)
                        _count(report, d, outcome, when)

        recording = asyncio.create_task(writer())
        try:
            await asyncio.gather(*(one(d) for d in claimed))
        finally:
            done.put_nowait(None)
            await asyncio.shield(recording)
            if unrecorded:  # stopped (cancelled) before sending them: hand the claims back at once
                await asyncio.shield(asyncio.to_thread(self._release, sorted(unrecorded)))

    def _claim(self, now: datetime) -> list[q.DueDelivery]:
        with db.writing(self.engine) as conn:
            return q.claim(conn, now, list(self.channels), self.batch, LEASE)

    def _release(self, ids: list[int]) -> None:
        with db.writing(self.engine) as conn:
            q.release(conn, ids, self._clock())

    async def _send(self, d: q.DueDelivery) -> Outcome:
        try:
            transport = self._transport(d.channel)
            # the body always names its alert, whatever the recorded payload says (receivers dedupe on it)
            return await transport.send(d.alert_id, {**d.payload, "alert_id": d.alert_id})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a renderer/transport bug costs this delivery, not the pass
            return Outcome(False, f"internal error: {type(exc).__name__}: {exc}")

    def _transport(self, name: str) -> Transport:
        if name not in self._transports:
            self._transports[name] = self._given.get(name) or make_transport(self.channels[name], self.timeout)
        return self._transports[name]

    def _record(self, sent: list[tuple[q.DueDelivery, Outcome]], now: datetime | None) -> list[datetime | None]:
        """Write the attempts' outcomes; returns when each failed one is retried (None: not retried)."""
        at = now or self._clock()
        retry: list[datetime | None] = []
        with db.writing(self.engine) as conn:
            for d, outcome in sent:
                if outcome.ok:
                    q.mark_sent(conn, d.id, at)
                    retry.append(None)
                    continue
                final = outcome.permanent or d.attempts + 1 >= self.max_attempts
                retry_at = None if final else at + self._wait(d, outcome)
                q.mark_attempt_failed(conn, d.id, outcome.error or "failed", retry_at)
                retry.append(retry_at)
        return retry

    def _wait(self, d: q.DueDelivery, outcome: Outcome) -> timedelta:
        backoff = Backoff(base=self.backoff_base, cap=self.backoff_cap, failures=d.attempts).next()
        return timedelta(seconds=max(backoff, outcome.retry_after or 0.0))

    async def aclose(self) -> None:
        transports, self._transports = self._transports, {}
        for t in transports.values():
            await t.aclose()

    async def __aenter__(self) -> Deliverer:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _count(report: DeliveryReport, d: q.DueDelivery, outcome: Outcome, retry_at: datetime | None) -> None:
    if outcome.ok:
        report.sent += 1
        report.by_channel[d.channel] += 1
        return
    if retry_at is None:
        report.failed += 1
    else:
        report.retrying += 1
    report.errors.append(f"alert {d.alert_id} → {d.channel}: {q.one_line(outcome.error or 'failed')}")
