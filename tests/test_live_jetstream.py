"""Jetstream client against a loopback replay server: resume with margin, v1 and v2, reconnect
without loss, duplicates, malformed frames, filters past the URL limit, idle reconnect."""

from __future__ import annotations

import asyncio

from live_helpers import Waits, count_events, drain, events, problems, read_payload, statuses
from live_servers import JetstreamReplay, jetstream_v1_event, jetstream_v2_message

from claimwatch.live.backoff import Backoff
from claimwatch.live.jetstream import JetstreamSource
from claimwatch.live.watchlist import JetstreamSpec

T0 = 1_764_500_000_000_000  # µs
SECOND = 1_000_000


def source(url: str, waits: Waits | None = None, **kw) -> JetstreamSource:
    spec_kw = {k: kw.pop(k) for k in ("dids", "cursor_margin_s") if k in kw}
    spec = JetstreamSpec("bsky", "jetstream", url=url, **spec_kw)
    return JetstreamSource(spec, backoff=Backoff(base=0.01, jitter=0), sleep=waits or Waits(), ping_interval=None, **kw)


def test_v1_resumes_from_cursor_minus_margin_and_cursors_are_event_positions():
    log = [jetstream_v1_event(T0 + k * SECOND) for k in range(10)]

    async def main():
        async with JetstreamReplay(log) as srv:
            src = source(srv.url, cursor_margin_s=2.0)
            got = await drain(src.events(str(T0 + 5 * SECOND)), count_events(7))
            return srv, got

    srv, got = asyncio.run(main())
    assert srv.connections[0].query["cursor"] == [str(T0 + 3 * SECOND)]
    assert [e.cursor for e in events(got)] == [str(T0 + k * SECOND) for k in range(3, 10)]
    assert all(e.fmt == "bluesky" and e.payload["time_us"] == int(e.cursor) for e in events(got))
    assert "frame 1" in events(got)[0].location


def test_v2_resumes_from_the_stored_seq_and_reads_seq_cursors():
    log = [jetstream_v2_message(100 + k) for k in range(6)]

    async def main():
        async with JetstreamReplay(log, v2=True) as srv:
            got = await drain(source(srv.url).events("103"), count_events(3))
            return srv, got

    srv, got = asyncio.run(main())
    assert srv.connections[0].path.endswith("network.bsky.jetstream.subscribeEvents")
    assert srv.connections[0].query["cursor"] == ["103"]
    assert [e.cursor for e in events(got)] == ["103", "104", "105"]


def test_no_cursor_subscribes_live_with_the_filters_in_the_url():
    async def main():
        async with JetstreamReplay([jetstream_v1_event(T0)]) as srv:
            await drain(source(srv.url, dids=("did:plc:alice",)).events(None), count_events(1))
            return srv

    conn = asyncio.run(main()).connections[0]
    assert "cursor" not in conn.query
    assert conn.query["wantedDids"] == ["did:plc:alice"]
    assert conn.query["wantedCollections"] == ["app.bsky.feed.post", "app.bsky.feed.repost"]


def test_reconnect_after_a_drop_loses_no_event_and_backs_off():
    log = [jetstream_v1_event(T0 + k * SECOND) for k in range(8)]
    waits = Waits()

    async def main():
        async with JetstreamReplay(log, drop_after=[3]) as srv:
            src = source(srv.url, waits, cursor_margin_s=1.0)
            got = await drain(src.events(None), lambda g: any(e.cursor == str(T0 + 7 * SECOND) for e in events(g)))
            return srv, got

    srv, got = asyncio.run(main())
    assert {int(e.cursor) for e in events(got)} == {T0 + k * SECOND for k in range(8)}
    assert len(srv.connections) == 2
    assert srv.connections[1].query["cursor"] == [str(T0 + 1 * SECOND)]  # last seen (T0+2s) minus 1 s
    messages = [s.message for s in statuses(got)]
    assert messages[0] == "connected" and "disconnected" in messages
    assert len(waits.asked) == 1


def test_duplicates_are_passed_through():
    log = [jetstream_v1_event(T0 + k) for k in range(3)]

    async def main():
        async with JetstreamReplay(log, repeat=True) as srv:
            return await drain(source(srv.url).events(None), count_events(6))

    got = asyncio.run(main())
    assert [int(e.cursor) for e in events(got)] == [T0, T0, T0 + 1, T0 + 1, T0 + 2, T0 + 2]


def test_malformed_frames_are_problems_and_the_stream_goes_on():
    huge = '{"time_us": 1, "pad": "' + "x" * 3000 + '"}'
    log = [
        jetstream_v1_event(T0),
        "not json {",
        "[1, 2]",
        huge,
        '{"did": "did:plc:alice", "kind": "commit"}',
        '{"time_us": true}',
        jetstream_v1_event(T0 + 1),
    ]

    async def main():
        async with JetstreamReplay(log) as srv:
            return await drain(source(srv.url, max_frame=2000).events(None), count_events(2))

    got = asyncio.run(main())
    assert [int(e.cursor) for e in events(got)] == [T0, T0 + 1]
    reasons = [p.reason for p in problems(got)]
    assert len(reasons) == 5
    assert reasons[0].startswith("not JSON") and "list" in reasons[1] and "over the 2,000 limit" in reasons[2]
    assert all("time_us" in r for r in reasons[3:])
    assert [p.location.rsplit(" ", 1)[1] for p in problems(got)] == ["2", "3", "4", "5", "6"]
    assert len(problems(got)[2].raw) < 2100  # clipped


def test_many_dids_go_in_an_options_update_after_require_hello():
    wanted = tuple(f"did:plc:{n:024d}" for n in range(300))
    log = [jetstream_v1_event(T0, did="did:plc:other"), jetstream_v1_event(T0 + 1, did=wanted[7])]

    async def main():
        async with JetstreamReplay(log) as srv:
            got = await drain(source(srv.url, dids=wanted, url_limit=1000).events(None), count_events(1))
            return srv, got

    srv, got = asyncio.run(main())
    conn = srv.connections[0]
    assert conn.query["requireHello"] == ["true"] and "wantedDids" not in conn.query
    hello = conn.messages[0]
    assert hello["type"] == "options_update" and hello["payload"]["wantedDids"] == list(wanted)
    assert [e.payload["did"] for e in events(got)] == [wanted[7]]


def test_silence_past_the_idle_timeout_reconnects_from_the_cursor():
    async def main():
        async with JetstreamReplay([jetstream_v1_event(T0)]) as srv:
            src = source(srv.url, idle_timeout=0.1, cursor_margin_s=0.0)
            got = await drain(src.events(None), lambda g: len(events(g)) >= 2)
            return srv, got

    srv, got = asyncio.run(main())
    assert any("no frame" in s.message for s in statuses(got))
    assert srv.connections[1].query["cursor"] == [str(T0)]


def test_refused_connection_is_a_status_and_a_retry():
    waits = Waits()

    async def main():
        src = source("ws://127.0.0.1:9/subscribe", waits)
        return await drain(src.events(None), lambda g: len(waits.asked) >= 2)

    got = asyncio.run(main())
    assert any(s.message.startswith("cannot connect") for s in statuses(got))
    assert waits.asked[1] > waits.asked[0]  # exponential


def test_payloads_read_into_the_right_posts(tmp_path):
    v1 = jetstream_v1_event(T0, did="did:plc:alice", rkey="3kabc", text="SYNTHETIC v1 text")
    v2 = jetstream_v2_message(42, did="did:plc:bob", rkey="3mxyz", text="SYNTHETIC v2 text")
    (p1,) = read_payload(tmp_path, "bluesky", v1)
    (p2,) = read_payload(tmp_path, "bluesky", v2)
    assert (p1.platform, p1.platform_id, p1.text) == ("bluesky", "did:plc:alice/post/3kabc", "SYNTHETIC v1 text")
    assert (p2.platform_id, p2.text) == ("did:plc:bob/post/3mxyz", "SYNTHETIC v2 text")


def test_clients_are_built_from_specs_and_a_missing_token_is_a_reason():
    from claimwatch.live.clients import build_source
    from claimwatch.live.mastodon_stream import MastodonSource
    from claimwatch.live.watchlist import MastodonSpec, XSpec
    from claimwatch.live.x_stream import XSource

    x = XSpec("x", "x", rules=("a",), bearer_token_env="X_TOKEN_TEST")
    masto = MastodonSpec("m", "mastodon", instance="https://mastodon.example", user=True, token_env="M_TOKEN")
    assert build_source(x, {}) == "stream x: not started: set X_TOKEN_TEST to an X API bearer token"
    assert isinstance(build_source(x, {"X_TOKEN_TEST": "t"}), XSource)
    assert "M_TOKEN is not set" in build_source(masto, {})
    built = build_source(masto, {"M_TOKEN": "t"})
    assert isinstance(built, MastodonSource) and built.key() == masto.key()
    assert isinstance(build_source(JetstreamSpec("b", "jetstream"), {}), JetstreamSource)


def test_a_refused_subscription_waits_as_long_as_the_server_says():
    waits = Waits()

    async def main():
        async with JetstreamReplay([jetstream_v1_event(T0)]) as srv:
            srv.reject, srv.reject_times, srv.reject_headers = 429, 1, {"Retry-After": "42"}
            got = await drain(source(srv.url, waits).events(None), count_events(1))
            return got

    got = asyncio.run(main())
    assert waits.asked == [42.0]
    assert any(s.message == "cannot subscribe: HTTP 429" for s in statuses(got))
    assert events(got)[0].cursor == str(T0)
