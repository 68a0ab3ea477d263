"""Matching with the real bundled encoder and a real persisted index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post
from queue_state import queue_state, rebuilt_queue

import claimwatch
from claimwatch.claims.encoder import Encoder, ModelNotFound
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.text import clean_query
from claimwatch.records import MatchStatus
from claimwatch.store import schema as s

FACTCHECKS = [
    claimreview(
        "https://example.org/fc/noncitizens",
        "Large numbers of non-citizens are registering to vote in swing states.",
        "False",
    ),
    claimreview(
        "https://example.org/fc/machines",
        "Voting machines secretly switched votes from one candidate to another.",
        "Pants on Fire",
    ),
    claimreview(
        "https://example.org/fc/dead", "Thousands of dead people cast ballots in the last election.", "Mostly False"
    ),
    claimreview("https://example.org/fc/turnout", "Turnout among young voters rose in the midterms.", "True"),
]


@pytest.fixture()
def loaded(mws: claimwatch.Workspace, tmp_path: Path, write_jsonl) -> claimwatch.Workspace:
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps(FACTCHECKS))
    mws.ingest_factchecks([fc])
    posts = write_jsonl(
        "p.jsonl",
        [
            page(
                [
                    post(
                        "1",
                        "Wake up!! Illegal aliens are being registered as voters in swing states like Arizona https://t.co/x",
                    ),
                    post("2", "The voting machines flipped votes from Trump to Biden, everyone knows it"),
                    post("3", "Lovely sunny afternoon at the farmers market, got fresh peaches"),
                    post("4", "", attachments={"media_keys": ["3_1"]}),
                    post("5", "https://t.co/abc @someone #tag"),
                ]
            )
        ],
    )
    mws.ingest_posts([posts])
    return mws


def _top(ws: claimwatch.Workspace) -> dict[str, tuple[str, str, float]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.Post.platform_id, s.FactCheck.review_url, s.Match.status, s.Match.score)
            .join(s.Match, s.Match.post_id == s.Post.id)
            .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
            .where(s.Match.rank == 1)
        ).all()
    return {pid: (url, status, score) for pid, url, status, score in rows}


def test_clean_query_strips_urls_handles_and_signatures() -> None:
    text = "RT @bob: Look at this https://t.co/abc pic.twitter.com/XyZ — Some Name (@handle) January 28, 2021"
    assert clean_query(text) == "Look at this"


@pytest.mark.slow  # over half a second on 2 cores
def test_match_proposes_paraphrases_and_skips_textless_posts(loaded: claimwatch.Workspace) -> None:
    rep = loaded.match()
    assert rep.posts_considered == 5 and rep.posts_matched == 3
    assert rep.skipped == {"no text (media-only post)": 1, "only links, handles or hashtags": 1}
    top = _top(loaded)
    assert top["1"][0].endswith("/noncitizens") and top["1"][1] == "proposed"
    assert top["2"][0].endswith("/machines") and top["2"][1] == "proposed"
    assert top["3"][1] == "candidate", "chatter must not be proposed"
    with loaded.engine.connect() as conn:
        ev = conn.scalar(
            sa.select(s.Match.evidence)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(s.Post.platform_id == "2", s.Match.rank == 1)
        )
        skipped = (
            conn.execute(sa.select(s.MatchState.skip_reason).where(s.MatchState.skip_reason.is_not(None)))
            .scalars()
            .all()
        )
    assert "machin" in ev["shared_terms"] and 0 < ev["features"]["cos"] <= 1
    assert sorted(skipped) == ["no text (media-only post)", "only links, handles or hashtags"]
    # Matching again does nothing new: every post was matched against this index version.
    assert loaded.match().posts_considered == 0
    # The matcher refreshes the review-queue rows once per chunk, not per post: what it leaves is
    # what a rebuild makes, matched and skipped posts included.
    with loaded.engine.connect() as conn:
        kept = queue_state(conn)
    assert kept == rebuilt_queue(loaded) and any(row["queue"] == "proposed" for row in kept[0])


@pytest.mark.slow
def test_analyst_decisions_survive_rematch(loaded: claimwatch.Workspace) -> None:
    loaded.match()
    with loaded.engine.connect() as conn:
        mid = conn.scalar(
            sa.select(s.Match.id)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(s.Post.platform_id == "1", s.Match.rank == 1)
        )
    assert loaded.decide(mid, MatchStatus.REJECTED, "analyst@example.org", "different claim")
    loaded.match(rematch=True)
    with loaded.engine.connect() as conn:
        row = conn.execute(sa.select(s.Match.status, s.Match.decided_by, s.Match.note).where(s.Match.id == mid)).one()
    assert tuple(row) == ("rejected", "analyst@example.org", "different claim")
    with pytest.raises(claimwatch.UnknownMatch):
        loaded.decide(10**9, MatchStatus.CONFIRMED, "x", None)


@pytest.mark.slow  # over half a second on 2 cores
def test_index_is_incremental_and_persisted(loaded: claimwatch.Workspace, tmp_path: Path) -> None:
    first = loaded.build_index()
    assert first.total == 4 and first.encoded == 4
    assert loaded.build_index().encoded == 0
    more = tmp_path / "more.json"
    more.write_text(json.dumps([claimreview("https://example.org/fc/new", "Mail ballots were dumped in a river.")]))
    loaded.ingest_factchecks([more])
    second = loaded.build_index()
    assert (second.total, second.encoded, second.reused) == (5, 1, 4)
    assert second.version != first.version
    idx = ClaimIndex.load(loaded.index_dir)
    assert len(idx) == 5 and idx.embeddings.shape == (5, 384)
    assert np.allclose(np.linalg.norm(idx.embeddings, axis=1), 1.0, atol=1e-4)
    # New fact-checks put every post back in the queue.
    loaded.match()
    loaded.ingest_factchecks([more])
    assert loaded.match().posts_considered == 0


def test_corrupted_index_is_detected_and_rebuilt(loaded: claimwatch.Workspace) -> None:
    loaded.build_index()
    emb = loaded.index_dir / "embeddings.npy"
    data = bytearray(emb.read_bytes())
    data[-8:] = b"\x00" * 8
    emb.write_bytes(bytes(data))
    st = loaded.build_index()
    assert st.rebuilt_reason and "checksum" in st.rebuilt_reason and st.encoded == 4
    assert ClaimIndex.load(loaded.index_dir).embeddings.shape == (4, 384)


def test_missing_model_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        Encoder(str(tmp_path / "no-such-model"))
