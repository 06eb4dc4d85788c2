"""An index of decisions by their callback: PostgreSQL checks the foreign key of every callback
that retention deletes against it (without it, each check reads the whole table).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("decisions_by_callback", "decisions", ["callback_id"])


def downgrade() -> None:
    op.drop_index("decisions_by_callback", "decisions")
