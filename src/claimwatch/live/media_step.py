"""Media of live posts: fetched, hashed and matched against the bank beside the text path.

Second priority by design: downloads take seconds and must not hold up the text alerts of the
batches behind them, so the runner hands each batch's posts to this worker and goes on. The worker
fetches what the stored posts' media references point at (the resumable queue of
:mod:`claimwatch.media.downloads`), matches the new files against the bank (incremental,
:mod:`claimwatch.media.match`), then runs the alert rules on the posts it was handed (their text
alerts already exist and are not repeated; media matches alert as ``media``). Used only when the
watchlist's ``alerts.media`` is on, the media extra is installed and the bank holds an item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from claimwatch.alerts.rules import evaluate
from claimwatch.live.watchlist import Account, AlertRules
from claimwatch.store import db

if TYPE_CHECKING:
    from claimwatch.api import Workspace


class MediaWorker:
    """``add`` a batch's posts, ``wake``; ``run(stop)`` works through them until stopped."""

    def __init__(
        self,
        ws: Workspace,
        rules: AlertRules,
        accounts: Sequence[Account] = (),
        *,
        on_alerts: Callable[[list[int]], None] | None = None,
        say: Callable[[str], None] | None = None,
        **limits: Any,
    ) -> None:
        self.ws = ws
        self.rules = rules
        self.accounts = tuple(accounts)
        self.on_alerts = on_alerts
        self.say = say or (lambda _line: None)
        #: :class:`~claimwatch.media.fetch.FetchLimits` fields (tests allow loopback hosts)
        self.limits = limits
        self._pending: dict[int, datetime | None] = {}
        self._woken = asyncio.Event()

    @classmethod
    def available(cls, ws: Workspace, rules: AlertRules) -> str | None:
        """None when media matching can run; else why not (one line)."""
        if not rules.media:
            return "media alerts are off (alerts.media: false)"
        try:
            from claimwatch.media.match import match_media  # noqa: F401 - needs the media extra
            from claimwatch.store.media_bank import list_items
        except ImportError:
            return "the media extra is not installed: media is not fetched or matched (pip install 'claimwatch[media]')"
        with ws.engine.connect() as conn:
            if not list_items(conn):
                return "the media bank is empty: media is not fetched or matched (claimwatch media bank add …)"
        return None

    def add(self, received: Mapping[int, datetime | None]) -> None:
        for post_id, at in received.items():
            self._pending.setdefault(post_id, at)

    def wake(self) -> None:
        self._woken.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work whenever woken; at ``stop``, finish the posts already handed over (downloads are
        bounded by the fetch limits' timeouts), as the runner finishes its batch in hand."""
        stopping = asyncio.create_task(stop.wait())
        try:
            while True:
                woken = asyncio.create_task(self._woken.wait())
                await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                self._woken.clear()
                if self._pending:
                    todo, self._pending = self._pending, {}
                    await asyncio.to_thread(self.step, todo)
                if stop.is_set() and not self._pending:
                    return
        finally:
            stopping.cancel()

    def step(self, received: Mapping[int, datetime | None]) -> list[int]:
        """Fetch, hash and match the pending media, then alert on ``received``'s posts; new alert ids."""
        fetched = self.ws.fetch_media(**self.limits)
        report = self.ws.match_media()
        if fetched.failed or fetched.refused:
            self.say(
                f"media: {fetched.failed:,} downloads failed, {fetched.refused:,} refused (claimwatch media status)"
            )
        arrivals = {pid: at for pid, at in received.items() if at is not None}
        with db.writing(self.ws.engine) as conn:
            new = evaluate(conn, list(received), self.rules, self.accounts, arrivals)
        if new:
            self.say(f"media: {sum(report.proposals.values()):,} media proposals, {len(new):,} alerts")
            if self.on_alerts is not None:
                self.on_alerts(new)
        return new
