"""The audit log as admins read it: tenant-scoped pages of events, and the chain's verification."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import col, select

from govmobile.core import audit
from govmobile.core.accounts import Principal
from govmobile.core.database import Database
from govmobile.core.errors import InvalidInput
from govmobile.core.tenancy import tenant_id_of


@dataclass(frozen=True)
class AuditQuery:
    action: str | None = None
    actor: str | None = None
    tenant_id: str | None = None
    since: dt.datetime | None = None
    before_id: int | None = None
    limit: int = 100


class AuditLog:
    """Read and verify the hash-chained audit log (it is written by every change)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def events(self, principal: Principal, query: AuditQuery) -> list[audit.AuditEvent]:
        """Newest first; tenant-scoped callers see their tenant's events only."""
        if query.since is not None and query.since.tzinfo is None:
            raise InvalidInput("since needs a time zone, e.g. 2027-01-01T00:00:00Z")
        with self.database.session() as session:
            statement = select(audit.AuditEvent)
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(audit.AuditEvent.tenant_id == scope)
            if query.tenant_id is not None:
                statement = statement.where(
                    audit.AuditEvent.tenant_id == tenant_id_of(session, query.tenant_id)
                )
            if query.action is not None:
                statement = statement.where(audit.AuditEvent.action == query.action)
            if query.actor is not None:
                statement = statement.where(audit.AuditEvent.actor == query.actor)
            if query.since is not None:
                statement = statement.where(col(audit.AuditEvent.occurred_at) >= query.since)
            if query.before_id is not None:
                statement = statement.where(col(audit.AuditEvent.id) < query.before_id)
            return list(
                session.exec(statement.order_by(col(audit.AuditEvent.id).desc()).limit(query.limit)).all()
            )

    def verify(self, principal: Principal) -> audit.ChainVerification:
        """Verify the whole chain (it is one chain for all tenants; only ids are reported)."""
        with self.database.session() as session:
            return audit.verify_chain(session)
