"""The authorization sub-request nginx sends before proxying to an intranet app."""

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import Counter

from govmobile.core.database import Database
from govmobile.gateway.assertions import AssertionIssuer
from govmobile.gateway.decisions import Decision, decide
from govmobile.gateway.models import IdentityMode, Route
from govmobile.web.device_identity import CLIENT_CERT_HEADER, parse_client_cert

_UNSAFE = re.compile(r"[^A-Za-z0-9 .,;:()/?'+_=@-]")


def authorization_router(
    database: Database,
    issuer: AssertionIssuer,
    routes: Callable[[str], Route | None],
    internal_secret: str,
    decisions: Counter,
    clock: Callable[[], dt.datetime],
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    expected = hashlib.sha256(internal_secret.encode()).digest()

    @router.get("/internal/authorize")
    def authorize(request: Request) -> Response:
        """200 with identity headers, or 403 with a code and a reason nginx shows the user."""
        offered = hashlib.sha256(request.headers.get("govmobile-internal", "").encode()).digest()
        if not hmac.compare_digest(offered, expected):
            return Response(status_code=404)  # only nginx, inside the container, may ask
        route_name = request.headers.get("govmobile-route", "")
        escaped = request.headers.get(CLIENT_CERT_HEADER, "")
        if not escaped:
            return _refusal(
                Decision(False, "no_certificate", "a device certificate is required", route_name), decisions
            )
        der = parse_client_cert(escaped)
        now = clock()
        with database.engine.connect() as connection:
            decision = decide(
                connection, routes(route_name), route_name, hashlib.sha256(der).hexdigest(), now=now
            )
        if not decision.allowed:
            return _refusal(decision, decisions)
        decisions.labels(code="allowed").inc()
        route = routes(route_name)
        assert route is not None
        assert decision.person
        assert decision.device_id
        assert decision.tenant
        assert decision.tenant_id
        headers = {
            "GovMobile-Assertion": issuer.issue(
                audience=route.name,
                person=decision.person,
                device_id=decision.device_id,
                tenant=decision.tenant,
                tenant_id=decision.tenant_id,
                groups=list(decision.groups),
                now=now,
            ),
            "GovMobile-Person": decision.person,
            "GovMobile-Device": decision.device_id,
            "GovMobile-Tenant": decision.tenant_id,
            "GovMobile-Code": "allowed",
            "GovMobile-Route": route.name,
        }
        if route.identity_mode is IdentityMode.ASSERTION_AND_HEADERS:
            headers["GovMobile-Groups"] = ",".join(decision.groups)
        return Response(status_code=200, headers=headers)

    return router


def _refusal(decision: Decision, decisions: Counter) -> Response:
    decisions.labels(code=decision.code).inc()
    # The reason ends up inside nginx's JSON and HTML refusal bodies: keep it to safe characters.
    headers = {
        "GovMobile-Code": decision.code,
        "GovMobile-Reason": _UNSAFE.sub("", decision.reason)[:300],
        "GovMobile-Route": _UNSAFE.sub("", decision.route)[:32],
    }
    if decision.device_id:
        headers["GovMobile-Device"] = decision.device_id
    if decision.tenant_id:
        headers["GovMobile-Tenant"] = decision.tenant_id
    if decision.person:
        headers["GovMobile-Person"] = decision.person
    return Response(status_code=403, headers=headers)
