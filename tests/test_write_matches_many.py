"""The matcher writes a chunk's matches in one batch (``repo.write_matches_many``): the store must end
up exactly as when each post is written on its own, analyst decisions included. Runs on SQLite and
(CLAIMWATCH_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch.records import MatchStatus
from claimwatch.store import queue_table, repo
from claimwatch.store import schema as s

FC_A, FC_B = "https://example.org/fc/a", "https://example.org/fc/b"


def _store(ws: claimwatch.Workspace, tmp_path: Path) -> dict[str, int]:
    """Three posts and two fact-checks; post 1 has an analyst-confirmed match to A and a machine candidate B."""
    fcs, posts = tmp_path / "fc.json", tmp_path / "posts.jsonl"
    fcs.write_text(json.dumps([claimreview(FC_A, "Claim A about ballots"), claimreview(FC_B, "Claim B about ballots")]))
    posts.write_text(
        json.dumps(page([post(str(i), f"Post number {i} says something about ballots", 100 * i) for i in (1, 2, 3)]))
        + "\n",
        encoding="utf-8",
    )
    ws.ingest_factchecks([fcs])
    assert ws.ingest_posts([posts]).ok
    with ws.engine.connect() as conn:
        ids = {row.platform_id: row.id for row in conn.execute(sa.select(s.Post.id, s.Post.platform_id))}
        ids |= {row.review_url: row.id for row in conn.execute(sa.select(s.FactCheck.id, s.FactCheck.review_url))}
    with ws.engine.begin() as conn:
        cands = [repo.CandidateRow(ids[FC_A], 1, 0.9, {}, 0.95, True), repo.CandidateRow(ids[FC_B], 2, 0.4, {})]
        repo.write_matches(conn, ids["1"], cands, "test", "v1")
    with ws.engine.connect() as conn:
        match_a = conn.scalar(sa.select(s.Match.id).where(s.Match.factcheck_id == ids[FC_A]))
    assert ws.decide(match_a, MatchStatus.CONFIRMED, "ana@example.org", "same claim")
    return ids


def _batch(ids: dict[str, int]) -> list[repo.PostMatches]:
    """Post 1 ranked again (A on top, B dropped), post 2 proposed A, post 3 matched with no candidate."""
    return [
        repo.PostMatches(ids["1"], [repo.CandidateRow(ids[FC_A], 1, 0.8, {"q": "one"}, 0.9, True)], "m"),
        repo.PostMatches(ids["2"], [repo.CandidateRow(ids[FC_A], 1, 0.7, {"q": "two"}, 0.92, True)], "m"),
        repo.PostMatches(ids["3"], [], "m"),
    ]


def _state(ws: claimwatch.Workspace) -> tuple[list[tuple], list[tuple]]:
    """Matches and match states, by platform id and review URL (row ids differ between stores)."""
    with ws.engine.connect() as conn:
        matches = conn.execute(
            sa.select(
                s.Post.platform_id,
                s.FactCheck.review_url,
                s.Match.rank,
                s.Match.score,
                s.Match.confidence,
                s.Match.status,
                s.Match.decision,
                s.Match.method,
                s.Match.evidence,
            )
            .join(s.Post, s.Post.id == s.Match.post_id)
            .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
        ).all()
        states = conn.execute(
            sa.select(s.Post.platform_id, s.MatchState.index_version).join(s.Post, s.Post.id == s.MatchState.post_id)
        ).all()
    return sorted(tuple(m) for m in matches), sorted(tuple(x) for x in states)


@pytest.mark.slow
def test_a_batch_writes_what_one_post_at_a_time_writes(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    ids = _store(each_store, tmp_path)
    (tmp_path / "twin").mkdir()
    twin = claimwatch.open(tmp_path / "twin" / "t.db")
    twin_ids = _store(twin, tmp_path / "twin")
    with each_store.engine.begin() as conn:
        proposals = repo.write_matches_many(conn, _batch(ids), "v2")
    with twin.engine.begin() as conn:
        one_by_one = sum(repo.write_matches(conn, p.post_id, p.candidates, p.method, "v2") for p in _batch(twin_ids))
    assert proposals == one_by_one == 1, "post 2's proposal; post 1's pair is confirmed on its current text"
    matches, states = _state(each_store)
    assert (matches, states) == _state(twin)
    by_pair = {m[:2]: m for m in matches}
    assert by_pair[("1", FC_A)][5:8] == ("confirmed", "confirmed", "m"), "the decision stays"
    assert by_pair[("1", FC_A)][2:5] == (1, 0.8, 0.9), "the machine's ranking is updated"
    assert ("1", FC_B) not in by_pair, "the undecided candidate B is gone"
    assert by_pair[("2", FC_A)][5] == "proposed"
    assert states == [("1", "v2"), ("2", "v2"), ("3", "v2")]
    with each_store.engine.connect() as conn:
        queue = queue_table.entries(conn)
    with each_store.engine.begin() as conn:  # the queue rows the batch refreshed are what a rebuild makes
        queue_table.rebuild(conn)
    with each_store.engine.connect() as conn:
        assert queue_table.entries(conn) == queue


def test_a_post_twice_in_one_batch_is_refused(tmp_path: Path) -> None:
    ws = claimwatch.open(tmp_path / "t.db")
    ids = _store(ws, tmp_path)
    with ws.engine.begin() as conn, pytest.raises(ValueError, match="twice"):
        repo.write_matches_many(conn, [repo.PostMatches(ids["2"], [], "m"), repo.PostMatches(ids["2"], [], "m")], "v2")
