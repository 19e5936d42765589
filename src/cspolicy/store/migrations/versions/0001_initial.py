"""Initial decision store schema: policies and their texts, snapshots, decisions, actions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cspolicy_policies",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("root", sa.String(500), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "cspolicy_policy_files",
        sa.Column(
            "policy_digest", sa.String(80), sa.ForeignKey("cspolicy_policies.digest"), primary_key=True
        ),
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_table(
        "cspolicy_snapshots",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_table(
        "cspolicy_decisions",
        sa.Column("record_id", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("policy_digest", sa.String(80), sa.ForeignKey("cspolicy_policies.digest"), nullable=False),
        sa.Column(
            "snapshot_digest", sa.String(80), sa.ForeignKey("cspolicy_snapshots.digest"), nullable=False
        ),
        sa.Column("cspolicy_version", sa.String(40), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("overdue_count", sa.Integer(), nullable=False),
        sa.Column("record_json", sa.Text(), nullable=False),
        sa.Column("decision_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_cspolicy_decisions_case", "cspolicy_decisions", ["case_id", "evaluated_at"])
    op.create_index("ix_cspolicy_decisions_as_of", "cspolicy_decisions", ["as_of"])
    op.create_index("ix_cspolicy_decisions_policy", "cspolicy_decisions", ["policy_id", "policy_version"])
    op.create_table(
        "cspolicy_decision_actions",
        sa.Column(
            "record_id", sa.String(40), sa.ForeignKey("cspolicy_decisions.record_id"), primary_key=True
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_cspolicy_actions_action", "cspolicy_decision_actions", ["action", "status"])
    op.create_index("ix_cspolicy_actions_rule", "cspolicy_decision_actions", ["rule", "status"])
    op.create_index(
        "ix_cspolicy_actions_overdue", "cspolicy_decision_actions", ["is_current", "overdue", "rule"]
    )


def downgrade() -> None:
    op.drop_table("cspolicy_decision_actions")
    op.drop_table("cspolicy_decisions")
    op.drop_table("cspolicy_snapshots")
    op.drop_table("cspolicy_policy_files")
    op.drop_table("cspolicy_policies")
