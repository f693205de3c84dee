"""MDM: people, groups, enrollment tokens, devices and their history, policies, commands.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_account") as batch:
        batch.add_column(sa.Column("pending_totp_secret", sa.String(), nullable=True))

    op.create_table(
        "person",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "username", name="uq_person_tenant_username"),
    )
    op.create_index("ix_person_tenant_id", "person", ["tenant_id"])

    op.create_table(
        "person_group",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_group_tenant_name"),
    )
    op.create_index("ix_person_group_tenant_id", "person_group", ["tenant_id"])

    op.create_table(
        "membership",
        sa.Column("group_id", sa.String(36), sa.ForeignKey("person_group.id"), primary_key=True),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), primary_key=True),
    )
    op.create_index("ix_membership_person_id", "membership", ["person_id"])

    op.create_table(
        "enrollment_token",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("group_id", sa.String(36), sa.ForeignKey("person_group.id"), nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_enrollment_token_tenant_id", "enrollment_token", ["tenant_id"])
    op.create_index("ix_enrollment_token_person_id", "enrollment_token", ["person_id"])

    op.create_table(
        "device",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("serial_number", sa.String(100), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("os_name", sa.String(50), nullable=False),
        sa.Column("os_version", sa.String(50), nullable=False),
        sa.Column("hardware_ids", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cert_sha256", sa.String(64), nullable=True, unique=True),
        sa.Column("cert_serial", sa.String(40), nullable=True),
        sa.Column("cert_not_after", sa.DateTime(), nullable=True),
        sa.Column("previous_cert_sha256", sa.String(64), nullable=True, unique=True),
        sa.Column("previous_cert_serial", sa.String(40), nullable=True),
        sa.Column("compliant", sa.Boolean(), nullable=True),
        sa.Column("compliance_reasons", sa.Text(), nullable=False),
        sa.Column("noncompliant_since", sa.DateTime(), nullable=True),
        sa.Column("lost_mode", sa.Boolean(), nullable=False),
        sa.Column("lock_message", sa.String(500), nullable=True),
        sa.Column("posture", sa.Text(), nullable=False),
        sa.Column("last_location", sa.Text(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("checkin_count", sa.Integer(), nullable=False),
        sa.Column("work_container_wiped_at", sa.DateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.UniqueConstraint("tenant_id", "serial_number", name="uq_device_tenant_serial"),
    )
    for column in ("tenant_id", "person_id", "state", "compliant", "last_seen_at"):
        op.create_index(f"ix_device_{column}", "device", [column])
    op.create_index("ix_device_tenant_last_seen", "device", ["tenant_id", "last_seen_at"])

    op.create_table(
        "device_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(36), sa.ForeignKey("device.id"), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("change", sa.String(100), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
    )
    op.create_index("ix_device_event_device_id", "device_event", ["device_id"])

    op.create_table(
        "device_checkin",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(36), sa.ForeignKey("device.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("compliant", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("posture", sa.Text(), nullable=False),
    )
    op.create_index("ix_device_checkin_at", "device_checkin", ["at"])
    op.create_index("ix_device_checkin_device_at", "device_checkin", ["device_id", "at"])

    op.create_table(
        "policy",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), primary_key=True),
        sa.Column("min_os_version", sa.String(50), nullable=True),
        sa.Column("require_encryption", sa.Boolean(), nullable=False),
        sa.Column("require_passcode", sa.Boolean(), nullable=False),
        sa.Column("forbid_rooted", sa.Boolean(), nullable=False),
        sa.Column("admitted_apps_only", sa.Boolean(), nullable=False),
        sa.Column("admitted_apps", sa.Text(), nullable=False),
        sa.Column("max_offline_hours", sa.Integer(), nullable=True),
        sa.Column("block_intranet_when_noncompliant", sa.Boolean(), nullable=False),
        sa.Column("lock_after_noncompliant_days", sa.Integer(), nullable=True),
        sa.Column("checkin_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )

    op.create_table(
        "command",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("device_id", sa.String(36), sa.ForeignKey("device.id"), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("not_now_checkin", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_reason", sa.String(200), nullable=True),
        sa.Column("bulk_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_command_device_open", "command", ["device_id", "state", "priority", "seq"])
    op.create_index("ix_command_tenant_id", "command", ["tenant_id"])
    op.create_index("ix_command_bulk_id", "command", ["bulk_id"])

    op.create_table(
        "command_result",
        sa.Column("device_id", sa.String(36), sa.ForeignKey("device.id"), primary_key=True),
        sa.Column("command_id", sa.String(36), sa.ForeignKey("command.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )

    op.create_table(
        "wakeup",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "wakeup",
        "command_result",
        "command",
        "policy",
        "device_checkin",
        "device_event",
        "device",
        "enrollment_token",
        "membership",
        "person_group",
        "person",
    ):
        op.drop_table(table)
    with op.batch_alter_table("admin_account") as batch:
        batch.drop_column("pending_totp_secret")
