"""Engine creation and migrations.

``--db`` takes a file path (SQLite, the laptop default) or a SQLAlchemy URL
(``postgresql+psycopg://…`` for teams). SQLite runs in WAL mode so a dashboard can read
while an ingest writes, with foreign keys on and a busy timeout instead of instant
"database is locked" errors.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def database_url(db: str | Path) -> str:
    s = str(db)
    if "://" in s:
        return s
    return f"sqlite:///{Path(s).expanduser().resolve()}"


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


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def create_engine(db: str | Path) -> sa.Engine:
    url = database_url(db)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
        if current != head:
            command.upgrade(_alembic_config(conn), "head")


def reset(engine: sa.Engine) -> None:
    """Drop all claimwatch tables and migrate again from nothing."""
    from claimwatch.store.schema import Base

    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        sa.Table("alembic_version", sa.MetaData()).drop(conn, checkfirst=True)
    migrate(engine)
