"""The gateway's routes as web apps need them, read (never written) from the gateway's table.

Reading the route each time, instead of keeping a copy of its admission, is what keeps one source
of truth for who may open a web app (``web_entry``): an admin changes who may open an intranet
app in one place, the route, and the catalogue follows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session

from govmobile.portal.readers import routes
from govmobile.portal.web_entry import RouteAdmission, require_route


def route_admissions(session: Session, names: Iterable[str]) -> dict[str, RouteAdmission]:
    """The routes named ``names`` that exist, by name (one query)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = session.connection().execute(select(routes).where(routes.c.name.in_(wanted))).all()
    return {
        row.name: RouteAdmission(
            name=row.name,
            enabled=bool(row.enabled),
            host=row.host,
            tenants=frozenset(json.loads(row.allowed_tenants or "[]")),
            groups=frozenset(json.loads(row.allowed_groups or "[]")),
            require_compliance=bool(row.require_compliance),
        )
        for row in rows
    }


def route_admission(session: Session, name: str) -> RouteAdmission | None:
    return route_admissions(session, [name]).get(name)


def check_route(session: Session, name: str, department: str | None) -> RouteAdmission:
    """The route, if a web app of ``department`` may be put onto it; refused otherwise."""
    route = route_admission(session, name)
    require_route(route, name, department)
    assert route is not None
    return route
