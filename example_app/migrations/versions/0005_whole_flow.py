"""The whole friend flow: a ``command`` on every callback and decision (requests, responses
and the after-callbacks' pairs), the wording of a request, an index of decisions by command and
time (the page's "blocked by users" panel), and the command in the counters' covering index
(they count decided items only, and still read that index alone).

Rows written before this revision were all friend responses: they keep their values and read
as ``Sns.CallbackPrevFriendResponse`` with an empty wording.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RESPONSE = "Sns.CallbackPrevFriendResponse"


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rewrite on SQLite nor on PostgreSQL 11+.
    for table in ("callbacks", "decisions"):
        op.add_column(
            table,
            sa.Column("command", sa.Text, nullable=False, server_default=RESPONSE),
        )
    op.add_column("decisions", sa.Column("wording", sa.Text, nullable=False, server_default=""))
    op.create_index("decisions_by_command", "decisions", ["command", "received_at_ms"])
    op.drop_index("decisions_by_time_counts", "decisions")
    op.create_index(
        "decisions_by_time_counts",
        "decisions",
        ["received_at_ms", "result_code", "action", "hook", "command"],
    )


def downgrade() -> None:
    op.drop_index("decisions_by_command", "decisions")
    op.drop_index("decisions_by_time_counts", "decisions")
    op.create_index(
        "decisions_by_time_counts", "decisions", ["received_at_ms", "result_code", "action", "hook"]
    )
    # Down to 0004, whose tables hold responses only: the other commands' rows go.
    decisions = sa.table("decisions", sa.column("command"), sa.column("callback_id"))
    callbacks = sa.table("callbacks", sa.column("command"), sa.column("id"))
    op.execute(sa.delete(decisions).where(decisions.c.command != RESPONSE))
    op.execute(sa.delete(callbacks).where(callbacks.c.command != RESPONSE))
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("wording")
        batch.drop_column("command")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("command")
