"""Alembic environment: always run by iam-gov itself on a connection it hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from iam_gov.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Two processes opening a shared store at once must not both run the migrations.
        connection.execute(text("SELECT pg_advisory_xact_lock(7352001)"))
    context.run_migrations()
