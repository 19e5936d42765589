"""The decision store's tables (SQLAlchemy Core): the same schema on SQLite and PostgreSQL.

The Alembic scripts in `migrations/versions` create exactly these tables; a test checks that
the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

policies = Table(
    "cspolicy_policies",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("policy_id", String(100), nullable=False),
    Column("version", String(100), nullable=False),
    Column("root", String(500), nullable=False),
    Column("stored_at", DateTime(), nullable=False),
)

policy_files = Table(
    "cspolicy_policy_files",
    metadata,
    Column("policy_digest", String(80), ForeignKey("cspolicy_policies.digest"), primary_key=True),
    Column("path", String(500), primary_key=True),
    Column("text", Text(), nullable=False),
)

snapshots = Table(
    "cspolicy_snapshots",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("as_of", Date(), nullable=False),
    Column("body", Text(), nullable=False),  # protected values masked when `sealed` is set
    Column("sealed", Text(), nullable=True),  # the canonical snapshot, AES-GCM sealed
    Column("marks", Text(), nullable=True),  # where the protected values are (no values)
)

decisions = Table(
    "cspolicy_decisions",
    metadata,
    Column("record_id", String(40), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("as_of", Date(), nullable=False),
    Column("policy_id", String(100), nullable=False),
    Column("policy_version", String(100), nullable=False),
    Column("policy_digest", String(80), ForeignKey("cspolicy_policies.digest"), nullable=False),
    Column("snapshot_digest", String(80), ForeignKey("cspolicy_snapshots.digest"), nullable=False),
    Column("cspolicy_version", String(40), nullable=False),
    Column("evaluated_at", DateTime(), nullable=False),
    Column("is_current", Boolean(), nullable=False),
    Column("overdue_count", Integer(), nullable=False),
    Column("record_json", Text(), nullable=False),
    Column("decision_json", Text(), nullable=False),  # protected values masked when `sealed` is set
    Column("sealed", Text(), nullable=True),  # the decision JSON as made, AES-GCM sealed
    Column("marks", Text(), nullable=True),
    Index("ix_cspolicy_decisions_case", "case_id", "evaluated_at"),
    Index("ix_cspolicy_decisions_as_of", "as_of"),
    Index("ix_cspolicy_decisions_policy", "policy_id", "policy_version"),
    Index("ix_cspolicy_decisions_evaluated", "evaluated_at"),
)

decision_actions = Table(
    "cspolicy_decision_actions",
    metadata,
    Column("record_id", String(40), ForeignKey("cspolicy_decisions.record_id"), primary_key=True),
    Column("position", Integer(), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("action", String(100), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("due_by", Date(), nullable=True),
    Column("overdue", Boolean(), nullable=True),
    Column("is_current", Boolean(), nullable=False),
    Index("ix_cspolicy_actions_action", "action", "status"),
    Index("ix_cspolicy_actions_rule", "rule", "status"),
    Index("ix_cspolicy_actions_overdue", "is_current", "overdue", "status", "rule", "case_id"),
)

access_log = Table(
    "cspolicy_access_log",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False),
    Column("reader", String(200), nullable=False),
    Column("record_id", String(40), nullable=False),
    Column("what", String(20), nullable=False),
    Column("scopes", String(40), nullable=False),
    Index("ix_cspolicy_access_record", "record_id", "at"),
    Index("ix_cspolicy_access_at", "at"),
)
