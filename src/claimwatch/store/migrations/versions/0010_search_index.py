"""search indexes: trigram indexes for the post and fact-check search; date indexes for newest first

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

The search keeps its meaning (``lower(column) LIKE '%phrase%'``); these only make it fast
(see ``claimwatch.store.search_index``):

- SQLite: one external-content FTS5 table with the ``trigram`` tokenizer (``detail=none``) per
  searched table (``posts_search`` over posts.text; ``factchecks_search`` over claim_text, title,
  publisher_name), filled from the existing rows (``rebuild``) and kept in sync by insert /
  delete / update triggers. It needs SQLite >= 3.34 with FTS5: without them the tables are not
  made and the search scans as before (re-running ``claimwatch init`` with a newer SQLite does
  not add them; they come with the next migration that rebuilds them, or by hand).
- PostgreSQL: the ``pg_trgm`` extension (trusted: the database owner may create it) and GIN
  indexes on ``lower(column)``. When the extension cannot be created (not installed, no
  privilege) the indexes are skipped the same way and the search scans.
- Both: ``posts (created_at, id)`` and ``factchecks (review_date, id)``, the search's order, so
  a common phrase is found by walking newest first and stopping at the limit.
"""

from alembic import op

from claimwatch.store import search_index

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DATE_INDEXES = (
    ("ix_posts_created", search_index.POSTS),
    ("ix_factchecks_review_date", search_index.FACTCHECKS),
)


def _sqlite_ddl(idx: search_index.TextIndex) -> list[str]:
    """The FTS5 table and its triggers. External content: the text is stored once (in the table),
    so the triggers must hand the index the old values to delete, exactly as indexed."""
    cols = ", ".join(idx.columns)
    new = ", ".join(f"new.{c}" for c in idx.columns)
    old = ", ".join(f"old.{c}" for c in idx.columns)
    delete = f"INSERT INTO {idx.fts} ({idx.fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {idx.fts} (rowid, {cols}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {idx.fts} USING fts5({cols}, content='{idx.table}', "
        "content_rowid='id', tokenize='trigram', detail='none')",
        f"CREATE TRIGGER IF NOT EXISTS {idx.fts}_ai AFTER INSERT ON {idx.table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {idx.fts}_ad AFTER DELETE ON {idx.table} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {idx.fts}_au AFTER UPDATE OF {cols} ON {idx.table} BEGIN {delete} {insert} END",
        # also clears what a table of the same name left (a store reset drops the tables, not it)
        f"INSERT INTO {idx.fts} ({idx.fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    for name, idx in DATE_INDEXES:
        op.create_index(name, idx.table, [idx.date, "id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite" and search_index.sqlite_has_trigram_fts():
        for idx in search_index.INDEXES:
            for statement in _sqlite_ddl(idx):
                op.execute(statement)
    elif dialect == "postgresql" and search_index.pg_trgm_created(op.get_bind()):
        for idx in search_index.INDEXES:
            for column in idx.columns:
                op.execute(
                    f"CREATE INDEX IF NOT EXISTS {idx.pg_index(column)} ON {idx.table} "
                    f"USING gin (lower({column}) gin_trgm_ops)"
                )
            # statistics of the new expressions now: how common a phrase is decides the plan
            # (trigram index or newest first), and autovacuum analyses only after row changes
            op.execute(f"ANALYZE {idx.table}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for idx in search_index.INDEXES:
        if dialect == "sqlite":
            for trigger in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {idx.fts}_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {idx.fts}")
        elif dialect == "postgresql":
            for column in idx.columns:
                op.execute(f"DROP INDEX IF EXISTS {idx.pg_index(column)}")
    for name, idx in DATE_INDEXES:
        op.drop_index(name, table_name=idx.table)
