"""posts.text_hash; matches.decision, matches.decided_text_hash: a decision names the text it was made on

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Existing decisions are taken as made on the text stored now (the best the store knows).
Plain ADD COLUMN, no table rebuild: rebuilding ``posts`` on SQLite would cascade-delete
its matches and snapshots.
"""

import sqlalchemy as sa
from alembic import op

from claimwatch.store.repo import text_hash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.add_column("posts", sa.Column("text_hash", sa.String(length=64), nullable=True))
    op.add_column("matches", sa.Column("decision", sa.String(length=16), nullable=True))
    op.add_column("matches", sa.Column("decided_text_hash", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    posts = sa.table(
        "posts", sa.column("id", sa.Integer), sa.column("text", sa.Text), sa.column("text_hash", sa.String)
    )
    matches = sa.table(
        "matches",
        sa.column("post_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("decision", sa.String),
        sa.column("decided_text_hash", sa.String),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(posts.c.id, posts.c.text).where(posts.c.id > last).order_by(posts.c.id).limit(_BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            sa.update(posts).where(posts.c.id == sa.bindparam("pid")),
            [{"pid": pid, "text_hash": text_hash(text or "")} for pid, text in rows],
        )
        last = rows[-1][0]
    on_text = sa.select(posts.c.text_hash).where(posts.c.id == matches.c.post_id).scalar_subquery()
    conn.execute(
        sa.update(matches)
        .where(matches.c.status.in_(["confirmed", "rejected"]))
        .values(decision=matches.c.status, decided_text_hash=on_text)
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35), for the reason given above.
    op.drop_column("matches", "decided_text_hash")
    op.drop_column("matches", "decision")
    op.drop_column("posts", "text_hash")
