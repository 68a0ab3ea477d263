"""Alembic environment: runs on the connection claimwatch hands over (see store.db)."""

from alembic import context

from claimwatch.store.schema import Base
from claimwatch.store.search_index import is_search_object

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI directly
    raise RuntimeError("run migrations through claimwatch.store.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # the search indexes live outside the ORM schema (migration 0010): never autogenerate a drop of them
    include_object=lambda obj, name, type_, reflected, compare_to: not is_search_object(name),
)
with context.begin_transaction():
    context.run_migrations()
