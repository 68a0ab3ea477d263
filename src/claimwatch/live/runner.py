"""The loop behind ``claimwatch watch``: streams → queue → micro-batches → store, match, alert.

One task per source feeds a bounded queue (a slow store slows the reading, it never drops events).
The consumer takes **micro-batches** — up to ``batch_size`` items, or what arrived within
``batch_wait`` seconds of the first, whichever comes first — and hands each to
:class:`~claimwatch.live.pipeline.BatchPipeline` in a worker thread (the store and the models are
synchronous; the event loop keeps reading meanwhile). After a batch with new alerts it wakes the
deliverer, after new proposals the metric re-fetcher, after new posts the media step (all optional
objects with ``wake()`` and ``async run(stop)``, run beside the loop).

Start: each stream resumes from its stored cursor (``watch_cursors``, by ``key()``), after the
posts an interrupted session left unfinished are matched and alerted on. Stop (``stop`` set by
Ctrl-C / SIGTERM, the sources all ended, or ``until_idle`` seconds without an event): the sources
are cancelled, the batch in hand is finished and committed, the session's run is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from claimwatch.live.events import LiveEvent, LiveProblem, LiveSource, LiveStatus
from claimwatch.live.media_step import MediaWorker
from claimwatch.live.pipeline import BatchOutcome, BatchPipeline
from claimwatch.store import watch_cursors
from claimwatch.wording import count

#: A micro-batch: at most this many items …
BATCH_SIZE = 100
#: … or what arrived within this many seconds of its first item.
BATCH_WAIT_S = 0.2
#: Items the sources may read ahead of the store before they wait.
QUEUE_SIZE = 5_000
#: Seconds between "stored / matched / alerted" status lines (only when something happened).
REPORT_EVERY_S = 10.0
#: The longest the deliverer's last pass may take when a session ends.
LAST_PASS_S = 30.0
#: How often the idle loop looks at the stop conditions.
_TICK_S = 0.25

StatusFn = Callable[[str], None]


class Worker(Protocol):
    """The deliverer and the metric re-fetcher, as the runner drives them."""

    def wake(self) -> None: ...

    async def run(self, stop: asyncio.Event) -> None: ...


class WatchRunner:
    def __init__(
        self,
        pipeline: BatchPipeline,
        sources: Sequence[LiveSource],
        *,
        status: StatusFn | None = None,
        deliverer: Worker | None = None,
        refetcher: Worker | None = None,
        media: MediaWorker | None = None,
        batch_size: int = BATCH_SIZE,
        batch_wait: float = BATCH_WAIT_S,
        until_idle: float | None = None,
        report_every: float = REPORT_EVERY_S,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sources = list(sources)
        self.say: StatusFn = status or (lambda _line: None)
        self.deliverer = deliverer
        self.refetcher = refetcher
        self.media = media
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.until_idle = until_idle
        self.report_every = report_every
        self.on_batch = on_batch
        self.totals = BatchOutcome()
        self.batches = 0
        self._interval = BatchOutcome()
        self._workers: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event | None = None) -> BatchOutcome:
        """Watch until ``stop`` is set, every source has ended, or the streams were idle
        ``until_idle`` seconds; returns what the session did."""
        stop = stop or asyncio.Event()
        await asyncio.to_thread(self.pipeline.start)
        recovered = await asyncio.to_thread(self.pipeline.recover)
        if recovered.posts:
            self.say(
                f"finished {count(len(recovered.posts), 'post')} an interrupted session stored: "
                f"{recovered.matched:,} matched, {count(len(recovered.alerts), 'alert')}"
            )
            self._wake(recovered)
        with self.pipeline.engine.connect() as conn:
            stored = watch_cursors.read_cursors(conn, [s.key() for s in self.sources])
        queue: asyncio.Queue[LiveEvent | LiveProblem | None] = asyncio.Queue(QUEUE_SIZE)
        self._running = len(self.sources)
        producers = [asyncio.create_task(self._produce(s, stored.get(s.key()), queue)) for s in self.sources]
        helpers = [w for w in (self.deliverer, self.refetcher, self.media) if w is not None]
        self._workers = [asyncio.create_task(w.run(stop)) for w in helpers]
        status, failed = "interrupted", None
        try:
            await self._consume(queue, stop)
            # a helper that ended before the session did failed (e.g. the store went away under the
            # deliverer): the session ends with its error
            failed = next((w.exception() for w in self._workers if w.done() and not w.cancelled()), None)
            status = "interrupted" if failed else "completed"
            if failed is None:
                await self._last_pass()
        finally:
            for task in producers:
                task.cancel()
            await asyncio.gather(*producers, return_exceptions=True)
            await asyncio.to_thread(self.pipeline.finish, status, self.totals)
            stop.set()
            await asyncio.gather(*self._workers, return_exceptions=True)
            for helper in helpers:
                close = getattr(helper, "aclose", None)  # the deliverer's HTTP clients
                if close is not None:
                    await close()
        if failed is not None:
            raise failed
        return self.totals

    async def _last_pass(self) -> None:
        """The deliverer sends what the last batches alerted before the session ends (a replay or an
        idle stop would otherwise leave them pending until the next start); bounded in time."""
        send = getattr(self.deliverer, "deliver_due", None)
        if send is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LAST_PASS_S):
                    await send()

    async def _produce(
        self, source: LiveSource, cursor: str | None, queue: asyncio.Queue[LiveEvent | LiveProblem | None]
    ) -> None:
        """Feed one source's events to the queue; the last source to end queues None (the end)."""
        try:
            async for item in source.events(cursor):
                if isinstance(item, LiveStatus):
                    self.say(f"{item.stream}: {item.message}")
                else:
                    await queue.put(item)
        except Exception as exc:  # noqa: BLE001 - one stream's fault must not stop the others
            self.say(f"{source.name}: stopped at an unexpected error ({type(exc).__name__}: {str(exc)[:200]})")
        self._running -= 1
        if not self._running:
            await queue.put(None)

    async def _consume(self, queue: asyncio.Queue[LiveEvent | LiveProblem | None], stop: asyncio.Event) -> None:
        last_item = last_report = time.monotonic()
        ended = False
        while not stop.is_set() and not ended and not any(w.done() for w in self._workers):
            try:
                first = await _get(queue, _TICK_S)
            except TimeoutError:
                now = time.monotonic()
                if self.until_idle is not None and now - last_item >= self.until_idle:
                    self.say(f"no events for {self.until_idle:g} s: stopping")
                    break
                last_report = self._report(now, last_report)
                continue
            batch: list[LiveEvent | LiveProblem] = []
            item: LiveEvent | LiveProblem | None = first
            deadline = time.monotonic() + self.batch_wait
            while item is not None:
                batch.append(item)
                if len(batch) >= self.batch_size or stop.is_set():
                    break
                try:
                    item = queue.get_nowait()
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = await _get(queue, remaining)
                except TimeoutError:
                    break
            ended = item is None  # every source has ended: this batch is the last
            if batch:
                await self._process(batch)
            last_item = time.monotonic()
            last_report = self._report(last_item, last_report)

    async def _process(self, batch: list[LiveEvent | LiveProblem]) -> None:
        """One batch in a worker thread; a cancellation waits for it (the batch in hand is finished)."""
        work = asyncio.ensure_future(asyncio.to_thread(self.pipeline.process, batch))
        try:
            outcome = await asyncio.shield(work)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                outcome = await work
                self._account(outcome)
            raise
        self._account(outcome)
        self._wake(outcome)

    def _account(self, outcome: BatchOutcome) -> None:
        self.totals.add(outcome)
        self._interval.add(outcome)
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(outcome)

    def _wake(self, outcome: BatchOutcome) -> None:
        if outcome.posts and self.media is not None:
            self.media.add({pid: outcome.received.get(pid) for pid in outcome.posts})
            self.media.wake()
        if outcome.alerts and self.deliverer is not None:
            self.deliverer.wake()
        if outcome.proposals and self.refetcher is not None:
            self.refetcher.wake()

    def _report(self, now: float, last: float) -> float:
        if now - last < self.report_every:
            return last
        i = self._interval
        if i.events or i.problems:
            self.say(
                f"last {now - last:.0f} s: {count(i.events, 'event')}, {count(i.stored, 'post')} stored, "
                f"{i.matched:,} matched ({count(i.proposals, 'proposal')}), {count(len(i.alerts), 'alert')}, "
                f"{i.quarantined:,} quarantined"
            )
        self._interval = BatchOutcome()
        return now


async def _get(queue: asyncio.Queue[LiveEvent | LiveProblem | None], timeout: float) -> LiveEvent | LiveProblem | None:
    """The next item within ``timeout`` seconds, else TimeoutError. Not ``asyncio.wait_for``: on
    Python 3.11 it can swallow a cancellation that arrives as the item does, and the runner would
    carry on after being cancelled."""
    async with asyncio.timeout(timeout):
        return await queue.get()
