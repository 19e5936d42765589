"""Covering index for the caseload's overdue question; decisions ordered by evaluation time.

"All cases with an overdue action, by rule" then reads one index and no table rows.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cspolicy_actions_overdue", table_name="cspolicy_decision_actions")
    op.create_index(
        "ix_cspolicy_actions_overdue",
        "cspolicy_decision_actions",
        ["is_current", "overdue", "status", "rule", "case_id"],
    )
    op.create_index("ix_cspolicy_decisions_evaluated", "cspolicy_decisions", ["evaluated_at"])


def downgrade() -> None:
    op.drop_index("ix_cspolicy_decisions_evaluated", table_name="cspolicy_decisions")
    op.drop_index("ix_cspolicy_actions_overdue", table_name="cspolicy_decision_actions")
    op.create_index(
        "ix_cspolicy_actions_overdue", "cspolicy_decision_actions", ["is_current", "overdue", "rule"]
    )
