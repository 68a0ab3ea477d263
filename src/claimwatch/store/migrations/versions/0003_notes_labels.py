"""Community Notes (notes, status history per snapshot, rating counts) and label events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _sourced_record_columns() -> list[sa.Column]:
    """The SourcedRecord mixin's columns (raw record and provenance), fresh for each table."""
    return [
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("source_format", sa.String(length=32), nullable=True),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("source_location", sa.String(length=64), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("ingest_run_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingest_run_id"],
            ["ingest_runs.id"],
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "cn_notes",
        sa.Column("note_id", sa.String(length=32), nullable=False),
        sa.Column("tweet_id", sa.String(length=64), nullable=False),
        sa.Column("classification", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author_id", sa.String(length=128), nullable=True),
        sa.Column("first_snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_snapshot_at", sa.DateTime(timezone=True), nullable=False),
        *_sourced_record_columns(),
        sa.PrimaryKeyConstraint("note_id"),
    )
    with op.batch_alter_table("cn_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cn_notes_tweet_id"), ["tweet_id"], unique=False)

    op.create_table(
        "cn_note_status",
        sa.Column("note_id", sa.String(length=32), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_status", sa.String(length=64), nullable=True),
        sa.Column("current_status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_non_nmr_status", sa.String(length=64), nullable=True),
        sa.Column("first_non_nmr_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_non_nmr_status", sa.String(length=64), nullable=True),
        sa.Column("latest_non_nmr_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_status", sa.String(length=64), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        *_sourced_record_columns(),
        sa.PrimaryKeyConstraint("note_id", "snapshot_at"),
    )
    op.create_table(
        "cn_rating_counts",
        sa.Column("note_id", sa.String(length=32), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("ratings", sa.BigInteger(), nullable=False),
        sa.Column("helpful", sa.BigInteger(), nullable=False),
        sa.Column("somewhat_helpful", sa.BigInteger(), nullable=False),
        sa.Column("not_helpful", sa.BigInteger(), nullable=False),
        sa.Column("ingest_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ingest_run_id"],
            ["ingest_runs.id"],
        ),
        sa.PrimaryKeyConstraint("note_id", "snapshot_at", "file_name"),
    )
    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label_title", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("details_url", sa.Text(), nullable=True),
        *_sourced_record_columns(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "platform", "platform_id", "label", "event_type", "action", "event_at", name="uq_label_event"
        ),
    )
    with op.batch_alter_table("label_events", schema=None) as batch_op:
        batch_op.create_index("ix_label_events_post", ["platform", "platform_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("label_events", schema=None) as batch_op:
        batch_op.drop_index("ix_label_events_post")

    op.drop_table("label_events")
    op.drop_table("cn_rating_counts")
    op.drop_table("cn_note_status")
    with op.batch_alter_table("cn_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cn_notes_tweet_id"))

    op.drop_table("cn_notes")
