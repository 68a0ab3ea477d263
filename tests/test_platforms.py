"""X, Bluesky, Mastodon and Telegram in one store, end to end: ingest (auto-detected) → match →
report and study. Where a platform counts no views the reports show its engagement counts,
labelled, never a 0 and never a dropped post; also the shared JSON-document reading."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post, write_file
from typer.testing import CliRunner

import claimwatch
from claimwatch.analysis.reach import ENGAGEMENT, EngagementTotal, Reach, describe_reach, reach_as_of
from claimwatch.cli import app
from claimwatch.records import MatchStatus
from claimwatch.sources.base import FormatError
from claimwatch.sources.json_docs import iter_values
from claimwatch.store import schema as s
from claimwatch.store.rows import Snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "posts"
runner = CliRunner()

BLUESKY = "did:plc:aaaaexampleaaaaexample01/post/3kaaaoriginal1"
MASTODON = "112856000000000001@mastodon.example"
TELEGRAM_DESKTOP = "channel1234567890/4821"
TELEGRAM_VIEWS = "channel1234567890/9001"
# The counts in the fixtures (see tests/fixtures/posts/README.md): Bluesky and Mastodon count no
# views, Desktop's Telegram export none either (its reactions are summed into likes).
BLUESKY_COUNTS = {"likes": 1520, "reposts": 340, "replies": 12, "quotes": 25, "bookmarks": 8}
MASTODON_COUNTS = {"likes": 11, "reposts": 6, "replies": 5, "quotes": 2, "bookmarks": None}
TELEGRAM_DESKTOP_COUNTS = {"likes": 130, "reposts": None, "replies": None, "quotes": None, "bookmarks": None}
X_VIEWS, TELEGRAM_VIEWS_COUNT = 1000, 5000


def cli(*args: str) -> str:
    res = runner.invoke(app, list(args))
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture()
def store(mws: claimwatch.Workspace, tmp_path: Path, write_jsonl) -> claimwatch.Workspace:
    db = str(tmp_path / "t.db")
    x = write_jsonl(
        "x.jsonl",
        [
            page(
                [
                    post(
                        "10",
                        "The ballots were counted twice in Example County.",
                        X_VIEWS,
                        created="2024-07-27T09:00:00.000Z",
                    )
                ]
            )
        ],
    )
    telethon = json.loads((FIXTURES / "telegram_telethon_array.json").read_text())[0]
    telethon.update(
        id=9001,
        message="SYNTHETIC: the ballots were counted twice, a channel says.",
        views=TELEGRAM_VIEWS_COUNT,
        fwd_from=None,
    )
    telegram = write_file(tmp_path, "telethon.json", json.dumps([telethon]))
    out = cli(
        "ingest",
        "posts",
        str(x),
        str(FIXTURES / "bluesky_getAuthorFeed.json"),
        str(FIXTURES / "mastodon_statuses.json"),
        str(FIXTURES / "telegram_desktop_channel.json"),
        str(telegram),
        "--observed-at",
        "2024-08-01T12:00:00Z",
        "--db",
        db,
    )
    for fmt in ("twarc2", "bluesky", "mastodon", "telegram"):
        assert f"[{fmt}]" in out
    fc = write_file(
        tmp_path,
        "fc.json",
        json.dumps(
            [claimreview("https://factcheck.example/ballots-counted-twice", "The ballots were counted twice.", "False")]
        ),
    )
    mws.ingest_factchecks([fc])
    mws.match()
    with mws.engine.connect() as conn:  # an analyst confirms the ballot posts, whatever the matcher proposed
        ids = conn.scalars(
            sa.select(s.Match.id)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(s.Match.rank == 1, s.Post.text.contains("counted twice"))
        ).all()
    for match_id in ids:
        mws.decide(match_id, MatchStatus.CONFIRMED, "ana@example.org", relation="repeats")
    return mws


@pytest.mark.slow  # over half a second on 2 cores
def test_report_shows_views_where_known_and_engagement_elsewhere(store: claimwatch.Workspace, tmp_path: Path):
    out_dir = tmp_path / "report"
    cli("report", "--confirmed-only", "-k", "counted twice", "--out", str(out_dir), "--db", str(tmp_path / "t.db"))
    report = json.loads((out_dir / "report.json").read_text())
    rows = {r["post_id"]: r for r in report["rows"]}
    assert {r["platform"] for r in rows.values()} == {"x", "bluesky", "mastodon", "telegram"}
    for post_id, counts in (
        (BLUESKY, BLUESKY_COUNTS),
        (MASTODON, MASTODON_COUNTS),
        (TELEGRAM_DESKTOP, TELEGRAM_DESKTOP_COUNTS),
    ):
        assert rows[post_id]["views"] is None and rows[post_id]["engagement"] == counts
        assert rows[post_id]["observed_at"] == "2024-08-01T12:00:00Z"
    assert rows["10"]["views"] == X_VIEWS and rows[TELEGRAM_VIEWS]["views"] == TELEGRAM_VIEWS_COUNT

    # the headline: the known views summed, the engagement of the rest said apart
    bluesky_reply = {"likes": 30, "reposts": 2, "replies": 1, "quotes": 0}  # Alice's reply also repeats it
    engagement_only = [BLUESKY_COUNTS, MASTODON_COUNTS, TELEGRAM_DESKTOP_COUNTS, bluesky_reply]
    h = report["headline"]
    assert (h["debunked_posts"], h["debunked_views"], h["debunked_views_unknown"]) == (
        6,
        X_VIEWS + TELEGRAM_VIEWS_COUNT,
        4,
    )
    likes = sum(c["likes"] for c in engagement_only)
    reposts = sum(c["reposts"] or 0 for c in engagement_only)
    sentence = (
        f"views unknown for 4: 4 of them with engagement counts only (bluesky: 2, mastodon: 1, "
        f"telegram: 1): likes {likes:,}, reposts {reposts:,} (1 unknown), replies 18 (1 unknown), "
        f"quotes 27 (1 unknown), bookmarks 8 (3 unknown)."
    )
    md = (out_dir / "report.md").read_text()
    html = (out_dir / "report.html").read_text()
    assert sentence in md and sentence in html
    assert f"viewed {X_VIEWS + TELEGRAM_VIEWS_COUNT:,} times" in md

    # the tables: views where known, else the engagement counts, labelled; never a 0
    bluesky_cell = "unknown; likes 1,520, reposts 340, replies 12, quotes 25, bookmarks 8"
    assert f"| {bluesky_cell} | 2024-08-01 |" in md and f'<td class="reach">{bluesky_cell}</td>' in html
    assert "| unknown; likes 130 | 2024-08-01 |" in md
    with open(out_dir / "report.csv", newline="", encoding="utf-8") as fh:
        table = {r["post_id"]: r for r in csv.DictReader(fh)}
    assert (table[BLUESKY]["views"], table[BLUESKY]["likes"], table[BLUESKY]["quotes"]) == ("", "1520", "25")
    assert table["10"]["views"] == "1000"


@pytest.mark.slow  # over half a second on 2 cores
def test_study_counts_unknown_views_apart_with_their_engagement(store: claimwatch.Workspace, tmp_path: Path):
    study = write_file(
        tmp_path,
        "study.yaml",
        "title: Ballots counted twice, on four platforms\n"
        "window: {from: 2024-07-01, to: 2024-07-31}\n"
        "include: {matches: confirmed}\n",
    )
    out_dir = tmp_path / "study"
    printed = cli("study", "run", str(study), "--out", str(out_dir), "--db", str(tmp_path / "t.db"))
    result = json.loads((out_dir / "study.json").read_text())
    summary = result["summary"]
    # originals and quotes only (the study default): the Bluesky reply is not counted
    assert (summary["posts"], summary["total_views"], summary["posts_views_unknown"]) == (
        5,
        X_VIEWS + TELEGRAM_VIEWS_COUNT,
        3,
    )
    engagement = summary["engagement_views_unknown"]
    assert engagement["posts"] == 3 and engagement["platforms"] == {"bluesky": 1, "mastodon": 1, "telegram": 1}
    assert engagement["counts"]["likes"] == 1520 + 11 + 130
    assert (
        "viewed 6,000 times; views unknown for 3: 3 of them with engagement counts only (bluesky: 1, "
        "mastodon: 1, telegram: 1): likes 1,661" in " ".join(printed.split())
    )
    rows = {r["post_id"]: r for r in result["posts"]}
    assert rows[BLUESKY]["engagement"] == BLUESKY_COUNTS and rows[BLUESKY]["views_observed_at"] is None
    md = (out_dir / "study.md").read_text()
    assert "unknown; likes 11, reposts 6, replies 5, quotes 2" in md
    assert "3 of them with engagement counts only" in md  # the methods say it too
    with open(out_dir / "study.csv", newline="", encoding="utf-8") as fh:
        table = {r["post_id"]: r for r in csv.DictReader(fh)}
    assert (table[MASTODON]["views"], table[MASTODON]["likes"]) == ("", "11")
    assert table[TELEGRAM_VIEWS]["views"] == str(TELEGRAM_VIEWS_COUNT)


# --- reach: views, else engagement ------------------------------------------------------------


def _snap(day: int, views: int | None, **counts: int | None) -> Snapshot:
    return Snapshot(1, datetime(2024, 8, day, tzinfo=UTC), views, **{k: counts.get(k) for k in ENGAGEMENT})


def test_reach_takes_the_views_snapshot_else_the_latest_engagement():
    snaps = [_snap(1, 100, likes=1), _snap(2, None, likes=5, reposts=2), _snap(3, None)]
    reach = reach_as_of(snaps, None)
    assert (reach.views, reach.observed_at.day, reach.engagement["likes"]) == (100, 1, 1)  # counts of the same snapshot
    no_views = reach_as_of(snaps[1:], None)
    assert (no_views.views, no_views.observed_at.day, no_views.engagement["reposts"]) == (None, 2, 2)
    assert reach_as_of(snaps[1:], datetime(2024, 8, 1, tzinfo=UTC)) == Reach(None, None, dict.fromkeys(ENGAGEMENT))
    assert describe_reach(1234, {}) == "1,234"
    assert describe_reach(None, no_views.engagement) == "unknown; likes 5, reposts 2"
    assert describe_reach(None, dict.fromkeys(ENGAGEMENT)) == "unknown"


def test_engagement_total_counts_only_posts_without_views():
    total = EngagementTotal()
    total.add(500, {"likes": 9}, "x")  # views known: not counted here
    total.add(None, dict.fromkeys(ENGAGEMENT), "x")  # nothing known at all: not counted here
    total.add(None, {"likes": 3, "reposts": None, "replies": 1, "quotes": None, "bookmarks": None}, "mastodon")
    total.add(None, {"likes": 4, "reposts": 2, "replies": None, "quotes": None, "bookmarks": None}, "bluesky")
    assert total.describe() == (
        "2 of them with engagement counts only (bluesky: 1, mastodon: 1): likes 7, "
        "reposts 2 (1 unknown), replies 1 (1 unknown)"
    )
    assert EngagementTotal().describe() == ""


# --- shared JSON-document reading -------------------------------------------------------


def test_json_values_from_lines_arrays_and_documents(tmp_path):
    lines = write_file(tmp_path, "a.jsonl", '{"a": 1}\n\n{"broken"\n[1]\n{"b": 2}\n')
    got = [(loc, obj, rej.reason.split(":")[0] if rej else None) for loc, obj, rej in iter_values(lines, "f")]
    assert got == [
        ("line 1", {"a": 1}, None),
        ("line 3", None, "not valid JSON"),
        ("line 4", None, "JSON array where an object was expected"),
        ("line 5", {"b": 2}, None),
    ]
    array = write_file(tmp_path, "b.json", '[\n {"a": 1},\n "x"\n]\n')
    assert [(loc, obj is not None) for loc, obj, _ in iter_values(array, "f")] == [("item 1", True), ("item 2", False)]
    one_line = write_file(tmp_path, "c.json", '{"a": {"b": 1}}\n')
    assert list(iter_values(one_line, "f")) == [("", {"a": {"b": 1}}, None)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{\n "a": 1,\n', "not valid JSON: Expecting property name"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('"just a string"', "top-level JSON string"),
        (b'{\n "a": "caf\xe9"\n}', "not UTF-8"),
    ],
)
def test_json_documents_that_cannot_be_read(tmp_path, content, message):
    with pytest.raises(FormatError, match=message):
        list(iter_values(write_file(tmp_path, "bad.json", content), "f"))


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_html_report_fits_a_1400_pixel_window_with_long_platform_ids(
    store: claimwatch.Workspace, tmp_path: Path
) -> None:
    """Bluesky and fediverse ids are 40–70 characters: they wrap at their punctuation, never push
    the table past the window, and numeric ids stay whole."""
    from playwright.sync_api import sync_playwright

    out_dir = tmp_path / "report"
    cli("report", "--out", str(out_dir), "--db", str(tmp_path / "t.db"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            tab.goto((out_dir / "report.html").as_uri())
            table, page_width = tab.evaluate(
                "() => [document.querySelector('#posts').scrollWidth, document.body.clientWidth]"
            )
            id_lines = tab.evaluate("""() => [...document.querySelectorAll('#posts td:nth-child(2) a')]
                .filter(a => /^\\d+$/.test(a.textContent)).map(a => a.getClientRects().length)""")
        finally:
            browser.close()
    assert table <= page_width
    assert id_lines and set(id_lines) == {1}, "a numeric id is never broken"
