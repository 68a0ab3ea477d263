"""X client against a loopback API: rules sync that leaves foreign rules alone, the filtered stream
(keep-alives, foreign matches, errors, malformed lines), reconnect rules and back-fill by recent
search, 401, search mode."""

from __future__ import annotations

import asyncio

from live_helpers import Waits, count_events, drain, events, problems, read_payload, statuses
from live_servers import (
    HttpReplay,
    Reply,
    XRecentSearch,
    XRules,
    json_reply,
    x_post,
    x_rate_limited,
    x_stream,
    x_stream_message,
)

from claimwatch.live.backoff import Backoff
from claimwatch.live.watchlist import XSpec
from claimwatch.live.x_stream import RULES_PATH, SEARCH_PATH, STREAM_PATH, XSource

TAG = "claimwatch:x"
ID = 1_900_000_000_000_000_000


def pid(k: int) -> str:
    return str(ID + k)


def source(http: HttpReplay, waits: Waits, rules=("election fraud",), **kw) -> XSource:
    spec = XSpec(
        "x", "x", rules=tuple(rules), api_base=http.url, mode=kw.pop("mode", "stream"), poll_s=kw.pop("poll_s", 60.0)
    )
    return XSource(
        spec,
        "b3arer",
        sleep=waits,
        http_backoff=kw.pop("http_backoff", Backoff(base=5.0, jitter=0)),
        rate_backoff=Backoff(base=60.0, jitter=0),
        **kw,
    )


def sequence(*replies: Reply):
    """A route answering with ``replies`` in turn (the last one again past the end)."""
    calls = []

    def handler(request):
        calls.append(request)
        return replies[min(len(calls), len(replies)) - 1]

    return handler


def test_rules_sync_adds_ours_deletes_our_stale_ones_and_leaves_foreign_rules_alone():
    rules = XRules(
        [
            {"id": "1", "value": "someone else's", "tag": "newsroom"},
            {"id": "2", "value": "old query", "tag": TAG},
            {"id": "3", "value": "kept query", "tag": TAG},
            {"id": "4", "value": "shared query", "tag": "newsroom"},
            {"id": "5", "value": "old query 2"},
        ]
    )

    async def main():
        with HttpReplay({("GET", RULES_PATH): rules, ("POST", RULES_PATH): rules}) as http:
            src = source(http, Waits(), rules=("kept query", "shared query", "new query"))
            got = [item async for item in src.sync_rules()]
            return http, src, got

    http, src, got = asyncio.run(main())
    assert {r["value"]: r.get("tag") for r in rules.rules} == {
        "someone else's": "newsroom",
        "kept query": TAG,
        "shared query": "newsroom",
        "new query": TAG,
        "old query 2": None,
    }
    new_id = next(r["id"] for r in rules.rules if r["value"] == "new query")
    assert src.rule_ids == {"3", "4", new_id}
    posts = [r.json() for r in http.requests if r.method == "POST"]
    assert posts == [{"delete": {"ids": ["2"]}}, {"add": [{"value": "new query", "tag": TAG}]}]
    assert http.requests[0].headers["authorization"] == "Bearer b3arer"
    assert "claimwatch/" in http.requests[0].headers["user-agent"]
    assert statuses(got)[-1].message == "rules synced"


def test_stream_reads_messages_skips_keepalives_and_foreign_matches_then_backfills_after_a_drop():
    first = x_stream(
        [
            x_stream_message(pid(1), [("9", TAG)]),
            x_stream_message(pid(2), [("77", "newsroom")]),  # another app user's rule
            {"errors": [{"title": "operational-disconnect", "detail": "This stream is being rebalanced"}]},
            "{not json",
            '{"data": [1]}',
            x_stream_message(pid(3), [("9", TAG), ("77", "newsroom")]),
        ],
        keepalives=2,
    )
    second = x_stream([x_stream_message(pid(50), [("9", TAG)])], hang=2)
    missed = XRecentSearch([x_post(pid(k)) for k in range(4, 30)])

    async def main():
        routes = {
            ("GET", RULES_PATH): XRules([{"id": "9", "value": "election fraud", "tag": TAG}]),
            ("GET", STREAM_PATH): sequence(first, second),
            ("GET", SEARCH_PATH): missed,
        }
        with HttpReplay(routes) as http:
            src = source(http, Waits(), search_page=10)
            got = await drain(src.events(None), lambda g: any(e.cursor == pid(50) for e in events(g)))
            return http, got

    http, got = asyncio.run(main())
    evs = events(got)
    streamed = [e for e in evs if STREAM_PATH in e.location]
    assert [e.payload["data"]["id"] for e in streamed] == [pid(1), pid(3), pid(50)]
    backfill = [e for e in evs if SEARCH_PATH in e.location]
    ids = [p["id"] for e in backfill for p in reversed(e.payload["data"])]
    assert ids == [pid(k) for k in range(4, 30)]  # pages oldest first, nothing lost
    assert [e.cursor for e in backfill] == [None, None, pid(29)]
    searches = [r for r in http.requests if r.path == SEARCH_PATH]
    assert searches[0].arg("since_id") == pid(3) and searches[1].arg("next_token") == "10"
    assert "public_metrics" in http.requests[1].arg("tweet.fields") and "note_tweet" in http.requests[1].arg(
        "tweet.fields"
    )
    assert any("operational-disconnect" in s.message for s in statuses(got))
    assert [p.reason.split(" ")[0] for p in problems(got)] == ["not", "message"]


def test_429_waits_for_the_rate_limit_reset_and_503_backs_off_exponentially():
    waits = Waits()

    async def main():
        routes = {
            ("GET", RULES_PATH): XRules([{"id": "9", "value": "election fraud", "tag": TAG}]),
            ("GET", STREAM_PATH): sequence(
                x_rate_limited(reset_in=120),
                json_reply({"title": "Service Unavailable"}, 503),
                json_reply({"title": "Service Unavailable"}, 503),
                x_stream([x_stream_message(pid(1), [("9", TAG)])], hang=2),
            ),
        }
        with HttpReplay(routes) as http:
            return await drain(source(http, waits).events(None), count_events(1))

    got = asyncio.run(main())
    assert 110 <= waits.asked[0] <= 121  # the server's reset, not our 60 s guess
    assert waits.asked[1:3] == [5.0, 10.0]
    assert events(got)[0].cursor == pid(1)


def test_silence_past_the_keepalive_timeout_reconnects_linearly():
    waits = Waits()

    async def main():
        routes = {
            ("GET", RULES_PATH): XRules([{"id": "9", "value": "election fraud", "tag": TAG}]),
            ("GET", STREAM_PATH): sequence(
                x_stream([], keepalives=0, hang=1), x_stream([x_stream_message(pid(1))], hang=1)
            ),
        }
        with HttpReplay(routes) as http:
            return await drain(source(http, waits, keepalive_timeout=0.1).events(None), count_events(1))

    got = asyncio.run(main())
    assert any("no data or keep-alive" in s.message for s in statuses(got))
    assert waits.asked[0] == 0.25


def test_a_refused_token_ends_the_stream_with_one_reason():
    async def main():
        refused = json_reply({"title": "Unauthorized", "detail": "Unauthorized", "status": 401}, 401)
        with HttpReplay({("GET", RULES_PATH): lambda r: refused}) as http:
            waits = Waits()
            got = await drain(source(http, waits).events(None), lambda g: False, timeout=2)
            return http, waits, got

    http, waits, got = asyncio.run(main())
    assert len(http.requests) == 1 and waits.asked == []
    assert statuses(got)[-1].message.startswith("stopped:") and "Unauthorized" in statuses(got)[-1].message


def test_search_mode_polls_with_since_id():
    waits = Waits()
    search = XRecentSearch([x_post(pid(k)) for k in (1, 2)])

    async def main():
        with HttpReplay({("GET", SEARCH_PATH): search}) as http:
            src = source(http, waits, mode="search", poll_s=30)
            got = await drain(src.events(pid(0)), lambda g: len(waits.asked) >= 2)
            return http, got

    http, got = asyncio.run(main())
    assert [r.arg("since_id") for r in http.requests[:2]] == [pid(0), pid(2)]
    assert waits.asked[:2] == [30, 30]
    assert [e.cursor for e in events(got)] == [pid(2)]


def test_payloads_read_into_the_right_posts(tmp_path):
    (post,) = read_payload(tmp_path, "x-v2", x_stream_message(pid(7)))
    assert (post.platform, post.platform_id, post.text) == ("x", pid(7), f"SYNTHETIC post {pid(7)}")
    assert post.author is not None and post.author.handle == "example_account"
    assert post.metrics is not None and post.metrics.views == 600


def test_an_overlong_line_is_refused_and_the_stream_goes_on():
    huge = '{"data": {"id": "1", "text": "' + "x" * 5000 + '"}}'
    reply = x_stream([huge, x_stream_message(pid(1), [("9", TAG)])], hang=2)

    async def main():
        routes = {
            ("GET", RULES_PATH): XRules([{"id": "9", "value": "election fraud", "tag": TAG}]),
            ("GET", STREAM_PATH): lambda r: reply,
        }
        with HttpReplay(routes) as http:
            return await drain(source(http, Waits(), max_line=1000).events(None), count_events(1))

    got = asyncio.run(main())
    (problem,) = problems(got)
    assert "over the 1,000 limit" in problem.reason and len(problem.raw) < 2100  # raw clipped
    assert events(got)[0].cursor == pid(1)


def test_a_restart_with_a_stored_cursor_backfills_before_reading_the_stream():
    search = XRecentSearch([x_post(pid(k)) for k in (5, 6)])

    async def main():
        routes = {
            ("GET", RULES_PATH): XRules([{"id": "9", "value": "election fraud", "tag": TAG}]),
            ("GET", STREAM_PATH): lambda r: x_stream([x_stream_message(pid(7), [("9", TAG)])], hang=2),
            ("GET", SEARCH_PATH): search,
        }
        with HttpReplay(routes) as http:
            return await drain(source(http, Waits()).events(pid(4)), count_events(2))

    got = asyncio.run(main())
    assert [e.cursor for e in events(got)] == [pid(6), pid(7)]
    assert SEARCH_PATH in events(got)[0].location


def test_a_line_without_end_is_cut_at_the_limit_and_the_rest_dropped():
    class Body:
        async def aiter_bytes(self):
            yield b'{"data": {"id": "1", "text": "' + b"x" * 600
            yield b"x" * 600
            yield b"x" * 600 + b'"}}\r\n{"data": {"id": "2"}}\r\n'

    async def main():
        with HttpReplay() as http:
            return [line async for line in source(http, Waits(), max_line=1000)._lines(Body())]

    lines = asyncio.run(main())
    assert len(lines[0]) == 1001 and lines[1:] == [b'{"data": {"id": "2"}}']
