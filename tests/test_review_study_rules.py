"""The review queue's study filter applies the study's topic rule (keywords, a stored topic, a
description) and its narrative rules (the description by embedding too), so it holds the posts
``run_study`` counts; the selection is cached until the study or the store changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from review_store import STUDY, queue_folder, queue_template  # noqa: F401 - fixtures
from test_review_filters import ids

import claimwatch
import claimwatch.api
from claimwatch.analysis.selection_cache import SelectionCache
from claimwatch.analysis.study import run_study
from claimwatch.analysis.study_file import load_study
from claimwatch.records import MatchStatus
from claimwatch.store import repo
from claimwatch.store import schema as s


def study_file(folder: Path, **changes: object) -> Path:
    path = folder / "studies" / "rules.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **changes}))
    return path


#: the study's rules on a post's matches: what a decision (or the fact-check's rating) settles, so
#: the queue keeps the posts they leave out — reviewing them is how they come to count
MATCH_RULES = {"verdict", "match status", "confidence"}


def counted(ws: claimwatch.Workspace, path: Path, encoder=None) -> set[str]:
    """The posts ``run_study`` counts or leaves out by a match rule only: those its post rules
    (accounts, window, platform, kind, topic) select."""
    result = run_study(ws.engine, load_study(path), encoder)
    by_match = {e.post_id for e in result.excluded_posts if e.reasons[0].rule in MATCH_RULES}
    return {row.post_id for row in result.posts} | by_match


def queued(ws: claimwatch.Workspace, path: Path, narrative: str | None = None) -> set[str]:
    return set(ids(ws.review_queue(study=path, narrative=narrative, limit=50)))


def write_topic(ws: claimwatch.Workspace, name: str, assigned: set[str]) -> None:
    """Topic scores as ``claimwatch match --topics`` stores them: every post scored, some assigned."""
    with ws.engine.begin() as conn:
        posts = dict(conn.execute(sa.select(s.Post.platform_id, s.Post.id)).all())
        rows = [
            dict(post_id=pid, topic=name, similarity=None, keywords=[], assigned=key in assigned, topics_version="t1")
            for key, pid in posts.items()
        ]
        repo.write_topics(conn, list(posts.values()), rows)


@pytest.mark.slow
def test_a_keyword_topic_filters_the_queue_as_the_study_counts(queue_folder: Path) -> None:  # noqa: F811
    ws = claimwatch.open(queue_folder / "queue.db")
    path = study_file(queue_folder, topic={"name": "shredding", "keywords": ["shredded"]})
    assert queued(ws, path) == counted(ws, path) == {"11", "12", "13"}  # 3 of the 6 posts say "shredded"
    # the narrative filter applies to the on-topic posts only
    assert queued(ws, path, "shredded ballots") == {"11", "12", "13"}
    path = study_file(queue_folder, topic={"name": "voting", "keywords": ["vot*"]})
    assert queued(ws, path) == counted(ws, path) == {"14", "15", "16"}
    assert queued(ws, path, "shredded ballots") == set()


def test_a_stored_topic_filters_the_queue_as_the_study_counts(queue_folder: Path) -> None:  # noqa: F811
    ws = claimwatch.open(queue_folder / "queue.db")
    path = study_file(queue_folder, topic="ballots")
    with pytest.raises(ValueError, match="topic 'ballots' has not been scored in this store"):
        queued(ws, path)
    write_topic(ws, "ballots", {"11", "14"})
    assert queued(ws, path) == counted(ws, path) == {"11", "14"}
    # scored again with other posts assigned: the cached selection is not served
    write_topic(ws, "ballots", {"12", "13", "16"})
    assert queued(ws, path) == counted(ws, path) == {"12", "13", "16"}


def test_the_selection_is_cached_until_the_study_or_the_store_changes(
    queue_folder: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = claimwatch.open(queue_folder / "queue.db")
    calls: list[str | None] = []
    real = claimwatch.api.review_selection

    def counting(conn, study, narrative=None, encoder=None):
        calls.append(narrative)
        return real(conn, study, narrative, encoder)

    monkeypatch.setattr(claimwatch.api, "review_selection", counting)
    study = load_study(queue_folder / "studies" / "election.yaml")
    first = ws.review_queue(study=study, narrative="shredded ballots")
    assert ws.review_queue(study=study, narrative="shredded ballots", offset=1).items == first.items[1:]
    assert calls == ["shredded ballots"], "the second page came from the cache"
    # a decision may move a post between narratives (its confirmed match counts, not its candidates)
    ws.decide(first.items[0].match_id, MatchStatus.REJECTED, "ana")
    ws.review_queue(study=study, narrative="shredded ballots")
    assert len(calls) == 2
    # the same rules (another title) are the same selection; other rules are not
    ws.review_queue(study=dataclasses.replace(study, title="renamed"), narrative="shredded ballots")
    assert len(calls) == 2
    assert ws.review_queue(study=dataclasses.replace(study, accounts=("nobody",))).total == 0
    assert len(calls) == 3


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = SelectionCache(size=2)
    cache.put("a", [1])
    cache.put("b", [2])
    assert cache.get("a") == [1]  # "a" used last: "b" goes first
    cache.put("c", [3])
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == ([1], None, [3], 2)
    ids = SelectionCache(size=10, max_ids=5)
    ids.put("a", [1, 2])
    ids.put("b", [3, 4, 5])
    ids.put("c", [6])  # six ids: "a" goes
    assert (ids.get("a"), ids.get("b"), ids.get("c")) == (None, [3, 4, 5], [6])
    ids.put("d", list(range(6)))  # more than all: not kept, nothing dropped for it
    assert (ids.get("d"), len(ids)) == (None, 2)


@pytest.mark.slow  # the sentence encoder
def test_a_narrative_description_assigns_the_posts_run_study_assigns(queue_folder: Path, encoder) -> None:  # noqa: F811
    ws = claimwatch.open(queue_folder / "queue.db")
    ws._encoder = encoder  # the session's loaded model (what the workspace would load)
    narratives = [
        {"name": "destroyed ballots", "description": "Ballots were destroyed or shredded before they were counted"},
        {"name": "dead voters", "keywords": ["dead"]},
    ]
    path = study_file(queue_folder, narratives=narratives)
    rows = run_study(ws.engine, load_study(path), encoder).posts
    assert {r.category_rule for r in rows} == {"embedding", "keywords"}
    for name in ("destroyed ballots", "dead voters"):
        assigned = {r.post_id for r in rows if r.claim_category == name}
        assert assigned, f"run_study assigns some posts to {name}"
        # among the posts the study counts, the queue's narrative holds exactly those
        assert queued(ws, path, name) & {r.post_id for r in rows} == assigned


@pytest.mark.slow  # the sentence encoder
def test_a_topic_description_filters_the_queue_as_the_study_counts(queue_folder: Path, encoder) -> None:  # noqa: F811
    ws = claimwatch.open(queue_folder / "queue.db")
    ws._encoder = encoder
    path = study_file(
        queue_folder, topic={"name": "shredding", "descriptions": ["Ballots were shredded"], "threshold": 0.56}
    )
    on_topic = queued(ws, path)
    assert on_topic == counted(ws, path, encoder)
    assert on_topic == {"11", "12", "13"}  # the ballots posts (cosine 0.60-0.79; the others 0.50-0.52)
