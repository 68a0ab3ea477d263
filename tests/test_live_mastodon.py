"""Mastodon client against loopback streaming and REST servers: subscriptions, cursors, REST
back-fill after a reconnect (oldest first, Link paging, late margin), rate limits, 401."""

from __future__ import annotations

import asyncio

from live_helpers import Waits, count_events, drain, events, problems, read_payload, statuses
from live_servers import HttpReplay, MastodonStreamReplay, MastodonTimeline, json_reply, mastodon_frame, mastodon_status

from claimwatch.live.backoff import Backoff
from claimwatch.live.mastodon_stream import MastodonSource
from claimwatch.live.watchlist import MastodonSpec

SECOND = 1000 << 16  # one second in Mastodon snowflake id units
BASE = 1_764_500_000_000 << 16


def sid(k: int) -> str:
    return str(BASE + k * SECOND)


def source(http: HttpReplay, ws: MastodonStreamReplay, waits: Waits | None = None, **kw) -> MastodonSource:
    spec_kw = {k: kw.pop(k) for k in ("hashtags", "user", "accounts") if k in kw}
    spec = MastodonSpec("masto", "mastodon", instance=http.url, **({"hashtags": ("election",)} | spec_kw))
    return MastodonSource(
        spec,
        kw.pop("token", "t0ken"),
        backoff=Backoff(base=0.01, jitter=0),
        sleep=waits or Waits(),
        streaming_url=f"ws://127.0.0.1:{ws.port}",
        ping_interval=None,
        **kw,
    )


def tag_frame(k: int, event: str = "update") -> dict:
    return mastodon_frame(mastodon_status(sid(k)), ["hashtag", "election"], event)


def test_subscribes_with_the_token_and_passes_status_events_with_a_rising_cursor():
    frames = [
        tag_frame(1),
        {"stream": ["hashtag", "election"], "event": "delete", "payload": sid(1)},
        tag_frame(3),
        tag_frame(2),  # federated late: a lower id does not move the cursor back
        tag_frame(3, "status.update"),
        mastodon_frame(mastodon_status(sid(9)), ["hashtag", "other"]),  # not subscribed
    ]

    async def main():
        with HttpReplay() as http:
            async with MastodonStreamReplay([frames]) as ws:
                got = await drain(source(http, ws, user=True).events(None), count_events(4))
                return ws, got

    ws, got = asyncio.run(main())
    conn = ws.connections[0]
    assert conn.headers["authorization"] == "Bearer t0ken"
    assert conn.messages == [
        {"type": "subscribe", "stream": "hashtag", "tag": "election"},
        {"type": "subscribe", "stream": "user"},
    ]
    evs = events(got)
    assert [e.payload["event"] for e in evs] == ["update", "update", "update", "status.update"]
    assert [e.cursor for e in evs] == [sid(1), sid(3), sid(3), sid(3)]
    assert all(e.fmt == "mastodon" for e in evs)


def test_reconnect_backfills_the_gap_oldest_first_over_link_pages():
    missed = [mastodon_status(sid(k)) for k in range(3, 100)]  # 97 statuses: three pages of 40

    async def main():
        with HttpReplay() as http:
            timeline = MastodonTimeline([mastodon_status(sid(k)) for k in range(1, 3)] + missed, lambda: http.url)
            http.routes[("GET", "/api/v1/timelines/tag/election")] = timeline
            sessions = [[tag_frame(1), tag_frame(2)], [tag_frame(100)]]
            async with MastodonStreamReplay(sessions, close_after_session=True) as ws:
                src = source(http, ws, late_margin_s=0.0)
                got = await drain(src.events(None), lambda g: any(e.cursor == sid(100) for e in events(g)))
                return http, got

    http, got = asyncio.run(main())
    evs = events(got)
    ids = [(e.payload.get("id") or e.payload["event"]) for e in evs]
    backfilled = [e for e in evs if "page" in e.location]
    assert [e.payload["id"] for e in backfilled] == [sid(k) for k in range(3, 100)]  # oldest first, none lost
    assert all(e.cursor is None for e in backfilled[:-1]) and backfilled[-1].cursor == sid(99)
    assert evs[-1].cursor == sid(100) and len(ids) == 2 + 97 + 1
    pages = [r for r in http.requests if r.path.endswith("/tag/election")]
    assert [r.arg("min_id") for r in pages][:3] == [sid(2), sid(42), sid(82)]
    assert all(r.arg("limit") == "40" for r in pages)
    assert any(s.message == "back-filled" for s in statuses(got))


def test_backfill_starts_the_late_margin_before_the_cursor():
    async def main():
        with HttpReplay() as http:
            timeline = MastodonTimeline([mastodon_status(sid(50))], lambda: http.url)
            http.routes[("GET", "/api/v1/timelines/tag/election")] = timeline
            async with MastodonStreamReplay([[]]) as ws:
                await drain(source(http, ws, late_margin_s=60).events(sid(100)), count_events(1))
                return http

    http = asyncio.run(main())
    assert http.requests[0].arg("min_id") == sid(40)
    assert (
        MastodonSource(
            MastodonSpec("m", "mastodon", instance="https://x.example", hashtags=("a",)), None
        ).backfill_from("9zzAbc")
        == "9zzAbc"
    )


def test_rate_limited_backfill_waits_as_the_server_says():
    calls = {"n": 0}

    async def main():
        with HttpReplay() as http:
            timeline = MastodonTimeline([mastodon_status(sid(5))], lambda: http.url)

            def limited(request):
                calls["n"] += 1
                if calls["n"] == 1:
                    return json_reply({"error": "Too many requests"}, 429, {"Retry-After": "7"})
                return timeline(request)

            http.routes[("GET", "/api/v1/timelines/tag/election")] = limited
            async with MastodonStreamReplay([[]]) as ws:
                waits = Waits()
                got = await drain(source(http, ws, waits, late_margin_s=0).events(sid(1)), count_events(1))
                return waits, got

    waits, got = asyncio.run(main())
    assert waits.asked[0] == 7.0
    assert [e.payload["id"] for e in events(got)] == [sid(5)]
    assert any("waited 7.0 s" in s.message for s in statuses(got))


def test_accounts_are_looked_up_and_polled():
    async def main():
        with HttpReplay() as http:
            http.routes[("GET", "/api/v1/accounts/lookup")] = lambda r: (
                json_reply({"id": "77", "acct": r.arg("acct")})
                if r.arg("acct") == "alice"
                else json_reply({"error": "Record not found"}, 404)
            )
            http.routes[("GET", "/api/v1/accounts/77/statuses")] = MastodonTimeline(
                [mastodon_status(sid(k)) for k in (4, 5)], lambda: http.url
            )
            async with MastodonStreamReplay([[]]) as ws:
                src = source(http, ws, hashtags=(), accounts=("@alice", "bob@elsewhere.example"), account_poll_s=0.05)
                got = await drain(src.events(None), count_events(2))
                return http, got

    http, got = asyncio.run(main())
    assert [e.payload["id"] for e in events(got)] == [sid(4), sid(5)]
    assert events(got)[-1].cursor == sid(5)
    assert any("bob@elsewhere.example not found" in s.message for s in statuses(got))


def test_malformed_frames_are_problems_and_the_stream_goes_on():
    frames = [
        "{not json",
        '["update"]',
        {"stream": ["hashtag", "election"], "event": "update", "payload": "{broken"},
        {"stream": ["hashtag", "election"], "event": "update", "payload": '{"content": "no id"}'},
        tag_frame(1),
    ]

    async def main():
        with HttpReplay() as http:
            async with MastodonStreamReplay([frames]) as ws:
                return await drain(source(http, ws).events(None), count_events(1))

    got = asyncio.run(main())
    assert len(problems(got)) == 4 and [e.cursor for e in events(got)] == [sid(1)]
    assert all("frame" in p.location for p in problems(got))


def test_a_refused_token_ends_the_stream():
    async def main():
        with HttpReplay() as http:
            async with MastodonStreamReplay([[]]) as ws:
                ws.reject = 401
                return await drain(source(http, ws).events(None), lambda g: False, timeout=2)

    got = asyncio.run(main())
    assert statuses(got)[-1].message.startswith("stopped: the streaming API refused the token (HTTP 401)")


def test_streaming_host_named_by_the_instance():
    async def main():
        async with MastodonStreamReplay([[tag_frame(1)]]) as ws:
            with HttpReplay() as http:
                http.routes[("GET", "/api/v2/instance")] = lambda r: json_reply(
                    {"configuration": {"urls": {"streaming": f"ws://127.0.0.1:{ws.port}"}}}
                )
                src = source(http, ws)
                src.streaming_url = None
                return await drain(src.events(None), count_events(1))

    assert events(asyncio.run(main()))[0].cursor == sid(1)


def test_payloads_read_into_the_right_posts(tmp_path):
    status = mastodon_status("1234", host="mastodon.example", text="SYNTHETIC streamed text")
    (streamed,) = read_payload(tmp_path, "mastodon", mastodon_frame(status, ["hashtag", "election"]))
    (rest,) = read_payload(tmp_path, "mastodon", status)
    assert streamed.platform == "mastodon" and streamed.platform_id == rest.platform_id == "1234@mastodon.example"
    assert "SYNTHETIC streamed text" in streamed.text
    assert rest.metrics is not None and rest.metrics.likes == 3 and rest.metrics.views is None
