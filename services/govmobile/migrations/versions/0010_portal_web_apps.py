"""The app portal's web apps: an app's kind, and a web release's gateway route and start path.

Existing apps are Android apps. The route is named, not referenced by a foreign key: the gateway
owns the route table and may delete a route; a web app on a deleted route is then unavailable
(the portal says why), and comes back if a route of that name is created again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portal_app") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="android"))
    with op.batch_alter_table("portal_app") as batch:
        # The default served the rows that existed; the model sets the kind from now on.
        batch.alter_column("kind", server_default=None)
    with op.batch_alter_table("portal_release") as batch:
        batch.add_column(sa.Column("route_name", sa.String(32), nullable=True))
        batch.add_column(sa.Column("start_path", sa.String(500), nullable=True))


def downgrade() -> None:
    """Web apps have no place in the older schema: their releases and apps go with the columns
    (assignments, installation reports and device documents that name them first)."""
    bind = op.get_bind()
    web_apps = sa.text("SELECT id FROM portal_app WHERE kind = 'web'")
    ids = [row[0] for row in bind.execute(web_apps)]
    for app_id in ids:
        packages = [
            row[0]
            for row in bind.execute(sa.text("SELECT package FROM portal_app WHERE id = :id"), {"id": app_id})
        ]
        bind.execute(sa.text("DELETE FROM portal_assignment WHERE app_id = :id"), {"id": app_id})
        bind.execute(sa.text("DELETE FROM portal_release WHERE app_id = :id"), {"id": app_id})
        for package in packages:
            bind.execute(sa.text("DELETE FROM portal_installation WHERE package = :p"), {"p": package})
        bind.execute(sa.text("DELETE FROM portal_app WHERE id = :id"), {"id": app_id})
    with op.batch_alter_table("portal_release") as batch:
        batch.drop_column("start_path")
        batch.drop_column("route_name")
    with op.batch_alter_table("portal_app") as batch:
        batch.drop_column("kind")
