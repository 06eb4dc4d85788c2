"""Alembic's environment: the audit database of the app (or the connection a caller passes in
``config.attributes["connection"]``), its tables, and no ``alembic.ini`` logging set-up (the
app's logging stays as the app set it)."""

from __future__ import annotations

from alembic import context
from flask import current_app
from sqlalchemy.engine import Connection

from example_app.audit_schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # ALTER on SQLite is table copies: Alembic's batch mode does them.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = current_app.extensions["migrate"].db.engine.url
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
