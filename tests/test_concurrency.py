"""C6: commands writing the same store at once take turns; none fails or loses a record.

Two ``claimwatch ingest posts`` processes read overlapping archives (shared authors, shared
posts) into one store — a new one, so they also race to create it — over and over, on SQLite
and PostgreSQL. Both must exit 0 without a traceback and the store must hold exactly the
union of the two archives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, page, post

import claimwatch
from claimwatch.store import schema as s

SRC = str(Path(claimwatch.__file__).resolve().parents[1])
TRIALS = 4
AUTHORS = 40


def overlapping_archives(
    folder: Path, per_file: int = 1000, overlap: int = 500, per_page: int = 50
) -> tuple[Path, Path, int]:
    """Two twarc2 archives whose posts overlap by ``overlap`` and whose authors are all shared;
    returns them and the number of distinct posts."""
    users = [
        {"id": str(500 + a), "username": f"shared_author_{a}", "name": f"Author {a} (synthetic)"}
        for a in range(AUTHORS)
    ]

    def archive(name: str, first: int, retrieved: str) -> Path:
        ids = range(first, first + per_file)
        pages = [
            page(
                [
                    post(
                        str(10_000 + i),
                        f"synthetic post {i} about ballots and machines",
                        100 + i,
                        author=str(500 + i % AUTHORS),
                    )
                    for i in ids[start : start + per_page]
                ],
                users=users,
                retrieved_at=retrieved,
            )
            for start in range(0, per_file, per_page)
        ]
        path = folder / name
        path.write_text("".join(json.dumps(p) + "\n" for p in pages), encoding="utf-8")
        return path

    a = archive("a.jsonl", 0, "2024-08-01T12:00:00+00:00")
    b = archive("b.jsonl", per_file - overlap, "2024-08-02T12:00:00+00:00")
    return a, b, 2 * per_file - overlap


def _ingest_together(db: str, files: tuple[Path, Path], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "claimwatch", "ingest", "posts", str(f), "--db", db],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        for f in files
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _post_ids(ws: claimwatch.Workspace) -> set[int]:
    with ws.engine.connect() as conn:
        return set(conn.scalars(sa.select(s.Post.id)))


def _matched(ws: claimwatch.Workspace) -> int:
    with ws.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(s.MatchState)) or 0


def _check_trial(
    ws: claimwatch.Workspace, runs: list[subprocess.CompletedProcess[str]], posts: int, per_file: int, overlap: int
) -> None:
    for run in runs:
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]
        assert "quarantined 0" in run.stdout, run.stdout
    st = ws.stats()
    assert (st.posts, st.authors) == (posts, AUTHORS)
    assert st.snapshots == 2 * per_file, "each archive's observation of each post, none lost"
    assert st.quarantined == 0 and st.ingest_runs == {"completed": 2}
    with ws.engine.connect() as conn:
        both = conn.scalar(
            sa.select(sa.func.count()).select_from(
                sa.select(s.MetricSnapshot.post_id)
                .group_by(s.MetricSnapshot.post_id)
                .having(sa.func.count() == 2)
                .subquery()
            )
        )
    assert both == overlap


@pytest.mark.slow
def test_two_ingests_at_once_on_sqlite(tmp_path: Path) -> None:
    a, b, posts = overlapping_archives(tmp_path)
    for trial in range(TRIALS):
        db = tmp_path / f"trial{trial}.db"  # a new store each time: creating it is part of the race
        runs = _ingest_together(str(db), (a, b), tmp_path)
        _check_trial(claimwatch.open(db), runs, posts, 1000, 500)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_two_ingests_at_once_on_postgres(tmp_path: Path) -> None:
    from claimwatch.store import db as store_db

    a, b, posts = overlapping_archives(tmp_path)
    engine = store_db.create_engine(PG_URL)
    for _ in range(TRIALS):
        with engine.begin() as conn:  # an empty database: creating the schema is part of the race
            s.Base.metadata.drop_all(conn)
            sa.Table("alembic_version", sa.MetaData()).drop(conn, checkfirst=True)
        runs = _ingest_together(PG_URL, (a, b), tmp_path)
        _check_trial(claimwatch.open(PG_URL), runs, posts, 1000, 500)
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgres",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL")],
        ),
    ],
)
def test_an_ingest_that_edits_posts_while_match_runs(backend: str, tmp_path: Path, monkeypatch) -> None:
    """``match`` and an ingest editing half of the posts at once: both finish, and no post keeps
    machine matches without having been matched (the edited ones are matched on the next run)."""
    from claimwatch.store import repo

    a, b, _ = overlapping_archives(tmp_path, per_file=1800, overlap=0)  # matched in four chunks
    edited = tmp_path / "edited.jsonl"
    edited.write_text(b.read_text().replace("synthetic post", "edited synthetic post"), encoding="utf-8")
    monkeypatch.setenv("CLAIMWATCH_INDEX_DIR", str(tmp_path / "index"))
    db = str(tmp_path / "m.db") if backend == "sqlite" else PG_URL
    ws = claimwatch.open(db)
    ws.reset()
    ws.ingest_factchecks([Path(claimwatch.__file__).parent / "demo" / "data" / "factchecks.jsonld"])
    ws.ingest_posts([a, b])
    env = {**os.environ, "PYTHONPATH": SRC}
    match = subprocess.Popen(
        [sys.executable, "-m", "claimwatch", "match", "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 300
    while not _matched(ws) and match.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the ingest starts once match has written its first chunk
    assert match.poll() is None, "match finished before the ingest could start"
    ingest = subprocess.run(
        [sys.executable, "-m", "claimwatch", "ingest", "posts", str(edited), "--db", db],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    _, err = match.communicate(timeout=600)
    assert match.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert ingest.returncode == 0 and "updated" in ingest.stdout, ingest.stderr[-2000:]
    with ws.engine.connect() as conn:
        machine = set(conn.scalars(sa.select(s.Match.post_id).where(s.Match.decision.is_(None))))
        matched = set(conn.scalars(sa.select(s.MatchState.post_id)))
    assert machine <= matched, "machine matches only for posts matched on their current text"
    version = ws.load_index().version
    with ws.engine.connect() as conn:
        left = {row.id for row in repo.posts_to_match(conn, version, False, 100)}
    assert left == _post_ids(ws) - matched
    assert ws.match().posts_considered == len(left)
