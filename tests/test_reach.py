"""Views as of a date from snapshots ingested in any order; unknown views stay unknown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch.analysis.reach import Total, ad_equivalent, views_as_of, views_over_time, week_of
from claimwatch.analysis.study_file import parse_study
from claimwatch.records import MatchStatus
from claimwatch.store import repo
from claimwatch.store import schema as s
from claimwatch.store.rows import Snapshot


def _t(day: int) -> datetime:
    return datetime(2024, 8, day, 12, tzinfo=UTC)


def _snap(day: int, views: int | None) -> Snapshot:
    return Snapshot(1, _t(day), views, None, None, None, None, None)


def test_views_as_of_ignores_later_and_unknown_snapshots() -> None:
    snaps = [_snap(5, 500), _snap(1, 100), _snap(3, None)]
    assert views_as_of(snaps, None).value == 500
    got = views_as_of(snaps, _t(4))
    assert (got.value, got.observed_at) == (100, _t(1))
    assert views_as_of(snaps, _t(1).replace(hour=11)).value is None
    curve = views_over_time([snaps, [_snap(3, 7)]], None)
    assert [(t.day, v, u) for t, v, u in curve] == [(1, 100, 1), (3, 107, 0), (5, 507, 0)]


def test_totals_count_unknown_views_apart() -> None:
    t = Total()
    for v in (10, None, 5):
        t.add(v)
    assert t.to_dict() == {"posts": 3, "views": 15, "views_unknown": 1}
    assert t.describe() == "15 views (views unknown for 1)"
    nothing_known = Total()
    nothing_known.add(None), nothing_known.add(None)
    assert nothing_known.to_dict() == {"posts": 2, "views": None, "views_unknown": 2}, "unknown, never 0"
    assert nothing_known.describe() == "views unknown for all 2" and ad_equivalent(nothing_known.views, 1.39) is None
    assert Total().to_dict()["views"] == 0, "no posts: nothing unknown"
    assert ad_equivalent(17_100_000_000, 1.39) == 23_769_000.0 and ad_equivalent(5, None) is None
    assert week_of(datetime(2024, 7, 17, tzinfo=UTC)).isoformat() == "2024-07-15"


@pytest.mark.slow  # over half a second on 2 cores
def test_study_reach_with_out_of_order_and_conflicting_snapshots(
    ws: claimwatch.Workspace, tmp_path, write_jsonl
) -> None:
    later = write_jsonl(
        "later.jsonl",
        [
            page(
                [
                    post("1", "Ballots were shredded in Georgia, election stolen", 900),
                    post("2", "Another election claim, ballots again", None),
                ],
                retrieved_at="2024-08-20T00:00:00+00:00",
            )
        ],
    )
    earlier = write_jsonl(
        "earlier.jsonl",
        [
            page(
                [post("1", "Ballots were shredded in Georgia, election stolen", 300)],
                retrieved_at="2024-08-02T00:00:00+00:00",
            )
        ],
    )
    conflict = write_jsonl(
        "conflict.jsonl",
        [
            page(
                [post("1", "Ballots were shredded in Georgia, election stolen", 301)],
                retrieved_at="2024-08-02T00:00:00+00:00",
            )
        ],
    )
    ws.ingest_posts([later])
    ws.ingest_posts([earlier])
    rep = ws.ingest_posts([conflict])
    assert any("conflicting snapshot for post 1" in q.reason for q in ws.quarantine())
    assert rep.ok
    fc = tmp_path / "fc.json"
    fc.write_text(
        __import__("json").dumps([claimreview("https://example.org/fc/shred", "Ballots were shredded", "False")])
    )
    ws.ingest_factchecks([fc])
    with ws.engine.begin() as conn:
        post_ids = {r.platform_id: r.id for r in conn.execute(sa.select(s.Post.id, s.Post.platform_id))}
        fc_id = conn.execute(sa.select(s.FactCheck.id)).scalar_one()
        for pid in post_ids.values():
            repo.write_matches(conn, pid, [repo.CandidateRow(fc_id, 1, 0.9, {}, 0.9, True)], "test-fixture", "v")
    with ws.engine.connect() as conn:
        match_ids = [m for (m,) in conn.execute(sa.select(s.Match.id))]
    for m in match_ids:
        ws.decide(m, MatchStatus.CONFIRMED, "analyst@example.org")

    def study(**views: object) -> dict:
        return {"title": "t", "window": {"from": "2024-07-01", "to": "2024-07-31"}, **views}

    mid = ws.run_study(parse_study(study(views={"policy": "as_of", "as_of": "2024-08-10"})))
    assert {r.post_id: r.views for r in mid.posts} == {"1": 300, "2": None}
    assert mid.summary.total_views == 300 and mid.summary.posts_views_unknown == 1
    latest = ws.run_study(parse_study(study()))
    assert {r["post_id"]: (r["views"], r["views_observed_at"]) for r in latest.to_dict()["posts"]} == {
        "1": (900, "2024-08-20T00:00:00Z"),
        "2": (None, None),
    }
    assert "views unknown for 1" in latest.headline()[0]
