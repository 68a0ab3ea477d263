"""The watch runner over a real stream client against a loopback Jetstream (the stream clients'
replay server): a forced disconnect mid-stream, where the client resumes from its cursor minus the
margin so events come again, and a restart of the session, resuming from the stored cursor minus
the margin. Every event's post is stored once and the stored cursor ends at the last event.

Runs where the stream clients (``claimwatch.live.jetstream``) and their test servers
(``tests/live_servers.py``) are installed; skipped on a branch without them."""

from __future__ import annotations

import asyncio

import live_events as le
import pytest
import sqlalchemy as sa

import claimwatch
from claimwatch.live.pipeline import BatchPipeline
from claimwatch.live.runner import WatchRunner
from claimwatch.live.watchlist import AlertRules, JetstreamSpec
from claimwatch.store import schema as s

jetstream = pytest.importorskip("claimwatch.live.jetstream")
live_servers = pytest.importorskip("live_servers")

T0 = 1_764_500_000_000_000  # µs
SECOND = 1_000_000


def _session(ws: claimwatch.Workspace, url: str) -> WatchRunner:
    from claimwatch.live.backoff import Backoff

    spec = JetstreamSpec("bsky", "jetstream", url=url, cursor_margin_s=2.0)
    source = jetstream.JetstreamSource(spec, backoff=Backoff(base=0.01, jitter=0), ping_interval=None)
    pipeline = BatchPipeline(ws.engine, {spec.name: (source.key(), spec.name)}, None, AlertRules())
    return WatchRunner(pipeline, [source], batch_size=5, batch_wait=0.02, until_idle=0.6)


@pytest.mark.slow  # two sessions over a WebSocket, about 2 s
def test_forced_disconnect_and_restart_store_every_event_once(ws: claimwatch.Workspace) -> None:
    texts = le.MATCHING + le.CHATTER
    log = [live_servers.jetstream_v1_event(T0 + k * SECOND, text=f"{texts[k % 6]} ({k})") for k in range(20)]

    def stored() -> tuple[int, int, str | None]:
        with ws.engine.connect() as conn:
            return (
                conn.scalar(sa.select(sa.func.count()).select_from(s.Post)),
                conn.scalar(sa.select(sa.func.count()).select_from(s.PostVersion)),
                conn.scalar(sa.select(s.WatchCursor.cursor)),
            )

    async def main() -> tuple[object, int, tuple, int]:
        # one server (the stream's cursor key names its URL): connection 0 is dropped after 8 frames
        async with live_servers.JetstreamReplay(log, drop_after=[8]) as srv:
            first = (await _session(ws, srv.url).run()).events
            after_first = stored()
            again = (await _session(ws, srv.url).run()).events  # the restart
        return srv, first, after_first, again

    srv, first, after_first, again = asyncio.run(main())
    assert len(srv.connections) == 3  # dropped, reconnected; then the restart's connection
    assert first > 20  # the reconnect replayed the margin's events: duplicates reached the runner
    assert after_first == (20, 0, str(T0 + 19 * SECOND))  # each post stored once, no second version
    assert srv.connections[2].query["cursor"] == [str(T0 + 17 * SECOND)]  # stored cursor minus the margin
    assert again == 3  # only the margin came again
    assert stored() == (20, 0, str(T0 + 19 * SECOND))
    with ws.engine.connect() as conn:
        runs = sorted(conn.scalars(sa.select(s.IngestRun.status)))
    assert runs == ["completed", "completed"]
