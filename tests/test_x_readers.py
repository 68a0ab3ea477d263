"""X readers on real variants: twarc2 pages vs flatten output vs every twarc-csv era, v2 post
objects per line, v1.1 columns, the account archive, non-post X objects, HTML escapes,
unread columns and observation-time ranges (issue 10, part A). Fixtures: tests/fixtures/posts
(README there says which are real tool output)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_reader, write_file
from typer.testing import CliRunner

from claimwatch.analysis.report import Selection
from claimwatch.cli import app
from claimwatch.records import Parsed, PostKind, Rejected
from claimwatch.reports.render import to_html, to_markdown
from claimwatch.sources import generic, twarc, x_archive, x_v2
from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.generic import PostReadContext, column_list, unread_columns_notes
from claimwatch.sources.posts import POST_FORMATS, detect_post_format
from claimwatch.sources.x_objects import page_kind
from claimwatch.sources.x_text import unescape_x

FIXTURES = Path(__file__).parent / "fixtures" / "posts"
CTX_OBSERVED = datetime(2024, 9, 1, tzinfo=UTC)
PAGES = FIXTURES / "real_twarc2_pages.jsonl"
FLAT = FIXTURES / "real_twarc2_flat.jsonl"
CSV_ERAS = {era: FIXTURES / f"real_twarc_csv_{era}.csv" for era in ("0.1.0_json_text", "0.3.0", "0.5.2", "0.7.2")}
APRIL_2021 = datetime(2021, 4, 8, 19, 34, 32, tzinfo=UTC)
SEPT_2021 = datetime(2021, 9, 22, 16, 39, tzinfo=UTC)
JAN_2023 = datetime(2023, 1, 6, 2, 30, 36, tzinfo=UTC)
#: In the real pages: a reply whose replied-to post (context) says "Woodward &amp; Bernstein".
ESCAPED_CONTEXT = "1380241441637625860"
REPOST = "1380242611781386245"
QUOTE = "1380242403009966082"


def read(path: Path, fmt: str | None = None, **ctx_args) -> tuple[list[Parsed], list[Rejected]]:
    ctx = PostReadContext(observed_at=CTX_OBSERVED, **ctx_args)
    parsed, rejected = [], []
    for result in POST_FORMATS[fmt or detect_post_format(path)](path, ctx):
        (rejected if isinstance(result, Rejected) else parsed).append(result)
    return parsed, rejected


def facts(parsed: list[Parsed]) -> dict[tuple[str, bool], tuple]:
    """What a post is, keyed by (id, collected): kind, reference, text, author, date, media.
    A context copy of a collected post is left out, as the store keeps the collected one (a
    page lists a post of its own ``data`` in ``includes.tweets`` when edit history is expanded)."""
    collected = {p.record.platform_id for p in parsed if p.record.collected}
    return {
        (p.record.platform_id, p.record.collected): (
            p.record.kind,
            p.record.referenced_id,
            p.record.text,
            p.record.author.handle if p.record.author else None,
            p.record.created_at,
            tuple(m.media_key for m in p.record.media),
        )
        for p in parsed
        if p.record.collected or p.record.platform_id not in collected
    }


def snapshots(parsed: list[Parsed]) -> set[tuple]:
    return {
        (
            p.record.platform_id,
            p.record.metrics.observed_at,
            p.record.metrics.views,
            p.record.metrics.reposts,
            p.record.metrics.quotes,
            p.record.metrics.replies,
            p.record.metrics.likes,
            p.record.metrics.bookmarks,
        )
        for p in parsed
        if p.record.metrics
    }


# --- A5: twarc2 pages and `twarc2 flatten` output of the same data ------------------------


def test_flatten_output_gives_the_same_posts_and_snapshots_as_the_pages():
    pages, rejected_pages = read(PAGES)
    flat, rejected_flat = read(FLAT)
    assert rejected_pages == rejected_flat == []
    assert facts(flat) == facts(pages)
    assert snapshots(flat) == snapshots(pages)
    context = {key for key in facts(flat) if not key[1]}
    assert len(context) == 5  # the referenced posts carried inline
    assert {t for (_, t, *_) in snapshots(flat)} == {APRIL_2021, SEPT_2021, JAN_2023}


def test_flatten_context_posts_have_own_author_media_and_location():
    flat = {(p.record.platform_id, p.record.collected): p.record for p in read(FLAT)[0]}
    quoted = flat[("1380226330034372610", False)]
    assert quoted.author.handle == "Breaking911"
    assert [m.media_key for m in quoted.media] == ["7_1380226050232356865"]
    assert (quoted.metrics.likes, quoted.metrics.quotes) == (324, 106)
    assert quoted.source.location == "line 6 referenced_tweets item 1"
    assert flat[(QUOTE, True)].referenced_id == "1380226330034372610"


@pytest.mark.slow  # over half a second on 2 cores
def test_flatten_and_pages_ingest_to_equal_stores(tmp_path):
    import claimwatch

    counts = []
    for name in (PAGES, FLAT):
        ws = claimwatch.open(tmp_path / f"{name.stem}.db")
        report = ws.ingest_posts([name])
        stats = ws.stats()
        counts.append((stats.posts, stats.context_posts, stats.snapshots, report.snapshots_added))
    assert counts[0] == counts[1] == (10, 5, 13, 13)


# --- A3: twarc-csv of every era ----------------------------------------------------------


@pytest.mark.parametrize("era", list(CSV_ERAS))
def test_every_twarc_csv_era_is_detected(era):
    assert detect_post_format(CSV_ERAS[era]) == "twarc-csv"


@pytest.mark.parametrize("era", ["0.1.0_json_text", "0.3.0"])
def test_early_twarc_csv_reads_like_the_pages(era):
    """0.1–0.3: references from the JSON column, referenced posts as `type` rows (context)."""
    pages_2021 = {
        key: value for key, value in facts(read(PAGES)[0]).items() if value[4] < datetime(2022, 1, 1, tzinfo=UTC)
    }
    parsed, rejected = read(CSV_ERAS[era])
    assert rejected == []
    assert facts(parsed) == pages_2021
    posts = {(p.record.platform_id, p.record.collected): p.record for p in parsed}
    assert posts[(ESCAPED_CONTEXT, False)].text.endswith("this ain’t the era of Woodward & Bernstein")
    assert (posts[(REPOST, True)].kind, posts[(REPOST, True)].metrics) == (PostKind.REPOST, None)


def test_twarc_csv_0_1_json_text_and_no_envelope():
    parsed, _ = read(CSV_ERAS["0.1.0_json_text"])
    post = {p.record.platform_id: p.record for p in parsed}["1380242597881409537"]
    assert post.text.startswith('"Barack Obama used NASA')  # JSON-decoded: the tweet's own quote kept
    assert post.raw["text"].startswith('"\\"Barack Obama')  # raw is the cell as written
    assert post.metrics.observed_at == CTX_OBSERVED  # no __twarc columns: the file's time
    assert post.author.handle == "Qrtrhrsryder" and post.author.followers is not None


def test_twarc_csv_0_3_context_rows_take_the_next_rows_retrieval_time():
    parsed, _ = read(CSV_ERAS["0.3.0"])
    by_key = {(p.record.platform_id, p.record.collected): p.record for p in parsed}
    referenced = by_key[("1380175475545362437", False)]  # its row's __twarc columns are empty
    assert referenced.raw["__twarc.retrieved_at"] == ""
    assert referenced.metrics.observed_at == APRIL_2021
    assert by_key[("1440707466560516096", False)].metrics.observed_at == SEPT_2021
    assert snapshots(parsed) == {s for s in snapshots(read(PAGES)[0]) if s[1] != JAN_2023}


def test_twarc_csv_0_3_literal_newlines_restored():
    parsed, _ = read(CSV_ERAS["0.3.0"])
    post = {p.record.platform_id: p.record for p in parsed}["1440717011152113669"]
    assert "\\n" in post.raw["text"] and "\\n" not in post.text and "\n" in post.text


@pytest.mark.parametrize("era", ["0.5.2", "0.7.2"])
def test_later_twarc_csv_reads_references_from_id_columns(era):
    pages = facts(read(PAGES)[0])
    parsed, rejected = read(CSV_ERAS[era])
    assert rejected == []
    for key, (kind, ref, text, handle, created, _media) in facts(parsed).items():
        assert key[1] is True  # referenced posts are not written inline since 0.5
        page_kind_, page_ref, page_text, page_handle, page_created, _ = pages[key]
        assert (kind, ref, handle, created) == (page_kind_, page_ref, page_handle, page_created)
        if kind is not PostKind.REPOST:  # --merge-retweets puts the original's text in a repost row
            assert text == page_text
    page_snaps = snapshots(read(PAGES)[0])
    assert snapshots(parsed) <= page_snaps


def test_twarc_csv_views_unknown_before_impressions_existed():
    views = {p.record.platform_id: p.record.metrics.views for p in read(CSV_ERAS["0.7.2"])[0] if p.record.metrics}
    assert views["1603823063690199040"] == 139_075
    assert views["1380242597881409537"] is None  # 2021 data: empty cell, unknown, never 0
    assert all(p.record.metrics.views is None for p in read(CSV_ERAS["0.5.2"])[0] if p.record.metrics)


# --- A4: X API v2 post objects, one per line ---------------------------------------------


def test_v2_post_objects_per_line_read_natively():
    assert detect_post_format(FIXTURES / "x_v2_posts.jsonl") == "x-v2"
    parsed, rejected = read(FIXTURES / "x_v2_posts.jsonl")
    assert rejected == []
    posts = {p.record.platform_id: p.record for p in parsed}
    first = posts["1816000000000000201"]
    assert (first.metrics.views, first.metrics.likes, first.metrics.reposts, first.metrics.bookmarks) == (
        6789,
        45,
        12,
        1,
    )
    assert first.text == "SYNTHETIC Q&A: is 1 < 2 && 3 > 2? https://t.co/example"
    assert first.author.platform_id == "123456789" and first.author.handle is None
    repost = posts["1816000000000000202"]
    assert (repost.kind, repost.referenced_id, repost.metrics) == (PostKind.REPOST, "1815888888888888888", None)
    reply = posts["1816000000000000203"]
    assert (reply.kind, reply.author.handle, reply.author.followers) == (PostKind.REPLY, "other_account", 1200)


def test_unread_columns_that_look_like_metrics_author_or_time_are_named(tmp_path):
    path = write_file(
        tmp_path,
        "posts.jsonl",
        json.dumps(
            {
                "id": "1816000000000000501",
                "body": "SYNTHETIC",
                "stats": {"like_count": 5, "view_total": 90},
                "poster": {"screen_name": "example_account"},
                "posted_time": "2024-07-27T01:00:00Z",
                "colour": "red",
            }
        )
        + "\n",
    )
    parsed, _ = read(path, "jsonl")
    assert parsed[0].record.metrics is None
    ctx = PostReadContext(observed_at=CTX_OBSERVED)
    list(generic.read_jsonl(path, ctx))
    assert ctx.notes == [
        "columns that look like metrics were not read: 'stats.like_count', 'stats.view_total'; "
        "map them with --map likes=stats.like_count --map FIELD=stats.view_total",
        "columns that look like an author were not read: 'poster.screen_name'; "
        "map them with --map author_handle=poster.screen_name",
        "columns that look like a time were not read: 'posted_time'; map them with --map FIELD=posted_time",
    ]


def test_generic_csv_notes_unread_columns_and_missing_author(tmp_path):
    path = write_file(tmp_path, "p.csv", "post_id,text,public_metrics.like_count,account\n1,a,5,x\n")
    ctx = PostReadContext(observed_at=CTX_OBSERVED)
    list(generic.read_csv(path, ctx))
    assert ctx.notes[0].startswith(
        "columns that look like metrics were not read: 'public_metrics.like_count'; "
        "map them with --map likes=public_metrics.like_count"
    )
    assert ctx.notes[1].startswith("columns that look like an author were not read: 'account'")
    assert ctx.notes[2].startswith("no author column")
    assert unread_columns_notes(["like_count"], {"like_count"}) == []  # read columns are not named


def test_ingest_summary_prints_notes(tmp_path):
    path = write_file(tmp_path, "p.csv", "post_id,text,favourites_total\n1816000000000000601,a,5\n")
    result = CliRunner().invoke(app, ["ingest", "posts", str(path), "--db", str(tmp_path / "n.db")])
    assert result.exit_code == 0
    assert "note: columns that look like metrics were not read: 'favourites_total'" in result.output
    data = json.loads(
        CliRunner().invoke(app, ["ingest", "posts", str(path), "--db", str(tmp_path / "n.db"), "--json"]).output
    )
    assert data["files"][0]["notes"][0].startswith("columns that look like metrics")


# --- A6: v1.1 columns and the account archive --------------------------------------------


def test_v1_columns_are_aliases_in_the_generic_csv():
    assert detect_post_format(FIXTURES / "v1_posts.csv") == "csv"
    parsed, rejected = read(FIXTURES / "v1_posts.csv")
    assert rejected == []
    posts = {p.record.platform_id: p.record for p in parsed}
    original = posts["1816000000000000301"]
    assert original.text == "SYNTHETIC v1.1 original &amp; full text"  # full_text beats truncated text; not unescaped
    assert (original.metrics.likes, original.metrics.reposts) == (924, 238)
    assert (original.author.platform_id, original.author.handle, original.author.followers) == (
        "123456789",
        "example_account",
        193_000_000,
    )
    assert original.created_at == datetime(2024, 7, 27, 1, 23, 45, tzinfo=UTC)
    repost = posts["1816000000000000302"]
    assert (repost.kind, repost.referenced_id, repost.metrics) == (PostKind.REPOST, "1815888888888888888", None)
    assert (posts["1816000000000000303"].kind, posts["1816000000000000303"].referenced_id) == (
        PostKind.REPLY,
        "1816000000000000301",
    )
    assert (posts["1816000000000000304"].kind, posts["1816000000000000304"].referenced_id) == (
        PostKind.QUOTE,
        "1815999999999999999",
    )


def test_v1_jsonl_without_user_object(tmp_path):
    path = write_file(
        tmp_path,
        "v1.jsonl",
        json.dumps(
            {
                "id_str": "1816000000000000701",
                "full_text": "SYNTHETIC",
                "favorite_count": 3,
                "in_reply_to_status_id_str": "1816000000000000700",
                "user_screen_name": "example_account",
            }
        )
        + "\n",
    )
    (post,), _ = read(path)
    assert (post.record.kind, post.record.referenced_id, post.record.metrics.likes) == (
        PostKind.REPLY,
        "1816000000000000700",
        3,
    )
    assert post.record.author.handle == "example_account"


def test_archive_with_manifest():
    path = FIXTURES / "x_archive" / "data" / "tweets.js"
    assert detect_post_format(path) == "x-archive"
    ctx = PostReadContext(observed_at=CTX_OBSERVED)
    results = list(x_archive.read(path, ctx))
    parsed = [r for r in results if isinstance(r, Parsed)]
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert [(r.source.location, r.reason.split(";")[0]) for r in rejected] == [
        ("item 4", "JSON string where a post was expected"),
        ("item 5", "id '1.816e+18' looks like a float or scientific notation"),
    ]
    posts = {p.record.platform_id: p.record for p in parsed}
    first = posts["1816000000000000401"]
    assert first.text == "SYNTHETIC archive post: Q&A on ballots > 1,000"
    assert first.raw["full_text"].startswith("SYNTHETIC archive post: Q&amp;A")
    assert (first.author.platform_id, first.author.handle) == ("123456789", "example_account")
    assert first.metrics.observed_at == datetime(2024, 8, 3, 12, tzinfo=UTC)  # manifest generationDate
    assert (first.metrics.likes, first.metrics.reposts) == (924, 238)
    assert first.url == "https://x.com/example_account/status/1816000000000000401"
    retweet = posts["1816000000000000402"]
    assert (retweet.kind, retweet.referenced_id, retweet.metrics) == (PostKind.REPOST, None, None)
    reply = posts["1816000000000000403"]
    assert (reply.kind, reply.referenced_id) == (PostKind.REPLY, "1816000000000000401")
    assert [(m.media_key, m.type, m.url) for m in reply.media] == [
        ("1816000000000000499", "photo", "https://pbs.twimg.com/media/example.jpg")
    ]
    assert ctx.notes == []


def test_archive_without_manifest_needs_account(tmp_path):
    path = FIXTURES / "x_archive_2019" / "tweet.js"
    ctx = PostReadContext(observed_at=CTX_OBSERVED)
    (post,) = [r.record for r in x_archive.read(path, ctx)]
    assert post.author is None and post.text == "SYNTHETIC 2019 archive post & no wrapper"
    assert post.url == "https://x.com/i/status/1100000000000000001"
    assert ctx.notes[0].startswith("no author: a Twitter archive's posts do not name their account")
    ctx = PostReadContext(observed_at=CTX_OBSERVED, account="example_account")
    (post,) = [r.record for r in x_archive.read(path, ctx)]
    assert (post.author.platform_id, post.author.handle) == ("@example_account", "example_account")
    assert ctx.notes == []


@pytest.mark.slow  # over half a second on 2 cores
def test_account_option_through_cli_and_api(tmp_path):
    import claimwatch

    path = FIXTURES / "x_archive_2019" / "tweet.js"
    result = CliRunner().invoke(app, ["ingest", "posts", str(path), "--db", str(tmp_path / "a.db")])
    assert "note: no author" in result.output
    ws = claimwatch.open(tmp_path / "b.db")
    report = ws.ingest_posts([path], account="@example_account")
    assert report.files[0].notes == []
    rows = ws.report(Selection(handles=("example_account",))).rows
    assert [r.post_id for r in rows] == ["1100000000000000001"]


def test_archive_other_files_are_refused_by_name(tmp_path):
    path = write_file(tmp_path, "like.js", 'window.YTD.like.part0 = [ {"like": {"tweetId": "1", "fullText": "x"}} ]')
    assert detect_post_format(path) == "x-archive"
    with pytest.raises(FormatError, match="a Twitter archive 'like' file, not the account's posts"):
        list(x_archive.read(path, ReadContext(observed_at=CTX_OBSERVED)))


# --- A7: HTML entities -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Q&amp;A", "Q&A"),
        ("&lt;b&gt; &amp;amp;", "<b> &amp;"),  # a typed "&amp;" arrives double-escaped and reads back once
        ("&quot;kept&quot; &nbsp; &#39;", "&quot;kept&quot; &nbsp; &#39;"),  # X never writes these
        ("no entities", "no entities"),
    ],
)
def test_unescape_x(raw, text):
    assert unescape_x(raw) == text


def test_every_x_reader_unescapes_and_keeps_raw(tmp_path):
    v1_line = write_file(
        tmp_path,
        "v1.jsonl",
        json.dumps(
            {"id_str": "1816000000000000801", "full_text": "a &amp; b", "user": {"screen_name": "example_account"}}
        )
        + "\n",
    )
    (v1,), _ = read(v1_line)
    assert (v1.record.text, v1.record.raw["full_text"]) == ("a & b", "a &amp; b")
    pages = {(p.record.platform_id, p.record.collected): p.record for p in read(PAGES)[0]}
    assert pages[(ESCAPED_CONTEXT, False)].text.endswith("Woodward & Bernstein")
    assert pages[(ESCAPED_CONTEXT, False)].raw["text"].endswith("Woodward &amp; Bernstein")


def test_reports_escape_post_text_once(tmp_path):
    import claimwatch

    ws = claimwatch.open(tmp_path / "r.db")
    ws.ingest_posts([FIXTURES / "x_v2_posts.jsonl"])
    report = ws.report(Selection())
    markdown, html = to_markdown(report), to_html(report)
    assert "Q&amp;A: is 1 &lt; 2 &amp;&amp; 3 &gt; 2?" in markdown
    assert "Q&amp;A: is 1 &lt; 2 &amp;&amp; 3 &gt; 2?" in html
    assert "&amp;amp;" not in markdown and "&amp;amp;" not in html


# --- A1: X objects that are not posts ----------------------------------------------------

#: One ``data`` item of each kind, with the fields the X API v2 spec lists for it (synthetic values).
OTHER_OBJECTS = {
    "users": {"id": "1", "name": "Example (synthetic)", "username": "example_account"},
    "lists": {"id": "2", "name": "Example list", "owner_id": "1", "member_count": 3, "follower_count": 1},
    "spaces": {"id": "1OdKrBnaEPXKX", "state": "live", "host_ids": ["1"], "title": "Example space"},
    "post counts (/2/tweets/counts)": {
        "start": "2024-08-01T00:00:00.000Z",
        "end": "2024-08-02T00:00:00.000Z",
        "tweet_count": 42,
    },
    "compliance jobs": {
        "id": "3",
        "type": "tweets",
        "status": "complete",
        "resumable": False,
        "upload_url": "https://storage.example.org/up",
        "download_url": "https://storage.example.org/dl",
    },
    "compliance results": {
        "id": "4",
        "action": "delete",
        "created_at": "2024-08-01T00:00:00.000Z",
        "redacted_at": "2024-08-02T00:00:00.000Z",
        "reason": "deleted",
    },
    "direct-message events": {
        "id": "5",
        "event_type": "MessageCreate",
        "text": "hi",
        "sender_id": "1",
        "dm_conversation_id": "1-2",
    },
    "usage": {"project_id": "6", "project_cap": "10000", "project_usage": "12", "cap_reset_day": 1},
    "filtered-stream rules": {"id": "7", "value": "ballot -is:retweet", "tag": "ballots"},
    "trends": {"trend_name": "#Example", "tweet_count": 1000},
    "communities": {"id": "8", "name": "Example community", "access": "Public", "join_policy": "Open"},
}


@pytest.mark.parametrize("kind", list(OTHER_OBJECTS))
def test_other_x_objects_are_recognised(kind):
    other = page_kind([OTHER_OBJECTS[kind]])
    assert other is not None and other.kind.name == kind


def test_posts_are_not_other_objects():
    assert page_kind([{"id": "1", "text": "a", "author_id": "2", "withheld": {"country_codes": ["DE"]}}]) is None
    assert page_kind([{"id": "1", "text": "a"}, OTHER_OBJECTS["users"]]) is None  # mixed: read, the user rejected


def test_users_page_refused_by_name_everywhere(tmp_path):
    path = FIXTURES / "x_v2_users_page.jsonl"
    message = (
        "an X API users page (data items have 'username' and no 'text'); claimwatch reads posts: "
        "use twarc2 search or timeline output (posts)"
    )
    with pytest.raises(FormatError) as detected:
        detect_post_format(path)
    assert str(detected.value) == f"this is {message}"
    with pytest.raises(FormatError, match=f"^line 1: {message.replace('(', '[(]').replace(')', '[)]')}$"):
        list(twarc.read_jsonl(path, ReadContext(observed_at=CTX_OBSERVED)))
    one_page = write_file(tmp_path, "users.json", json.dumps(json.loads(path.read_text()), indent=2))
    with pytest.raises(FormatError, match="an X API users page"):
        list(x_v2.read(one_page, ReadContext(observed_at=CTX_OBSERVED)))


def test_flattened_users_and_twarc_csv_users_refused(tmp_path):
    page = json.loads((FIXTURES / "x_v2_users_page.jsonl").read_text())
    users = write_file(
        tmp_path, "users.jsonl", "".join(json.dumps({**u, "__twarc": page["__twarc"]}) + "\n" for u in page["data"])
    )
    with pytest.raises(FormatError, match="X API users, one object per line"):
        detect_post_format(users)
    with pytest.raises(FormatError, match="line 1: X API users objects, one per line"):
        list(twarc.read_jsonl(users, ReadContext(observed_at=CTX_OBSERVED)))
    csv_path = FIXTURES / "real_twarc_csv_0.7.2_users.csv"
    assert detect_post_format(csv_path) == "twarc-csv"
    with pytest.raises(FormatError, match="a twarc-csv file of X API users .columns have 'username' and no 'text'"):
        list(twarc.read_csv(csv_path, ReadContext(observed_at=CTX_OBSERVED)))


def test_users_page_after_posts_rejects_that_line_only(tmp_path):
    posts = (FIXTURES / "twarc2_search.jsonl").read_text().splitlines()[0]
    users = (FIXTURES / "x_v2_users_page.jsonl").read_text()
    path = write_file(tmp_path, "mixed.jsonl", posts + "\n" + users)
    parsed, rejected = run_reader(twarc.read_jsonl, path, CTX_OBSERVED)
    assert parsed and [(r.source.location, r.reason.split(" (")[0]) for r in rejected] == [
        ("line 2", "an X API users page")
    ]


def test_user_item_among_posts_is_rejected(tmp_path):
    page = {"data": [{"id": "1816000000000000901", "text": "SYNTHETIC"}, OTHER_OBJECTS["users"]]}
    parsed, rejected = run_reader(x_v2.read, write_file(tmp_path, "p.json", json.dumps(page)), CTX_OBSERVED)
    assert [p.record.platform_id for p in parsed] == ["1816000000000000901"]
    assert rejected[0].reason.startswith("an X API users object, not a post (its keys have 'username'")


# --- A10: a file for another command names it ------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "command"),
    [
        (
            "notes-00000.tsv",
            "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttweetId\tclassification\n1\ta\t1\t2\tX\n",
            "claimwatch ingest notes",
        ),
        (
            "ratings-00000.tsv",
            "noteId\traterParticipantId\tcreatedAtMillis\thelpful\tnotHelpful\n1\ta\t1\t1\t0\n",
            "claimwatch ingest notes",
        ),
        (
            "politifact.csv",
            "claim,url,rating,speaker\nA claim,https://factcheck.example/a,False,someone\n",
            "claimwatch ingest factchecks",
        ),
        (
            "labels.jsonl",
            json.dumps(
                {
                    "data": {
                        "public_tweet_notice": {
                            "tweet": {"id": "1"},
                            "event_type": "misleading",
                            "event_at": "2024-08-01T00:00:00Z",
                        }
                    }
                }
            )
            + "\n",
            "claimwatch ingest labels",
        ),
    ],
)
def test_files_for_other_commands_name_the_command(tmp_path, name, content, command):
    with pytest.raises(FormatError, match=f"use `{command}`"):
        detect_post_format(write_file(tmp_path, name, content))


def test_long_headers_are_cut_to_one_line(tmp_path):
    header = ",".join(f"column_{i}" for i in range(300)) + ',"line\nbreak"'
    with pytest.raises(FormatError) as exc:
        list(
            generic.read_csv(
                write_file(tmp_path, "wide.csv", header + "\n" + "x," * 300 + "y\n"),
                ReadContext(observed_at=CTX_OBSERVED),
            )
        )
    message = str(exc.value)
    assert "'column_0', 'column_1'" in message and "… 293 more" in message
    assert "\n" not in message and len(message) < 300
    assert column_list(["a" * 100, "\x1b[31mred"]) == f"'{'a' * 40}…', '\\x1b[31mred'"


# --- A11: observation times as a range; the file time only where nothing better exists ------


def test_ingest_reports_source_time_range_and_fallback_count(tmp_path):
    import claimwatch

    ws = claimwatch.open(tmp_path / "t.db")
    fr = ws.ingest_posts([PAGES]).files[0]
    assert (fr.source_observed_from, fr.source_observed_to, fr.source_observed_times, fr.fallback_snapshots) == (
        APRIL_2021.isoformat(),
        JAN_2023.isoformat(),
        3,
        0,
    )
    mixed = ws.ingest_posts([FIXTURES / "twarc2_search.jsonl"]).files[0]  # line 2 has no __twarc
    assert mixed.source_observed_times == 1 and mixed.fallback_snapshots == 1
    assert "source_observed_at" not in mixed.__dict__


@pytest.mark.slow
def test_cli_prints_a_range_and_what_the_file_time_dated(tmp_path):
    out = (
        CliRunner()
        .invoke(app, ["ingest", "posts", str(FIXTURES / "twarc2_search.jsonl"), "--db", str(tmp_path / "c.db")])
        .output
    )
    assert "snapshots observed 2024-08-01T12:00:00+00:00 (1 time, from the source)" in out
    assert "1 snapshots had no observation time in the source: dated " in out
    assert "(file modification time; pass --observed-at to set it)" in out
    out = CliRunner().invoke(app, ["ingest", "posts", str(PAGES), "--db", str(tmp_path / "d.db")]).output
    assert f"snapshots observed {APRIL_2021.isoformat()} … {JAN_2023.isoformat()} (3 times, from the source)" in out


def test_forced_x_v2_on_twarc2_lines_reads_the_envelope():
    parsed, rejected = read(PAGES, "x-v2")
    assert rejected == []
    assert {p.record.metrics.observed_at for p in parsed if p.record.metrics} == {APRIL_2021, SEPT_2021, JAN_2023}
    assert {p.record.source.format for p in parsed} == {"x-v2"}
    assert snapshots(parsed) == snapshots(read(PAGES, "twarc2")[0])


def test_one_page_document_reads_its_envelope(tmp_path):
    line = PAGES.read_text().splitlines()[2]
    path = write_file(tmp_path, "page.json", json.dumps(json.loads(line), indent=2))
    parsed, _ = read(path, "x-v2")
    assert {p.record.metrics.observed_at for p in parsed} == {JAN_2023}


def test_study_sources_show_source_times_not_the_file_time(tmp_path):
    import claimwatch
    from claimwatch.analysis.jsonable import rfc3339
    from claimwatch.analysis.study import _source
    from claimwatch.store.rows import StoredRun

    ws = claimwatch.open(tmp_path / "s.db")
    for path, expected in ((PAGES, [rfc3339(APRIL_2021), rfc3339(JAN_2023)]), (FIXTURES / "twarc2_search.jsonl", None)):
        report = ws.ingest_posts([path])
        fr = report.files[0]
        run = StoredRun(report.run_id, "posts", JAN_2023, None, "completed", [str(path)], report.to_dict())
        observed = list(_source(run).observed_at)
        if expected:
            assert observed == expected  # the file's modification time dated nothing
        else:  # one line had no envelope: its snapshot was dated by the file time, which is listed too
            assert observed == sorted(
                {rfc3339(datetime.fromisoformat(t)) for t in (fr.source_observed_from, fr.observed_at)}
            )


def test_one_post_object_document(tmp_path):
    post = json.loads((FIXTURES / "x_v2_posts.jsonl").read_text().splitlines()[0])
    (parsed,), _ = read(write_file(tmp_path, "post.json", json.dumps(post, indent=2)), "x-v2")
    assert (parsed.record.platform_id, parsed.record.metrics.views, parsed.record.source.location) == (
        "1816000000000000201",
        6789,
        "post",
    )


@pytest.mark.parametrize(
    "header, what",
    [
        (
            "participantId\tenrollmentState\tsuccessfulRatingNeededToEarnIn\ttimestampOfLastStateChange",
            "userEnrollment",
        ),
        ("tweetId\tsourceLinks\tsuggestions\tnoteRequestFeedEligibleTimestamp", "noteRequests"),
    ],
)
def test_community_notes_files_claimwatch_does_not_read_are_named(tmp_path: Path, header: str, what: str) -> None:
    path = tmp_path / f"{what}-00000.tsv"
    path.write_text(header + "\n" + "\t".join(["1"] * header.count("\t")) + "\t1\n")
    with pytest.raises(FormatError, match=f"a Community Notes {what} file .*`claimwatch ingest notes`.*not posts"):
        detect_post_format(path)
