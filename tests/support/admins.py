"""Admin accounts and bearer tokens made directly in the database, for API tests."""

from __future__ import annotations

import datetime as dt
import secrets

from govmobile.core.accounts import AdminAccountCreate, Role, TokenKind, create_admin_account, issue_token
from govmobile.core.database import Database
from govmobile.core.tenancy import TenantCreate, create_tenant


def make_tenant(database: Database, slug: str) -> str:
    with database.transaction() as session:
        return create_tenant(session, TenantCreate(slug=slug, name=slug.title())).id


def make_admin(
    database: Database, role: Role, tenant_id: str | None = None, *, username: str | None = None
) -> str:
    """Create an account and return a bearer token for it."""
    with database.transaction() as session:
        account = create_admin_account(
            session,
            AdminAccountCreate(
                username=username or f"{role.value.replace('_', '-')}-{secrets.token_hex(3)}",
                role=role,
                tenant_id=tenant_id,
                password=secrets.token_urlsafe(16),
            ),
        )
        token, _ = issue_token(
            session, account, kind=TokenKind.API, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
        )
    return token
