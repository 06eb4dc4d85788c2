"""The audit log as the hand-written SQLite layer made it: callbacks and their decisions.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

A database that layer made already holds these tables (without Alembic's version table):
they are kept as they are, rows included, and only stamped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("callbacks"):
        return
    op.create_table(
        "callbacks",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("received_at_ms", sa.BigInteger, nullable=False),
        sa.Column("event_time_ms", sa.BigInteger, nullable=False),
        sa.Column("sdkappid", sa.Text, nullable=False),
        sa.Column("from_account", sa.Text, nullable=False),
        sa.Column("requester_account", sa.Text, nullable=False),
        sa.Column("client_ip", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("callback_id", RowId, sa.ForeignKey("callbacks.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("received_at_ms", sa.BigInteger, nullable=False),
        sa.Column("from_account", sa.Text, nullable=False),
        sa.Column("to_account", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("remark", sa.Text, nullable=False),
        sa.Column("tag_name", sa.Text, nullable=False),
        sa.Column("result_code", sa.Integer, nullable=False),
        sa.Column("result_info", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("hook", sa.Text, nullable=True),
    )
    op.create_index("decisions_by_time", "decisions", ["received_at_ms"])
    op.create_index("decisions_by_from", "decisions", ["from_account", "id"])
    op.create_index("decisions_by_to", "decisions", ["to_account", "id"])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("callbacks")
