"""Metric re-fetchers against a loopback API: pages the readers turn into posts with metrics,
gone posts, failures with reasons, rate limits returned (never slept on)."""

from __future__ import annotations

import asyncio

from live_helpers import read_payload
from live_servers import (
    HttpReplay,
    Request,
    bluesky_get_posts,
    bluesky_post_view,
    json_reply,
    mastodon_status,
    x_post,
    x_rate_limited,
)

from claimwatch.live.metrics_fetch import BlueskyMetricsFetcher, MastodonMetricsFetcher, XMetricsFetcher

ID = 1_900_000_000_000_000_000


def x_lookup(known: set[str]):
    def handler(request: Request):
        ids = (request.arg("ids") or "").split(",")
        body = {"data": [x_post(i) for i in ids if i in known]}
        errors = [
            {
                "value": i,
                "resource_id": i,
                "title": "Not Found Error",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in ids
            if i not in known
        ]
        if errors:
            body["errors"] = errors
        return json_reply(body)

    return handler


def test_x_batches_of_100_pages_and_gone(tmp_path):
    known = {str(ID + k) for k in range(150)}
    wanted = [str(ID + k) for k in range(152)] + ["not-an-id"]

    async def main():
        with HttpReplay({("GET", "/2/tweets"): x_lookup(known)}) as http:
            result = await XMetricsFetcher("b3arer", api_base=http.url).fetch(wanted)
            return http, result

    http, result = asyncio.run(main())
    assert [len((r.arg("ids") or "").split(",")) for r in http.requests] == [100, 52]
    assert "public_metrics" in http.requests[0].arg("tweet.fields")
    assert sorted(result.gone) == [str(ID + 150), str(ID + 151)]
    assert result.failed == {"not-an-id": "not an X post id"}
    posts = [p for page in result.pages for p in read_payload(tmp_path, page.fmt, page.payload)]
    assert len({p.platform_id for p in posts}) == 150
    assert all(p.metrics is not None and p.metrics.views == 600 for p in posts)


def test_x_rate_limit_is_returned_not_waited():
    async def main():
        with HttpReplay({("GET", "/2/tweets"): lambda r: x_rate_limited(reset_in=300)}) as http:
            return await XMetricsFetcher("b3arer", api_base=http.url).fetch([str(ID + k) for k in range(150)])

    result = asyncio.run(main())
    assert 290 <= (result.retry_after or 0) <= 301
    assert len(result.failed) == 150 and set(result.failed.values()) == {"rate limited"}
    assert result.pages == [] and result.gone == []


def test_bluesky_getposts_missing_uris_are_gone_and_views_stay_unknown(tmp_path):
    uri = "at://did:plc:alice/app.bsky.feed.post/3kabc"

    async def main():
        with HttpReplay(
            {("GET", "/xrpc/app.bsky.feed.getPosts"): bluesky_get_posts({uri: bluesky_post_view(uri, likes=9)})}
        ) as http:
            fetcher = BlueskyMetricsFetcher(appview=http.url)
            return http, await fetcher.fetch(
                ["did:plc:alice/post/3kabc", "did:plc:alice/post/3kgone", "did:plc:bob/repost/abc"]
            )

    http, result = asyncio.run(main())
    assert http.requests[0].query["uris"] == [uri, "at://did:plc:alice/app.bsky.feed.post/3kgone"]
    assert result.gone == ["did:plc:alice/post/3kgone"]
    assert list(result.failed) == ["did:plc:bob/repost/abc"]
    (post,) = [p for page in result.pages for p in read_payload(tmp_path, page.fmt, page.payload)]
    assert post.platform_id == "did:plc:alice/post/3kabc"
    assert post.metrics is not None and post.metrics.likes == 9 and post.metrics.views is None


def test_bluesky_batches_of_25():
    ids = [f"did:plc:alice/post/3k{k:03d}" for k in range(30)]

    async def main():
        with HttpReplay({("GET", "/xrpc/app.bsky.feed.getPosts"): bluesky_get_posts({})}) as http:
            await BlueskyMetricsFetcher(appview=http.url).fetch(ids)
            return http

    assert [len(r.query["uris"]) for r in asyncio.run(main()).requests] == [25, 5]


def test_mastodon_per_status_on_its_own_instance(tmp_path):
    async def main():
        with HttpReplay() as http:
            host = http.url.removeprefix("http://")
            http.routes[("GET", "/api/v1/statuses/111")] = lambda r: json_reply(
                mastodon_status("111", host="mastodon.example")
            )
            http.routes[("GET", "/api/v1/statuses/500")] = lambda r: json_reply({"error": "boom"}, 500)
            fetcher = MastodonMetricsFetcher(scheme="http", allow_private_hosts=True, tokens={host: "t0k"})
            result = await fetcher.fetch([f"111@{host}", f"222@{host}", f"500@{host}", "example.org/notes/abc"])
            return http, host, result

    http, host, result = asyncio.run(main())
    assert result.gone == [f"222@{host}"]
    assert result.failed[f"500@{host}"].startswith("HTTP 500")
    assert "not a Mastodon status id" in result.failed["example.org/notes/abc"]
    assert all(r.headers.get("authorization") == "Bearer t0k" for r in http.requests)
    (post,) = [p for page in result.pages for p in read_payload(tmp_path, page.fmt, page.payload)]
    assert post.platform_id == "111@mastodon.example" and post.metrics is not None and post.metrics.reposts == 2


def test_mastodon_refuses_private_hosts():
    result = asyncio.run(MastodonMetricsFetcher().fetch(["1@127.0.0.1:8080", "2@10.0.0.1", "3@localhost"]))
    assert len(result.failed) == 3 and all("refused host" in r for r in result.failed.values())


def test_fetchers_close_their_client():
    async def main():
        fetchers = [XMetricsFetcher("t"), BlueskyMetricsFetcher(), MastodonMetricsFetcher()]
        for fetcher in fetchers:
            await fetcher.aclose()
        return fetchers

    assert all(f.http.is_closed for f in asyncio.run(main()))
