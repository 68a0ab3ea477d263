"""Opening a store: engines, transactions, migrations, and store errors in one line.

``--db`` takes a file path (SQLite, the laptop default) or a SQLAlchemy URL
(``postgresql+psycopg://…`` for teams; ``postgres://`` and ``postgresql://`` mean the same).

- **Writing commands** create the store when it is missing and migrate it. SQLite runs in
  WAL mode (a report can read while an ingest writes); a write transaction (:func:`writing`)
  starts with ``BEGIN IMMEDIATE``, so two commands writing at once take turns (waiting up to
  :data:`BUSY_TIMEOUT_S`) instead of reading, racing and failing with "database is locked"
  or a unique-constraint error. Reads take no lock. On PostgreSQL a writer that loses an
  insert race is re-run from a savepoint (:func:`retry_races`).
- **Read-only commands** (report, stats, quarantine list, study run) open the store
  read-only (:func:`open_store` with ``read_only=True``): a store that does not exist is not
  created, an old schema is not migrated, and on read-only media SQLite opens it
  ``immutable`` so no WAL or lock file is made beside it.
- **Errors** a user can meet — a full disk, read-only media, a folder or a non-database
  given as ``--db``, a refused connection, a busy store — are raised as :class:`StoreError`
  with one line naming the store and the reason; the CLI prints it as it is.
"""

from __future__ import annotations

import functools
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from claimwatch.store.sanitise import json_dumps

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: How long a writer waits for another command's write to finish before giving up.
BUSY_TIMEOUT_S = 60
BUSY = "store is busy (another claimwatch command is writing); try again"
#: Attempts of a batch write that lost an insert race (or a PostgreSQL deadlock) to another command.
RACE_ATTEMPTS = 5
_PG_SCHEMES = ("postgres://", "postgresql://")


class StoreError(Exception):
    """A store that cannot be opened, read or written, said in one line."""


def database_url(db: str | Path) -> str:
    s = str(db)
    for scheme in _PG_SCHEMES:  # libpq's URL schemes: claimwatch talks to PostgreSQL with psycopg 3
        if s.startswith(scheme):
            return "postgresql+psycopg://" + s.removeprefix(scheme)
    if "://" in s:
        return s
    return f"sqlite:///{Path(s).expanduser().resolve()}"


def display_name(db: str | Path) -> str:
    """The store as a user named it, without a password."""
    s = str(db)
    if "://" not in s:
        return s
    try:
        return sa.make_url(s).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return s


def index_dir_for(db: str | Path) -> Path:
    """The search index lives next to a SQLite store (``x.db`` → ``x.index/``).

    For a server database there is no file to sit next to, so it goes under
    ``./claimwatch.index`` unless ``CLAIMWATCH_INDEX_DIR`` says otherwise (see config).
    """
    s = str(db)
    if "://" in s:
        if s.startswith("sqlite:///"):
            return Path(s.removeprefix("sqlite:///")).with_suffix(".index")
        return Path("claimwatch.index").resolve()
    return Path(s).expanduser().resolve().with_suffix(".index")


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or another dialect."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


# --------------------------------------------------------------------------- engines


def _sqlite_pragmas(read_only: bool) -> Callable[..., None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # claimwatch issues BEGIN itself (see _sqlite_begin): pysqlite's own BEGIN comes only
        # before the first write, after the reads a batch decides on — the race behind
        # "database is locked" and duplicate-key errors between two ingests.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA foreign_keys=ON")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        else:
            _set_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return on_connect


def _set_wal(cur: Any) -> None:
    """Switch a store to WAL, waiting for a turn. Two commands opening a new store at once both
    switch it, and SQLite answers the loser "database is locked" at once, without its busy
    timeout; so the switch is retried (up to :data:`BUSY_TIMEOUT_S`)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.02, 0.1))


#: Execution option marking a write transaction (see :func:`writing`).
_WRITE = "claimwatch_write"


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction, like ``engine.begin()``. On SQLite it takes the write lock before it
    reads anything (``BEGIN IMMEDIATE``): what a batch reads to decide its inserts cannot change
    under it, and a second writer waits its turn (up to :data:`BUSY_TIMEOUT_S`) instead of failing.
    Plain ``engine.begin()`` / ``engine.connect()`` read without taking the lock."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


def create_engine(db: str | Path, *, read_only: bool = False) -> sa.Engine:
    """An engine for ``db`` (no checks, no migration: see :func:`open_store`)."""
    url = database_url(db)
    name = display_name(db)
    try:
        if url.startswith("sqlite"):
            path = _sqlite_file(url)
            if read_only and path is not None:
                url = _read_only_url(path)
            elif path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, json_serializer=json_dumps)
            sa.event.listen(engine, "connect", _sqlite_pragmas(read_only))
            sa.event.listen(engine, "begin", _sqlite_begin)
        else:
            args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
            engine = sa.create_engine(url, pool_pre_ping=True, json_serializer=json_dumps, connect_args=args)
    except OSError as exc:
        raise StoreError(f"store {name}: cannot create its folder: {exc.strerror or exc}") from exc
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(
            f"store {name}: not a store path or database URL claimwatch can use ({_first_line(exc)}); "
            "give a SQLite file or postgresql+psycopg://user@host/db"
        ) from exc
    sa.event.listen(engine, "handle_error", _one_line_errors(db))
    return engine


def _read_only_url(path: Path) -> str:
    """SQLite opened read-only; ``immutable`` (no lock or WAL files at all) when its folder cannot
    be written, i.e. read-only media — unless a write-ahead log beside it holds data to read."""
    params = "mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not writable(path.parent) and not (wal.exists() and wal.stat().st_size):
        params += "&immutable=1"
    return f"sqlite:///file:{quote(str(path))}?{params}&uri=true"


def writable(folder: Path) -> bool:
    """Can files be created in ``folder`` (false on read-only media, even for root)?"""
    return os.access(folder, os.W_OK)


# --------------------------------------------------------------------------- opening a store


def open_store(db: str | Path, *, read_only: bool = False, create: bool = True) -> sa.Engine:
    """An engine for the store at ``db``, ready to use; :class:`StoreError` says why not.

    Writing: the store is created when missing (unless ``create`` is false: commands that work on
    stored data, such as match or review, would only make an empty store from a typo) and migrated
    to the current schema. Read-only: it must exist and be at the current schema; nothing is
    written to it.
    """
    name = display_name(db)
    path = _sqlite_file(database_url(db))
    if path is not None:
        if path.is_dir():
            raise StoreError(f"store {name}: is a folder; give a store file such as {path / 'claimwatch.db'}")
        if (read_only or not create) and not path.exists():
            raise StoreError(f"no store at {name} (run `claimwatch init --db {name}` to create one)")
        if path.exists() and not os.access(path, os.R_OK):
            raise StoreError(f"store {name}: permission denied (cannot read the file)")
    engine = create_engine(db, read_only=read_only)
    try:
        with engine.connect() as conn:
            state = _schema_state(conn)
        _check_schema(state, name, read_only, create)
        if not read_only and state.current != state.head:
            migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


class _SchemaState:
    def __init__(self, current: str | None, head: str, known: set[str], other_tables: bool) -> None:
        self.current, self.head, self.known, self.other_tables = current, head, known, other_tables


def _schema_state(conn: sa.Connection) -> _SchemaState:
    script = ScriptDirectory.from_config(_alembic_config(conn))
    tables = set(sa.inspect(conn).get_table_names())
    current = MigrationContext.configure(conn).get_current_revision() if "alembic_version" in tables else None
    return _SchemaState(
        current,
        script.get_current_head() or "",
        {rev.revision for rev in script.walk_revisions()},
        bool(tables - {"alembic_version"}),
    )


def _check_schema(state: _SchemaState, name: str, read_only: bool, create: bool = True) -> None:
    if state.current is None and state.other_tables:
        raise StoreError(
            f"store {name}: holds other tables and no claimwatch schema, so it is not a claimwatch "
            "store; give a new file or an empty database"
        )
    if state.current is not None and state.current not in state.known:
        raise StoreError(
            f"store {name}: has schema revision {state.current}, which this claimwatch does not know "
            "(made by a newer version?); upgrade claimwatch"
        )
    if (read_only or not create) and state.current is None:
        raise StoreError(f"no claimwatch store in {name} (run `claimwatch init --db {name}` to create one)")
    if read_only and state.current != state.head:
        raise StoreError(
            f"store {name}: was made by an older claimwatch (schema {state.current}, this one needs "
            f"{state.head}); run `claimwatch init --db {name}` to upgrade it"
        )


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there).

    Two commands opening a new store at once both try; the loser's error is harmless
    when the winner got the schema to the head (PostgreSQL has no ``BEGIN IMMEDIATE``)."""
    try:
        with writing(engine) as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current != ScriptDirectory.from_config(_alembic_config(conn)).get_current_head():
                command.upgrade(_alembic_config(conn), "head")
    except sa.exc.DBAPIError:
        with engine.connect() as conn:
            state = _schema_state(conn)
        if state.current != state.head:
            raise


def reset(engine: sa.Engine) -> None:
    """Drop all claimwatch tables and migrate again from nothing."""
    from claimwatch.store.schema import Base

    with writing(engine) as conn:
        Base.metadata.drop_all(conn)
        sa.Table("alembic_version", sa.MetaData()).drop(conn, checkfirst=True)
    migrate(engine)


# --------------------------------------------------------------------------- concurrent writers

P = ParamSpec("P")
T = TypeVar("T")
#: unique_violation, deadlock_detected, serialization_failure
_RACE_SQLSTATES = frozenset({"23505", "40P01", "40001"})


def _lost_race(exc: sa.exc.DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return state in _RACE_SQLSTATES
    return isinstance(exc, sa.exc.IntegrityError) and "UNIQUE constraint failed" in str(exc.orig)


def retry_races(fn: Callable[P, T]) -> Callable[P, T]:
    """Run a batch write (``fn(conn, …)``) in a savepoint and run it again when another command
    inserted one of its keys first or PostgreSQL broke a deadlock: the rerun reads the other
    command's rows and updates them instead. A key clash that persists is a real error and is
    raised. SQLite needs none of it: ``BEGIN IMMEDIATE`` lets one writer in at a time."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        conn = args[0]
        assert isinstance(conn, sa.Connection)
        if conn.dialect.name == "sqlite":
            return fn(*args, **kwargs)
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                with conn.begin_nested():
                    return fn(*args, **kwargs)
            except sa.exc.DBAPIError as exc:
                if attempt == RACE_ATTEMPTS or not _lost_race(exc):
                    raise
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    return run


# --------------------------------------------------------------------------- errors in one line

#: SQLite's messages for what a user can meet, and what to tell them.
_SQLITE_REASONS = {
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": (
        "read-only (the file or its folder cannot be written); commands that "
        "only read, such as report, stats and study run, still work"
    ),
    "file is not a database": "not a SQLite database, so not a claimwatch store",
    "database disk image is malformed": "the store file is damaged (malformed); restore it from a copy",
    "disk i/o error": "disk I/O error reading or writing the store",
    "database is locked": BUSY,
    "database table is locked": BUSY,
}
#: PostgreSQL error classes that are about the server or the connection, not a query.
_PG_CLASSES = ("08", "53", "57", "58", "28", "3D", "25")


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _one_line_errors(db: str | Path) -> Callable[[Any], None]:
    name = display_name(db)

    def handle(ctx: Any) -> None:
        reason = describe(ctx.original_exception, db)
        if reason is None and ctx.is_disconnect:
            reason = f"lost the connection to the database server ({_first_line(ctx.original_exception)})"
        if reason is not None:
            raise StoreError(
                f"store {name}: {reason}" if reason != BUSY else f"{BUSY} ({name})"
            ) from ctx.original_exception

    return handle


def describe(exc: BaseException, db: str | Path) -> str | None:
    """What a database error means for the user, or None when it is not about the store itself
    (a constraint or a query error stays the exception it is)."""
    state = getattr(exc, "sqlstate", None)
    if state is not None:
        if state in _RACE_SQLSTATES or not state.startswith(_PG_CLASSES):
            return None
        if state == "25006":
            return "the database is read-only for this command"
        return _first_line(exc).removeprefix("connection failed: ")
    message = str(exc).lower()
    if "server" in message and ("connect" in message or "closed" in message):  # a driver without sqlstates
        return _first_line(exc).removeprefix("connection failed: ")
    for text, reason in _SQLITE_REASONS.items():
        if text in message:
            return reason
    if "unable to open database file" in message:
        return _why_unopenable(_sqlite_file(database_url(db)))
    return None


def _why_unopenable(path: Path | None) -> str:
    if path is None:
        return "cannot open the database"
    if path.is_dir():
        return f"is a folder; give a store file such as {path / 'claimwatch.db'}"
    if not path.parent.is_dir():
        return "its folder does not exist"
    if not writable(path.parent) and path.with_name(path.name + "-wal").exists():
        return (
            f"on read-only media with an unfinished write-ahead log ({path.name}-wal); copy the store and that "
            "file to writable storage"
        )
    if not writable(path.parent):
        return "read-only media (its folder cannot be written)"
    return "permission denied (cannot open the file)"
