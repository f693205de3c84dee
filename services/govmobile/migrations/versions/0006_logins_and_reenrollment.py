"""Login throttling by address and username replaces the per-account lockout; enrollment tokens
can be made for one device (re-enrollment tokens).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("username", sa.String(63), nullable=False),
    )
    op.create_index("ix_login_failure_at", "login_failure", ["at"])
    op.create_index("ix_login_failure_source", "login_failure", ["source"])
    op.create_index("ix_login_failure_username", "login_failure", ["username"])
    with op.batch_alter_table("admin_account") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")
    with op.batch_alter_table("enrollment_token") as batch:
        batch.add_column(sa.Column("device_id", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_enrollment_token_device_id_device", "device", ["device_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("enrollment_token") as batch:
        batch.drop_constraint("fk_enrollment_token_device_id_device", type_="foreignkey")
        batch.drop_column("device_id")
    with op.batch_alter_table("admin_account") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    op.drop_table("login_failure")
