"""Alembic environment of the decision store: runs on the connection the store hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=context.config.attributes["version_table"],
)
with context.begin_transaction():
    context.run_migrations()
