"""The map of the admin API: which path prefix of the management listener goes to which service.

This is the one place that says it. nginx's management server is rendered from it
(``templates/nginx.conf.j2``), the published admin document is merged by it
(``gateway/api/contract.py``) and the test stand-in for the management listener
(``tests/client/management.py``) routes by it. ``tests/gateway/test_admin_api_map.py`` checks
the nginx configuration the gateway really runs, every service's own routes and every path the
typed client calls against it. The client itself needs none of it: one base URL reaches the
whole admin API.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Service(enum.StrEnum):
    """The services behind the management listener (``gm_<value>`` upstreams in nginx)."""

    CA = "ca"
    MDM = "mdm"
    PORTAL = "portal"
    #: The gateway's own control plane.
    CONTROL = "control"


@dataclass(frozen=True)
class Prefix:
    """Requests whose path starts with ``path`` go to ``service``."""

    path: str
    service: Service
    #: The gateway's proof goes with the request, so that the service may trust the
    #: X-Forwarded-For nginx sets (the MDM throttles logins by source). No device certificate
    #: ever goes with it: the management listener asks for none.
    gateway_proof: bool


#: The longest matching prefix wins, as with nginx's ``location ^~`` (order does not matter).
ADMIN_API: tuple[Prefix, ...] = (
    Prefix("/api/v1/certificates", Service.CA, gateway_proof=False),
    Prefix("/api/v1/routes", Service.CONTROL, gateway_proof=False),
    Prefix("/api/v1/portal/", Service.PORTAL, gateway_proof=False),
    Prefix("/api/", Service.MDM, gateway_proof=True),
)


def service_for(path: str) -> Service | None:
    """The service the management listener passes ``path`` to; None: nginx answers 404 itself."""
    matching = [prefix for prefix in ADMIN_API if path.startswith(prefix.path)]
    return max(matching, key=lambda prefix: len(prefix.path)).service if matching else None
