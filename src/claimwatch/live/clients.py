"""The stream clients and the alert deliverer of a watchlist: each built when its module is installed
and its secrets are set; otherwise one line saying why it is not started (the others run)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa

from claimwatch.alerts.rules import evaluate
from claimwatch.live.events import LiveSource
from claimwatch.live.runner import Worker
from claimwatch.live.watchlist import Account, AlertRules, JetstreamSpec, MastodonSpec, Watchlist, XSpec
from claimwatch.store import db

#: kind -> (module, class) of its client; imported when a watchlist names the kind.
CLIENTS = {
    "jetstream": ("claimwatch.live.jetstream", "JetstreamSource"),
    "mastodon": ("claimwatch.live.mastodon_stream", "MastodonSource"),
    "x": ("claimwatch.live.x_stream", "XSource"),
}


def build_sources(watchlist: Watchlist, env: Mapping[str, str] | None = None) -> tuple[list[LiveSource], list[str]]:
    """(clients started, one line per stream not started and why)."""
    env = os.environ if env is None else env
    sources: list[LiveSource] = []
    skipped: list[str] = []
    for spec in watchlist.streams:
        args: tuple[object, ...] = (spec,)
        if isinstance(spec, XSpec):
            token = env.get(spec.bearer_token_env)
            if not token:
                skipped.append(f"stream {spec.name}: {spec.bearer_token_env} is not set; not started")
                continue
            args = (spec, token)
        elif isinstance(spec, MastodonSpec):
            args = (spec, env.get(spec.token_env) if spec.token_env else None)
        else:
            assert isinstance(spec, JetstreamSpec)
        module_name, class_name = CLIENTS[spec.kind]
        try:
            client = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            skipped.append(f"stream {spec.name}: the {spec.kind} client is not available in this install; not started")
            continue
        sources.append(client(*args))
    return sources, skipped


def build_deliverer(engine: sa.Engine, rules: AlertRules) -> tuple[Worker | None, str | None]:
    """(the alert deliverer, or None and why) when the watchlist names channels: with none, alerts
    are recorded only; without the delivery module (``claimwatch.alerts.deliver``), the same, said."""
    if not rules.channels:
        return None, None
    try:
        from claimwatch.alerts.deliver import Deliverer  # type: ignore[import-not-found]
    except ImportError:
        return None, "alert delivery is not available in this install: alerts are recorded, not sent"
    return Deliverer(engine, rules.channels, rules.max_attempts), None


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
