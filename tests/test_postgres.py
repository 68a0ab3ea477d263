"""The same schema and pipeline on PostgreSQL (set CLAIMWATCH_TEST_PG_URL; .ci/postgres.sh makes one)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import demo_figures
import pytest
import sqlalchemy as sa

import claimwatch
from claimwatch.demo import run_demo
from claimwatch.store import schema as s

PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL"),
]


@pytest.fixture()
def pg_url() -> str:
    assert PG_URL
    claimwatch.open(PG_URL).reset()
    return PG_URL


def test_demo_on_postgres_gives_the_sqlite_figures(pg_url: str, tmp_path: Path, encoder, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_INDEX_DIR", str(tmp_path / "pg.index"))
    report, paths, log = run_demo(tmp_path / "out", pg_url)
    h = report.headline
    assert (h.debunked_posts, h.debunked_views, h.posts, h.views) == demo_figures.HEADLINE
    # The example study (topics, notes, labels, narratives) gives the same figures as on SQLite.
    assert demo_figures.STUDY_HEADLINE in log
    assert demo_figures.STUDY_NOTES in log
    assert json.loads(paths["json"].read_text())["headline"]["observed_to"] == "2024-11-01T12:00:00Z"
    ws = claimwatch.open(pg_url)
    with ws.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        ids = (
            conn.execute(sa.select(s.Post.platform_id).where(s.Post.platform_id.like("19000000000000%")))
            .scalars()
            .all()
        )
    assert ids and all(len(i) == 19 for i in ids)


def test_reingest_on_postgres_changes_nothing(pg_url: str, write_jsonl) -> None:
    from conftest import page, post

    ws = claimwatch.open(pg_url)
    f = write_jsonl("a.jsonl", [page([post("1816000000000000001", "a post about ballots"), "{broken"])])
    first = ws.ingest_posts([f])
    again = ws.ingest_posts([f])
    assert (first.inserted, first.quarantined) == (1, 1)
    assert (again.inserted, again.updated, again.snapshots_added) == (0, 0, 0)
    st = ws.stats()
    assert (st.posts, st.snapshots, st.quarantined) == (1, 1, 1)


def test_demo_never_empties_a_server_store_with_other_data(pg_url: str, tmp_path: Path, write_jsonl) -> None:
    """A1 on PostgreSQL: a database holding a user's posts is refused before anything is written."""
    from conftest import page, post

    from claimwatch.demo import DemoRefused

    ws = claimwatch.open(pg_url)
    ws.ingest_posts([write_jsonl("mine.jsonl", [page([post("1", "my own research post")])])])
    with pytest.raises(DemoRefused, match="holds data the demo did not ingest .*mine.jsonl"):
        run_demo(tmp_path / "out", pg_url)
    assert ws.stats().posts == 1 and not (tmp_path / "out").exists()
