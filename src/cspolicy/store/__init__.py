"""The decision store (SQLite or PostgreSQL, migrated with Alembic): save, query and replay."""

from cspolicy.store.results import RecordSummary, ReplayResult, StoredAction
from cspolicy.store.sql import store_url
from cspolicy.store.store import DecisionStore, StoreError

__all__ = ["DecisionStore", "RecordSummary", "ReplayResult", "StoreError", "StoredAction", "store_url"]
