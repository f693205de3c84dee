"""Authorization of a request to an intranet app (ARCHITECTURE.md, request path 5).

A request is allowed only if the certificate is valid and unrevoked, the device is active with
no lock or wipe on its way to it, and (when the route and policy ask for it) compliant, its tenant is admitted by the route, and its
person is in a group the route admits. Every refusal carries a code and a sentence for the
person holding the device. nginx caches the answer for a few seconds per certificate and route.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import Connection, select
from sqlmodel import col

from govmobile.core.directory import Group, Membership, Person
from govmobile.core.tenancy import Tenant
from govmobile.gateway import readers
from govmobile.gateway.models import Route


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str
    reason: str
    route: str
    device_id: str | None = None
    person: str | None = None
    tenant: str | None = None
    tenant_id: str | None = None
    groups: tuple[str, ...] = field(default=())


#: The MDM's open command states (queued, sent, not now) and the commands that end access while
#: they are open (govmobile.mdm.queue.ENDS_ACCESS; services do not import each other).
_OPEN_COMMAND_STATES = ("queued", "sent", "not_now")
_PENDING_REFUSALS = {
    "lock": ("device_locked", "the device is being locked; contact your IT desk"),
    "lost_mode_on": ("device_lost", "the device is being put in lost mode"),
    "wipe": ("device_wiped", "the device is being wiped"),
    "selective_wipe": ("device_wiped", "the government data on this device is being wiped"),
}


def decide(
    connection: Connection, route: Route | None, route_name: str, certificate_sha256: str, *, now: dt.datetime
) -> Decision:
    """Allow or refuse one device on one route, and say why."""

    def refuse(code: str, reason: str, **known: object) -> Decision:
        return Decision(False, code, reason, route_name, **known)  # type: ignore[arg-type]

    if route is None or not route.enabled:
        return refuse("unknown_route", f"there is no app called {route_name!r} here")
    cert = connection.execute(
        select(readers.certificates.c.revoked_at, readers.certificates.c.not_after).where(
            readers.certificates.c.sha256 == certificate_sha256
        )
    ).first()
    if cert is None:
        return refuse("unknown_certificate", "this certificate was not issued by this appliance")
    if cert.revoked_at is not None:
        return refuse(
            "certificate_revoked", "this device's certificate has been revoked; enroll the device again"
        )
    not_after = cert.not_after if cert.not_after.tzinfo else cert.not_after.replace(tzinfo=dt.UTC)
    if not_after <= now:
        return refuse(
            "certificate_expired", "this device's certificate has expired; renew it or enroll again"
        )
    d = readers.devices.c
    device = connection.execute(
        select(d.id, d.tenant_id, d.person_id, d.state, d.compliant, d.compliance_reasons).where(
            (d.cert_sha256 == certificate_sha256) | (d.previous_cert_sha256 == certificate_sha256)
        )
    ).first()
    if device is None:
        return refuse("device_unknown", "this certificate belongs to no enrolled device")
    known: dict[str, object] = {"device_id": device.id, "tenant_id": device.tenant_id}
    if device.state != "active":
        hint = {
            "enrolled": "check in with the MDM first",
            "locked": "the device is locked; contact your IT desk",
            "lost": "the device is in lost mode",
            "wiped": "the device has been wiped",
            "retired": "the device has been retired",
        }.get(device.state, "")
        return refuse(f"device_{device.state}", f"access refused: {hint}", **known)
    # A lock or wipe counts from the moment it is queued, not from the device's acknowledgement:
    # a stolen device may never check in to receive it.
    q = readers.commands.c
    pending = connection.execute(
        select(q.type)
        .where(q.device_id == device.id, q.state.in_(_OPEN_COMMAND_STATES), q.type.in_(_PENDING_REFUSALS))
        .limit(1)
    ).scalar()
    if pending is not None:
        code, hint = _PENDING_REFUSALS[pending]
        return refuse(code, f"access refused: {hint}", **known)
    tenant = connection.execute(
        select(col(Tenant.slug)).where(col(Tenant.id) == device.tenant_id)
    ).scalar_one()
    known["tenant"] = tenant
    if device.tenant_id not in json.loads(route.allowed_tenants):
        return refuse("tenant_not_admitted", f"your department has no access to {route.name}", **known)
    person = connection.execute(
        select(col(Person.username), col(Person.disabled)).where(col(Person.id) == device.person_id)
    ).first()
    if person is None or person.disabled:
        return refuse("person_disabled", "the person this device belongs to is disabled", **known)
    known["person"] = person.username
    groups = tuple(
        connection.execute(
            select(col(Group.name))
            .join(Membership, col(Membership.group_id) == col(Group.id))
            .where(col(Membership.person_id) == device.person_id)
            .order_by(col(Group.name))
        ).scalars()
    )
    known["groups"] = groups
    admitted_groups = json.loads(route.allowed_groups)
    if admitted_groups and not set(groups) & set(admitted_groups):
        return refuse("group_not_admitted", f"you are not in a group that may use {route.name}", **known)
    if route.require_compliance and device.compliant is not True:
        blocking = connection.execute(
            select(readers.policies.c.block_intranet_when_noncompliant).where(
                readers.policies.c.tenant_id == device.tenant_id
            )
        ).scalar()
        if blocking is None or blocking:  # no policy row means the defaults, which block
            reasons = json.loads(device.compliance_reasons or "[]")
            detail = "; ".join(reasons) if reasons else "the device has not reported a compliant state yet"
            return refuse(
                "device_noncompliant",
                f"this device is not compliant ({detail}); fix it and check in",
                **known,
            )
    return Decision(True, "allowed", "allowed", route_name, **known)  # type: ignore[arg-type]
