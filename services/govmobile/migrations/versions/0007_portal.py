"""The app portal: apps, releases, review policies, assignments and each device's desired state.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_app",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("package", sa.String(255), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=True),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("description_en", sa.String(4000), nullable=False),
        sa.Column("description_zh", sa.String(4000), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("publisher", sa.String(200), nullable=False),
        sa.Column("icon_media_type", sa.String(32), nullable=True),
        sa.Column("icon", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_portal_app_tenant_id", "portal_app", ["tenant_id"])
    op.create_table(
        "portal_release",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("portal_app.id"), nullable=False),
        sa.Column("package", sa.String(255), nullable=False),
        sa.Column("version_code", sa.BigInteger(), nullable=False),
        sa.Column("version_name", sa.String(200), nullable=False),
        sa.Column("min_sdk", sa.Integer(), nullable=False),
        sa.Column("target_sdk", sa.Integer(), nullable=True),
        sa.Column("permissions", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signers", sa.Text(), nullable=False),
        sa.Column("warnings", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("track", sa.String(16), nullable=True),
        sa.Column("was_published", sa.Boolean(), nullable=False),
        sa.Column("piloted", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_portal_release_app_version", "portal_release", ["app_id", "version_code"])
    op.create_table(
        "portal_review_policy",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), primary_key=True),
        sa.Column("second_approval", sa.Boolean(), nullable=False),
        sa.Column("pilot_first", sa.Boolean(), nullable=False),
        sa.Column("protection", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "portal_assignment",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("portal_app.id"), nullable=False),
        sa.Column("package", sa.String(255), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("intent", sa.String(16), nullable=False),
        sa.Column("track", sa.String(16), nullable=False),
        sa.Column("exclusions", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("protection", sa.Text(), nullable=True),
        sa.Column("remove_when_unassigned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_portal_assignment_tenant_id", "portal_assignment", ["tenant_id"])
    op.create_index("ix_portal_assignment_app_id", "portal_assignment", ["app_id"])
    op.create_table(
        "portal_device_state",
        sa.Column("device_id", sa.String(36), sa.ForeignKey("device.id"), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("portal_device_state")
    op.drop_table("portal_assignment")
    op.drop_table("portal_review_policy")
    op.drop_table("portal_release")
    op.drop_table("portal_app")
