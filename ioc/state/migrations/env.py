"""Alembic environment: migrations run on the connection ioc hands over (see ioc.state._db)."""

from __future__ import annotations

from alembic import context

import ioc.state  # noqa: F401 - registers every table on the metadata
from ioc.state._db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
