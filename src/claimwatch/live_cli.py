"""``claimwatch watch``: follow the watchlist's streams (or replay a recorded file), store, match
and alert on every new post at once.

Registered by :mod:`claimwatch.cli` at its end (``app.command("watch")(watch)``), built on its
helpers (store opening, one-line errors), so no traceback reaches a user.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from claimwatch import api
from claimwatch.cli import DbOpt, _fail, _open, _say, _user_errors
from claimwatch.live.events import LiveSource
from claimwatch.live.media_step import MediaWorker
from claimwatch.live.pipeline import BatchOutcome, BatchPipeline, Matcher
from claimwatch.live.replay import ReplaySource
from claimwatch.live.runner import WatchRunner
from claimwatch.live.session import build_deliverer, build_refetcher, build_sources
from claimwatch.live.watchlist import AlertRules, Watchlist, WatchlistError, load_watchlist
from claimwatch.wording import count


def watch(
    watchlist: Annotated[
        Path | None,
        typer.Argument(
            help="The watchlist YAML: streams to follow, accounts, alert rules and channels.", show_default=False
        ),
    ] = None,
    db: DbOpt = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="Replay recorded events from a JSON-lines file (Jetstream, Mastodon streaming, X stream) "
            "instead of connecting to the watchlist's streams; a restart resumes after the last stored line.",
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="With --replay: events per second (default: as fast as possible).")
    ] = None,
    until_idle: Annotated[
        float | None,
        typer.Option("--until-idle", help="Stop after this many seconds without an event (default: run until Ctrl-C)."),
    ] = None,
) -> None:
    """Follow streams and alert: every new post is stored, matched and checked against the alert rules at once."""
    if watchlist is None and replay is None:
        _fail("give a watchlist, --replay FILE, or both (claimwatch watch watchlist.yaml)")
    if rate is not None and (replay is None or rate <= 0):
        _fail("--rate is the replay's pace in events per second: a positive number, with --replay")
    if until_idle is not None and until_idle <= 0:
        _fail("--until-idle is a number of seconds above 0")
    wl = _watchlist(watchlist)
    if replay is not None and not replay.is_file():
        _fail(f"--replay {replay}: " + ("no such file" if not replay.exists() else "not a regular file"))
    if replay is not None:
        replayed = ReplaySource(replay, "replay", rate)
        sources: list[LiveSource] = [replayed]
        origins = {replayed.name: (replayed.key(), replayed.origin)}
        if wl.streams:
            _say(f"replaying {replay}: the watchlist's {count(len(wl.streams), 'stream')} are not connected")
    else:
        sources, skipped = build_sources(wl)
        for line in skipped:
            _say(line)
        if not sources:
            _fail("no stream could be started (see the lines above)")
        origins = {s.name: (s.key(), s.name) for s in sources}
    with _user_errors():
        ws = _open(db, create=True)
        matcher = Matcher(ws)
        if not matcher.ready:
            _say(
                "no fact-checks in the store yet: posts are stored, and matched once fact-checks are ingested "
                "(claimwatch ingest factchecks …; watch looks every minute)"
            )
        pipeline = BatchPipeline(ws.engine, origins, matcher, wl.alerts, wl.accounts)
        deliverer = build_deliverer(ws.engine, wl.alerts)
        wake = deliverer.wake if deliverer is not None else None
        # a replay's posts are recorded ones: their metrics are not fetched again from the platforms
        refetcher = build_refetcher(ws.engine, wl, wake) if replay is None else None
        runner = WatchRunner(
            pipeline,
            sources,
            status=_status,
            deliverer=deliverer,
            refetcher=refetcher,
            media=_media(ws, wl, wake),
            until_idle=until_idle,
        )
        totals = asyncio.run(_run(runner))
    _say(_summary(totals))


def _watchlist(path: Path | None) -> Watchlist:
    """The watchlist, or (replay without one) alerts recorded with no channel and no accounts."""
    if path is None:
        return Watchlist(streams=(), alerts=AlertRules(), source="defaults")
    try:
        return load_watchlist(path)
    except WatchlistError as exc:
        _fail(str(exc))


def _media(ws: api.Workspace, wl: Watchlist, wake: Callable[[], None] | None) -> MediaWorker | None:
    """The media step, when media alerts are on and can run (else one line why, when they are on)."""
    why = MediaWorker.available(ws, wl.alerts)
    if why is not None:
        if wl.alerts.media:
            _say(why)
        return None
    return MediaWorker(ws, wl.alerts, wl.accounts, on_alerts=(lambda _ids: wake()) if wake else None, say=_status)


async def _run(runner: WatchRunner) -> BatchOutcome:
    """The runner until it ends or Ctrl-C / SIGTERM asks it to stop (the batch in hand is finished)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return await runner.run(stop)


def _status(line: str) -> None:
    _say(f"{datetime.now().strftime('%H:%M:%S')} {line}")


def _summary(t: BatchOutcome) -> str:
    return (
        f"watched {count(t.events, 'event')}: {count(t.stored, 'post')} stored ({t.unchanged:,} unchanged), "
        f"{t.matched:,} matched ({count(t.proposals, 'proposal')}), {count(len(t.alerts), 'alert')}, "
        f"{t.quarantined:,} quarantined" + (" (see `claimwatch quarantine list`)" if t.quarantined else "")
    )
