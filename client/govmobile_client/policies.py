"""Per-tenant compliance policies."""

from __future__ import annotations

from govmobile_client.changes import PolicyChange
from govmobile_client.connection import Connection, segment
from govmobile_client.models import Policy


class Policies:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def show(self, tenant: str) -> Policy:
        """A tenant's policy (by tenant id or slug); version 0 means the defaults."""
        return self._connection.call(Policy, "GET", f"/api/v1/tenants/{segment(tenant)}/policy")

    def set(self, tenant: str, change: PolicyChange) -> Policy:
        """Change some fields of the policy; devices get it at their next check-in."""
        return self._connection.call(
            Policy, "PATCH", f"/api/v1/tenants/{segment(tenant)}/policy", body=change.body()
        )
