"""C7: a store that cannot be used is one clear line; read-only commands open stores read-only;
output files are replaced whole or not at all."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, page, post
from typer.testing import CliRunner

import claimwatch
from claimwatch import atomic
from claimwatch.cli import app
from claimwatch.store import db
from claimwatch.store.db import StoreError


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.stdout, res.stderr


def _one_line_error(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture()
def store(tmp_path: Path, write_jsonl) -> Path:
    path = tmp_path / "store" / "s.db"
    ws = claimwatch.open(path)
    ws.ingest_posts(
        [write_jsonl("p.jsonl", [page([post("1", "a post about ballots"), post("2", "another post")]), "{broken"])]
    )
    ws.engine.dispose()
    return path


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------- store errors


def test_a_folder_as_store_is_one_line(tmp_path: Path) -> None:
    for command in (("stats",), ("ingest", "posts", str(tmp_path / "nothing.jsonl"))):
        _one_line_error(*run(*command, "--db", str(tmp_path))[::2], str(tmp_path), "is a folder")


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("id,text\n" + "1,hello\n" * 200)
    before = notes.read_bytes()
    for command in (("stats",), ("init",), ("report",)):
        _one_line_error(*run(*command, "--db", str(notes))[::2], "not a SQLite database")
    assert notes.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv"]


def test_another_programs_database_is_not_taken_over(tmp_path: Path) -> None:
    other = tmp_path / "places.sqlite"
    engine = sa.create_engine(f"sqlite:///{other}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, url TEXT)")
    engine.dispose()
    _one_line_error(*run("init", "--db", str(other))[::2], "not a claimwatch store")
    with sa.create_engine(f"sqlite:///{other}").connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["bookmarks"]


def test_read_only_commands_never_create_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    for command in (("stats",), ("report",), ("quarantine", "list")):
        _one_line_error(*run(*command, "--db", str(missing))[::2], f"no store at {missing}", "claimwatch init")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_old_schema_is_not_migrated_by_a_read_only_command(tmp_path: Path) -> None:
    from alembic import command

    path = tmp_path / "old.db"
    engine = db.create_engine(path)
    with engine.begin() as conn:
        command.upgrade(db._alembic_config(conn), "0004")
    engine.dispose()
    _one_line_error(*run("stats", "--db", str(path))[::2], "older claimwatch", "0004", "claimwatch init")
    assert run("init", "--db", str(path))[0] == 0
    assert run("stats", "--db", str(path))[0] == 0


@pytest.mark.slow
def test_a_newer_schema_says_upgrade_claimwatch(store: Path) -> None:
    with sa.create_engine(f"sqlite:///{store}").begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    for command in (("stats",), ("init",)):
        _one_line_error(*run(*command, "--db", str(store))[::2], "9999", "upgrade claimwatch")


def test_postgres_urls_and_refused_connections_are_one_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for url in (f"postgres://u:secret@127.0.0.1:{port}/db", f"postgresql+psycopg://u:secret@127.0.0.1:{port}/db"):
        code, _, err = run("stats", "--db", url)
        _one_line_error(code, err, f"127.0.0.1:{port}/db", "refused")
        assert "secret" not in err
    _one_line_error(*run("stats", "--db", "nosuchdialect://x/y")[::2], "nosuchdialect://x/y")


def test_postgres_scheme_aliases_mean_psycopg() -> None:
    assert db.database_url("postgres://u@h/d") == db.database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"


@pytest.mark.slow
def test_disk_full_while_writing_the_store_is_one_line(store: Path, write_jsonl, monkeypatch) -> None:
    """A store that cannot grow (SQLite's max_page_count: the same SQLITE_FULL a full disk gives)
    fails mid-ingest with one line; the batches before it stay, and a rerun with room completes."""
    real = db._sqlite_pragmas

    def capped(read_only: bool):
        on_connect = real(read_only)

        def connect(dbapi_conn: object, record: object) -> None:
            on_connect(dbapi_conn, record)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA max_page_count = " + str(cur.execute("PRAGMA page_count").fetchone()[0] + 3))
            cur.close()

        return connect

    big = write_jsonl(
        "more.jsonl",
        [page([post(str(100 + i), "a longer post about ballots " * 40) for i in range(50)]) for _ in range(1)],
    )
    monkeypatch.setattr(db, "_sqlite_pragmas", capped)
    code, _, err = run("ingest", "posts", str(big), "--db", str(store))
    _one_line_error(code, err, str(store), "the disk is full")
    monkeypatch.setattr(db, "_sqlite_pragmas", real)
    assert run("ingest", "posts", str(big), "--db", str(store))[0] == 0
    assert claimwatch.open(store).stats().posts == 52


def test_described_errors_name_the_reason() -> None:
    import sqlite3

    assert db.describe(sqlite3.OperationalError("attempt to write a readonly database"), "x.db").startswith("read-only")
    assert db.describe(sqlite3.OperationalError("database is locked"), "x.db") == db.BUSY
    assert db.describe(sqlite3.IntegrityError("UNIQUE constraint failed: posts.id"), "x.db") is None


# --------------------------------------------------------------------------- read-only media


def _read_only_commands(path: Path, tmp_path: Path) -> list[tuple[int, str, str]]:
    study = tmp_path / "study.yaml"
    study.write_text("title: t\nwindow: {from: 2024-01-01, to: 2024-12-31}\ninclude: {matches: proposed}\n")
    return [
        run("stats", "--db", str(path)),
        run("quarantine", "list", "--db", str(path)),
        run("report", "--db", str(path), "--out", str(tmp_path / "out")),
        run("study", "run", str(study), "--db", str(path), "--json"),
    ]


@pytest.mark.slow  # over half a second on 2 cores
def test_read_only_commands_read_a_store_on_read_only_media(store: Path, tmp_path: Path, monkeypatch) -> None:
    """Read-only media: the folder cannot be written (tests may run as root, who ignores chmod,
    so the check is made to answer as on a read-only mount); SQLite opens the store immutable."""
    before = _files(store.parent)
    monkeypatch.setattr(db, "writable", lambda folder: Path(folder) != store.parent)
    assert "immutable=1" in db._read_only_url(store) and "mode=ro" in db._read_only_url(store)
    results = _read_only_commands(store, tmp_path)
    assert all(code == 0 for code, *_ in results), results
    assert "posts" in results[0][1] and json.loads(results[3][1])["summary"]["posts"] == 0
    assert _files(store.parent) == before, "nothing written, no -wal or -shm beside the store"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; covered by the test above")
def test_read_only_commands_on_a_chmod_read_only_copy(store: Path, tmp_path: Path) -> None:
    folder = store.parent
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        before = _files(folder)
        assert all(code == 0 for code, *_ in _read_only_commands(store, tmp_path))
        assert _files(folder) == before
    finally:
        folder.chmod(0o755)


def test_read_only_workspace_refuses_to_write(store: Path, write_jsonl) -> None:
    ws = claimwatch.open(store, read_only=True)
    assert ws.stats().posts == 2
    with pytest.raises(StoreError, match="read-only"):
        ws.ingest_posts([write_jsonl("q.jsonl", [page([post("9", "nine")])])])


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_read_only_on_postgres(write_jsonl) -> None:
    ws = claimwatch.open(PG_URL)
    ws.reset()
    ws.ingest_posts([write_jsonl("p.jsonl", [page([post("1", "a post")])])])
    ro = claimwatch.open(PG_URL, read_only=True)
    assert ro.stats().posts == 1
    with pytest.raises(StoreError, match="read-only"):
        ro.ingest_posts([write_jsonl("q.jsonl", [page([post("2", "b post")])])])
    with ws.engine.begin() as conn:
        claimwatch.store.schema.Base.metadata.drop_all(conn)
        sa.Table("alembic_version", sa.MetaData()).drop(conn, checkfirst=True)
    with pytest.raises(StoreError, match="no claimwatch store"):
        claimwatch.open(PG_URL, read_only=True)
    ws.reset()


# --------------------------------------------------------------------------- atomic outputs


def test_a_failed_write_leaves_the_previous_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "report.md"
    target.write_text("the previous report\n")

    class Full:
        def __init__(self, fh: object) -> None:
            self.fh = fh

        def write(self, data: str) -> int:
            self.fh.write(data[:10])  # part of it lands, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"), atomic.replacing(target) as fh:
        Full(fh).write("the new report, much longer than the old one\n" * 100)
    assert target.read_text() == "the previous report\n" and [p.name for p in tmp_path.iterdir()] == ["report.md"]
    atomic.write_text(target, "new\n")
    assert target.read_text() == "new\n" and oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


@pytest.mark.slow  # over half a second on 2 cores
def test_report_out_on_a_full_disk_keeps_the_old_files_and_says_so(store: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    assert run("report", "--db", str(store), "--out", str(out))[0] == 0
    before = _files(out)
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run("report", "--db", str(store), "--out", str(out), "-k", "ballots")
    monkeypatch.setattr(os, "fsync", real)
    # The store has no fact-checks, so the report warns first (A4); the failure itself is one line.
    warning, *rest = err.splitlines()
    assert warning.startswith("warning: the store holds no fact-checks"), err
    _one_line_error(code, "\n".join(rest), "No space left on device")
    assert _files(out) == before, "every previous file intact, no temp file left"
