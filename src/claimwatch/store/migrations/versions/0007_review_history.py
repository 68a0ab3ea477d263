"""match_decisions (decision history), matches.version (optimistic concurrency), audit_log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Every match that already has a decision gets one history row from ``matches.decision``,
``decided_by``, ``decided_at`` and ``note`` (its previous status is unknown: None) and version 1.
The audit log starts empty: it records what happens from now on. Plain ADD COLUMN, no table
rebuild (see 0005).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("matches", sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "match_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("previous_status", sa.String(length=16), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("post_text_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["match_id"], ["matches.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_match_decisions_match_id"), "match_decisions", ["match_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at", "id"], unique=False)
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"], unique=False)
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)

    matches = sa.table(
        "matches",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("decision", sa.String),
        sa.column("decided_by", sa.String),
        sa.column("decided_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("note", sa.Text),
        sa.column("decided_text_hash", sa.String),
        sa.column("version", sa.Integer),
    )
    history = sa.table(
        "match_decisions",
        *(
            sa.column(c)
            for c in (
                "match_id",
                "decided_by",
                "decided_at",
                "decision",
                "note",
                "previous_status",
                "new_status",
                "version",
                "post_text_hash",
            )
        ),
    )
    conn = op.get_bind()
    decided = matches.c.decision.is_not(None)
    conn.execute(
        history.insert().from_select(
            [c.name for c in history.c],
            sa.select(
                matches.c.id,
                sa.func.coalesce(matches.c.decided_by, "unknown"),
                sa.func.coalesce(matches.c.decided_at, matches.c.updated_at),
                matches.c.decision,
                matches.c.note,
                sa.null(),
                matches.c.decision,
                sa.literal(1),
                matches.c.decided_text_hash,
            ).where(decided),
        )
    )
    conn.execute(sa.update(matches).where(decided).values(version=1))


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor"), table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_match_decisions_match_id"), table_name="match_decisions")
    op.drop_table("match_decisions")
    op.drop_column("matches", "version")
