"""Post readers on small fixtures derived from ../shared/formats (see tests/fixtures/posts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Reader, run_reader, write_file

from claimwatch.records import Parsed, Post, PostKind, Rejected
from claimwatch.sources import generic, twarc, x_v2
from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.posts import POST_FORMATS, detect_post_format

FIXTURES = Path(__file__).parent / "fixtures" / "posts"
CTX_OBSERVED = datetime(2024, 9, 1, tzinfo=UTC)
TWARC_RETRIEVED = datetime(2024, 8, 1, 12, tzinfo=UTC)

LONG_POST = "1816000000000000001"
REPOST = "1816000000000000002"
QUOTED_ORIGINAL = "1815999999999999999"
REPOSTED_ORIGINAL = "1815888888888888888"


def run(reader: Reader, path: Path, **ctx_args) -> tuple[list[Parsed], list[Rejected]]:
    return run_reader(reader, path, CTX_OBSERVED, **ctx_args)


def posts_by_id(parsed: list[Parsed]) -> dict[str, Post]:
    return {p.record.platform_id: p.record for p in parsed}


# --- X API v2 -------------------------------------------------------------------------


def test_x_v2_page_kinds_text_authors_and_urls():
    parsed, rejected = run(x_v2.read, FIXTURES / "x_v2_page.json")
    assert rejected == []
    posts = posts_by_id(parsed)
    long_post = posts[LONG_POST]
    assert long_post.text.endswith("et dolore magna aliqua. See https://example.org/article")  # note_tweet
    assert (long_post.kind, long_post.referenced_id) == (PostKind.QUOTE, QUOTED_ORIGINAL)
    assert (posts[REPOST].kind, posts[REPOST].referenced_id) == (PostKind.REPOST, REPOSTED_ORIGINAL)
    reply = posts["1816000000000000003"]
    assert (reply.kind, reply.referenced_id) == (PostKind.REPLY, LONG_POST)
    assert long_post.author is not None
    assert (long_post.author.platform_id, long_post.author.handle, long_post.author.followers) == (
        "123456789",
        "example_account",
        193_000_000,
    )
    assert long_post.author.raw["verified_type"] == "blue"
    assert long_post.url == "https://x.com/example_account/status/1816000000000000001"
    assert long_post.created_at == datetime(2024, 7, 27, 1, 23, 45, tzinfo=UTC)
    assert long_post.platform == "x" and long_post.lang == "en"
    assert long_post.raw["edit_history_tweet_ids"] == [LONG_POST]
    assert long_post.source.location == "item 1" and long_post.source.format == "x-v2"


def test_x_v2_media_joined_from_includes():
    parsed, _ = run(x_v2.read, FIXTURES / "x_v2_page.json")
    (media,) = posts_by_id(parsed)[LONG_POST].media
    assert media.media_key == "13_1816000000000000100"
    assert media.type == "video"
    # a video's url is its MP4 variant (not the HLS playlist), the thumbnail its preview
    assert media.url == "https://video.twimg.com/amplify_video/1816000000000000100/vid/avc1/1280x720/example.mp4"
    assert media.preview_url == "https://pbs.twimg.com/amplify_video_thumb/1816000000000000100/img/example.jpg"
    assert (media.duration_ms, media.view_count) == (113_000, 98_000_000)
    assert len(media.raw["variants"]) == 2


def test_x_v2_metrics_take_views_from_impression_count():
    parsed, _ = run(x_v2.read, FIXTURES / "x_v2_page.json")
    metrics = posts_by_id(parsed)[LONG_POST].metrics
    assert metrics is not None
    assert metrics.observed_at == CTX_OBSERVED
    assert (metrics.views, metrics.reposts, metrics.quotes, metrics.replies, metrics.likes, metrics.bookmarks) == (
        136_600_000,
        238_000,
        15_000,
        41_000,
        924_000,
        52_000,
    )


def test_x_v2_repost_has_no_metrics():
    parsed, _ = run(x_v2.read, FIXTURES / "x_v2_page.json")
    assert posts_by_id(parsed)[REPOST].metrics is None


def test_x_v2_included_posts_are_context_with_own_metrics():
    parsed, _ = run(x_v2.read, FIXTURES / "x_v2_page.json")
    context = {p.record.platform_id: p.record for p in parsed if not p.record.collected}
    assert set(context) == {QUOTED_ORIGINAL, REPOSTED_ORIGINAL}
    original = context[REPOSTED_ORIGINAL]
    assert original.metrics.views == 3_400_000
    assert original.author.handle == "other_account"
    assert original.source.location == "includes.tweets item 2"
    assert all(p.record.collected for p in parsed if p.record.platform_id.startswith("18160"))


def test_x_v2_newer_post_spelling():
    parsed, rejected = run(x_v2.read, FIXTURES / "x_v2_post_names.json")
    assert rejected == []
    posts = posts_by_id(parsed)
    post = posts[LONG_POST]
    assert post.text == "SYNTHETIC SAMPLE full long text"  # note_post
    assert (post.kind, post.referenced_id) == (PostKind.QUOTE, QUOTED_ORIGINAL)  # referenced_posts
    assert post.metrics.reposts == 238_000  # repost_count
    assert post.author.handle == "example_account"
    assert [m.media_key for m in post.media] == ["13_1816000000000000100"]  # media not in includes: key only
    assert (posts[REPOST].kind, posts[REPOST].referenced_id, posts[REPOST].metrics) == (
        PostKind.REPOST,
        REPOSTED_ORIGINAL,
        None,
    )


def test_x_v2_bad_items_rejected_others_land_with_warnings():
    parsed, rejected = run(x_v2.read, FIXTURES / "x_v2_bad_items.json")
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("item 1", "id is missing"),
        ("item 2", "created_at: unreadable time 'sometime last week'"),
    ]
    assert json.loads(rejected[1].raw)["id"] == "1816000000000000102"
    posts = {p.record.platform_id: p for p in parsed}
    null_metrics = posts["1816000000000000103"]
    assert null_metrics.record.metrics is None and null_metrics.warnings == []
    abbreviated = posts["1816000000000000104"]
    assert abbreviated.record.metrics.views is None
    assert abbreviated.record.metrics.likes is None
    assert abbreviated.record.metrics.reposts == 2
    assert {(w.field, w.value) for w in abbreviated.warnings} == {("views", "1.2M"), ("likes", -5)}


@pytest.mark.parametrize(
    ("page", "reasons"),
    [
        ({"meta": {"result_count": 0}}, []),
        ({"errors": [{"title": "Not Found Error"}]}, []),
        ({"includes": {}, "meta": {"result_count": 3}}, ["page has no 'data' array"]),
    ],
)
def test_x_v2_page_without_data(page, reasons):
    results = list(x_v2.read_page(page, "archive.jsonl", "line 9", ReadContext(observed_at=CTX_OBSERVED), CTX_OBSERVED))
    assert [(r.source.location, r.reason) for r in results] == [("line 9", reason) for reason in reasons]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"id": "1", "colour": "red"}',
            "not an X API v2 page: top-level keys are 'colour', 'id', expected some of data",
        ),
        ("[1, 2]", "top-level JSON array instead of an object"),
        ('{"errors": [{"title": "Not Found"}]}', 'an X API error response with no data: [{"title": "Not Found"}]'),
        ("not json", "not valid JSON"),
        ('{"data": [{"id": "1", "text": "caf\xe9"}]}'.encode("latin-1"), "not UTF-8 (byte 0xe9"),
    ],
)
def test_x_v2_not_a_page_is_a_format_error(tmp_path, content, message):
    with pytest.raises(FormatError, match=message.replace("[", r"\[").replace("(", r"\(")):
        list(x_v2.read(write_file(tmp_path, "page.json", content), ReadContext(observed_at=CTX_OBSERVED)))


# --- twarc2 JSONL ---------------------------------------------------------------------


def test_twarc2_observed_at_from_envelope_else_context():
    parsed, rejected = run(twarc.read_jsonl, FIXTURES / "twarc2_search.jsonl")
    assert rejected == []
    posts = posts_by_id(parsed)
    assert posts[LONG_POST].metrics.observed_at == TWARC_RETRIEVED
    assert posts[QUOTED_ORIGINAL].metrics.observed_at == TWARC_RETRIEVED
    assert posts["1816000000000000110"].metrics.observed_at == CTX_OBSERVED  # line without __twarc
    assert posts[LONG_POST].source.location == "line 1 item 1"
    assert posts[LONG_POST].source.format == "twarc2"
    assert posts[REPOST].metrics is None
    assert posts[REPOSTED_ORIGINAL].collected is False


def test_twarc2_bad_lines_rejected_with_line_numbers():
    parsed, rejected = run(twarc.read_jsonl, FIXTURES / "twarc2_bad.jsonl")
    assert [r.source.location for r in rejected] == ["line 2", "line 3", "line 5"]
    assert rejected[0].reason.startswith("not valid JSON")
    assert rejected[1].reason == "page has no 'data' array"
    assert rejected[2].reason.startswith("not valid UTF-8 (byte 0xe9")
    # line 4 is an empty result page: nothing read, nothing rejected
    assert [(p.record.platform_id, p.record.source.location) for p in parsed] == [
        ("1816000000000000120", "line 1 item 1"),
        ("1816000000000000121", "line 6 item 1"),
    ]
    assert parsed[0].record.metrics.observed_at == datetime(2024, 8, 2, 9, 30, tzinfo=UTC)


def test_twarc2_single_post_lines_flattened_and_v1():
    parsed, rejected = run(twarc.read_jsonl, FIXTURES / "twarc2_flattened.jsonl")
    assert rejected == []
    flat, v1 = (p.record for p in parsed)
    assert flat.author.handle == "example_account" and flat.author.followers == 193_000_000
    assert [(m.media_key, m.type, m.url) for m in flat.media] == [
        ("3_1816000000000000300", "photo", "https://pbs.twimg.com/media/example.jpg")
    ]
    assert flat.metrics.observed_at == datetime(2024, 8, 2, 9, 30, tzinfo=UTC)
    assert flat.source.location == "line 1"
    assert (v1.platform_id, v1.kind, v1.referenced_id, v1.metrics) == (
        "1816000000000000031",
        PostKind.REPOST,
        REPOSTED_ORIGINAL,
        None,
    )
    assert v1.author.handle == "example_account"
    assert v1.created_at == datetime(2024, 7, 27, 4, tzinfo=UTC)


# --- twarc-csv ------------------------------------------------------------------------


def test_twarc_csv_real_sample():
    parsed, rejected = run(twarc.read_csv, FIXTURES / "twarc_csv_flattened.csv")
    assert rejected == []
    post = posts_by_id(parsed)[LONG_POST]
    assert post.text.endswith("See https://example.org/article")  # note_tweet.text column
    assert (post.kind, post.referenced_id) == (PostKind.QUOTE, QUOTED_ORIGINAL)
    assert (post.author.platform_id, post.author.handle, post.author.followers) == (
        "123456789",
        "example_account",
        193_000_000,
    )
    assert post.metrics.observed_at == TWARC_RETRIEVED
    assert (post.metrics.views, post.metrics.reposts, post.metrics.likes) == (136_600_000, 238_000, 924_000)
    (media,) = post.media
    assert (media.media_key, media.type, media.view_count) == ("13_1816000000000000100", "video", 98_000_000)
    assert post.raw["author.public_metrics.like_count"] == "120000"  # extra column kept
    assert post.source.location == "line 2" and post.source.format == "twarc-csv"


def test_twarc_csv_repost_row_drops_copied_metrics():
    parsed, _ = run(twarc.read_csv, FIXTURES / "twarc_csv_flattened.csv")
    repost = posts_by_id(parsed)[REPOST]
    assert repost.raw["public_metrics.impression_count"] == "3400000"  # the original's, copied by twarc-csv
    assert (repost.kind, repost.referenced_id) == (PostKind.REPOST, REPOSTED_ORIGINAL)
    assert repost.metrics is None
    assert repost.text == "SYNTHETIC SAMPLE: the reposted original."


def test_twarc_csv_bad_rows():
    parsed, rejected = run(twarc.read_csv, FIXTURES / "twarc_csv_bad.csv")
    assert [r.source.location for r in rejected] == ["line 2", "line 3", "line 4"]
    assert "scientific notation" in rejected[0].reason
    assert rejected[1].reason.startswith("not valid UTF-8")
    assert rejected[2].reason == "88 fields but the header has 87"
    posts = {p.record.platform_id: p for p in parsed}
    assert set(posts) == {"1816000000000000043", "1816000000000000044"}
    abbreviated = posts["1816000000000000043"]
    assert abbreviated.record.metrics.views is None and abbreviated.record.metrics.reposts == 1
    assert {(w.field, w.value) for w in abbreviated.warnings} == {("views", "1.2M"), ("likes", "-5")}
    assert posts["1816000000000000044"].record.metrics.views == 700


def test_twarc_csv_without_id_column_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="not a twarc-csv file: no 'id' column"):
        list(twarc.read_csv(write_file(tmp_path, "t.csv", "tweet,text\n1,a\n"), ReadContext(observed_at=CTX_OBSERVED)))


# --- generic CSV / JSONL --------------------------------------------------------------


def test_generic_csv_aliases_media_and_unknown_columns():
    parsed, _ = run(generic.read_csv, FIXTURES / "generic_posts.csv")
    post = posts_by_id(parsed)["1816000000000000051"]
    assert (post.author.platform_id, post.author.handle) == ("@example_account", "example_account")
    assert post.created_at == datetime(2024, 7, 27, 1, 23, 45, tzinfo=UTC)
    assert post.text == "SYNTHETIC original with photos"
    assert [(m.media_key, m.type) for m in post.media] == [("3_51a", "photo"), ("3_51b", "photo")]
    assert (post.metrics.views, post.metrics.reposts, post.metrics.likes, post.metrics.replies) == (5000, 10, 20, 3)
    assert post.metrics.observed_at == CTX_OBSERVED
    assert post.raw["topic"] == "elections"  # unknown column kept
    assert post.url == "https://x.com/example_account/status/1816000000000000051"
    assert post.source.location == "line 2"


def test_generic_csv_kinds_and_repost_metrics():
    posts = posts_by_id(run(generic.read_csv, FIXTURES / "generic_posts.csv")[0])
    repost = posts["1816000000000000052"]
    assert (repost.kind, repost.referenced_id, repost.metrics) == (PostKind.REPOST, "1816000000000000051", None)
    assert repost.author.handle == "example_account"  # "@" stripped
    assert posts["1816000000000000053"].kind is PostKind.QUOTE
    assert posts["1816000000000000055"].kind is PostKind.REPLY


def test_generic_csv_bad_values_and_rows():
    parsed, rejected = run(generic.read_csv, FIXTURES / "generic_posts.csv")
    results = {p.record.platform_id: p for p in parsed}
    abbreviated = results["1816000000000000053"]
    assert abbreviated.record.metrics is None  # 1.2M was the only counter
    assert [(w.field, w.value) for w in abbreviated.warnings] == [("views", "1.2M")]
    assert results["1816000000000000054"].record.metrics is None and results["1816000000000000054"].warnings == []
    negative = results["1816000000000000055"]
    assert negative.record.metrics.reposts is None and negative.record.metrics.views == 100
    assert [(w.field, w.reason) for w in negative.warnings] == [("reposts", "negative count; stored as unknown")]
    assert [(r.source.location, r.reason.split(" ")[0]) for r in rejected] == [
        ("line 7", "id"),
        ("line 8", "14"),
        ("line 9", "not"),
        ("line 10", "kind"),
    ]
    assert "scientific notation" in rejected[0].reason
    assert rejected[1].reason == "14 fields but the header has 13"
    assert "UTF-8" in rejected[2].reason
    assert rejected[3].reason.startswith("kind 'thread' is not one of")


def test_generic_csv_column_map_beats_aliases(tmp_path):
    path = write_file(
        tmp_path, "p.csv", "id,Status,Who,Seen,Shown\n7,1816000000000000071,someone,2024-08-05T00:00:00Z,55\n"
    )
    parsed, rejected = run(
        generic.read_csv,
        path,
        platform="bluesky",
        column_map={"id": "status", "author_handle": "Who", "observed_at": "Seen", "views": "Shown"},
    )
    assert rejected == []
    (post,) = (p.record for p in parsed)
    assert post.platform_id == "1816000000000000071"
    assert post.platform == post.author.platform == "bluesky"
    assert post.url is None  # no URL pattern for other platforms
    assert post.metrics.views == 55
    assert post.metrics.observed_at == datetime(2024, 8, 5, tzinfo=UTC)  # per-row observed_at wins


def test_generic_tsv(tmp_path):
    path = write_file(tmp_path, "p.tsv", "post_id\ttext\tlikes\n1816000000000000081\thello, world\t4\n")
    (post,) = (p.record for p in run(generic.read_csv, path)[0])
    assert (post.platform_id, post.text, post.metrics.likes) == ("1816000000000000081", "hello, world", 4)


@pytest.mark.parametrize(
    ("content", "column_map", "message"),
    [
        ("post,text\n1,a\n", {}, "no id column among 'post', 'text'; name the post id column with --map id=COLUMN"),
        ("post,text\n1,a\n", {"id": "missing"}, r"--map id=missing: no such column"),
        ("id,text\n1,a\n", {"colour": "text"}, r"unknown field\(s\) \['colour'\]"),
        ("", {}, "no header row"),
    ],
)
def test_generic_csv_format_errors(tmp_path, content, column_map, message):
    ctx = ReadContext(observed_at=CTX_OBSERVED, column_map=column_map)
    with pytest.raises(FormatError, match=message):
        list(generic.read_csv(write_file(tmp_path, "p.csv", content), ctx))


def test_generic_jsonl_dotted_paths_and_bad_lines():
    column_map = {
        "id": "post.id",
        "text": "post.body",
        "author_handle": "who.handle",
        "created_at": "when",
        "views": "public_metrics.impression_count",
        "likes": "public_metrics.like_count",
    }
    parsed, rejected = run(generic.read_jsonl, FIXTURES / "generic_posts.jsonl", column_map=column_map)
    assert [r.source.location for r in rejected] == ["line 2", "line 3"]
    assert rejected[0].reason.startswith("not valid JSON") and rejected[1].reason.startswith("not valid UTF-8")
    nested, repost = (p.record for p in parsed)
    assert (nested.platform_id, nested.text, nested.author.handle) == (
        "1816000000000000061",
        "SYNTHETIC nested",
        "example_account",
    )
    assert (nested.metrics.views, nested.metrics.likes) == (4200, 12)
    assert nested.raw["source_app"] == "web"
    assert (repost.platform_id, repost.kind, repost.metrics) == ("1816000000000000064", PostKind.REPOST, None)


def test_generic_jsonl_without_id_is_a_format_error():
    with pytest.raises(FormatError, match=r"line 1: no id key among .*--map id=KEY"):
        list(generic.read_jsonl(FIXTURES / "generic_posts.jsonl", ReadContext(observed_at=CTX_OBSERVED)))


# --- format detection -----------------------------------------------------------------


def test_registry_names():
    assert set(POST_FORMATS) == {
        "x-v2",
        "twarc2",
        "twarc-csv",
        "x-archive",
        "csv",
        "jsonl",
        "bluesky",
        "mastodon",
        "telegram",
    }


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("x_v2_page.json", "x-v2"),
        ("x_v2_post_names.json", "x-v2"),
        ("twarc2_search.jsonl", "twarc2"),
        ("twarc2_bad.jsonl", "twarc2"),
        ("twarc2_flattened.jsonl", "twarc2"),
        ("twarc_csv_flattened.csv", "twarc-csv"),
        ("twarc_csv_bad.csv", "twarc-csv"),
        ("generic_posts.csv", "csv"),
        ("generic_posts.jsonl", "jsonl"),
    ],
)
def test_detect_fixture_formats(name, fmt):
    assert detect_post_format(FIXTURES / name) == fmt


def test_detect_one_line_page_is_x_v2_and_many_are_twarc2(tmp_path):
    page = json.dumps({"data": [{"id": "1", "text": "a"}], "meta": {"result_count": 1}})
    assert detect_post_format(write_file(tmp_path, "one.json", page + "\n")) == "x-v2"
    assert detect_post_format(write_file(tmp_path, "two.jsonl", page + "\n" + page + "\n")) == "twarc2"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("\n  \n", "empty file"),
        (b"id,text\ncaf\xe9,x\n".replace(b"id", b"\xe9d"), "not UTF-8 text"),
        (
            "just some words\n",
            "supported formats: x-v2, twarc2, twarc-csv, x-archive, csv, jsonl, bluesky, mastodon, telegram",
        ),
    ],
)
def test_detect_format_errors(tmp_path, content, message):
    with pytest.raises(FormatError, match=message):
        detect_post_format(write_file(tmp_path, "input.txt", content))


@pytest.mark.parametrize(
    "content",
    [
        (FIXTURES / "factcheck_claimreview.json").read_text(),
        json.dumps({"claims": [{"text": "c", "claimReview": [{"url": "https://factcheck.example/a"}]}]}),
        json.dumps({"dataFeedElement": [{"item": None}]}),
        "<!DOCTYPE html>\n<html><head><title>Fact check</title></head></html>\n",
    ],
)
def test_detect_factchecks_points_to_factcheck_ingest(tmp_path, content):
    with pytest.raises(FormatError, match="looks like fact-checks.*claimwatch ingest factchecks"):
        detect_post_format(write_file(tmp_path, "input.json", content))
