"""Gateway: routes to intranet apps.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "route",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("host", sa.String(253), nullable=True),
        sa.Column("upstream_url", sa.String(500), nullable=False),
        sa.Column("upstream_ca_pem", sa.Text(), nullable=True),
        sa.Column("allowed_tenants", sa.Text(), nullable=False),
        sa.Column("allowed_groups", sa.Text(), nullable=False),
        sa.Column("require_compliance", sa.Boolean(), nullable=False),
        sa.Column("identity_mode", sa.String(32), nullable=False),
        sa.Column("user_header", sa.String(64), nullable=False),
        sa.Column("groups_header", sa.String(64), nullable=False),
        sa.Column("rate_limit", sa.Integer(), nullable=False),
        sa.Column("websocket", sa.Boolean(), nullable=False),
        sa.Column("connect_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("read_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_route_name", "route", ["name"], unique=True)


def downgrade() -> None:
    op.drop_table("route")
