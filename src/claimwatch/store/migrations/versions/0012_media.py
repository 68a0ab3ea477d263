"""media files, the download queue, hashes, provenance and the bank of debunked media (issue 14)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

New tables only; nothing existing changes. A media match is a ``matches`` row whose fact-check
is a bank item's own fact-check row, so no constraint of ``matches`` changes (a rebuild of
``matches`` on SQLite would break its decisions' foreign keys, see 0005).
"""

import sqlalchemy as sa
from alembic import op

from claimwatch.store.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _hash_columns() -> list[sa.Column]:
    return [
        sa.Column("algo", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=24), nullable=False),
        sa.Column("t_ms", sa.BigInteger(), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "media_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False, unique=True),
        sa.Column("md5", sa.String(length=32), nullable=False, index=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("hashed_at", UTCDateTime(), nullable=True),
        sa.Column("hash_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "media_fetches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_id", sa.Integer(), sa.ForeignKey("media.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("declared_type", sa.String(length=256), nullable=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("media_files.id"), nullable=True, index=True),
        sa.Column("fetched_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_media_fetches_status", "media_fetches", ["status", "next_attempt_at"])
    op.create_table(
        "media_hashes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("media_files.id", ondelete="CASCADE"), nullable=False),
        *_hash_columns(),
    )
    op.create_index("ix_media_hashes_file_algo", "media_hashes", ["file_id", "algo"])
    op.create_table(
        "media_provenance",
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claim_generator", sa.Text(), nullable=True),
        sa.Column("digital_source_type", sa.Text(), nullable=True),
        sa.Column("ai_declared", sa.Boolean(), nullable=True),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.Column("reader_version", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "media_bank_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("factcheck_id", sa.Integer(), sa.ForeignKey("factchecks.id"), nullable=False, index=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("media_files.id"), nullable=True, index=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("added_by", sa.String(length=128), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.UniqueConstraint("origin", "external_id", name="uq_media_bank_origin_id"),
    )
    op.create_table(
        "media_bank_hashes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("media_bank_items.id", ondelete="CASCADE"), nullable=False),
        *_hash_columns(),
    )
    op.create_index("ix_media_bank_hashes_algo", "media_bank_hashes", ["algo", "item_id"])
    op.create_table(
        "media_match_state",
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("bank_version", sa.String(length=96), nullable=False),
        sa.Column("matched_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "media_match_state",
        "media_bank_hashes",
        "media_bank_items",
        "media_provenance",
        "media_hashes",
        "media_fetches",
        "media_files",
    ):
        op.drop_table(table)
