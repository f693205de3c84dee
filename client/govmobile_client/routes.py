"""Intranet-app routes on the gateway: list, show, create, replace, delete.

The gateway's control plane serves ``/api/v1/routes`` behind the same management listener as
the rest of the admin API. Every admin may read routes (they carry no secrets); only platform
admins may write them. A route is written whole (``PUT`` replaces it), so changing one field
is: read it, ``RouteSpec.of`` it, change the field, ``replace``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from govmobile_client.connection import Connection, segment
from govmobile_client.models import IdentityMode, Route


class RouteSpec(BaseModel):
    """A whole route as an admin writes it; the server checks every field.

    The defaults are the API's. ``allowed_tenants`` takes tenant ids or slugs; the answer
    always names tenants by id.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    upstream_url: str
    allowed_tenants: list[str]
    description: str = ""
    #: Route requests for this host name instead of ``/apps/<name>/``.
    host: str | None = None
    #: The CA (PEM) that signs an HTTPS upstream's certificate; None: the system trust store.
    upstream_ca_pem: str | None = None
    allowed_groups: list[str] = []
    require_compliance: bool = True
    identity_mode: IdentityMode = IdentityMode.ASSERTION
    user_header: str = "X-Remote-User"
    groups_header: str = "X-Remote-Groups"
    rate_limit: int = 20
    websocket: bool = False
    connect_timeout_seconds: int = 5
    read_timeout_seconds: int = 60
    enabled: bool = True

    @classmethod
    def of(cls, route: Route, *, upstream_ca_pem: str | None) -> RouteSpec:
        """The spec that writes ``route`` back as it is.

        The API never returns an upstream CA, so it cannot be read back: pass the PEM again
        to keep it (``route.upstream_ca_configured``), or None to drop it.
        """
        fields = route.model_dump(include=set(cls.model_fields) - {"upstream_ca_pem"})
        return cls(**fields, upstream_ca_pem=upstream_ca_pem)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Routes:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def list(self) -> Sequence[Route]:
        """Every route, by name (any admin)."""
        return self._connection.call_list(Route, "GET", "/api/v1/routes")

    def show(self, route: str) -> Route:
        """A route by name or id."""
        return self._connection.call(Route, "GET", f"/api/v1/routes/{segment(route)}")

    def create(self, spec: RouteSpec) -> Route:
        """Add an intranet app (platform admins); the gateway serves it within about a second."""
        return self._connection.call(Route, "POST", "/api/v1/routes", body=spec.body())

    def replace(self, route: str, spec: RouteSpec) -> Route:
        """Write a route (by name or id) whole, renaming it when the spec says so (platform admins)."""
        return self._connection.call(Route, "PUT", f"/api/v1/routes/{segment(route)}", body=spec.body())

    def delete(self, route: str) -> None:
        """Remove a route (platform admins); the gateway stops serving it within about a second."""
        self._connection.call_empty("DELETE", f"/api/v1/routes/{segment(route)}")
