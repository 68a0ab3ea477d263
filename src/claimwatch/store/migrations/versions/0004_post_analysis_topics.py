"""post_analysis (language, check-worthiness, claim sentence) and post_topics

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_analysis",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("lang_confidence", sa.Float(), nullable=True),
        sa.Column("checkworthiness", sa.Float(), nullable=True),
        sa.Column("claim_sentence", sa.Text(), nullable=True),
        sa.Column("claim_start", sa.Integer(), nullable=True),
        sa.Column("claim_end", sa.Integer(), nullable=True),
        sa.Column("sentence_scores", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id"),
    )
    op.create_index("ix_post_analysis_lang", "post_analysis", ["lang"], unique=False)
    op.create_index("ix_post_analysis_checkworthiness", "post_analysis", ["checkworthiness"], unique=False)
    op.create_table(
        "post_topics",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("assigned", sa.Boolean(), nullable=False),
        sa.Column("topics_version", sa.String(length=16), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "topic"),
    )
    op.create_index("ix_post_topics_topic", "post_topics", ["topic", "assigned"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_post_topics_topic", table_name="post_topics")
    op.drop_table("post_topics")
    op.drop_index("ix_post_analysis_checkworthiness", table_name="post_analysis")
    op.drop_index("ix_post_analysis_lang", table_name="post_analysis")
    op.drop_table("post_analysis")
