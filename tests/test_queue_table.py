"""The materialised review queue (``review_queue_entries``): after any mix of writes — ingest,
new snapshots, text edits, matching, skips, analysis, decisions, choices, attachments, reopenings,
bulk confirms — the rows every writer keeps equal a rebuild from the store, and so do the counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from queue_state import queue_state, rebuilt_queue

import claimwatch
from claimwatch import records as r
from claimwatch.store import db, repo
from claimwatch.store import schema as s

T0 = datetime(2024, 7, 1, tzinfo=UTC)
BY = "ana"


def _post(i: int, rng: random.Random, text: str | None = None, seen: datetime | None = None) -> r.Post:
    kind = rng.choice([r.PostKind.ORIGINAL] * 4 + [r.PostKind.REPOST, r.PostKind.QUOTE])
    views = rng.choice([None, 0, rng.randint(1, 5000), rng.randint(1, 5000)])
    seen = seen or T0 + timedelta(hours=rng.randint(0, 500))
    return r.Post(
        platform="x",
        platform_id=f"9{i:04d}",
        author=r.Author("x", f"a{i % 3}", handle=f"acct{i % 3}"),
        created_at=T0 + timedelta(days=i % 5),
        text=text or f"synthetic post {i} about ballots {rng.randint(0, 3)}",
        kind=kind,
        lang=rng.choice(["en", "de", None]),
        metrics=None if kind == r.PostKind.REPOST else r.MetricSnapshot(seen, views=views, likes=rng.randint(0, 9)),
        collected=rng.random() > 0.1,
    )


def _operate(ws: claimwatch.Workspace, rng: random.Random, posts: dict[int, r.Post], fcs: list[int]) -> str:
    """One random write through the store's own writers; returns its name (for the failure message)."""
    with db.writing(ws.engine) as conn:
        ids = conn.scalars(sa.select(s.Post.id).order_by(s.Post.id)).all()
        matches = conn.execute(sa.select(s.Match.id, s.Match.post_id, s.Match.status)).all()
        op = rng.choice(
            ["ingest", "snapshot", "edit", "match", "match", "skip", "analysis", "decide", "choose", "attach", "reopen", "bulk"]
        )  # fmt: skip
        if op == "ingest" or not ids:
            new = [_post(len(posts) + k, rng) for k in range(rng.randint(1, 4))]
            repo.upsert_posts(conn, new, None)
            posts.update({len(posts) + k: p for k, p in enumerate(new)})
            return "ingest"
        if op in ("snapshot", "edit"):
            key = rng.choice(list(posts))
            old = posts[key]
            seen = T0 + timedelta(hours=rng.randint(0, 900))  # older or newer than the stored one
            again = _post(key, rng, old.text if op == "snapshot" else f"edited {rng.random()}", seen)
            again.kind, again.collected = (old.kind, old.collected) if op == "snapshot" else (again.kind, True)
            repo.upsert_posts(conn, [again], None)
            posts[key] = again
            return op
        post_id = rng.choice(ids)
        if op == "match":
            chosen = rng.sample(fcs, rng.randint(0, 3))
            rows = [
                repo.CandidateRow(fc, rank, round(rng.random(), 3), {}, rng.choice([None, round(rng.random(), 3)]),
                                  rng.random() < 0.4)
                for rank, fc in enumerate(chosen, start=1)
            ]  # fmt: skip
            repo.write_matches(conn, post_id, rows, "test", "v1")
        elif op == "skip":
            repo.set_match_state(conn, post_id, "v1", "no text")
        elif op == "analysis":
            scores = [[0, 5, round(rng.random(), 3)] for _ in range(rng.randint(0, 2))]
            cw = rng.choice([None, round(rng.random(), 3), round(rng.random(), 3)])
            lang = rng.choice(["en", "fr", "und"])
            repo.write_analysis(conn, [dict(post_id=post_id, lang=lang, checkworthiness=cw, sentence_scores=scores)])
        elif op == "attach":
            repo.attach(conn, post_id, rng.choice(fcs), BY)
        elif matches:
            m = rng.choice(matches)
            try:
                if op == "decide":
                    repo.decide(conn, m.id, rng.choice([r.DecisionKind.CONFIRMED, r.DecisionKind.REJECTED]), BY)
                elif op == "choose":
                    repo.choose(conn, m.id, BY)
                elif op == "reopen":
                    repo.decide(conn, m.id, r.DecisionKind.REOPENED, BY)
                else:
                    version = repo.pending_version(conn, m.id)
                    if version is not None:
                        repo.decide(conn, m.id, r.DecisionKind.CONFIRMED, BY, None, version)
            except ValueError:  # a reopen of a match nobody decided: refused, nothing written
                pass
        return op


def _factchecks(ws: claimwatch.Workspace, n: int) -> list[int]:
    with db.writing(ws.engine) as conn:
        repo.upsert_factchecks(
            conn, [(r.FactCheck(f"https://example.org/fc/{i}", f"synthetic claim {i}"), "t") for i in range(n)], None
        )
        return list(conn.scalars(sa.select(s.FactCheck.id)))


def _random_writes(
    ws: claimwatch.Workspace, rng: random.Random, fcs: list[int], steps: int, posts: dict | None = None
) -> None:
    posts = {} if posts is None else posts
    for _ in range(steps):
        _operate(ws, rng, posts, fcs)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_the_maintained_queue_equals_a_rebuild_after_any_mix_of_writes(tmp_path, seed: int) -> None:
    ws = claimwatch.open(tmp_path / "q.db")
    _check_random_writes(ws, seed, steps=80)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 4])
def test_the_maintained_queue_equals_a_rebuild_after_a_long_mix(tmp_path, seed: int) -> None:
    ws = claimwatch.open(tmp_path / "q.db")
    _check_random_writes(ws, seed, steps=400)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_maintained_queue_equals_a_rebuild_on_postgresql(each_store: claimwatch.Workspace) -> None:
    if each_store.engine.dialect.name != "postgresql":
        pytest.skip("the SQLite run is the fast test above")
    _check_random_writes(each_store, 1, steps=80)


def _check_random_writes(ws: claimwatch.Workspace, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    fcs = _factchecks(ws, 5)
    posts: dict[int, r.Post] = {}
    done: list[str] = []
    seen: set[str] = set()
    for step in range(steps):
        done.append(_operate(ws, rng, posts, fcs))
        if step % 10 == 9 or step == steps - 1:
            with ws.engine.connect() as conn:
                kept = queue_state(conn)
            assert kept == rebuilt_queue(ws), f"after {done}"
            seen.update(q for q, n in kept[1].items() if n)
    # the mix reached every list, so the comparison covered each
    assert seen >= {"proposed", "candidate", "all", "decided", "unchecked", "report", "unmatched"}


def test_latest_views_keep_the_newest_snapshot_that_counted_views(tmp_path) -> None:
    ws = claimwatch.open(tmp_path / "v.db")
    rng = random.Random(0)

    def ingest(seen: datetime, views: int | None) -> tuple[int | None, datetime | None]:
        p = _post(1, random.Random(5), "same text", seen)
        p.kind, p.metrics = r.PostKind.ORIGINAL, r.MetricSnapshot(seen, views=views, likes=rng.randint(0, 3))
        with db.writing(ws.engine) as conn:
            repo.upsert_posts(conn, [p], None)
            return tuple(conn.execute(sa.select(s.Post.views_latest, s.Post.views_latest_at)).one())

    assert ingest(T0 + timedelta(days=2), 50) == (50, T0 + timedelta(days=2))
    assert ingest(T0 + timedelta(days=1), 10) == (50, T0 + timedelta(days=2))  # older: kept as history only
    assert ingest(T0 + timedelta(days=3), None) == (50, T0 + timedelta(days=2))  # unknown is not 0
    assert ingest(T0 + timedelta(days=4), 0) == (0, T0 + timedelta(days=4))


# --------------------------------------------------------------------------- the dashboard's lists


def _unchecked_store(ws: claimwatch.Workspace, n: int = 200) -> None:
    """``n`` posts, platform ids in the reverse of store-id order (ties are broken by platform id),
    many of them tied (same score, unknown views), some matched, some reposts or context only."""
    rng = random.Random(11)
    posts = [_post(n - i, rng) for i in range(n)]
    for p in posts[::7]:
        p.metrics = None  # unknown views
    with db.writing(ws.engine) as conn:
        repo.upsert_factchecks(conn, [(r.FactCheck("https://example.org/fc/1", "synthetic claim"), "t")], None)
        fc = conn.scalar(sa.select(s.FactCheck.id))
        repo.upsert_posts(conn, posts, None)
        ids = conn.scalars(sa.select(s.Post.id).order_by(s.Post.id)).all()
        rows = []
        for k, post_id in enumerate(ids):
            cw = [None, 0.3, 0.6, 0.6, 0.9][k % 5]
            rows.append(
                dict(post_id=post_id, lang="en", checkworthiness=cw, sentence_scores=[[0, 4, [0.2, 0.7][k % 2]]])
            )
            if k % 6 == 0:
                repo.write_matches(conn, post_id, [repo.CandidateRow(fc, 1, 0.9, {}, None, k % 12 == 0)], "t", "v1")
        repo.write_analysis(conn, rows)


@pytest.mark.parametrize("thresholds", [(0.5, 0.5), (0.65, 0.95), (0.0, 0.0), (0.95, 0.95)])
@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_the_bounded_unchecked_list_is_the_reports(tmp_path, thresholds: tuple[float, float]) -> None:
    from claimwatch.analysis.report import Selection, build_report, unchecked_rows

    ws = claimwatch.open(tmp_path / "u.db")
    _unchecked_store(ws)
    want = build_report(ws.engine, Selection(), None, thresholds).unchecked
    with ws.engine.connect() as conn:
        for limit in (50, 7, 1):
            assert unchecked_rows(conn, thresholds, limit) == want[:limit]
    assert thresholds != (0.5, 0.5) or len(want) == 50  # the cut at 50 is exercised


@pytest.mark.slow  # loads the shipped check-worthiness model for its thresholds
def test_the_dashboard_lists_and_warns_as_the_whole_store_report(tmp_path) -> None:
    ws = claimwatch.open(tmp_path / "d.db")
    _unchecked_store(ws)
    report = ws.report()
    assert ws.unchecked(50) == report.unchecked[:50] and report.unchecked
    assert ws.unchecked_rule() == report.unchecked_rule
    assert ws.store_warnings() == report.warnings and "not matched yet" in report.warnings[0]
    empty = claimwatch.open(tmp_path / "e.db")
    assert empty.unchecked() == [] and empty.store_warnings() == empty.report().warnings == []


@pytest.mark.slow
def test_the_dashboard_equals_the_report_after_random_writes(tmp_path) -> None:
    ws = claimwatch.open(tmp_path / "r.db", checkworthiness_model="none")  # thresholds 0.5, no model to load
    rng = random.Random(5)
    fcs = _factchecks(ws, 4)
    posts: dict[int, r.Post] = {}
    _random_writes(ws, rng, fcs, 60, posts)
    with db.writing(ws.engine) as conn:  # most posts check-worthy, then the mix goes on over them
        ids = conn.scalars(sa.select(s.Post.id)).all()
        repo.write_analysis(conn, [dict(post_id=i, lang="en", checkworthiness=rng.random()) for i in ids])
    _random_writes(ws, rng, fcs, 60, posts)
    report = ws.report()
    assert report.unchecked, "the mix left check-worthy posts without a fact-check"
    assert ws.unchecked(50) == report.unchecked[:50]
    assert ws.store_warnings() == report.warnings


@pytest.mark.slow
def test_the_migration_backfills_what_the_writers_keep(tmp_path) -> None:
    """A store written at the head, taken back to 0008 (the table and the latest views gone),
    then upgraded: the backfill gives the rows and counts the writers had kept."""
    from alembic import command

    path = tmp_path / "m.db"
    ws = claimwatch.open(path)
    rng = random.Random(9)
    fcs = _factchecks(ws, 3)
    _random_writes(ws, rng, fcs, 60)
    with ws.engine.connect() as conn:
        kept = queue_state(conn)
        views = conn.execute(
            sa.select(s.Post.id, s.Post.views_latest, s.Post.views_latest_at).order_by(s.Post.id)
        ).all()
    assert kept[0] and any(v.views_latest is not None for v in views)
    ws.engine.dispose()
    engine = db.create_engine(path)
    with db.writing(engine) as conn:
        command.downgrade(db._alembic_config(conn), "0008")
        assert "review_queue_entries" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    ws = claimwatch.open(path)
    with ws.engine.connect() as conn:
        assert queue_state(conn) == kept
        assert (
            conn.execute(sa.select(s.Post.id, s.Post.views_latest, s.Post.views_latest_at).order_by(s.Post.id)).all()
            == views
        )


@pytest.mark.slow  # ~3 s: 150 writes, 48 filtered queues
def test_each_queue_filter_keeps_the_unfiltered_order(tmp_path) -> None:
    """Every filter of the queue selects, in the same order, the items of the unfiltered queue whose
    post (language detected else the platform's, platform, creation time, account) or confidence fits."""
    ws = claimwatch.open(tmp_path / "f.db")
    rng = random.Random(21)
    fcs = _factchecks(ws, 5)
    _random_writes(ws, rng, fcs, 150)
    day = T0 + timedelta(days=2)
    filters = {
        "lang": ({"lang": "de"}, lambda i: i.post.lang == "de"),
        "lang (detected)": ({"lang": "fr"}, lambda i: i.post.lang == "fr"),
        "platform": ({"platform": "x"}, lambda i: i.post.platform == "x"),
        "dates": (
            {"since": day, "until": day + timedelta(days=2)},
            lambda i: day <= i.post.created_at < day + timedelta(days=2),
        ),
        "band": ({"min_confidence": 0.3, "max_confidence": 0.8}, lambda i: 0.3 <= i.confidence <= 0.8),
        "account": ({"accounts": ["@ACCT1"]}, lambda i: i.post.handle == "acct1"),
    }
    for status in ("proposed", "candidate", "all", "decided"):
        every = ws.review_queue(status=status, limit=1000).items
        assert every, status
        for name, (kwargs, fits) in filters.items():
            page = ws.review_queue(status=status, limit=1000, **kwargs)
            want = [i.post.id for i in every if fits(i)]
            assert [i.post.id for i in page.items] == want and page.total == len(want), (status, name)
            deep = ws.review_queue(status=status, limit=2, offset=1, **kwargs)
            assert [i.post.id for i in deep.items] == want[1:3], (status, name)


def test_a_long_tie_at_the_cut_is_broken_as_the_report_breaks_it(tmp_path) -> None:
    """120 posts with the same score and unknown views all tie at the 50th: the list reads on to the
    end of the tie and orders it by platform id (the reverse of the store's id order here)."""
    from claimwatch.analysis.report import Selection, build_report, unchecked_rows

    ws = claimwatch.open(tmp_path / "t.db")
    rng = random.Random(3)
    posts = [_post(500 - i, rng) for i in range(120)]
    for p in posts:
        p.kind, p.metrics, p.collected = r.PostKind.ORIGINAL, None, True
    with db.writing(ws.engine) as conn:
        repo.upsert_posts(conn, posts, None)
        ids = conn.scalars(sa.select(s.Post.id)).all()
        repo.write_analysis(conn, [dict(post_id=i, lang="en", checkworthiness=0.8) for i in ids])
    want = build_report(ws.engine, Selection(), None, (0.5, 0.5)).unchecked
    assert len(want) == 50 and [row.post_id for row in want] == sorted(row.post_id for row in want)
    with ws.engine.connect() as conn:
        assert unchecked_rows(conn, (0.5, 0.5), 50) == want
