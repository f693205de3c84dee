"""The audit log: newest first, and the verification of its hash chain."""

from __future__ import annotations

from collections.abc import Iterator

from govmobile_client.connection import Connection
from govmobile_client.models import AuditEvent, AuditPage, AuditVerification
from govmobile_client.paging import follow
from govmobile_client.queries import AuditFilter

#: The largest page the audit list serves.
MAX_PAGE = 1000


class Audit:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def list(
        self, where: AuditFilter | None = None, *, cursor: int | None = None, limit: int = 100
    ) -> AuditPage:
        """One page of events, newest first; the cursor leads to older ones."""
        params = {**(where or AuditFilter()).params(), "cursor": cursor, "limit": limit}
        return self._connection.call(AuditPage, "GET", "/api/v1/audit", params=params)

    def iterate(self, where: AuditFilter | None = None, *, page_size: int = 500) -> Iterator[AuditEvent]:
        """Every matching event, newest first."""
        return follow(lambda cursor: self.list(where, cursor=cursor, limit=min(page_size, MAX_PAGE)))

    def verify(self) -> AuditVerification:
        """Recompute the whole hash chain on the server; ``ok`` false names the first broken link."""
        return self._connection.call(AuditVerification, "GET", "/api/v1/audit/verify")
