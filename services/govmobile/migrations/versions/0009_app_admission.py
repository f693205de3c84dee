"""App admission per department: a mode (off, allowlist, blocklist) and lists of package ids and
signers, replacing the bare ``admitted_apps_only`` / ``admitted_apps`` allowlist.

Existing allowlists keep working: ``admitted_apps_only`` becomes the ``allowlist`` mode and
``admitted_apps`` its package entries (a list kept while the flag was off stays, with the mode
off). Entries are copied as they were stored; ones the stricter package id syntax of the admin
API would refuse still match, and are refused only if an admin sends them again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_policy = sa.table(
    "policy",
    sa.column("tenant_id", sa.String),
    sa.column("admitted_apps_only", sa.Boolean),
    sa.column("admitted_apps", sa.Text),
    sa.column("app_admission_mode", sa.String),
    sa.column("app_admission_packages", sa.Text),
    sa.column("app_admission_signers", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("policy") as batch:
        batch.add_column(sa.Column("app_admission_mode", sa.String(16), nullable=False, server_default="off"))
        batch.add_column(sa.Column("app_admission_packages", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("app_admission_signers", sa.Text(), nullable=False, server_default="[]"))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_policy.c.tenant_id, _policy.c.admitted_apps_only, _policy.c.admitted_apps)
    )
    for tenant_id, only, apps in rows.all():
        packages = sorted(set(json.loads(apps or "[]")))
        connection.execute(
            _policy.update()
            .where(_policy.c.tenant_id == tenant_id)
            .values(
                app_admission_mode="allowlist" if only else "off",
                app_admission_packages=json.dumps(packages),
            )
        )
    with op.batch_alter_table("policy") as batch:
        # The defaults served the rows that existed; the model sets every value from now on.
        batch.alter_column("app_admission_mode", server_default=None)
        batch.alter_column("app_admission_packages", server_default=None)
        batch.alter_column("app_admission_signers", server_default=None)
        batch.drop_column("admitted_apps_only")
        batch.drop_column("admitted_apps")


def downgrade() -> None:
    """Back to the bare allowlist: an allowlist's packages survive; signer entries and a blocklist
    have no place in the old schema and are lost (a blocklist becomes no rule, not an allowlist)."""
    with op.batch_alter_table("policy") as batch:
        batch.add_column(
            sa.Column("admitted_apps_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("admitted_apps", sa.Text(), nullable=False, server_default="[]"))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_policy.c.tenant_id, _policy.c.app_admission_mode, _policy.c.app_admission_packages)
    )
    for tenant_id, mode, packages in rows.all():
        connection.execute(
            _policy.update()
            .where(_policy.c.tenant_id == tenant_id)
            .values(
                admitted_apps_only=mode == "allowlist",
                admitted_apps=packages if mode != "blocklist" else "[]",
            )
        )
    with op.batch_alter_table("policy") as batch:
        batch.alter_column("admitted_apps_only", server_default=None)
        batch.alter_column("admitted_apps", server_default=None)
        batch.drop_column("app_admission_mode")
        batch.drop_column("app_admission_packages")
        batch.drop_column("app_admission_signers")
