"""Ingest into the real SQLite store: idempotence, snapshots, quarantine, kill-and-rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch.store import schema as s
from claimwatch.store.rows import RatingCount


def _count(ws: claimwatch.Workspace, table: type[s.Base]) -> int:
    with ws.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def _head() -> str:
    from alembic.script import ScriptDirectory

    from claimwatch.store import db

    with db.create_engine("sqlite://").connect() as conn:
        return ScriptDirectory.from_config(db._alembic_config(conn)).get_current_head()


def test_migrations_create_exactly_the_schema(ws: claimwatch.Workspace) -> None:
    """The ORM tables and what the migrations built agree (no column or index missing on either side)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from claimwatch.store.search_index import is_search_object

    opts = {"compare_type": False, "include_object": lambda obj, name, *_: not is_search_object(name)}
    with ws.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), s.Base.metadata)
    assert diff == []


def test_store_is_sqlite_wal_with_migrations(ws: claimwatch.Workspace) -> None:
    with ws.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == _head()
        tables = set(sa.inspect(conn).get_table_names())
    assert {
        "posts",
        "authors",
        "media",
        "metric_snapshots",
        "factchecks",
        "matches",
        "ingest_runs",
        "quarantine",
        "match_state",
    } <= tables


def test_an_older_store_is_migrated_in_place(tmp_path: Path, write_jsonl) -> None:
    from alembic import command

    from claimwatch.store import db

    engine = db.create_engine(tmp_path / "old.db")
    with engine.begin() as conn:
        command.upgrade(db._alembic_config(conn), "0001")
        assert "confidence" not in {c["name"] for c in sa.inspect(conn).get_columns("matches")}
    engine.dispose()
    ws = claimwatch.open(tmp_path / "old.db")
    with ws.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == _head()
        assert "confidence" in {c["name"] for c in sa.inspect(conn).get_columns("matches")}


def test_reingest_changes_nothing_and_keeps_raw(ws: claimwatch.Workspace, write_jsonl) -> None:
    f = write_jsonl("a.jsonl", [page([post("1001", "first post text here"), post("1002", "second post text")])])
    first = ws.ingest_posts([f])
    assert (first.inserted, first.updated, first.snapshots_added) == (2, 0, 2)
    before = ws.stats()
    again = ws.ingest_posts([f])
    assert (again.inserted, again.updated, again.unchanged, again.snapshots_added) == (0, 0, 2, 0)
    after = ws.stats()
    assert replace(after, ingest_runs={}) == replace(before, ingest_runs={})  # all but the run counts
    with ws.engine.connect() as conn:
        raw = conn.scalar(sa.select(s.Post.raw).where(s.Post.platform_id == "1001"))
    assert raw["public_metrics"]["impression_count"] == 1000 and raw["text"] == "first post text here"


def test_later_observation_adds_a_snapshot_same_one_adds_nothing(ws: claimwatch.Workspace, write_jsonl) -> None:
    a = write_jsonl(
        "a.jsonl", [page([post("1", "a post about things", 100)], retrieved_at="2024-08-01T12:00:00+00:00")]
    )
    b = write_jsonl(
        "b.jsonl", [page([post("1", "a post about things", 250)], retrieved_at="2024-11-01T12:00:00+00:00")]
    )
    ws.ingest_posts([a])
    rep = ws.ingest_posts([b, a])
    assert rep.snapshots_added == 1 and rep.inserted == 0 and rep.updated == 0
    with ws.engine.connect() as conn:
        snaps = conn.execute(
            sa.select(s.MetricSnapshot.observed_at, s.MetricSnapshot.views).order_by(s.MetricSnapshot.observed_at)
        ).all()
    assert [(t.isoformat(), v) for t, v in snaps] == [
        ("2024-08-01T12:00:00+00:00", 100),
        ("2024-11-01T12:00:00+00:00", 250),
    ]


def test_conflicting_duplicate_snapshot_keeps_first_and_reports(ws: claimwatch.Workspace, write_jsonl) -> None:
    a = write_jsonl("a.jsonl", [page([post("1", "a post about things", 100)])])
    b = write_jsonl("b.jsonl", [page([post("1", "a post about things", 999)])])  # same retrieved_at
    ws.ingest_posts([a])
    ws.ingest_posts([b])
    rows = ws.quarantine(action="conflict")
    assert len(rows) == 1 and "conflicting snapshot for post 1" in rows[0].reason and "999" in rows[0].reason
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(s.MetricSnapshot.views)).scalars().all() == [100]


def test_observed_at_falls_back_to_option_then_mtime(ws: claimwatch.Workspace, write_jsonl) -> None:
    f = write_jsonl("p.jsonl", [page([post("5", "no retrieval time on this page")], retrieved_at=None)])
    os.utime(f, (1722513600, 1722513600))  # 2024-08-01T12:00:00Z
    rep = ws.ingest_posts([f])
    assert rep.files[0].observed_at_source == "file modification time"
    assert rep.files[0].observed_at == "2024-08-01T12:00:00+00:00"
    g = write_jsonl("q.jsonl", [page([post("6", "another page without retrieval time")], retrieved_at=None)])
    rep = ws.ingest_posts([g], observed_at=datetime(2024, 9, 1, tzinfo=UTC))
    assert rep.files[0].observed_at_source == "--observed-at"
    with ws.engine.connect() as conn:
        got = dict(
            conn.execute(
                sa.select(s.Post.platform_id, s.MetricSnapshot.observed_at).join(
                    s.MetricSnapshot, s.MetricSnapshot.post_id == s.Post.id
                )
            ).all()
        )
    assert got["5"].isoformat() == "2024-08-01T12:00:00+00:00" and got["6"].isoformat() == "2024-09-01T00:00:00+00:00"


def test_bad_records_are_quarantined_and_valid_ones_land(ws: claimwatch.Workspace, write_jsonl) -> None:
    f = write_jsonl(
        "mixed.jsonl",
        [
            page([post("1", "valid post number one")]),
            '{"data": [{"id": "2", "text": "truncated',
            {"includes": {"users": []}, "meta": {"result_count": 3}},
            page([post("3", "views written as text", "1.2M"), post("4", "negative views here", -5)]),
            page([post("1", "valid post number one")]),  # duplicate within the file
        ],
    )
    rep = ws.ingest_posts([f])
    assert rep.inserted == 3 and rep.ok
    assert rep.quarantined == 3
    assert rep.summary().startswith("ingested 3, updated 0, quarantined 3 (see `claimwatch quarantine list`)")
    rejected = ws.quarantine(action="rejected")
    reasons = {row.location.split(",")[0]: row.reason for row in rejected}
    assert set(reasons) >= {"line 2", "line 3"}
    assert any("duplicate of the record at line 1" in row.reason for row in rejected)
    assert all(row.source_path == str(f) for row in rejected)
    dropped = ws.quarantine(action="field_dropped")
    assert len(dropped) == 2 and any("1.2M" in row.reason for row in dropped)
    with ws.engine.connect() as conn:
        views = dict(
            conn.execute(
                sa.select(s.Post.platform_id, s.MetricSnapshot.views).join(
                    s.MetricSnapshot, s.MetricSnapshot.post_id == s.Post.id
                )
            ).all()
        )
    assert views == {"1": 1000, "3": None, "4": None}
    # Re-running adds no quarantine rows either.
    n = _count(ws, s.Quarantine)
    ws.ingest_posts([f])
    assert _count(ws, s.Quarantine) == n


def test_nothing_readable_is_not_ok(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,text\n1,caf\xe9 au lait\n".encode("latin-1"))
    rep = ws.ingest_posts([empty, tmp_path / "missing.jsonl"])
    assert not rep.ok and rep.files[0].error and "empty" in rep.files[0].error
    assert rep.files[1].error == "no such file"
    assert {row.location for row in ws.quarantine()} == {"file"}
    rep = ws.ingest_posts([latin])
    assert not rep.ok and rep.quarantined == 1
    assert "UTF-8" in ws.quarantine(path="latin.csv")[0].reason


def test_wrong_command_for_the_file_says_so(ws: claimwatch.Workspace, write_jsonl, tmp_path: Path) -> None:
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps(claimreview("https://example.org/fc/1", "a claim")))
    rep = ws.ingest_posts([fc])
    assert not rep.ok and "ingest factchecks" in rep.files[0].error
    posts = write_jsonl("p.jsonl", [page([post("1", "a post")])])
    rep = ws.ingest_factchecks([posts])
    assert not rep.ok and "ingest posts" in rep.files[0].error


def test_factchecks_idempotent_keyed_by_url_and_claim(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    f = tmp_path / "fc.json"
    f.write_text(
        json.dumps(
            [
                claimreview("https://example.org/fc/1", "Claim one about ballots", "Pants on Fire"),
                claimreview("https://example.org/fc/1", "Claim two about machines", "Falso"),
                claimreview("https://example.org/fc/2", "Claim without a rating", None),
            ]
        )
    )
    rep = ws.ingest_factchecks([f])
    assert rep.inserted == 3 and rep.warnings == 1
    assert ws.ingest_factchecks([f]).inserted == 0
    st = ws.stats()
    assert st.factchecks == 3 and st.factchecks_by_verdict == {"false": 2, "unknown": 1}
    assert st.unmapped_ratings == (RatingCount(rating=None, count=1),)


_KILL_SCRIPT = """
import sys, claimwatch
from claimwatch import ingest
ws = claimwatch.open(sys.argv[1])
ingest.ingest_posts(ws.engine, [__import__('pathlib').Path(sys.argv[2])], batch_size=200)
"""


@pytest.mark.slow
def test_sigkill_midway_then_rerun_leaves_no_duplicates(tmp_path: Path, write_jsonl) -> None:
    n_pages, per_page = 300, 100
    lines = [
        page(
            [
                post(str(10_000_000 + p * per_page + i), f"synthetic post {p} {i} with some words")
                for i in range(per_page)
            ]
        )
        for p in range(n_pages)
    ]
    archive = write_jsonl("big.jsonl", lines)
    db = tmp_path / "kill.db"
    claimwatch.open(db)  # create the schema before the race
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(db), str(archive)])
    engine = sa.create_engine(f"sqlite:///{db}")
    deadline = time.monotonic() + 120
    killed_at = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with engine.connect() as conn:
                killed_at = conn.scalar(sa.select(sa.func.count()).select_from(s.Post))
            if killed_at >= 1000:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        proc.wait()
        engine.dispose()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    ws = claimwatch.open(db)
    with ws.engine.connect() as conn:
        posts = conn.scalar(sa.select(sa.func.count()).select_from(s.Post))
        snaps = conn.scalar(sa.select(sa.func.count()).select_from(s.MetricSnapshot))
    assert posts % 200 == 0 and snaps == posts, "a batch was half-written"
    assert 1000 <= posts < n_pages * per_page
    rep = ws.ingest_posts([archive])
    assert rep.inserted == n_pages * per_page - posts and rep.unchanged == posts
    st = ws.stats()
    assert st.posts == n_pages * per_page and st.snapshots == n_pages * per_page
    assert st.ingest_runs == {"interrupted": 1, "completed": 1}
