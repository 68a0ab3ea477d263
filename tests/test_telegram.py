"""Telegram reader on hand-made fixtures written from tdesktop's JSON writer and Telethon's
``Message.to_dict()`` (tests/fixtures/posts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_reader, write_file

from claimwatch.records import Parsed, Post, PostKind, Rejected
from claimwatch.sources import telegram
from claimwatch.sources.base import FormatError
from claimwatch.sources.posts import detect_post_format

FIXTURES = Path(__file__).parent / "fixtures" / "posts"
OBSERVED = datetime(2024, 9, 1, tzinfo=UTC)
CHANNEL = "channel1234567890"


def run(name: str) -> tuple[list[Parsed], list[Rejected]]:
    return run_reader(telegram.read, FIXTURES / name, OBSERVED)


def by_id(parsed: list[Parsed]) -> dict[str, Post]:
    return {p.record.platform_id: p.record for p in parsed}


# --- Desktop export, one chat ---------------------------------------------------------------


def test_desktop_channel_message_fields():
    parsed, _ = run("telegram_desktop_channel.json")
    post = by_id(parsed)[f"{CHANNEL}/4821"]
    assert (post.platform, post.kind, post.url, post.lang) == ("telegram", PostKind.ORIGINAL, None, None)
    # date_unixtime, not the exporter's local "date" (two hours ahead in this export)
    assert post.created_at == datetime(2024, 7, 27, 1, 23, 45, tzinfo=UTC)
    assert post.raw["date"] == "2024-07-27T03:23:45"
    # text array: strings and entity objects joined
    assert post.text == "SYNTHETIC: the ballots were counted twice. Proof share! #election"
    assert post.author is not None
    assert (post.author.platform_id, post.author.name, post.author.handle) == (
        CHANNEL,
        "Example Channel (synthetic)",
        None,
    )
    # reactions: every kind summed into likes; the breakdown stays in raw; no views in Desktop's JSON
    m = post.metrics
    assert (m.likes, m.views, m.reposts, m.replies) == (130, None, None, None)
    assert [r["type"] for r in post.raw["reactions"]] == ["emoji", "custom_emoji", "paid"]
    (photo,) = post.media
    assert (photo.media_key, photo.type, photo.url) == ("photo", "photo", None)  # a local path is no URL
    assert photo.raw["photo"] == "photos/photo_1@27-07-2024_03-23-45.jpg"


def test_desktop_reply_forward_and_media_file():
    posts = by_id(run("telegram_desktop_channel.json")[0])
    reply = posts[f"{CHANNEL}/4822"]
    assert (reply.kind, reply.referenced_id, reply.metrics) == (PostKind.REPLY, f"{CHANNEL}/4821", None)
    (video,) = reply.media
    assert (video.media_key, video.type, video.duration_ms) == ("file", "video_file", 113_000)
    forward = posts[f"{CHANNEL}/4824"]
    assert (forward.kind, forward.referenced_id) == (PostKind.QUOTE, None)  # Desktop names only the source
    assert forward.raw["forwarded_from"] == "Other Channel (synthetic)"


def test_desktop_service_messages_skipped_old_dates_warned_bad_messages_rejected():
    parsed, rejected = run("telegram_desktop_channel.json")
    assert f"{CHANNEL}/4823" not in by_id(parsed)  # the pin: a service message, not quarantined
    old = next(p for p in parsed if p.record.platform_id == f"{CHANNEL}/4825")
    assert old.record.created_at == datetime(2021, 3, 1, 12, tzinfo=UTC)
    assert [w.field for w in old.warnings] == ["date"] and "read as UTC" in old.warnings[0].reason
    bad_reaction = next(p for p in parsed if p.record.platform_id == f"{CHANNEL}/4828")
    assert bad_reaction.record.metrics.likes == 2 and bad_reaction.warnings[0].field == "reaction count"
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("message 6", "message id '4826a' is not a whole number"),
        ("message 7", "message type 'mystery' is neither 'message' nor 'service'"),
        ("message 9", "created_at: unreadable time 'sometime'"),
    ]


def test_desktop_counts_are_read_when_an_export_has_them(tmp_path):
    chat = {
        "name": "c",
        "type": "public_channel",
        "id": 5,
        "messages": [
            {"id": 1, "type": "message", "date_unixtime": "1722043425", "text": "x", "views": 1000, "forwards": 7}
        ],
    }
    parsed, _ = run_reader(telegram.read, write_file(tmp_path, "result.json", json.dumps(chat)), OBSERVED)
    m = parsed[0].record.metrics
    assert (parsed[0].record.platform_id, m.views, m.reposts, m.likes) == ("channel5/1", 1000, 7, None)


def test_desktop_authors_and_reply_peers_must_be_peer_ids(tmp_path):
    messages = [
        {"id": 1, "type": "message", "date_unixtime": "1722043425", "text": "x", "from": "A", "from_id": 12345},
        {
            "id": 2,
            "type": "message",
            "date_unixtime": "1722043425",
            "text": "y",
            "from": "B",
            "from_id": {"user": 1},
            "reply_to_message_id": 1,
            "reply_to_peer_id": "../etc",
        },
    ]
    chat = {"name": "Group (synthetic)", "type": "private_group", "id": 7, "messages": messages}
    parsed, _ = run_reader(telegram.read, write_file(tmp_path, "result.json", json.dumps(chat)), OBSERVED)
    old, odd = (p.record for p in parsed)
    assert old.author.platform_id == "12345"  # an old export's bare number, kept as written
    assert (odd.author.platform_id, odd.author.name) == ("chat7", "Group (synthetic)")
    assert [w.field for w in parsed[1].warnings] == ["from_id"]
    assert odd.referenced_id == "chat7/1"  # an unusable reply peer means this chat


# --- Desktop full export ---------------------------------------------------------------------


def test_desktop_full_export_all_chats_keyed_by_peer_kind():
    parsed, rejected = run("telegram_desktop_full_export.json")
    posts = by_id(parsed)
    assert list(posts) == ["user111/501", "channel2222222222/10", "channel2222222222/11", "channel1111111111/77"]
    group = posts["channel2222222222/10"]  # a supergroup: the author is the member, not the chat
    assert (group.author.platform_id, group.author.name) == ("user111", "Member One (synthetic)")
    assert posts["channel2222222222/11"].referenced_id == "channel2222222222/10"
    assert posts["channel1111111111/77"].source.location == "left_chats chat 1 message 1"
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("chats chat 3 message 1", "the chat's id 'not-a-number' is not a number: its messages cannot be keyed")
    ]


# --- Telethon ------------------------------------------------------------------------------


def test_telethon_channel_post_counts_forward_and_media():
    parsed, _ = run("telegram_telethon.jsonl")
    post = by_id(parsed)[f"{CHANNEL}/4821"]
    assert post.created_at == datetime(2024, 7, 27, 1, 23, 45, tzinfo=UTC)
    assert post.text.startswith("SYNTHETIC SAMPLE channel post")
    m = post.metrics
    assert (m.views, m.reposts, m.replies, m.likes, m.quotes) == (58231, 412, 37, 120, None)
    # a forward has its own views: a quote of the channel post it came from, never a repost
    assert (post.kind, post.referenced_id) == (PostKind.QUOTE, "channel1111111111/77")
    assert post.author.platform_id == CHANNEL  # from_id is null for a channel post: the channel
    (photo,) = post.media
    assert (photo.media_key, photo.type) == ("5555555555555555555", "photo")
    assert post.raw["factcheck"]["text"]["text"].startswith("SYNTHETIC SAMPLE: context added")


def test_telethon_group_messages_replies_documents_and_link_previews():
    posts = by_id(run("telegram_telethon.jsonl")[0])
    group = posts["channel2222222222/10"]
    assert group.author.platform_id == "user111" and group.metrics is None  # no views in groups
    (video,) = group.media
    assert (video.media_key, video.type, video.duration_ms) == ("6666666666666666666", "video", 42_500)
    reply = posts["channel2222222222/11"]
    assert (reply.kind, reply.referenced_id) == (PostKind.REPLY, "channel2222222222/10")
    assert (reply.media[0].type, reply.media[0].url) == ("webpage", "https://example.org/ballots")
    hidden = posts[f"{CHANNEL}/15"]
    assert (hidden.kind, hidden.referenced_id, hidden.metrics.views) == (PostKind.QUOTE, None, 100)


def test_telethon_bad_values_and_lines():
    parsed, rejected = run("telegram_telethon.jsonl")
    odd = next(p for p in parsed if p.record.platform_id == f"{CHANNEL}/14")
    m = odd.record.metrics
    assert (m.views, m.reposts, m.likes) == (None, None, 0)  # reactions with no results: 0, known
    assert sorted(w.field for w in odd.warnings) == ["reposts", "views"]
    assert f"{CHANNEL}/4823" not in by_id(parsed)  # MessageService skipped
    assert [(r.source.location, r.reason.split(" (")[0]) for r in rejected] == [
        ("line 5", "peer_id None names no user, chat or channel"),
        ("line 6", "created_at: unreadable time 'the 28th'"),
        ("line 9", "not valid JSON: Expecting ',' delimiter"),
    ]


def test_telethon_array_reads_like_lines():
    assert set(by_id(run("telegram_telethon_array.json")[0])) == {f"{CHANNEL}/4821", "channel2222222222/10"}


def test_a_file_of_service_messages_only_says_so(tmp_path):
    lines = [
        json.dumps({"_": "MessageService", "id": i, "peer_id": {"_": "PeerChannel", "channel_id": 1}}) for i in range(2)
    ]
    path = write_file(tmp_path, "service.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="only records that are not posts: 2 Telethon service messages"):
        run_reader(telegram.read, path, OBSERVED)


@pytest.mark.parametrize(
    "name",
    [
        "telegram_desktop_channel.json",
        "telegram_desktop_full_export.json",
        "telegram_telethon.jsonl",
        "telegram_telethon_array.json",
    ],
)
def test_detected(name):
    assert detect_post_format(FIXTURES / name) == "telegram"


def test_message_id_needs_a_whole_number():
    assert telegram.message_id("chat5", "12") == "chat5/12"
    for bad in (True, 1.5, "1e3", None, "-"):
        with pytest.raises(ValueError):
            telegram.message_id("chat5", bad)
