"""Web apps: catalogue entries that open an intranet route through the gateway.

A web app has no package file. What is reviewed and published is its *entry*: the gateway route
it opens (by name) and an optional start path under it. The device opens
``/apps/<route>/<start path>`` on the gateway, which alone decides, per request, whether the
device may (``gateway.decisions``).

**One source of truth for who may open it: the route.** The route's admission (its tenants, its
groups, whether it requires compliance) lives in the gateway's ``route`` table, which the gateway
alone writes. The portal reads it (``readers.routes``) and never copies it: every check here is
made against the route as it is now, so a route changed, disabled or deleted after publication
changes what devices are offered at their next desired-state fetch. The checks:

- **Publishing** (draft, approval, publication): the route must exist and admit the app's owning
  department (a route that does not admit it is answered as one that does not exist, as the
  gateway hides it from the department's admins), be enabled, and serve ``/apps/<name>/`` (not a
  host of its own). A department cannot put a web app onto a route that is not open to it.
- **Resolution** (what a device is offered): an assignment decides whether the app is on the
  home screen (required or available); the route decides whether the device's department and
  its person's groups may open it at all. A device the route does not admit is not offered the
  app, and the admin's view of the device says why. Compliance and the device's state (locked,
  lost) are left to the gateway at the moment of opening: they change by the minute, and the
  catalogue should not flicker with them.

The start path must stay under the route: it is refused if it climbs out (``..``, encoded or
not), names a host (``//host``), a scheme (``https:``), or holds a backslash, a fragment or
anything but a URL path and query's characters.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote

from govmobile.portal.errors import InvalidStartPath, RouteRefused

#: The gateway's route names (``gateway.models``; services do not import each other).
ROUTE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
MAX_START_PATH = 500
#: RFC 3986 path and query characters (pchar, "/" and "?"), percent-escapes included; no "\\" or "#".
_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*$")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class WebEntry:
    """What a web release opens: a gateway route and a path under it."""

    route: str
    start_path: str = ""

    @property
    def url(self) -> str:
        """The path on the gateway's public listener that opens the app."""
        return f"/apps/{self.route}/{self.start_path}"


@dataclass(frozen=True)
class RouteAdmission:
    """A gateway route as the portal reads it: who it admits (the gateway's, never copied)."""

    name: str
    enabled: bool
    host: str | None
    tenants: frozenset[str]
    #: Group names; empty: any person of the admitted tenants.
    groups: frozenset[str]
    require_compliance: bool


@dataclass(frozen=True)
class Refusal:
    """Why a route does not let a department, person or device open a web app."""

    code: str
    reason: str


def web_entry(route: str, start_path: str | None) -> WebEntry:
    """A checked entry: a well-formed route name and a start path that stays under it."""
    if not ROUTE_NAME.fullmatch(route):
        raise InvalidStartPath(
            "a route name is 1-32 lower-case letters, digits or hyphens (the name in /apps/<name>/)",
            code="invalid_route_name",
        )
    return WebEntry(route, check_start_path(route, start_path or ""))


def check_start_path(route: str, start_path: str) -> str:
    """The start path, without a leading "/", if it stays under ``/apps/<route>/``; refused otherwise."""
    if len(start_path) > MAX_START_PATH:
        raise InvalidStartPath(f"a start path has at most {MAX_START_PATH} characters")
    if not _URL_CHARACTERS.fullmatch(start_path) or _ESCAPE.search(start_path):
        raise InvalidStartPath(
            "a start path holds only a URL path and query (no spaces, backslashes, fragments or bad escapes)"
        )
    if start_path.startswith("//"):
        raise InvalidStartPath("a start path may not name a host (//host): it is a path under the route")
    path = start_path.removeprefix("/")
    path_part = path.partition("?")[0]
    decoded = path_part
    for _ in range(3):  # decoded until it no longer changes: "%252e%252e" is ".." twice over
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        raise InvalidStartPath("a start path may not be percent-encoded more than twice")
    if ":" in decoded.partition("/")[0]:
        raise InvalidStartPath("a start path is a path under the route, not a URL (no scheme such as https:)")
    if "\\" in decoded or any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        raise InvalidStartPath("a start path may not hold backslashes or control characters")
    segments = decoded.split("/")
    if any(segment in ("..", ".") for segment in segments):
        raise InvalidStartPath("a start path may not climb out of the route (.. or . segments)")
    if "" in segments[:-1]:
        raise InvalidStartPath("a start path may not hold empty segments (//)")
    base = f"/apps/{route}/"
    if not posixpath.normpath(base + decoded).startswith(base.rstrip("/")):
        raise InvalidStartPath("a start path must stay under the route")  # kept if the rules above change
    return path


def route_refusal(route: RouteAdmission | None, name: str, department: str | None) -> Refusal | None:
    """Why a web app of ``department`` (None: the platform's) cannot open route ``name``; None if it can.

    A route that does not admit the department gets the same answer as one that does not exist,
    before anything else about it is said: the gateway shows a department's admins only the routes
    that admit it, and the portal must not be an oracle for the others."""
    if route is None or (department is not None and department not in route.tenants):
        if department is None:
            return Refusal(
                "route_not_found", f"there is no gateway route {name!r}; ask the platform admin to create it"
            )
        return Refusal(
            "route_not_found",
            f"there is no gateway route {name!r} open to this department; "
            "ask the platform admin to create it or to admit the department",
        )
    if not route.enabled:
        return Refusal("route_disabled", f"the gateway route {name!r} is disabled")
    if route.host is not None:
        return Refusal(
            "route_by_host",
            f"the gateway route {name!r} serves its own host name, not /apps/{name}/; "
            "a web app opens a route by path",
        )
    return None


def person_refusal(
    route: RouteAdmission | None, name: str, department: str, group_names: frozenset[str]
) -> Refusal | None:
    """Why a person of ``department`` in ``group_names`` may not open route ``name``; None if they may."""
    refusal = route_refusal(route, name, department)
    if refusal is not None or route is None:
        return refusal
    if route.groups and not route.groups & group_names:
        return Refusal(
            "group_not_admitted",
            f"the gateway route {name!r} admits only the groups {', '.join(sorted(route.groups))}",
        )
    return None


def require_route(route: RouteAdmission | None, name: str, department: str | None) -> None:
    """Refuse to put a web app of ``department`` onto a route that does not let it open."""
    refusal = route_refusal(route, name, department)
    if refusal is not None:
        raise RouteRefused(refusal.reason, code=refusal.code)
