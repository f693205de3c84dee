"""The access-change feed: the MDM notes when a device may have lost access; the gateway drops
its cached decisions when it sees a new entry.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_change",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
    )
    op.create_index("ix_access_change_at", "access_change", ["at"])


def downgrade() -> None:
    op.drop_table("access_change")
