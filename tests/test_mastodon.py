"""Mastodon reader on hand-made fixtures written from the REST entity and ActivityPub docs
(tests/fixtures/posts), and the HTML-to-text conversion it uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_reader

from claimwatch.records import Parsed, Post, PostKind, Rejected
from claimwatch.sources import mastodon
from claimwatch.sources.html_text import html_to_text
from claimwatch.sources.posts import detect_post_format

FIXTURES = Path(__file__).parent / "fixtures" / "posts"
OBSERVED = datetime(2024, 9, 1, tzinfo=UTC)
HOST, REMOTE = "mastodon.example", "social.example.net"
FIRST = f"112856000000000001@{HOST}"
BOOSTED = f"112850000000000555@{REMOTE}"  # the remote status's id on its own server (uri), not the serving id


def run(name: str) -> tuple[list[Parsed], list[Rejected]]:
    return run_reader(mastodon.read, FIXTURES / name, OBSERVED)


def by_id(parsed: list[Parsed]) -> dict[str, Post]:
    return {p.record.platform_id: p.record for p in parsed}


# --- ids and handles -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"https://{HOST}/users/alice/statuses/112856000000000001", FIRST),
        (f"https://{HOST}/users/bob/statuses/112856000000000002/activity", f"112856000000000002@{HOST}"),  # a boost
        ("https://MASTODON.example:8443/users/a/statuses/7", "7@mastodon.example:8443"),
        (
            f"https://{REMOTE}/objects/0a1b2c3d-0000-4000-8000-00000000abcd",
            f"{REMOTE}/objects/0a1b2c3d-0000-4000-8000-00000000abcd",
        ),
        ("https://misskey.example/notes/9abcdefghi", "misskey.example/notes/9abcdefghi"),
    ],
)
def test_status_id_from_the_uri(uri, expected):
    assert mastodon.status_id(uri) == expected


@pytest.mark.parametrize("uri", [None, "", "urn:example:1", "ftp://x.example/users/a/statuses/1", 12])
def test_status_id_refuses_what_is_not_an_http_uri(uri):
    with pytest.raises(ValueError):
        mastodon.status_id(uri)


# --- REST statuses ---------------------------------------------------------------------


def test_status_fields_text_counts_and_media():
    parsed, _ = run("mastodon_statuses.json")
    post = by_id(parsed)[FIRST]
    assert (post.platform, post.kind, post.collected, post.lang) == ("mastodon", PostKind.ORIGINAL, True, "en")
    assert post.url == f"https://{HOST}/@alice/112856000000000001"
    assert post.created_at == datetime(2024, 7, 27, 1, 23, 45, tzinfo=UTC)
    # HTML -> text: whole link (invisible + ellipsis spans), hashtag, entities, paragraphs and <br>
    assert post.text == (
        "SYNTHETIC: the ballots were counted twice & nobody checked. "
        "https://example.org/ballots/counted-twice-report #election\n\nSecond paragraph\n"
        "with a line break <3"
    )
    assert post.raw["content"].startswith("<p>SYNTHETIC: the ballots were counted twice &amp; nobody")
    assert post.author is not None
    assert (post.author.platform_id, post.author.handle, post.author.name, post.author.followers) == (
        f"alice@{HOST}",
        f"alice@{HOST}",
        "Alice (synthetic)",
        322930,
    )
    m = post.metrics
    assert (m.likes, m.reposts, m.replies, m.quotes, m.views, m.bookmarks) == (11, 6, 5, 2, None, None)
    image, video = post.media
    assert (image.media_key, image.type, image.raw["description"]) == (
        "112856000000000100",
        "image",
        "SYNTHETIC alt text",
    )
    assert image.preview_url.endswith("/small/ballot.jpg")
    assert (video.type, video.duration_ms) == ("video", 12_500)


def test_boost_is_a_repost_row_without_metrics_and_the_boosted_status_is_context():
    parsed, _ = run("mastodon_statuses.json")
    posts = by_id(parsed)
    boost = posts[f"112856000000000002@{HOST}"]
    assert (boost.kind, boost.referenced_id, boost.collected) == (PostKind.REPOST, BOOSTED, True)
    assert boost.metrics is None and boost.media == [] and boost.url is None
    assert boost.author.handle == f"bob@{HOST}"
    assert boost.text == "SYNTHETIC: a remote post that Bob boosted."
    boosted = posts[BOOSTED]
    assert boosted.collected is False
    assert boosted.author.handle == f"remo@{REMOTE}"  # a remote acct is already qualified
    assert (boosted.metrics.likes, boosted.metrics.reposts) == (410, 90)
    assert boosted.source.location == "item 2 reblog"


def test_reply_parent_known_only_when_local_to_the_serving_server():
    posts = by_id(run("mastodon_statuses.json")[0])
    self_reply = posts[f"112856000000000003@{HOST}"]
    assert (self_reply.kind, self_reply.referenced_id) == (PostKind.REPLY, FIRST)
    remote_reply = posts[f"112856000000000004@{HOST}"]
    assert (remote_reply.kind, remote_reply.referenced_id) == (PostKind.REPLY, None)
    assert remote_reply.raw["in_reply_to_id"] == "112856000000000777"  # the serving server's id, kept in raw
    assert remote_reply.text == "@remo SYNTHETIC: replying to a remote account."


def test_content_warning_is_the_first_paragraph():
    post = by_id(run("mastodon_statuses.json")[0])[f"112856000000000005@{HOST}"]
    assert post.text == "vaccine misinformation\n\nSYNTHETIC: vaccines contain microchips, they said."
    assert post.raw["spoiler_text"] == "vaccine misinformation"


def test_quotes_accepted_and_pending():
    posts = by_id(run("mastodon_statuses.json")[0])
    quote = posts[f"112856000000000006@{HOST}"]
    quoted_id = f"112840000000000042@{REMOTE}"
    assert (quote.kind, quote.referenced_id) == (PostKind.QUOTE, quoted_id)
    assert quote.text == "SYNTHETIC: quoting this, because it is true."  # the hidden "RE:" fallback dropped
    assert posts[quoted_id].collected is False and posts[quoted_id].metrics.likes == 30
    pending = posts[f"112856000000000007@{HOST}"]
    assert (pending.kind, pending.referenced_id) == (PostKind.QUOTE, None)


def test_other_server_software_and_bad_statuses():
    parsed, rejected = run("mastodon_statuses.json")
    posts = by_id(parsed)
    assert f"{REMOTE}/objects/0a1b2c3d-0000-4000-8000-00000000abcd" in posts
    bad_count = next(p for p in parsed if p.record.platform_id == f"112856000000000010@{HOST}")
    assert bad_count.record.metrics.likes is None and bad_count.record.metrics.replies == 1
    assert [w.field for w in bad_count.warnings] == ["likes"]
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("item 9", "status has no usable uri: None is not an http(s) URI"),
        ("item 10", "created_at: unreadable time '27/07/2024 09:00'"),
        ("item 12", "JSON number where an object was expected"),
    ]


def test_search_results_and_thread_context():
    search = by_id(run("mastodon_search.json")[0])
    assert set(search) == {BOOSTED, f"112856000000000005@{HOST}"}
    context = {p.record.platform_id: p.record.collected for p in run("mastodon_context.json")[0]}
    assert context == {FIRST: False, f"112856000000000003@{HOST}": True, f"112856000000000004@{HOST}": True}


def test_streaming_events():
    parsed, rejected = run("mastodon_stream.jsonl")
    assert [(p.record.platform_id, p.record.source.location) for p in parsed] == [
        (FIRST, "line 1"),
        (f"112856000000000005@{HOST}", "line 4"),
        (f"112856000000000004@{HOST}", "line 6"),
    ]
    assert parsed[1].record.text.endswith("they said (edited).")  # status.update carries the edit
    assert [(r.source.location, r.reason.split(" (")[0]) for r in rejected] == [
        ("line 5", "event payload is not valid JSON")
    ]


# --- ActivityPub outbox (account export) -----------------------------------------------------


def test_outbox_notes_announces_and_skips():
    parsed, rejected = run("mastodon_outbox.json")
    posts = by_id(parsed)
    assert list(posts) == [
        FIRST,
        f"112856000000000003@{HOST}",
        f"112856000000000005@{HOST}",
        f"112856000000000006@{HOST}",
        f"112856000000000011@{HOST}",
        f"112856000000000012@{HOST}",
    ]
    first = posts[FIRST]
    assert (
        first.author.platform_id == f"alice@{HOST}" and first.author.name is None
    )  # the outbox has only the actor URI
    assert (first.metrics.likes, first.metrics.reposts, first.metrics.replies) == (11, 6, None)  # totalItems
    assert (first.media[0].media_key, first.media[0].type) == ("attachment 1", "image")
    assert first.text == by_id(run("mastodon_statuses.json")[0])[FIRST].text  # same HTML, same text
    reply = posts[f"112856000000000003@{HOST}"]
    assert (reply.kind, reply.referenced_id, reply.metrics) == (PostKind.REPLY, FIRST, None)
    cw = posts[f"112856000000000005@{HOST}"]
    assert (cw.text, cw.lang) == (
        "election & ballots\n\nSYNTHETIC: ein Beitrag mit Inhaltswarnung.",
        "de",
    )  # contentMap
    assert (posts[f"112856000000000006@{HOST}"].kind, posts[f"112856000000000006@{HOST}"].referenced_id) == (
        PostKind.QUOTE,
        f"112840000000000042@{REMOTE}",
    )
    assert posts[f"112856000000000011@{HOST}"].text == "SYNTHETIC: were the ballots counted twice?"  # a poll
    boost = posts[f"112856000000000012@{HOST}"]
    assert (boost.kind, boost.referenced_id, boost.text, boost.metrics) == (
        PostKind.REPOST,
        f"112840000000000042@{REMOTE}",
        "",
        None,
    )
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("orderedItems item 7", "Note has no usable id: 'urn:example:not-http' is not an http(s) URI")
    ]
    # the Update activity (item 8) is skipped: not a post, not a fault


@pytest.mark.parametrize(
    "name",
    [
        "mastodon_statuses.json",
        "mastodon_search.json",
        "mastodon_stream.jsonl",
        "mastodon_context.json",
        "mastodon_outbox.json",
    ],
)
def test_detected(name):
    assert detect_post_format(FIXTURES / name) == "mastodon"


# --- HTML to text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<p>a<br>b<br/>c</p>", "a\nb\nc"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<p>x &lt;script&gt; &amp;amp; &#39;y&#39;</p>", "x <script> &amp; 'y'"),
        ("<p>shown</p><script>alert(1)</script><style>p{}</style><p>too</p>", "shown\n\ntoo"),
        # a missing end tag inside the hidden fallback does not hide the rest of the post
        ('<p class="quote-inline">RE: <a href="https://x.example/1">link</p><p>kept</p>', "kept"),
        ("<p>  spaced \n\t out  </p>", "spaced out"),
        ("plain text, no tags", "plain text, no tags"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text
