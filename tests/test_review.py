"""Analyst review: decision history (appended, never overwritten), optimistic concurrency on
SQLite and PostgreSQL, the review queue's order and filters, choose, bulk confirm, the audit log.

Matches are written with the store's own writer (no encoder): each test says exactly which
fact-checks the "matcher" ranked for which post, with which confidence."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, claimreview, page, post

import claimwatch
from claimwatch.records import MatchStatus
from claimwatch.store import db, repo
from claimwatch.store import schema as s
from claimwatch.store.rows import AuditEntry

FCS = [
    claimreview("https://example.org/fc/a", "Claim A is circulating.", "False"),
    claimreview("https://example.org/fc/b", "Claim B is circulating.", "Misleading", publisher="Other Check"),
    claimreview("https://example.org/fc/c", "Claim C is circulating.", "False"),
]


def _ids(ws: claimwatch.Workspace, table: type[s.Base], key: sa.Column, value: sa.Column) -> dict:
    with ws.engine.connect() as conn:
        return {k: v for k, v in conn.execute(sa.select(key, value))}


def _store(ws: claimwatch.Workspace, tmp_path: Path, posts: list[dict], ranked: dict[str, list[tuple]]) -> dict:
    """Posts and fact-checks ingested, then matches as ``ranked`` says: post platform id →
    [(fact-check letter, confidence or None, score, proposed)]. Returns {(post, letter): match id}."""
    (tmp_path / "fc.json").write_text(json.dumps(FCS))
    ws.ingest_factchecks([tmp_path / "fc.json"])
    (tmp_path / "p.jsonl").write_text(json.dumps(page(posts)) + "\n")
    ws.ingest_posts([tmp_path / "p.jsonl"])
    posts_by_pid = _ids(ws, s.Post, s.Post.platform_id, s.Post.id)
    fcs = {url[-1]: fid for url, fid in _ids(ws, s.FactCheck, s.FactCheck.review_url, s.FactCheck.id).items()}
    with db.writing(ws.engine) as conn:
        for pid, hits in ranked.items():
            rows = [
                repo.CandidateRow(
                    fcs[letter],
                    rank,
                    score,
                    {"shared_terms": ["claim", letter], "features": {"cos": score}},
                    conf,
                    prop,
                )
                for rank, (letter, conf, score, prop) in enumerate(hits, 1)
            ]
            repo.write_matches(conn, posts_by_pid[pid], rows, "test-matcher", "v1")
    with ws.engine.connect() as conn:
        return {
            (pid, url[-1]): mid
            for mid, pid, url in conn.execute(
                sa.select(s.Match.id, s.Post.platform_id, s.FactCheck.review_url)
                .join(s.Post, s.Post.id == s.Match.post_id)
                .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
            )
        }


POSTS = [
    post("1", "Claim A is true, share!", views=100),
    post("2", "Claim A again, everyone knows", views=10_000),
    post("3", "Claim B, look it up", views=None),
    post("4", "Claim C? maybe", views=5000),
    post("5", "Something else entirely", views=50),
]
RANKED = {
    "1": [("a", 0.9, 0.8, True), ("b", None, 0.3, False)],
    "2": [("a", 0.6, 0.7, True)],
    "3": [("b", 0.95, 0.9, True)],
    "4": [("c", None, 0.2, False), ("a", None, 0.1, False)],
    "5": [("c", None, 0.15, False)],
}


@pytest.fixture()
def store(each_store: claimwatch.Workspace, tmp_path: Path) -> tuple[claimwatch.Workspace, dict]:
    return each_store, _store(each_store, tmp_path, POSTS, RANKED)


def _status(ws: claimwatch.Workspace, match_id: int) -> tuple[str, int]:
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(s.Match.status, s.Match.version).where(s.Match.id == match_id)).one()
    return row.status, row.version


@pytest.mark.slow  # over half a second on 2 cores
def test_history_is_appended_and_the_status_derived(store) -> None:
    ws, m = store
    first = ws.decide(m["1", "a"], MatchStatus.CONFIRMED, "ana@example.org", "same claim")
    second = ws.decide(m["1", "a"], "rejected", "bob@example.org", "on reflection, not the same", first.version)
    third = ws.decide(m["1", "a"], MatchStatus.PROPOSED, "ana@example.org")  # reopen, as before
    history = ws.match_history(m["1", "a"])
    assert [(d.decision, d.decided_by, d.previous_status, d.new_status, d.version) for d in history] == [
        ("confirmed", "ana@example.org", "proposed", "confirmed", 1),
        ("rejected", "bob@example.org", "confirmed", "rejected", 2),
        ("reopened", "ana@example.org", "rejected", "proposed", 3),
    ]
    assert history == [first, second, third]
    assert history[0].note == "same claim" and history[0].post_text_hash
    assert _status(ws, m["1", "a"]) == ("proposed", 3)
    assert ws.match_history(m["2", "a"]) == []
    with pytest.raises(claimwatch.UnknownMatch, match="no match with id 999999"):
        ws.match_history(999_999)
    with pytest.raises(claimwatch.UnknownMatch):
        ws.decide(999_999, MatchStatus.CONFIRMED, "ana@example.org")


def test_reopen_restores_the_machine_status_and_needs_a_decision(store) -> None:
    ws, m = store
    with pytest.raises(ValueError, match="no decision to reopen"):
        ws.decide(m["4", "c"], "reopened", "ana@example.org")
    ws.decide(m["4", "c"], MatchStatus.CONFIRMED, "ana@example.org")
    assert ws.decide(m["4", "c"], "reopened", "ana@example.org").new_status == "candidate"
    with pytest.raises(ValueError, match="not set it to outdated"):
        ws.decide(m["4", "c"], MatchStatus.OUTDATED, "ana@example.org")


def test_a_stale_version_is_a_conflict_and_writes_nothing(store) -> None:
    ws, m = store
    seen = ws.review_queue().items[0].candidates[0]
    ws.decide(seen.match_id, MatchStatus.CONFIRMED, "bob@example.org", expected_version=seen.version)
    with pytest.raises(claimwatch.DecisionConflict) as exc:
        ws.decide(seen.match_id, MatchStatus.REJECTED, "ana@example.org", expected_version=seen.version)
    message = str(exc.value)
    assert f"match {seen.match_id} was decided by bob@example.org at " in message
    assert "(now confirmed) while you were reviewing it; reload and decide again" in message
    assert [d.decided_by for d in ws.match_history(seen.match_id)] == ["bob@example.org"]
    assert [e.actor for e in ws.audit()] == ["bob@example.org"]


def _race(ws_factory, match_id: int, version: int) -> list[object]:
    """Two analysts, each with their own connection, decide the same match version at once."""
    barrier = threading.Barrier(2)
    results: list[object] = []

    def analyst(name: str, status: MatchStatus) -> None:
        ws = ws_factory()
        barrier.wait()
        try:
            results.append(ws.decide(match_id, status, name, expected_version=version))
        except claimwatch.DecisionConflict as exc:
            results.append(exc)
        finally:
            ws.engine.dispose()

    threads = [
        threading.Thread(target=analyst, args=("ana@example.org", MatchStatus.CONFIRMED)),
        threading.Thread(target=analyst, args=("bob@example.org", MatchStatus.REJECTED)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_analysts_at_once_one_wins(store) -> None:
    ws, m = store
    target = PG_URL if ws.engine.dialect.name == "postgresql" else ws.engine.url.database
    results = _race(lambda: claimwatch.open(target), m["3", "b"], 0)
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, claimwatch.DecisionConflict)]
    assert len(winners) == 1 and len(losers) == 1
    history = ws.match_history(m["3", "b"])
    assert history == winners
    assert _status(ws, m["3", "b"]) == (history[0].new_status, 1)
    assert f"(now {history[0].new_status})" in str(losers[0])
    assert history[0].decided_by in str(losers[0])


def test_rematching_never_touches_decisions_and_keeps_history(store) -> None:
    ws, m = store
    ws.decide(m["1", "a"], MatchStatus.REJECTED, "ana@example.org")
    ws.decide(m["1", "b"], MatchStatus.CONFIRMED, "ana@example.org")
    ws.decide(m["1", "b"], "reopened", "ana@example.org")  # has history, no decision
    with ws.engine.connect() as conn:
        post_id = conn.scalar(sa.select(s.Match.post_id).where(s.Match.id == m["1", "a"]))
    with db.writing(ws.engine) as conn:  # the machine now ranks nothing for the post
        repo.write_matches(conn, post_id, [], "test-matcher", "v2")
    assert _status(ws, m["1", "a"]) == ("rejected", 1)
    assert _status(ws, m["1", "b"])[0] == "outdated"  # kept for its history, counted nowhere
    assert len(ws.match_history(m["1", "b"])) == 2


def test_the_card_of_a_post_with_only_outdated_matches_shows_them(store) -> None:
    """Both candidates were decided and reopened, then the machine ranked nothing: the web page
    still redraws the post's card (its outdated matches), never an error."""
    ws, m = store
    for key in (("1", "a"), ("1", "b")):
        ws.decide(m[key], MatchStatus.CONFIRMED, "ana@example.org")
        ws.decide(m[key], "reopened", "ana@example.org")
    with ws.engine.connect() as conn:
        post_id = conn.scalar(sa.select(s.Match.post_id).where(s.Match.id == m["1", "a"]))
    with db.writing(ws.engine) as conn:
        repo.write_matches(conn, post_id, [], "test-matcher", "v2")
    item = ws.review_item(m["1", "a"])
    assert {c.match_id: c.status for c in item.candidates} == {m["1", "a"]: "outdated", m["1", "b"]: "outdated"}
    assert post_id not in {i.post.id for i in ws.review_queue(status="all").items}


@pytest.mark.slow  # over half a second on 2 cores
def test_queue_orders_by_confidence_times_views_unknown_views_last(store) -> None:
    ws, m = store
    queue = ws.review_queue(status="all")
    # post 2: 0.6 × 10000; post 4: 0.2 × 5000; post 1: 0.9 × 100; post 5: 0.15 × 50; post 3: views unknown
    assert [i.post.platform_id for i in queue.items] == ["2", "4", "1", "5", "3"]
    assert queue.total == 5
    proposed = ws.review_queue()
    assert [i.post.platform_id for i in proposed.items] == ["2", "1", "3"]
    first = proposed.items[1]
    assert first.match_id == m["1", "a"] and first.views == 100 and first.views_observed_at is not None
    assert [(c.factcheck.review_url[-1], c.status, c.rank) for c in first.candidates] == [
        ("a", "proposed", 1),
        ("b", "candidate", 2),
    ]
    cand = first.candidates[1]
    assert cand.matched_terms == ["claim", "b"] and cand.similarity == pytest.approx(0.3)
    assert cand.factcheck.publisher_name == "Other Check" and cand.factcheck.rating_text == "Misleading"
    assert proposed.items[2].views is None
    candidates = ws.review_queue(status="candidate")
    assert [i.post.platform_id for i in candidates.items] == ["4", "5"]
    assert candidates.items[0].match_id == m["4", "c"]


@pytest.mark.slow  # over half a second on 2 cores
def test_a_selection_too_big_to_bind_gives_the_same_queue(store, monkeypatch) -> None:
    """A study selecting more posts than one IN list may bind is filtered as the rows stream:
    the same items, order, total and pages as the bound list."""
    from claimwatch.store import review

    ws, m = store
    with ws.engine.connect() as conn:
        every = [i.post.id for i in review.review_queue(conn, status="all", limit=100).items]
        chosen = every[1:]

        def pages() -> list[tuple[list[int], int]]:
            out = []
            for offset in (0, 1, 2):
                page = review.review_queue(conn, status="all", post_ids=chosen, limit=1, offset=offset)
                out.append(([i.post.id for i in page.items], page.total))
            return out

        bound = pages()
        monkeypatch.setattr(review, "_IN_LIST_MAX", 0)
        assert pages() == bound and bound[0][1] == len(chosen) and bound[2][0] == [chosen[2]]


def test_queue_filters_and_pages(store) -> None:
    ws, m = store
    assert [i.post.platform_id for i in ws.review_queue(min_confidence=0.65).items] == ["1", "3"]
    assert [i.post.platform_id for i in ws.review_queue(max_confidence=0.65).items] == ["2"]
    assert ws.review_queue(accounts=["@Demo_Account"]).total == 3
    assert ws.review_queue(accounts=["nobody"]).total == 0
    assert ws.review_queue(platform="bluesky").total == 0
    page2 = ws.review_queue(status="all", limit=2, offset=2)
    assert [i.post.platform_id for i in page2.items] == ["1", "5"] and page2.total == 5
    ws.decide(m["2", "a"], MatchStatus.CONFIRMED, "ana@example.org")
    assert [i.post.platform_id for i in ws.review_queue().items] == ["1", "3"]
    assert [i.post.platform_id for i in ws.review_queue(status="decided").items] == ["2"]
    with pytest.raises(ValueError, match="queue status"):
        ws.review_queue(status="pending")


@pytest.mark.slow
def test_choose_confirms_one_and_rejects_the_others(store) -> None:
    ws, m = store
    decisions = ws.choose(m["1", "b"], "ana@example.org", "B is the claim")
    assert [(d.match_id, d.decision, d.new_status) for d in decisions] == [
        (m["1", "b"], "chosen", "confirmed"),
        (m["1", "a"], "rejected", "rejected"),
    ]
    assert decisions[1].note == f"match {m['1', 'b']} chosen instead: B is the claim"
    assert _status(ws, m["1", "b"])[0] == "confirmed" and _status(ws, m["1", "a"])[0] == "rejected"
    assert [e.action for e in ws.audit()] == ["match.reject", "match.choose"]
    with pytest.raises(claimwatch.DecisionConflict):
        ws.choose(m["1", "a"], "bob@example.org", expected_version=0)
    assert _status(ws, m["1", "b"])[0] == "confirmed"  # the conflict wrote nothing


def test_choose_with_the_versions_seen_never_overturns_an_unseen_confirmation(store) -> None:
    """Ana's page showed candidates a and b both pending; meanwhile Bob confirmed a. Ana choosing b
    with the versions she saw is a conflict on a, and writes nothing; seen afresh, it goes through."""
    ws, m = store
    seen = {m["1", "a"]: _status(ws, m["1", "a"])[1], m["1", "b"]: _status(ws, m["1", "b"])[1]}
    ws.decide(m["1", "a"], MatchStatus.CONFIRMED, "bob@example.org")
    with pytest.raises(claimwatch.DecisionConflict, match=f"match {m['1', 'a']} was decided by bob@example.org"):
        ws.choose(m["1", "b"], "ana@example.org", seen_versions=seen, expected_version=seen[m["1", "b"]])
    assert _status(ws, m["1", "a"])[0] == "confirmed" and _status(ws, m["1", "b"])[0] != "confirmed"
    fresh = {k: _status(ws, k)[1] for k in seen}
    decided = ws.choose(m["1", "b"], "ana@example.org", seen_versions=fresh)
    assert [(d.match_id, d.new_status) for d in decided] == [(m["1", "b"], "confirmed"), (m["1", "a"], "rejected")]
    assert decided[1].previous_status == "confirmed"  # Bob's confirmation, overturned on the record


@pytest.mark.slow  # over half a second on 2 cores
def test_bulk_confirm_skips_what_someone_decided(store) -> None:
    ws, m = store
    ws.decide(m["2", "a"], MatchStatus.REJECTED, "bob@example.org")
    done = ws.bulk_confirm([m["1", "a"], m["2", "a"], 999_999, m["3", "b"]], "ana@example.org", "same claim")
    assert [d.match_id for d in done] == [m["1", "a"], m["3", "b"]]
    assert _status(ws, m["2", "a"]) == ("rejected", 1)
    assert all(d.decided_by == "ana@example.org" and d.note == "same claim" for d in done)


def test_audit_log_is_append_only_and_exports(store, tmp_path: Path) -> None:
    ws, m = store
    ws.decide(m["1", "a"], MatchStatus.CONFIRMED, "ana@example.org")
    ws.decide(m["1", "a"], MatchStatus.REJECTED, "=bob", '=HYPERLINK("https://example.org")')
    with db.writing(ws.engine) as conn:
        stored = repo.append_audit(conn, AuditEntry("admin", "user.add", "user", "carol", None, {"role": "analyst"}))
    assert stored.id is not None and stored.at is not None
    entries = ws.audit()
    assert [e.action for e in entries] == ["user.add", "match.reject", "match.confirm"]
    confirm = entries[2]
    assert confirm.object_type == "match" and confirm.object_id == str(m["1", "a"])
    assert confirm.before["status"] == "proposed" and confirm.after["status"] == "confirmed"
    assert entries[1].before["status"] == "confirmed" and entries[1].after["version"] == 2
    assert [e.action for e in ws.audit(action="match.")] == ["match.reject", "match.confirm"]
    assert [e.actor for e in ws.audit(actor="admin")] == ["admin"]
    assert ws.audit(limit=1, offset=1) == [entries[1]]

    out = io.StringIO()
    assert ws.export_audit(out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["action"] for line in lines] == ["match.confirm", "match.reject", "user.add"]
    assert lines[0]["at"].endswith("Z") and lines[2]["after"] == {"role": "analyst"}
    path = tmp_path / "audit.csv"
    assert ws.export_audit(path, format="csv") == 3
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows[1]["actor"] == "'=bob" and json.loads(rows[1]["after"])["note"].startswith("=HYPERLINK")
    assert rows[2]["before"] == ""
    with pytest.raises(ValueError, match="use jsonl or csv"):
        ws.export_audit(tmp_path / "x", format="xml")
    with pytest.raises(ValueError, match="actor.s. name"):
        with db.writing(ws.engine) as conn:
            repo.append_audit(conn, AuditEntry("", "user.add", "user", "x"))


def test_reports_count_confirmed_by_an_analyst(store) -> None:
    ws, m = store
    ws.choose(m["1", "a"], "ana@example.org")
    ws.decide(m["3", "b"], MatchStatus.CONFIRMED, "ana@example.org")
    ws.decide(m["3", "b"], "reopened", "ana@example.org")
    stats = ws.stats().matches
    assert stats["confirmed"] == 1 and stats["rejected"] == 0 and stats["proposed"] == 2


@pytest.mark.slow
def test_migration_backfills_history_from_decided_matches(tmp_path: Path) -> None:
    """A store at revision 0006 with a decision (made here, then the store taken back to 0006):
    upgrading gives one history row per decided match."""
    from alembic import command

    path = tmp_path / "old.db"
    ws = claimwatch.open(path)
    m = _store(ws, tmp_path, POSTS, RANKED)
    ws.decide(m["1", "a"], MatchStatus.CONFIRMED, "ana@example.org", "old decision")
    ws.engine.dispose()
    engine = db.create_engine(path)
    with db.writing(engine) as conn:  # back to 0006: history gone, the decision stays on the match
        command.downgrade(db._alembic_config(conn), "0006")
    engine.dispose()
    ws = claimwatch.open(path)
    history = ws.match_history(m["1", "a"])
    assert [(d.decision, d.decided_by, d.note, d.previous_status, d.version) for d in history] == [
        ("confirmed", "ana@example.org", "old decision", None, 1)
    ]
    assert _status(ws, m["1", "a"]) == ("confirmed", 1)
    assert ws.match_history(m["2", "a"]) == []


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_choose_for_one_post_twice_at_once_on_postgres(tmp_path: Path) -> None:
    """Two analysts choose different candidates of one post at once: no deadlock; they run one
    after the other, and the second's rejection of the first's choice is in the history."""
    ws = claimwatch.open(PG_URL)
    ws.reset()
    m = _store(ws, tmp_path, POSTS, RANKED)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def analyst(name: str, match_id: int) -> None:
        mine = claimwatch.open(PG_URL)
        barrier.wait()
        try:
            results.append(mine.choose(match_id, name, expected_version=0))
        except claimwatch.DecisionConflict as exc:
            results.append(exc)
        finally:
            mine.engine.dispose()

    threads = [
        threading.Thread(target=analyst, args=("ana@example.org", m["1", "a"])),
        threading.Thread(target=analyst, args=("bob@example.org", m["1", "b"])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and all(isinstance(r, list | claimwatch.DecisionConflict) for r in results)
    assert {_status(ws, m["1", x])[0] for x in "ab"} == {"confirmed", "rejected"}
    conflicts = [r for r in results if isinstance(r, claimwatch.DecisionConflict)]
    if conflicts:  # bob chose b first, rejecting a: ana's choice of a (version 0) is stale
        assert [c.match_id for c in conflicts] == [m["1", "a"]]
    else:  # ana chose a first; bob's choice of b (a candidate, untouched) rejected it, on the record
        history = ws.match_history(m["1", "a"])
        assert [(d.decision, d.previous_status, d.decided_by) for d in history] == [
            ("chosen", "proposed", "ana@example.org"),
            ("rejected", "confirmed", "bob@example.org"),
        ]
