"""Protected data: sealed snapshot and decision texts, where their protected values are, access log.

Rows saved before this revision keep their texts as they were (nothing here holds the key to
seal them).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("cspolicy_snapshots", "cspolicy_decisions"):
        op.add_column(table, sa.Column("sealed", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("marks", sa.Text(), nullable=True))
    op.create_table(
        "cspolicy_access_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reader", sa.String(200), nullable=False),
        sa.Column("record_id", sa.String(40), nullable=False),
        sa.Column("what", sa.String(20), nullable=False),
        sa.Column("scopes", sa.String(40), nullable=False),
    )
    op.create_index("ix_cspolicy_access_record", "cspolicy_access_log", ["record_id", "at"])
    op.create_index("ix_cspolicy_access_at", "cspolicy_access_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_cspolicy_access_at", table_name="cspolicy_access_log")
    op.drop_index("ix_cspolicy_access_record", table_name="cspolicy_access_log")
    op.drop_table("cspolicy_access_log")
    for table in ("cspolicy_decisions", "cspolicy_snapshots"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("marks")
            batch.drop_column("sealed")
