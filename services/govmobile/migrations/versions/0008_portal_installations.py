"""The app portal: what each device reports of its managed apps, and the admin's retry requests.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_installation",
        sa.Column("device_id", sa.String(36), sa.ForeignKey("device.id"), primary_key=True),
        sa.Column("package", sa.String(255), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version_code", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("retry_generation", sa.Integer(), nullable=False),
        sa.Column("retry_requested_at", sa.DateTime(), nullable=True),
        sa.Column("retry_requested_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_portal_installation_tenant_id", "portal_installation", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_installation_tenant_id", table_name="portal_installation")
    op.drop_table("portal_installation")
