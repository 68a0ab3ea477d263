"""watch cursors, alerts and their deliveries, the metric re-fetch schedule (issue 15)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

New tables only; nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

from claimwatch.store.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_cursors",
        sa.Column("stream", sa.String(length=200), primary_key=True),
        sa.Column("cursor", sa.String(length=64), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dedup_key", sa.String(length=255), nullable=False, unique=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("factcheck_id", sa.Integer(), sa.ForeignKey("factchecks.id", ondelete="SET NULL"), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("event_received_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_alerts_post", "alerts", ["post_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_delivery_channel"),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "metric_fetch_state",
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("next_due_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_fetched_at", UTCDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("gone", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_metric_fetch_due", "metric_fetch_state", ["gone", "next_due_at"])


def downgrade() -> None:
    op.drop_index("ix_metric_fetch_due", table_name="metric_fetch_state")
    op.drop_table("metric_fetch_state")
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_post", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("watch_cursors")
