"""A unique record id on every callback and decision (idempotent shipping from the spool),
an index for retention, and a covering index for the page's counters and chart.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Rows written before this revision get the id ``legacy-<callback id>``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callbacks", sa.Column("record_id", sa.Text, nullable=True))
    op.add_column("decisions", sa.Column("record_id", sa.Text, nullable=True))
    op.execute(
        "UPDATE callbacks SET record_id = 'legacy-' || CAST(id AS TEXT) WHERE record_id IS NULL"
    )
    op.execute(
        "UPDATE decisions SET record_id = 'legacy-' || CAST(callback_id AS TEXT)"
        " WHERE record_id IS NULL"
    )
    op.create_index("callbacks_by_record", "callbacks", ["record_id"], unique=True)
    op.create_index("callbacks_by_time", "callbacks", ["received_at_ms"])
    op.create_index("decisions_by_record", "decisions", ["record_id", "position"], unique=True)
    # The page's counters and per-minute chart read only these columns of a time range: the
    # index answers them without the table, however long the log.
    op.create_index(
        "decisions_by_time_counts",
        "decisions",
        ["received_at_ms", "result_code", "action", "hook"],
    )
    # decisions_by_time_counts starts with the same column and serves every query it did.
    op.drop_index("decisions_by_time", "decisions")


def downgrade() -> None:
    op.create_index("decisions_by_time", "decisions", ["received_at_ms"])
    op.drop_index("decisions_by_time_counts", "decisions")
    op.drop_index("decisions_by_record", "decisions")
    op.drop_index("callbacks_by_time", "callbacks")
    op.drop_index("callbacks_by_record", "callbacks")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("record_id")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("record_id")
