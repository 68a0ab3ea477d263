"""Synthetic live events in the shapes the streams deliver (after ../shared/formats: Jetstream v1
event and v2 message, a Mastodon streaming event, an X filtered-stream message), for the watch
runner's tests and the live latency benchmark. Every value is made up; hosts are ``*.example``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Texts that repeat the fact-checked claims of :data:`FACTCHECKS`, and chatter that does not.
MATCHING = [
    "Wake up!! Illegal aliens are being registered as voters in swing states like Arizona",
    "The voting machines flipped votes from one candidate to the other, everyone knows it",
    "Thousands of dead people voted in the last election, the rolls are full of them",
]
CHATTER = [
    "Lovely sunny afternoon at the farmers market, got fresh peaches",
    "Our cat learned to open the fridge door this week",
    "Trying a new bread recipe with rye flour and caraway",
]
#: ClaimReview records (synthetic) whose claims the MATCHING texts repeat.
FACTCHECKS = [
    ("https://example.org/fc/noncitizens", "Large numbers of non-citizens are registering to vote in swing states."),
    ("https://example.org/fc/machines", "Voting machines secretly switched votes from one candidate to another."),
    ("https://example.org/fc/dead", "Thousands of dead people cast ballots in the last election."),
    ("https://example.org/fc/turnout", "Turnout among young voters rose in the midterms."),
]


def claimreviews() -> list[dict[str, Any]]:
    return [
        {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "url": url,
            "claimReviewed": claim,
            "datePublished": "2024-07-29",
            "author": {"@type": "Organization", "name": "Example Check (synthetic)"},
            "reviewRating": {"@type": "Rating", "alternateName": "True" if "turnout" in url else "False"},
        }
        for url, claim in FACTCHECKS
    ]


def jetstream_v1(n: int, text: str, did: str = "did:plc:abcdefghijklmnopqrstuvwx") -> dict[str, Any]:
    return {
        "did": did,
        "time_us": 1722043425000000 + n,
        "kind": "commit",
        "commit": {
            "rev": f"3kyrev{n}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3kyrkey{n:06d}",
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-07-27T01:23:45.678Z"},
            "cid": f"bafyexample{n}",
        },
    }


def jetstream_v2(n: int, text: str, did: str = "did:plc:abcdefghijklmnopqrstuvwx") -> dict[str, Any]:
    """A Jetstream v2 message (``seq`` is its cursor)."""
    return {
        "$type": "message",
        "payload": {
            "$type": "network.bsky.jetstream.subscribeEvents#commit",
            "did": did,
            "seq": 26210877813 + n,
            "time": "2026-09-22T16:25:42.123456Z",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3mwrkey{n:06d}",
            "rev": f"3mwrev{n}",
            "cid": f"bafyexamplev2{n}",
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-09-22T16:25:41.000Z"},
        },
    }


def jetstream_like(n: int) -> dict[str, Any]:
    """A like: not a post, skipped (it moves the cursor, stores nothing)."""
    event = jetstream_v1(n, "")
    event["commit"] = {"operation": "create", "collection": "app.bsky.feed.like", "rkey": f"like{n}", "record": {}}
    return event


def mastodon_update(n: int, text: str, acct: str = "example") -> dict[str, Any]:
    status = {
        "id": str(112856000000000000 + n),
        "created_at": "2024-07-27T01:23:45.000Z",
        "uri": f"https://mastodon.example/users/{acct}/statuses/{112856000000000000 + n}",
        "url": f"https://mastodon.example/@{acct}/{112856000000000000 + n}",
        "replies_count": 1,
        "reblogs_count": 2,
        "favourites_count": 3,
        "content": f"<p>{text}</p>",
        "language": "en",
        "account": {
            "id": "109000000000000001",
            "username": acct,
            "acct": acct,
            "url": f"https://mastodon.example/@{acct}",
        },
        "media_attachments": [],
    }
    return {"stream": ["hashtag", "election"], "event": "update", "payload": json.dumps(status)}


def x_stream(
    n: int, text: str, views: int | None = 500, username: str = "example_account", photo: str | None = None
) -> dict[str, Any]:
    """An X filtered-stream message; ``photo``: the URL of an attached picture."""
    metrics = {"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 4}
    if views is not None:
        metrics["impression_count"] = views
    message: dict[str, Any] = {
        "data": {
            "id": str(1800000000000000000 + n),
            "text": text,
            "author_id": "2244994945",
            "created_at": "2024-07-27T01:23:45.000Z",
            "lang": "en",
            "public_metrics": metrics,
            "edit_history_tweet_ids": [str(1800000000000000000 + n)],
        },
        "includes": {"users": [{"id": "2244994945", "username": username, "name": "Example (synthetic)"}]},
        "matching_rules": [{"id": "1", "tag": "x-election"}],
    }
    if photo is not None:
        message["data"]["attachments"] = {"media_keys": [f"3_{n}"]}
        message["includes"]["media"] = [{"media_key": f"3_{n}", "type": "photo", "url": photo}]
    return message


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path
