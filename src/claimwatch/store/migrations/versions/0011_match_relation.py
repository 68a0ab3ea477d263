"""matches.relation, matches.decided_relation, match_decisions.relation: claim vs narrative

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Whether a post repeats the rated claim or only shares its narrative (issue 13): the machine's
label, the analyst's, and each decision's. Existing rows stay NULL — unknown: they were matched
and decided before claimwatch told the two apart, and nothing in the store says which they are.
Plain ADD COLUMN, no table rebuild.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("matches", sa.Column("relation", sa.String(length=16), nullable=True))
    op.add_column("matches", sa.Column("decided_relation", sa.String(length=16), nullable=True))
    op.add_column("match_decisions", sa.Column("relation", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild of ``matches`` would break the foreign
    # keys of its decisions (see 0005).
    op.drop_column("match_decisions", "relation")
    op.drop_column("matches", "decided_relation")
    op.drop_column("matches", "relation")
