"""Report v1: headline figures, selection, proposal/decision separation, safe rendering."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch import Selection
from claimwatch.records import MatchStatus
from claimwatch.reports.render import to_html, to_markdown, write_all
from claimwatch.store import schema as s

USERS = [
    {"id": "111", "username": "demo_account", "name": "Demo (synthetic)"},
    {"id": "222", "username": "other_account", "name": "Other (synthetic)"},
]


@pytest.fixture()
def store(mws: claimwatch.Workspace, tmp_path: Path, write_jsonl) -> claimwatch.Workspace:
    fc = tmp_path / "fc.json"
    fc.write_text(
        json.dumps(
            [
                claimreview(
                    "https://example.org/fc/machines",
                    "Voting machines secretly switched votes between candidates.",
                    "False",
                ),
                claimreview(
                    "https://example.org/fc/turnout",
                    "Young voter turnout rose sharply in the midterm elections.",
                    "True",
                ),
            ]
        )
    )
    mws.ingest_factchecks([fc])
    august = write_jsonl(
        "aug.jsonl",
        [
            page(
                [
                    post(
                        "1",
                        "The voting machines switched votes between the candidates! <script>alert(1)</script>",
                        1000,
                        created="2024-07-01T10:00:00.000Z",
                    ),
                    post(
                        "2",
                        '=HYPERLINK("http://evil.example") Voting machines secretly switched votes, wake up',
                        None,
                        created="2024-07-02T10:00:00.000Z",
                    ),
                    post(
                        "3",
                        "RT @other_account: voting machines secretly switched votes between candidates",
                        0,
                        created="2024-07-03T10:00:00.000Z",
                        ref=("retweeted", "9"),
                    ),
                    post(
                        "4",
                        "Young voter turnout rose sharply in the midterm elections, great news",
                        50,
                        created="2024-07-04T10:00:00.000Z",
                    ),
                    post(
                        "5",
                        "Baking bread this weekend with the kids, wish us luck",
                        70,
                        created="2024-07-05T10:00:00.000Z",
                    ),
                    post(
                        "6",
                        "Voting machines switched votes between candidates, I am sure",
                        5000,
                        author="222",
                        created="2024-07-06T10:00:00.000Z",
                    ),
                ],
                users=USERS,
                tweets=[post("9", "voting machines secretly switched votes between candidates", 123456, author="222")],
            )
        ],
    )
    november = write_jsonl(
        "nov.jsonl",
        [
            page(
                [
                    post(
                        "1",
                        "The voting machines switched votes between the candidates! <script>alert(1)</script>",
                        4000,
                        created="2024-07-01T10:00:00.000Z",
                    )
                ],
                users=USERS,
                retrieved_at="2024-11-01T12:00:00+00:00",
            )
        ],
    )
    mws.ingest_posts([august, november])
    mws.match()
    return mws


def _match_id(ws: claimwatch.Workspace, post_id: str) -> int:
    with ws.engine.connect() as conn:
        return conn.scalar(
            sa.select(s.Match.id)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(s.Post.platform_id == post_id, s.Match.rank == 1)
        )


@pytest.mark.slow
def test_headline_counts_debunked_posts_and_latest_views(store: claimwatch.Workspace) -> None:
    rep = store.report(Selection(handles=("@Demo_Account",)))
    h = rep.headline
    assert [r.post_id for r in rep.rows] == ["1", "2", "4", "5"], "reposts and other accounts are excluded"
    assert (h.posts, h.views, h.posts_views_unknown) == (4, 4000 + 50 + 70, 1)
    assert (h.debunked_posts, h.debunked_views, h.debunked_views_unknown) == (2, 4000, 1)
    assert (h.debunked_confirmed, h.debunked_proposed_only) == (0, 2)
    row1 = rep.rows[0]
    assert (
        row1.views == 4000 and row1.views_observed_at == datetime(2024, 11, 1, 12, tzinfo=UTC) and row1.snapshots == 2
    )
    assert row1.fact_check.url.endswith("/machines") and row1.fact_check.rating_class == "false"
    assert row1.fact_check.claim == "Voting machines secretly switched votes between candidates."
    assert rep.rows[2].fact_check.rating_class == "true" and not rep.rows[2].debunked
    assert h.sentence().startswith("2 posts repeat claims rated false or misleading, viewed 4,000 times")


@pytest.mark.slow  # over half a second on 2 cores
def test_confirmed_only_and_rejections(store: claimwatch.Workspace) -> None:
    assert store.report(Selection(handles=("demo_account",), include_proposed=False)).headline.debunked_posts == 0
    store.decide(_match_id(store, "1"), MatchStatus.CONFIRMED, "ana")
    store.decide(_match_id(store, "2"), MatchStatus.REJECTED, "ana")
    h = store.report(Selection(handles=("demo_account",))).headline
    assert (h.debunked_posts, h.debunked_confirmed, h.debunked_proposed_only) == (1, 1, 0)
    only = store.report(Selection(handles=("demo_account",), include_proposed=False))
    assert only.headline.debunked_posts == 1 and only.rows[0].fact_check.decided_by == "ana"


@pytest.mark.slow
def test_selection_window_keywords_and_reposts(store: claimwatch.Workspace) -> None:
    sel = Selection(since=datetime(2024, 7, 2, tzinfo=UTC), until=datetime(2024, 7, 4, tzinfo=UTC))
    assert [r.post_id for r in store.report(sel).rows] == ["2"]
    with_rt = store.report(Selection(handles=("demo_account",), include_reposts=True))
    rt = next(r for r in with_rt.rows if r.post_type == "repost")
    assert rt.post_id == "3" and rt.views is None
    assert with_rt.headline.views == 4120, "a repost never adds views"
    assert [r.post_id for r in store.report(Selection(keywords=("BREAD",))).rows] == ["5"]


@pytest.mark.slow
def test_renderers_escape_post_text(store: claimwatch.Workspace, tmp_path: Path) -> None:
    rep = store.report(Selection(handles=("demo_account",)))
    html = to_html(rep)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Content-Security-Policy" in html
    md = to_markdown(rep)
    assert "<script>" not in md and "| 1 | [1](<https://x.com/demo_account/status/1>)" in md
    paths = write_all(rep, tmp_path / "out")
    with open(paths["csv"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[1]["text"].startswith("'=HYPERLINK"), "formula cells are neutralised"
    data = json.loads(paths["json"].read_text())
    assert data["headline"]["debunked_posts"] == 2 and len(data["rows"]) == 4
    assert data["rows"][0]["fact_checks"][0]["url"] == "https://example.org/fc/machines"
    assert data["rows"][0]["views_observed_at"] == "2024-11-01T12:00:00Z"
