"""Managing intranet-app routes: the only configuration admins change on the gateway."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from cryptography import x509
from sqlalchemy import func
from sqlmodel import Session, col, select

from govmobile.core import audit
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import Conflict, InvalidInput, NotFound
from govmobile.core.tenancy import Tenant
from govmobile.gateway.models import Route, RouteWrite

#: Path prefixes the gateway serves itself; a route may not shadow them.
RESERVED_NAMES = frozenset({"api", "pki", "ocsp", "well-known", "est", "gateway", "console", "healthz"})


class RouteAdministration:
    """The routes use cases, each in its own transaction."""

    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def list(self, principal: Principal) -> list[Route]:
        """The routes this admin may see: all of them, or a department's own for its admins."""
        with self.database.session() as session:
            return [r for r in list_routes(session) if visible_to(principal, r)]

    def get(self, principal: Principal, route_id: str) -> Route:
        with self.database.session() as session:
            route = get_route(session, route_id)
        if not visible_to(principal, route):
            raise NotFound(f"no route {route_id}")  # as if it did not exist: nothing leaks
        return route

    def create(self, principal: Principal, data: RouteWrite) -> Route:
        with self.database.transaction() as session:
            return save_route(session, principal, data, now=self.clock())

    def replace(self, principal: Principal, route_id: str, data: RouteWrite) -> Route:
        with self.database.transaction() as session:
            return save_route(
                session, principal, data, now=self.clock(), existing=get_route(session, route_id)
            )

    def delete(self, principal: Principal, route_id: str) -> None:
        with self.database.transaction() as session:
            delete_route(session, principal, get_route(session, route_id), now=self.clock())


def list_routes(session: Session) -> list[Route]:
    return list(session.exec(select(Route).order_by(col(Route.name))).all())


def visible_to(principal: Principal, route: Route) -> bool:
    """A tenant's admins and auditors see only the routes that admit their tenant."""
    scope = principal.tenant_scope()
    return scope is None or scope in json.loads(route.allowed_tenants)


def get_route(session: Session, route_id: str) -> Route:
    route = session.get(Route, route_id)
    if route is None:
        route = session.exec(select(Route).where(Route.name == route_id)).first()
    if route is None:
        raise NotFound(f"no route {route_id}")
    return route


def save_route(
    session: Session,
    principal: Principal,
    data: RouteWrite,
    *,
    now: dt.datetime,
    existing: Route | None = None,
) -> Route:
    """Create or replace a route (platform admins: routes are shared infrastructure)."""
    principal.require_platform_admin()
    if data.name in RESERVED_NAMES:
        raise InvalidInput(f"the route name {data.name!r} is reserved", code="reserved_name")
    _check_unique(session, data, existing)
    tenants = []
    for reference in data.allowed_tenants:
        tenant = (
            session.get(Tenant, reference)
            or session.exec(select(Tenant).where(Tenant.slug == reference)).first()
        )
        if tenant is None:
            raise InvalidInput(f"unknown tenant {reference!r} in allowed_tenants", code="unknown_tenant")
        tenants.append(tenant.id)
    data = data.model_copy(update={"allowed_tenants": sorted(set(tenants))})
    if data.upstream_ca_pem:
        try:
            x509.load_pem_x509_certificates(data.upstream_ca_pem.encode())
        except ValueError:
            raise InvalidInput("upstream_ca_pem is not a PEM certificate", code="bad_upstream_ca") from None
    if existing is not None and data.version is not None and data.version != existing.version:
        raise Conflict(
            f"route {existing.name!r} changed since you read it (version {existing.version}, not {data.version}); "
            "read it again and reapply your change",
            code="route_changed",
        )
    fields = data.model_dump(exclude={"allowed_tenants", "allowed_groups", "version"})
    if existing is not None and "upstream_ca_pem" not in data.model_fields_set:
        # The CA is never returned, so a client that did not send it means "keep it";
        # send null (or "") to remove it.
        fields["upstream_ca_pem"] = existing.upstream_ca_pem
    fields["upstream_ca_pem"] = fields["upstream_ca_pem"] or None
    route = existing or Route(**fields, created_at=now)
    for key, value in fields.items():
        setattr(route, key, value)
    route.allowed_tenants = json.dumps(data.allowed_tenants)
    route.allowed_groups = json.dumps(sorted(set(data.allowed_groups)))
    route.updated_at = now
    route.updated_by = principal.actor
    if existing is not None:
        route.version += 1
    session.add(route)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="route.updated" if existing else "route.created",
        target=f"route:{route.name}",
        details={
            "upstream_url": route.upstream_url,
            "tenants": data.allowed_tenants,
            "groups": data.allowed_groups,
            "require_compliance": route.require_compliance,
            "enabled": route.enabled,
        },
        now=now,
    )
    return route


def delete_route(session: Session, principal: Principal, route: Route, *, now: dt.datetime) -> None:
    principal.require_platform_admin()
    session.delete(route)
    audit.record(
        session, actor=principal.actor, action="route.deleted", target=f"route:{route.name}", now=now
    )


def routes_fingerprint(session: Session) -> str:
    """Changes whenever any route is created, changed or deleted."""
    count, versions, latest = session.exec(
        select(func.count(), func.coalesce(func.sum(Route.version), 0), func.max(Route.updated_at))
    ).one()
    return f"{count}:{versions}:{latest}"


def _check_unique(session: Session, data: RouteWrite, existing: Route | None) -> None:
    same_name = session.exec(select(Route).where(Route.name == data.name)).first()
    if same_name is not None and same_name is not existing:
        raise Conflict(f"a route named {data.name!r} exists already", code="route_exists")
    if data.host:
        same_host = session.exec(select(Route).where(Route.host == data.host)).first()
        if same_host is not None and same_host is not existing:
            raise Conflict(f"route {same_host.name!r} already serves host {data.host}", code="host_taken")
