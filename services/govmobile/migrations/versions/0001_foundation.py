"""Foundation: tenants, admin accounts and tokens, the audit log, certificates and the CRL.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_AUDIT_IMMUTABLE_SQLITE = """
CREATE TRIGGER audit_event_no_{op} BEFORE {OP} ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
"""
_AUDIT_IMMUTABLE_POSTGRES = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("max_devices", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_tenant_slug", "tenant", ["slug"], unique=True)

    op.create_table(
        "admin_account",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(63), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenant.id"), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("totp_secret", sa.String(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_admin_account_username", "admin_account", ["username"], unique=True)
    op.create_index("ix_admin_account_tenant_id", "admin_account", ["tenant_id"])

    op.create_table(
        "api_token",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("admin_account.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_api_token_token_hash", "api_token", ["token_hash"], unique=True)
    op.create_index("ix_api_token_account_id", "api_token", ["account_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    for column in ("occurred_at", "actor", "tenant_id", "action"):
        op.create_index(f"ix_audit_event_{column}", "audit_event", [column])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.execute(
        sa.text("INSERT INTO audit_head (id, last_event_id, last_hash) VALUES (1, 0, :genesis)").bindparams(
            genesis="0" * 64
        )
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_AUDIT_IMMUTABLE_POSTGRES)
    else:
        for statement in ("update", "delete"):
            op.execute(_AUDIT_IMMUTABLE_SQLITE.format(op=statement, OP=statement.upper()))

    op.create_table(
        "certificate",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(1024), nullable=False),
        sa.Column("common_name", sa.String(255), nullable=False),
        sa.Column("device_id", sa.String(128), nullable=True),
        sa.Column("tenant_id", sa.String(128), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("renewed_from", sa.String(40), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revocation_reason", sa.Integer(), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("pem", sa.Text(), nullable=False),
    )
    op.create_index("ix_certificate_sha256", "certificate", ["sha256"], unique=True)
    for column in ("profile", "common_name", "device_id", "tenant_id", "not_after"):
        op.create_index(f"ix_certificate_{column}", "certificate", [column])
    op.create_index("ix_certificate_revoked_not_after", "certificate", ["revoked_at", "not_after"])

    op.create_table(
        "crl_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("this_update", sa.DateTime(), nullable=True),
        sa.Column("next_update", sa.DateTime(), nullable=True),
        sa.Column("revoked_count", sa.BigInteger(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=True),
    )
    op.execute("INSERT INTO crl_state (id, number, revoked_count) VALUES (1, 0, 0)")


def downgrade() -> None:
    for table in ("crl_state", "certificate", "audit_head"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    op.drop_table("audit_event")
    for table in ("api_token", "admin_account", "tenant"):
        op.drop_table(table)
