"""post_versions; posts.observed_at: no ingest silently replaces a post or loses a version it read

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Existing posts get the observation time of their latest metric snapshot (the best the store
knows of when their content was seen); posts without snapshots keep None, and the next
version to arrive replaces them as before. Plain ADD COLUMN, no table rebuild (see 0005).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "post_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("source_format", sa.String(length=32), nullable=True),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("source_location", sa.String(length=64), nullable=True),
        sa.Column("ingest_run_id", sa.Integer(), nullable=True),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ingest_run_id"], ["ingest_runs.id"]),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "content_hash", name="uq_post_version"),
    )
    op.create_index(op.f("ix_post_versions_post_id"), "post_versions", ["post_id"], unique=False)
    posts = sa.table("posts", sa.column("id", sa.Integer), sa.column("observed_at"))
    snaps = sa.table("metric_snapshots", sa.column("post_id", sa.Integer), sa.column("observed_at"))
    latest = sa.select(sa.func.max(snaps.c.observed_at)).where(snaps.c.post_id == posts.c.id).scalar_subquery()
    op.get_bind().execute(sa.update(posts).values(observed_at=latest))


def downgrade() -> None:
    op.drop_index(op.f("ix_post_versions_post_id"), table_name="post_versions")
    op.drop_table("post_versions")
    op.drop_column("posts", "observed_at")
