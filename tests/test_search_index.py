"""The post and fact-check search through the trigram indexes (migration 0010).

Whatever way a search takes (the FTS5 index with few hits, the date-index walk with many, the
scan for a short phrase or a store without the index), it returns the rows the plain scan
returns, in the same order: each test compares a store with the index against one built
without it (as on a SQLite without FTS5 trigram). Hostile phrases are searched as text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import claimwatch
from claimwatch import records as r
from claimwatch.store import db, repo, search_index
from claimwatch.store import schema as s

T0 = datetime(2024, 3, 1, tzinfo=UTC)
#: hostile, mixed-case and non-ASCII texts; each is a post's text and a fact-check's claim
TEXTS = [
    "The Zeppelin landed at noon",
    "ZEPPELIN sighted over the harbour",
    "a zeppelin? no, a blimp",
    "100% sure: the vote_count was wrong",
    "100 percent sure the vote count was wrong",
    'they said "NEAR(vote fraud)" AND * OR ^ claim:x',
    "it's O'Brien's \"quote\" and a back\\slash / slash",
    "Ελληνικά: ΨΗΦΟΣ και ψηφος",
    "naïve café CAFÉ Straße",
    "emoji 🎈🎈 balloons 🎈",
    "zz top",
    "",
]
PHRASES = [
    "zeppelin",
    "ZePPeLiN",
    "the",
    "100%",
    "vote_count",
    "e_c",
    "%",
    "_",
    "%%",
    '"near(vote fraud)"',
    "near(",
    "and * or",
    "claim:x",
    "^ claim",
    '"',
    '""',
    "o'brien's",
    "'",
    "back\\slash / sl",
    "/",
    "ψηφος",
    "ΨΗΦΟΣ",
    "café",
    "CAFÉ",
    "straße",
    "🎈🎈",
    "🎈",
    "zz",
    "z",
    "",
    "   ",
    "no such words here",
]
#: characters no stored text holds (the writers strip them): found nowhere, never an error (FTS5
#: would end its query at a NUL; PostgreSQL and the SQLite driver refuse them as parameters)
UNSTORABLE = ["zep\0pelin", "ab\0", "\0\0\0", "zep\ud800"]


def _post(i: int, text: str, day: int | None) -> r.Post:
    created = None if day is None else T0 + timedelta(days=day)
    return r.Post(
        platform="x",
        platform_id=str(1000 + i),
        author=r.Author("x", "42", handle="search_author"),
        created_at=created,
        text=text,
        url=f"https://social.example.org/status/{1000 + i}",
        metrics=r.MetricSnapshot(observed_at=T0 + timedelta(days=400), views=10),
    )


def _factcheck(i: int, text: str, day: int | None) -> r.FactCheck:
    return r.FactCheck(
        review_url=f"https://checks.example.org/review/{i}",
        claim_text=text or "(empty claim)",
        publisher_name="Example Checks" if i % 3 else f"Publisher {text[:8]}",
        title=None if i % 2 else f"Review {i}: {text[-10:]}",
        review_date=None if day is None else T0 + timedelta(days=day),
    )


def _fill(engine: sa.Engine, copies: int = 3) -> None:
    """Each text a few times, on shared and missing dates (the order's tie-break by id counts)."""
    items = [(i, text, None if i % 7 == 0 else i % 5) for i, text in enumerate(TEXTS * copies)]
    with db.writing(engine) as conn:
        repo.upsert_posts(conn, [_post(i, text, day) for i, text, day in items], None)
        repo.upsert_factchecks(conn, [(_factcheck(i, text, day), "test") for i, text, day in items], None)


def _found(ws: claimwatch.Workspace, phrase: str, limit: int = 50) -> tuple[list[str], list[str]]:
    return (
        [p.platform_id for p in ws.search_posts(phrase, limit)],
        [f.review_url for f in ws.search_factchecks(phrase, limit)],
    )


def _scanned(ws: claimwatch.Workspace, phrase: str, limit: int = 50) -> tuple[list[str], list[str]]:
    """What the search found before the index: the plain scan, written out here (posts: the
    keyword selection the search used to be)."""
    lowered = phrase.lower()
    fc_match = sa.or_(
        *(
            sa.func.lower(c).contains(lowered, autoescape=True)
            for c in (s.FactCheck.claim_text, s.FactCheck.title, s.FactCheck.publisher_name)
        )
    )
    with ws.engine.connect() as conn:
        posts = repo.select_posts(conn, keywords=(phrase,), include_reposts=True, newest_first=True, limit=limit)
        fcs = conn.execute(
            sa.select(s.FactCheck.review_url)
            .where(fc_match)
            .order_by(s.FactCheck.review_date.desc(), s.FactCheck.id.desc())
            .limit(limit)
        ).scalars()
        return [p.platform_id for p in posts], list(fcs)


@pytest.fixture()
def without_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> claimwatch.Workspace:
    """A store migrated as on a SQLite without FTS5 trigram: the search scans."""
    with monkeypatch.context() as m:
        m.setattr(search_index, "sqlite_has_trigram_fts", lambda: False)
        plain = claimwatch.open(tmp_path / "plain.db")
    _fill(plain.engine)
    return plain


@pytest.fixture()
def indexed(tmp_path: Path) -> claimwatch.Workspace:
    ws = claimwatch.open(tmp_path / "indexed.db")
    _fill(ws.engine)
    return ws


@pytest.fixture()
def statements(indexed: claimwatch.Workspace) -> Iterator[list[str]]:
    """The SQL the indexed store runs (to tell which way a search went)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *_):  # noqa: ANN001 - SQLAlchemy's event signature
        seen.append(statement)

    sa.event.listen(indexed.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(indexed.engine, "before_cursor_execute", record)


def _fts_tables(ws: claimwatch.Workspace) -> set[str]:
    with ws.engine.connect() as conn:
        return {t for t in sa.inspect(conn).get_table_names() if search_index.is_search_object(t)}


def test_sqlite_here_has_fts5_trigram_and_the_store_gets_the_index(indexed) -> None:
    assert search_index.sqlite_has_trigram_fts()
    assert {"posts_search", "factchecks_search"} <= _fts_tables(indexed)


#: (FEW, MANY, WINDOW) sending the phrases down each way; the SQL that tells the way was taken
WAYS = {
    "look-up": ((search_index.FEW, search_index.MANY, search_index.WINDOW), "posts.id IN (?"),
    "date-walk": ((2, 1000, 1), "(+ posts.id) IN (SELECT posts_search.rowid"),
    "window": ((1, 2, 10), "posts.created_at >= ?"),
    "window, then date-walk": ((1, 2, 1), "(+ posts.id) IN (SELECT posts_search.rowid"),
    "scan": ((1, 2, 1), "LIMIT ? OFFSET ?) AS anon_1 ORDER BY anon_1.created_at DESC"),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_indexed_search_finds_what_the_scan_finds_in_the_same_order(
    indexed, without_index, statements, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (few, many, window), sql = WAYS[way]
    monkeypatch.setattr(search_index, "FEW", few)
    monkeypatch.setattr(search_index, "MANY", many)
    monkeypatch.setattr(search_index, "WINDOW", window)
    assert not _fts_tables(without_index)
    for phrase in PHRASES:
        for limit in (50, 2):
            expected = _scanned(indexed, phrase, limit)
            assert _found(indexed, phrase, limit) == expected, (phrase, limit)
            assert _found(without_index, phrase, limit) == _scanned(without_index, phrase, limit) == expected
    assert any(sql in q for q in statements), f"no search went the {way} way"
    assert any("factchecks_search MATCH" in q for q in statements)


@pytest.mark.slow
def test_a_phrase_with_unstorable_characters_finds_nothing_and_fails_nothing(indexed, without_index) -> None:
    for phrase in UNSTORABLE:
        assert _found(indexed, phrase) == _found(without_index, phrase) == ([], []), repr(phrase)


def test_the_results_are_the_ones_a_reader_expects(indexed) -> None:
    """Not only equal to the scan: right (any case for ASCII, wildcards and quotes as text)."""
    posts, _ = _found(indexed, "zeppelin", limit=100)
    assert len(posts) == 9  # three texts with it, three copies each
    texts = {p.platform_id: p.text for p in indexed.search_posts("vote_count")}
    assert set(texts.values()) == {"100% sure: the vote_count was wrong"}
    assert {p.text for p in indexed.search_posts('"NEAR(vote fraud)" AND *')} == {TEXTS[5]}
    assert indexed.search_posts("no such words here") == []
    dates = [p.created_at for p in indexed.search_posts("the", 100)]
    known = [d for d in dates if d is not None]
    assert known == sorted(known, reverse=True) and dates[len(known) :] == [None] * (len(dates) - len(known))


@pytest.mark.slow
def test_triggers_keep_the_index_in_step_with_every_write(indexed, without_index) -> None:
    def change(ws: claimwatch.Workspace) -> None:
        with db.writing(ws.engine) as conn:
            # a newer version of post 1000 (the ingest's own update path) and a new post
            newer = _post(0, "The airship landed at noon", 0)
            newer.metrics = r.MetricSnapshot(observed_at=T0 + timedelta(days=500), views=20)
            repo.upsert_posts(conn, [newer, _post(999, "a late zeppelin", 9)], None)
            repo.upsert_factchecks(conn, [(_factcheck(1, "an airship claim", 3), "test")], None)
            conn.execute(sa.delete(s.Post).where(s.Post.platform_id == "1001"))
            conn.execute(sa.update(s.FactCheck).where(s.FactCheck.id == 1).values(title="Airship review"))

    for ws in (indexed, without_index):
        change(ws)
    for phrase in ("zeppelin", "airship", "landed at noon", "sighted over", "review 1:", "the"):
        assert _found(indexed, phrase) == _found(without_index, phrase) == _scanned(indexed, phrase), phrase
    posts, fcs = _found(indexed, "airship")
    assert posts == ["1000"] and len(fcs) == 2
    assert "1001" not in _found(indexed, "sighted over")[0] and "1999" in _found(indexed, "late zeppelin")[0]


def test_an_older_store_gets_the_index_filled_from_its_rows(tmp_path: Path) -> None:
    from alembic import command

    engine = db.create_engine(tmp_path / "old.db")
    with engine.begin() as conn:
        command.upgrade(db._alembic_config(conn), "0009")
    _fill(engine)
    engine.dispose()
    ws = claimwatch.open(tmp_path / "old.db")  # migrates to 0010: the backfill
    assert {"posts_search", "factchecks_search"} <= _fts_tables(ws)
    with ws.engine.connect() as conn:
        fts = sa.table("posts_search", sa.column("rowid"), sa.column("posts_search"))
        hits = conn.execute(
            sa.select(sa.func.count()).where(fts.c.posts_search.match(search_index.fts_query("zeppelin")))
        ).scalar()
    assert hits == 9
    assert len(ws.search_posts("zeppelin")) == 9


@pytest.mark.slow
def test_a_reset_store_starts_with_an_empty_index(indexed) -> None:
    indexed.reset()
    assert indexed.search_posts("zeppelin") == [] and indexed.search_factchecks("zeppelin") == []
    _fill(indexed.engine, copies=1)
    assert len(indexed.search_posts("zeppelin")) == 3


def test_downgrade_removes_the_index_and_the_search_scans(indexed) -> None:
    from alembic import command

    with db.writing(indexed.engine) as conn:
        command.downgrade(db._alembic_config(conn), "0008")
    assert not _fts_tables(indexed)
    assert len(indexed.search_posts("zeppelin")) == 9


PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_postgres_search_uses_the_trigram_indexes_with_the_same_results() -> None:
    assert PG_URL
    ws = claimwatch.open(PG_URL)
    ws.reset()
    _fill(ws.engine)
    with ws.engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_trgm'")).scalars())
    assert names == {f"ix_{i.table}_{c}_trgm" for i in search_index.INDEXES for c in i.columns}
    planned = {phrase: _scanned(ws, phrase) for phrase in PHRASES}
    plans: list[str] = []
    stop = _through_indexes(ws, plans)
    try:
        for phrase in PHRASES:
            assert _found(ws, phrase) == planned[phrase], phrase
    finally:
        stop()
    assert any("ix_posts_text_trgm" in p for p in plans) and any("ix_factchecks_claim_text_trgm" in p for p in plans)
    assert _found(ws, "ψηφος")[0] == _found(ws, "ΨΗΦΟΣ")[0] != []  # PostgreSQL's lower() knows Greek
    assert all(_found(ws, phrase) == ([], []) for phrase in UNSTORABLE)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_postgres_without_pg_trgm_scans_with_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PG_URL
    monkeypatch.setattr(search_index, "pg_trgm_created", lambda conn: False)
    ws = claimwatch.open(PG_URL)
    ws.reset()
    _fill(ws.engine)
    with ws.engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_trgm'")).scalars())
    assert names == set()
    for phrase in PHRASES:
        assert _found(ws, phrase) == _scanned(ws, phrase), phrase
    assert len(_found(ws, "zeppelin")[0]) == 9


def _through_indexes(ws: claimwatch.Workspace, plans: list[str]) -> Callable[[], None]:
    """Price sequential scans and the date index out for every search query (the test tables are
    so small that the planner rightly scans them) and record its plan: the query's shape can use the indexes, and
    they give the rows the scan gives. Returns the function that stops it."""

    def force(conn, cursor, statement, parameters, *_):  # noqa: ANN001 - SQLAlchemy's event signature
        if statement.lstrip().upper().startswith("SELECT") and " LIKE " in statement:
            cursor.execute("SET LOCAL enable_seqscan = off")  # and the date index walk: bitmap scans only
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))

    sa.event.listen(ws.engine, "before_cursor_execute", force)
    return lambda: sa.event.remove(ws.engine, "before_cursor_execute", force)
