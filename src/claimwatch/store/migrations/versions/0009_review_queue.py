"""posts.views_latest(_at); review_queue_entries, review_queue_counts: the review queue and the
dashboard read an index, not every pending match and snapshot

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Backfill: each post's latest snapshot that counted views, then the queue table recomputed from the
store by the same function every writer uses (:func:`claimwatch.store.queue_table.rebuild`), so a
migrated store holds exactly what the writers would have kept. Plain ADD COLUMN, no table rebuild.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("views_latest", sa.BigInteger(), nullable=True))
    op.add_column("posts", sa.Column("views_latest_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "review_queue_entries",
        sa.Column("queue", sa.String(length=16), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("views_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("views_unknown", sa.Boolean(), nullable=False),
        sa.Column("rank_key", sa.Float(), nullable=False),
        sa.Column("rank_confidence", sa.Float(), nullable=False),
        sa.Column("checkworthiness", sa.Float(), nullable=True),
        sa.Column("claim_score", sa.Float(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue", "post_id"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_review_queue_order",
        "review_queue_entries",
        ["queue", "views_unknown", "rank_key", "rank_confidence", "post_id"],
        unique=False,
    )
    op.create_index("ix_review_queue_post", "review_queue_entries", ["post_id"], unique=False)
    op.create_table(
        "review_queue_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=16), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_review_queue_counts_queue"), "review_queue_counts", ["queue"], unique=False)

    posts = sa.table("posts", sa.column("id", sa.Integer), sa.column("views_latest"), sa.column("views_latest_at"))
    snaps = sa.table("metric_snapshots", sa.column("post_id", sa.Integer), sa.column("observed_at"), sa.column("views"))
    latest = (
        sa.select(snaps.c.observed_at)
        .where(snaps.c.post_id == posts.c.id, snaps.c.views.is_not(None))
        .order_by(snaps.c.observed_at.desc())
        .limit(1)
    )
    bind = op.get_bind()
    bind.execute(
        sa.update(posts).values(
            views_latest=latest.with_only_columns(snaps.c.views).scalar_subquery(),
            views_latest_at=latest.scalar_subquery(),
        )
    )
    from claimwatch.store import queue_table  # the writers' own function: one definition of a row

    queue_table.rebuild(bind)


def downgrade() -> None:
    op.drop_index(op.f("ix_review_queue_counts_queue"), table_name="review_queue_counts")
    op.drop_table("review_queue_counts")
    op.drop_index("ix_review_queue_post", table_name="review_queue_entries")
    op.drop_index("ix_review_queue_order", table_name="review_queue_entries")
    op.drop_table("review_queue_entries")
    op.drop_column("posts", "views_latest_at")
    op.drop_column("posts", "views_latest")
