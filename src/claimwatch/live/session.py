"""What a watch session runs beside its loop, built from the watchlist: the stream clients, the
alert deliverer, the metric re-fetcher (with the alert rules again after each new snapshot). A
stream whose secret is not set is not started (one line says why) and the rest runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa

from claimwatch.alerts.deliver import Deliverer
from claimwatch.alerts.rules import evaluate
from claimwatch.live.clients import build_source
from claimwatch.live.events import LiveSource
from claimwatch.live.refetch import Refetcher, fetchers_for
from claimwatch.live.runner import Worker
from claimwatch.live.watchlist import Account, AlertRules, Watchlist
from claimwatch.store import db


def build_sources(watchlist: Watchlist, env: Mapping[str, str] | None = None) -> tuple[list[LiveSource], list[str]]:
    """(clients started, one line per stream not started and why)."""
    env = os.environ if env is None else env
    sources: list[LiveSource] = []
    skipped: list[str] = []
    for spec in watchlist.streams:
        built = build_source(spec, env)
        if isinstance(built, str):
            skipped.append(built)
        else:
            sources.append(built)
    return sources, skipped


def build_deliverer(engine: sa.Engine, rules: AlertRules) -> Worker | None:
    """The alert deliverer when the watchlist names channels; with none, alerts are recorded only."""
    if not rules.channels:
        return None
    return Deliverer(engine, rules.channels, rules.max_attempts)


def snapshots_callback(
    engine: sa.Engine, rules: AlertRules, accounts: Sequence[Account], wake: Callable[[], None] | None = None
) -> Callable[[list[int]], list[int]]:
    """The metric re-fetcher's ``on_snapshots``: the alert rules again for posts with new snapshots
    (a watched account's matched post passing the view threshold later), waking the deliverer
    when that made alerts; returns the new alerts' ids."""

    def on_snapshots(post_ids: list[int]) -> list[int]:
        with db.writing(engine) as conn:
            new = evaluate(conn, post_ids, rules, accounts, {})
        if new and wake is not None:
            wake()
        return new

    return on_snapshots


def build_refetcher(engine: sa.Engine, watchlist: Watchlist, wake: Callable[[], None] | None) -> Worker | None:
    """The metric re-fetcher of matched posts (``refetch`` in the watchlist), re-running the alert
    rules after new snapshots; None when re-fetch is off."""
    if not watchlist.refetch.enabled:
        return None
    fetchers = fetchers_for(watchlist)
    if not fetchers:
        return None
    on_snapshots = snapshots_callback(engine, watchlist.alerts, watchlist.accounts, wake)
    return Refetcher(engine, fetchers, watchlist.refetch, on_snapshots)
