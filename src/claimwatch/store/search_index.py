"""Trigram indexes behind the substring search of posts and fact-checks (migration 0010).

The search means what it always meant: a row matches when ``lower(column)`` contains the
lowered phrase (SQL ``LIKE '%phrase%'``, escaped), newest first, at most ``limit`` rows. The
indexes only change how the rows are found, never which ones: every way below keeps that exact
``LIKE`` as the filter.

- **PostgreSQL**: ``pg_trgm`` GIN indexes on ``lower(column)`` make the same ``LIKE`` indexed,
  and the date indexes serve "newest first"; the planner chooses between them from its
  statistics, so the query is the plain one.
- **SQLite**: an external-content FTS5 table with the ``trigram`` tokenizer per searched table
  (``detail=none``: no positions, a third of the size), kept in sync by triggers. Asked for every
  trigram of the phrase it returns a superset of the matching rows. SQLite has no statistics to
  choose a plan, so :func:`newest_rows_containing` decides from what it can count cheaply:

  1. fewer than :data:`FEW` index hits: look them up and sort them (a rare phrase);
  2. fewer than :data:`MANY`: walk the date index newest first, keeping the entries among the hits
     (no table read for the others) until ``limit`` match;
  3. more, or no index to ask (a phrase of fewer than :data:`MIN_CHARS` characters, which no
     trigram index can find; a store without the index): read the :data:`WINDOW` newest rows
     through the date index until ``limit`` match (a common phrase has them there);
  4. else as 2 with the index, or scan the table as before the index.

  A phrase shorter than :data:`MIN_CHARS` takes ways 3–4 on PostgreSQL too: there the planner
  would read the whole trigram index for it (``LIKE``), or walk the date index for a rare one.

Why ``+id`` in the walk, and a subquery with ``OFFSET 0`` for the scan: the documented ways to keep
SQLite's planner off an index for one term, and both planners from merging a subquery. Left alone
they walk the date index reading every row in date order for a rare phrase (6–12 s at 1M posts,
where reading the table takes 0.5–1 s).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from claimwatch.store import sanitise

#: a trigram index cannot find a shorter phrase
MIN_CHARS = 3
#: below this many index hits, look them up and sort them (linear in the hits)
FEW = 5000
#: from this many, a phrase is common: the newest rows hold ``limit`` matches, and reading
#: the index hits alone would cost more than reading those rows
MANY = 50_000
#: how many of the newest rows are read first for a common phrase or one the index cannot find
WINDOW = 5000
#: at most this many of a long phrase's trigrams are asked for (any of them give a superset; a
#: pasted paragraph must not become a query of hundreds of terms)
MAX_TRIGRAMS = 16


@dataclass(frozen=True)
class TextIndex:
    """One searched table: the columns searched, its trigram index names, the search's order."""

    table: str
    columns: tuple[str, ...]
    #: the SQLite FTS5 table (and the prefix of its shadow tables and triggers)
    fts: str
    #: newest first: this column descending, then the id (an index on both serves it)
    date: str

    def pg_index(self, column: str) -> str:
        return f"ix_{self.table}_{column}_trgm"


POSTS = TextIndex("posts", ("text",), "posts_search", "created_at")
FACTCHECKS = TextIndex("factchecks", ("claim_text", "title", "publisher_name"), "factchecks_search", "review_date")
INDEXES = (POSTS, FACTCHECKS)


def sqlite_has_trigram_fts() -> bool:
    """Whether this process's SQLite has FTS5 with the trigram tokenizer (SQLite >= 3.34, FTS5
    compiled in). Probed on a throw-away in-memory database, so a store is never touched."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(x, tokenize='trigram', detail='none')")
        return True
    except sqlite3.OperationalError:  # no such module: fts5 / no such tokenizer: trigram
        return False
    finally:
        probe.close()


def pg_trgm_created(conn: sa.Connection) -> bool:
    """Creates the ``pg_trgm`` extension unless it is there; False when it cannot be (not installed,
    no privilege). In a savepoint, so the failure does not abort the migration's transaction."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        return True
    except sa.exc.DBAPIError:
        return False


def is_search_object(name: str | None) -> bool:
    """True for the objects migration 0010 makes outside the ORM schema (the FTS5 tables and their
    shadow tables, the trigram indexes): for alembic's ``include_object``, so a schema comparison
    or autogenerate neither reports nor drops them."""
    return bool(name) and any(
        name.startswith(idx.fts) or name in {idx.pg_index(c) for c in idx.columns} for idx in INDEXES
    )


def fts_query(phrase: str) -> str:
    """The FTS5 query for the rows holding every trigram of ``phrase`` (at least 3 characters): each
    trigram one quoted string, its quotes doubled, so ``*``, ``NEAR``, ``AND``, ``:`` or ``^`` in
    the phrase are text and never query syntax."""
    grams = list(dict.fromkeys(phrase[i : i + 3] for i in range(len(phrase) - 2)))
    step = -(-len(grams) // MAX_TRIGRAMS)
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams[::step])


def _unindexed(col: ColumnElement) -> ColumnElement:
    """``+col`` (SQLite): the same value, but no index may serve the term (see the module docstring)."""
    return UnaryExpression(col, operator=operators.custom_op("+"), type_=col.type)


def _has_fts(conn: sa.Connection, index: TextIndex) -> bool:
    master = sa.table("sqlite_master", sa.column("type"), sa.column("name"))
    found = conn.execute(sa.select(master.c.name).where(master.c.type == "table", master.c.name == index.fts))
    return found.first() is not None


def containing(conn: sa.Connection, columns: Sequence[sa.Column], phrase: str) -> ColumnElement:
    """Any of ``columns``, lowered, contains ``phrase`` (lowered already): ``LIKE '%phrase%'``,
    escaped. On PostgreSQL a phrase too short for a trigram is asked with ``strpos`` (the same
    meaning), which the trigram indexes cannot serve: offered such a ``LIKE``, the planner reads the
    whole trigram index (4 s at 1M posts) instead of the table."""
    if conn.dialect.name == "postgresql" and len(phrase) < MIN_CHARS:
        return sa.or_(*(sa.func.strpos(sa.func.lower(c), phrase) > 0 for c in columns))
    return sa.or_(*(sa.func.lower(c).contains(phrase, autoescape=True) for c in columns))


def newest_rows_containing(
    conn: sa.Connection, q: sa.Select, table: sa.Table, index: TextIndex, phrase: str, limit: int
) -> Sequence[sa.Row]:
    """The rows of ``q`` (over ``table``) whose searched columns contain ``phrase`` (any case, see
    :func:`containing`), newest first, at most ``limit``: found the fastest way this store allows
    (see the module docstring)."""
    phrase = phrase.lower()
    if not sanitise.storable(phrase):  # a NUL or lone surrogate: no stored text holds one (FTS5
        return []  # would end its query at the NUL; PostgreSQL and the driver refuse them)
    date_col, id_col = table.c[index.date], table.c.id
    q = q.where(containing(conn, [table.c[c] for c in index.columns], phrase))
    newest = (date_col.desc(), id_col.desc())
    sqlite = conn.dialect.name == "sqlite"
    if len(phrase) >= MIN_CHARS and not sqlite:
        return conn.execute(q.order_by(*newest).limit(limit)).all()

    def walk(hits: sa.Select) -> Sequence[sa.Row]:
        return conn.execute(q.where(_unindexed(id_col).in_(hits)).order_by(*newest).limit(limit)).all()

    hits = None
    if len(phrase) >= MIN_CHARS and _has_fts(conn, index):
        fts = sa.table(index.fts, sa.column("rowid"), sa.column(index.fts))
        hits = sa.select(fts.c.rowid).where(fts.c[index.fts].match(fts_query(phrase)))
        few = conn.execute(hits.limit(FEW)).scalars().all()  # asked once: the index's work is the cost
        if len(few) < FEW:
            return conn.execute(q.where(id_col.in_(few)).order_by(*newest).limit(limit)).all() if few else []
        counted = conn.execute(sa.select(sa.func.count()).select_from(hits.limit(MANY).subquery())).scalar_one()
        if counted < MANY:
            return walk(hits)
    # The window: rows dated from the WINDOW-th newest on (a prefix of the order, so its first
    # matches are the first of all), read in date-index order until ``limit`` of them match.
    edge = conn.execute(sa.select(date_col).order_by(*newest).offset(WINDOW - 1).limit(1)).scalar()
    if edge is not None:
        rows = conn.execute(q.where(date_col >= edge).order_by(*newest).limit(limit)).all()
        if len(rows) == limit:
            return rows
    if hits is not None:
        return walk(hits)
    # The scan, ordered outside: the OFFSET keeps both planners from merging the two, so the inner
    # query, which needs no order, reads the table instead of walking the date index row by row.
    scanned = q.offset(0).subquery()
    return conn.execute(
        sa.select(scanned).order_by(scanned.c[index.date].desc(), scanned.c.id.desc()).limit(limit)
    ).all()
