"""Alembic environment: always runs on a connection handed in by ``db.migrate``."""

from alembic import context

from pyairtable_server.db.migrate import include_object_for
from pyairtable_server.db.models import Model

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through pyairtable_server.db.migrate, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Model.metadata,
    render_as_batch=True,
    compare_type=True,
    include_object=include_object_for(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
