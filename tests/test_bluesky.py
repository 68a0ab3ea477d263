"""Bluesky reader on hand-made fixtures written from the app.bsky / Jetstream specs (tests/fixtures/posts)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_reader, write_file

from claimwatch.records import Parsed, Post, PostKind, Rejected
from claimwatch.sources import bluesky
from claimwatch.sources.base import FormatError
from claimwatch.sources.posts import detect_post_format

FIXTURES = Path(__file__).parent / "fixtures" / "posts"
OBSERVED = datetime(2024, 9, 1, tzinfo=UTC)

ALICE = "did:plc:aaaaexampleaaaaexample01"
BOB = "did:plc:bbbbexamplebbbbexample02"
CAROL = "did:plc:cccceexamplecccexample03"
ORIGINAL = f"{ALICE}/post/3kaaaoriginal1"
BOB_ORIGINAL = f"{BOB}/post/3kbbboriginal2"
IMAGE_CID = "bafkreiimageexampleimageexampleimageexampleimageexample1"
VIDEO_CID = "bafkreivideoexamplevideoexamplevideoexamplevideoexample2"


def run(name: str) -> tuple[list[Parsed], list[Rejected]]:
    return run_reader(bluesky.read, FIXTURES / name, OBSERVED)


def by_id(parsed: list[Parsed]) -> dict[str, Post]:
    """Posts by id; a post seen twice (context in one item, collected in another) keeps the collected copy."""
    out: dict[str, Post] = {}
    for p in parsed:
        if p.record.platform_id not in out or p.record.collected:
            out[p.record.platform_id] = p.record
    return out


def warnings_of(parsed: list[Parsed], post_id: str) -> list[str]:
    return [f"{w.field}: {w.reason}" for p in parsed if p.record.platform_id == post_id for w in p.warnings]


def expected_repost_id(reposter: str, original: str) -> str:
    return f"{reposter}/repost/{hashlib.sha256(original.encode()).hexdigest()[:16]}"


# --- ids -------------------------------------------------------------------------------


def test_post_id_is_the_at_uri_short_form_and_refuses_other_uris():
    assert bluesky.post_id(f"at://{ALICE}/app.bsky.feed.post/3kaaaoriginal1") == (ORIGINAL, ALICE, "3kaaaoriginal1")
    for bad in (
        f"at://{ALICE}/app.bsky.feed.like/3k",
        "at://alice.example.com/app.bsky.feed.post/3k",
        f"https://bsky.app/profile/{ALICE}/post/3k",
        f"at://{ALICE}/app.bsky.feed.post",
        None,
        42,
        f"at://{ALICE}/app.bsky.feed.post/{{'rkey': 1}}",
        "at://None/app.bsky.feed.post/3k",
        f"at://{ALICE}/app.bsky.feed.post/3k/extra",
    ):
        with pytest.raises(ValueError):
            bluesky.post_id(bad)
    assert len(expected_repost_id(ALICE, ORIGINAL)) <= 64 and len(ORIGINAL) <= 64  # fit the store's id column


# --- getAuthorFeed ----------------------------------------------------------------------


def test_feed_original_post_fields_counts_media_and_raw():
    parsed, _ = run("bluesky_getAuthorFeed.json")
    post = by_id(parsed)[ORIGINAL]
    assert (post.platform, post.kind, post.collected) == ("bluesky", PostKind.ORIGINAL, True)
    assert post.url == f"https://bsky.app/profile/{ALICE}/post/3kaaaoriginal1"
    assert post.created_at == datetime(2024, 7, 27, 1, 23, 45, 678000, tzinfo=UTC)  # record.createdAt
    assert post.text.startswith("SYNTHETIC: the ballots were counted twice — see example.org/ballots")
    assert post.lang == "en"  # first of langs ["en", "de"]
    assert post.author is not None
    assert (post.author.platform_id, post.author.handle, post.author.name) == (
        ALICE,
        "alice.example.com",
        "Alice Example (synthetic)",
    )
    m = post.metrics
    assert m is not None and m.observed_at == OBSERVED
    assert (m.likes, m.reposts, m.replies, m.quotes, m.bookmarks) == (1520, 340, 12, 25, 8)
    assert m.views is None  # Bluesky has no view count: unknown, never 0
    (image,) = post.media
    assert (image.media_key, image.type) == (IMAGE_CID, "image")
    assert image.url.endswith(f"feed_fullsize/plain/{ALICE}/{IMAGE_CID}@jpeg")
    assert image.preview_url.endswith(f"feed_thumbnail/plain/{ALICE}/{IMAGE_CID}@jpeg")
    assert image.raw["alt"] == "SYNTHETIC ballot photo"
    # labels, self-labels, facets and the server time are kept in raw
    assert post.raw["labels"][0]["val"] == "!warn"
    assert post.raw["record"]["labels"]["values"] == [{"val": "graphic-media"}]
    assert post.raw["record"]["facets"][0]["features"][0]["uri"] == "https://example.org/ballots"
    assert post.raw["indexedAt"] == "2024-07-27T01:23:46.101Z"


def test_feed_repost_is_its_own_row_without_metrics_and_the_original_is_context():
    parsed, _ = run("bluesky_getAuthorFeed.json")
    posts = by_id(parsed)
    repost = posts[expected_repost_id(ALICE, BOB_ORIGINAL)]
    assert (repost.kind, repost.referenced_id, repost.collected) == (PostKind.REPOST, BOB_ORIGINAL, True)
    assert repost.metrics is None and repost.media == [] and repost.url is None
    assert repost.author.platform_id == ALICE and repost.author.handle == "alice.example.com"
    assert repost.created_at == datetime(2024, 7, 27, 2, tzinfo=UTC)  # reason.indexedAt
    assert repost.text == "SYNTHETIC: an original post by Bob that Alice reposted."
    original = posts[BOB_ORIGINAL]
    assert original.collected is False and original.author.handle == "bob.bsky.social"
    assert (original.metrics.likes, original.metrics.reposts) == (410, 90)
    # the older AppView's reasonRepost has no uri: still keyed by reposter and post; its
    # reposter's unverifiable handle is not stored as a handle
    old = posts[expected_repost_id(CAROL, BOB_ORIGINAL)]
    assert old.kind is PostKind.REPOST and old.author.handle is None
    assert old.author.name == "Carol Unverified (synthetic)"


def test_repost_id_does_not_depend_on_reason_uri(tmp_path):
    feed = json.loads((FIXTURES / "bluesky_getAuthorFeed.json").read_text())
    item = feed["feed"][1]
    del item["reason"]["uri"], item["reason"]["cid"]
    parsed, _ = run_reader(bluesky.read, write_file(tmp_path, "feed.json", json.dumps({"feed": [item]})), OBSERVED)
    assert expected_repost_id(ALICE, BOB_ORIGINAL) in by_id(parsed)


def test_feed_reply_and_its_context():
    parsed, _ = run("bluesky_getAuthorFeed.json")
    posts = by_id(parsed)
    reply = posts[f"{ALICE}/post/3kaaareply0005"]
    assert (reply.kind, reply.referenced_id) == (PostKind.REPLY, f"{BOB}/post/3kbbbparent004")
    parent, root = posts[f"{BOB}/post/3kbbbparent004"], posts[f"{BOB}/post/3kbbbroot00003"]
    assert not parent.collected and not root.collected
    assert (parent.kind, parent.referenced_id) == (PostKind.REPLY, f"{BOB}/post/3kbbbroot00003")
    assert parent.metrics.likes == 20 and root.metrics.replies == 7
    assert parent.source.location == "feed item 3 reply.parent"


def test_feed_quote_with_video_and_the_quoted_post_as_context():
    parsed, _ = run("bluesky_getAuthorFeed.json")
    posts = by_id(parsed)
    quote = posts[f"{ALICE}/post/3kaaaquote0006"]
    assert (quote.kind, quote.referenced_id) == (PostKind.QUOTE, f"{CAROL}/post/3kcccquoted007")
    (video,) = quote.media
    assert (video.media_key, video.type) == (VIDEO_CID, "video")
    assert video.url.endswith("playlist.m3u8") and video.preview_url.endswith("thumbnail.jpg")
    quoted = posts[f"{CAROL}/post/3kcccquoted007"]
    assert quoted.collected is False and quoted.text == "SYNTHETIC: Carol's post that Alice quotes."
    assert (quoted.metrics.likes, quoted.metrics.quotes) == (90, 1)
    assert quoted.source.location == "feed item 4 quoted post"


def test_feed_pinned_post_with_link_card():
    parsed, _ = run("bluesky_getAuthorFeed.json")
    pinned = by_id(parsed)[f"{ALICE}/post/3kaaapinned008"]
    assert pinned.kind is PostKind.ORIGINAL and pinned.collected  # reasonPin is no repost
    (card,) = pinned.media
    assert (card.type, card.url) == ("external", "https://example.org/article")
    assert card.media_key == "bafkreithumbexamplethumbexamplethumbexamplethumbexample3"
    assert card.preview_url.startswith("https://cdn.bsky.app/img/feed_thumbnail/")


def test_feed_created_at_falls_back_to_the_server_time_with_a_warning():
    parsed, _ = run("bluesky_getAuthorFeed.json")
    posts = by_id(parsed)
    future = f"{ALICE}/post/3kaaafuture009"
    assert posts[future].created_at == datetime(2024, 7, 28, tzinfo=UTC)  # indexedAt, not 2030
    assert warnings_of(parsed, future) == [
        "createdAt: after the server's time 2024-07-28T00:00:00+00:00; the server's time is used"
    ]
    unreadable = f"{ALICE}/post/3kaaabadtime11"
    assert posts[unreadable].created_at == datetime(2024, 7, 28, 4, tzinfo=UTC)
    assert warnings_of(parsed, unreadable) == ["createdAt: missing or unreadable; the server's time is used"]


def test_feed_bad_count_is_unknown_and_bad_items_are_rejected_with_their_location():
    parsed, rejected = run("bluesky_getAuthorFeed.json")
    bad_count = f"{CAROL}/post/3kcccbadcount0"
    m = by_id(parsed)[bad_count].metrics
    assert (m.likes, m.reposts) == (None, 3)
    assert warnings_of(parsed, bad_count) == ["likes: abbreviated number (e.g. '1.2M') is not exact; stored as unknown"]
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("feed item 8", "post has no record object"),
        ("feed item 9", "'https://bsky.app/profile/alice.example.com/post/3kaaabaduri010' is not an AT URI"),
        ("feed item 10", "JSON string where an object was expected"),
    ]
    assert all(r.source.format == "bluesky" for r in rejected)
    assert json.loads(rejected[0].raw)["uri"].endswith("3kaaanorecord0")


# --- searchPosts pages per line, a postView alone -------------------------------------------


def test_search_pages_per_line():
    parsed, rejected = run("bluesky_searchPosts.jsonl")
    posts = by_id(parsed)
    assert set(posts) == {ORIGINAL, f"{BOB}/post/3kbbblistemb12", f"{CAROL}/post/3kcccnocreat14", BOB_ORIGINAL}
    assert all(p.collected for p in posts.values())
    assert posts[ORIGINAL].source.location == "line 1 posts item 1"
    assert posts[BOB_ORIGINAL].source.location == "line 4"  # a postView alone on its line
    # embedding a moderation list is no quote
    assert posts[f"{BOB}/post/3kbbblistemb12"].kind is PostKind.ORIGINAL
    no_created = posts[f"{CAROL}/post/3kcccnocreat14"]
    assert no_created.created_at == datetime(2024, 7, 29, 11, tzinfo=UTC) and no_created.lang == "fr"
    assert [(r.source.location, r.reason.split(":")[0]) for r in rejected] == [("line 2", "not valid JSON")]


# --- getPostThread --------------------------------------------------------------------------


def test_thread_anchor_and_replies_collected_parents_context():
    parsed, rejected = run("bluesky_getPostThread.json")
    assert rejected == []
    got = {p.record.platform_id: (p.record.collected, p.record.source.location) for p in parsed}
    assert got == {
        f"{BOB}/post/3kbbbroot00003": (False, "thread parent 1"),
        f"{BOB}/post/3kbbbparent004": (True, "thread"),
        f"{ALICE}/post/3kaaathreadr15": (True, "thread reply 1"),
        f"{CAROL}/post/3kcccthreadr16": (True, "thread reply 2"),
        f"{CAROL}/post/3kcccthreadr17": (True, "thread reply 3"),
    }  # the blocked grandparent and the deleted (notFound) reply have no post to store


# --- Jetstream --------------------------------------------------------------------------


def test_jetstream_v1_v2_and_early_spelling():
    parsed, rejected = run("bluesky_jetstream.jsonl")
    posts = [p.record for p in parsed]
    assert [p.platform_id for p in posts] == [
        f"{ALICE}/post/3kjetpost00020",
        expected_repost_id(CAROL, BOB_ORIGINAL),
        f"{CAROL}/post/3mwjetv2quot23",
        f"{BOB}/post/3koldspell0024",
        f"{ALICE}/post/3kjetpost00020",
    ]
    first, repost, v2, old, update = posts
    assert (first.kind, first.referenced_id) == (PostKind.REPLY, f"{BOB}/post/3kbbbparent004")
    assert first.author.platform_id == ALICE and first.author.handle is None  # events carry only the DID
    assert (repost.kind, repost.referenced_id, repost.author.platform_id) == (PostKind.REPOST, BOB_ORIGINAL, CAROL)
    assert (v2.kind, v2.referenced_id) == (PostKind.QUOTE, ORIGINAL)
    assert v2.created_at == datetime(2026, 9, 22, 16, 25, 41, tzinfo=UTC)
    assert old.text == "SYNTHETIC: early 2024 Jetstream spelling."
    assert update.text.endswith("(edited by a third-party client).")
    assert all(p.metrics is None for p in posts)  # events carry no counts: no snapshot at all
    assert [r.source.location for r in rejected] == ["line 4", "line 10"]
    assert rejected[1].reason == "post has no record object"


def test_jetstream_file_of_likes_only_says_what_it_held():
    with pytest.raises(FormatError, match="no posts in the file.*3 Jetstream app.bsky.feed.like events"):
        run("bluesky_jetstream_likes.jsonl")


# --- records ----------------------------------------------------------------------------


def test_list_records_posts_reposts_and_legacy_blobs():
    parsed, rejected = run("bluesky_listRecords.json")
    posts = by_id(parsed)
    first = posts[f"{ALICE}/post/3kaaarecord026"]
    assert first.media[0].media_key == "bafkreilegacyblobcid"  # a legacy blob's "cid"
    assert first.media[0].url is None  # a record gives no CDN URL, and none is invented
    assert posts[f"{ALICE}/post/3kaaarecord027"].referenced_id == f"{BOB}/post/3kbbbroot00003"
    repost = posts[expected_repost_id(ALICE, BOB_ORIGINAL)]
    assert repost.created_at == datetime(2024, 7, 27, 2, tzinfo=UTC) and repost.text == ""
    assert [r.source.location for r in rejected] == ["records item 4"]
    assert "is not the AT URI of a post" in rejected[0].reason


def test_bare_record_is_rejected_naming_what_to_export():
    parsed, rejected = run("bluesky_post_record.json")
    assert parsed == []
    (r,) = rejected
    assert r.source.location == "document" and "no AT URI" in r.reason and "listRecords" in r.reason


# --- detection and other formats ------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "bluesky_getAuthorFeed.json",
        "bluesky_searchPosts.jsonl",
        "bluesky_getPostThread.json",
        "bluesky_jetstream.jsonl",
        "bluesky_jetstream_likes.jsonl",
        "bluesky_listRecords.json",
        "bluesky_post_record.json",
    ],
)
def test_detected(name):
    assert detect_post_format(FIXTURES / name) == "bluesky"


def test_post_text_quoting_bluesky_keys_does_not_fool_detection(tmp_path):
    line = json.dumps({"id": "1", "text": 'a post quoting {"$type": "app.bsky.feed.post", "time_us": 5}'})
    assert detect_post_format(write_file(tmp_path, "posts.jsonl", line + "\n" + line + "\n")) == "jsonl"


def test_an_x_file_read_as_bluesky_is_refused_whole():
    with pytest.raises(FormatError, match="line 1: not a Bluesky feed page"):
        run_reader(bluesky.read, FIXTURES / "twarc2_search.jsonl", OBSERVED)


def test_unknown_objects_after_the_first_are_rejected_alone(tmp_path):
    view = json.loads((FIXTURES / "bluesky_searchPosts.jsonl").read_text().splitlines()[3])
    path = write_file(tmp_path, "mixed.jsonl", json.dumps(view) + "\n" + json.dumps({"id": "1", "text": "x"}) + "\n")
    parsed, rejected = run_reader(bluesky.read, path, OBSERVED)
    assert len(parsed) == 1
    assert rejected[0].source.location == "line 2" and rejected[0].reason.startswith("not a Bluesky feed page")


def test_records_that_are_not_posts_are_counted_in_the_ingest_summary(ws) -> None:
    report = ws.ingest_posts([FIXTURES / "bluesky_jetstream.jsonl"], observed_at=OBSERVED)
    [note] = [n for n in report.files[0].notes if n.startswith("skipped records that are not posts")]
    assert "2 Jetstream identity/account events" in note and "1 Jetstream deletions" in note
    assert report.files[0].fallback_snapshots == 0  # Jetstream carries no counts: nothing dated by the file
