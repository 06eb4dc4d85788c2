"""Trigram indexes of the decisions' accounts on PostgreSQL (``pg_trgm``), for the operator
page's account search (``ILIKE '%part%'``), which otherwise reads the whole log: a part that
matches nothing took 7.6 s on ten million decisions. SQLite has no such index: there the page
reads the log in slices within a time budget (``AuditLog.search_page``).

``pg_trgm`` ships with PostgreSQL and is a trusted extension (13 and later): the database's
owner may create it. Where the migration's user may not, it logs how to add it and goes on
without the indexes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

logger = logging.getLogger("example_app.audit")

#: Index name and column: the names example_app.audit_schema gives them.
INDEXES = (("decisions_from_trgm", "from_account"), ("decisions_to_trgm", "to_account"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # In a savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        logger.warning(
            "the pg_trgm extension could not be created (%s): the operator page's account "
            "search reads the whole audit log. To index it, run CREATE EXTENSION pg_trgm as a "
            "superuser, then `flask --app example_app db downgrade 0003` and `db upgrade`, "
            "and restart the service",
            type(error.orig).__name__,
        )
        return
    savepoint.commit()
    for name, column in INDEXES:
        op.create_index(
            name,
            "decisions",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _ in INDEXES:
        op.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
