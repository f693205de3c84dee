"""Enrollment tokens and the binding of a device to its certificate.

A token is one-time by default, lives 24 hours, and is bound to a tenant and a person (and
optionally a group the person joins on enrollment). Its secret is shown once; only its SHA-256
is stored. Consuming it is one conditional UPDATE, so of two concurrent uses exactly one wins.

A device is known by its hardware serial number, which is printed on it and is no secret. So a
token may enroll a known device again only if it was made for the device's own person, or if an
admin made it for that very device (a re-enrollment token, which may also hand the device to
another person); otherwise anyone holding a token could take over a colleague's device, with
its record, and cancel its pending wipe. A retired device is out of service and may be
enrolled again by any token of its department.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import urllib.parse
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from govmobile.core.directory import Person, get_group, get_person
from govmobile.core.errors import (
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Unauthenticated,
)
from govmobile.core.tenancy import Tenant
from govmobile.mdm.models import Device, DeviceState, EnrollmentToken

TOKEN_PREFIX = "gme_"  # noqa: S105 - a public prefix, not a secret
MAX_TTL_HOURS = 30 * 24
#: Text a device reports about itself: no control characters (NUL cannot even be stored).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class EnrollmentTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(max_length=63, description="the department's id or slug")
    person_id: str | None = Field(
        default=None,
        max_length=36,
        description="whose device it enrolls; with device_id, default: its person",
    )
    group_id: str | None = Field(default=None, max_length=36, description="a group the person joins")
    device_id: str | None = Field(
        default=None,
        max_length=36,
        description="a re-enrollment token for this device only (it may hand the device to person_id)",
    )
    ttl_hours: StrictInt = Field(default=24, ge=1, le=MAX_TTL_HOURS)
    max_uses: StrictInt = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _names_a_person(self) -> EnrollmentTokenCreate:
        if self.person_id is None and self.device_id is None:
            raise ValueError("person_id is required (unless device_id names the device to re-enroll)")
        return self


class EnrollmentTokenPublic(BaseModel):
    id: str
    tenant_id: str
    person_id: str
    group_id: str | None
    device_id: str | None
    max_uses: int
    uses: int
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    status: str

    @classmethod
    def of(cls, token: EnrollmentToken, now: dt.datetime) -> EnrollmentTokenPublic:
        return cls(**token.model_dump(exclude={"secret_hash", "last_used_at"}), status=status_of(token, now))


class DeviceFacts(BaseModel):
    """What a device says about its hardware when it enrolls."""

    model_config = ConfigDict(extra="ignore")

    serial_number: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
    model: str = Field(default="", max_length=100, pattern=_PRINTABLE)
    os_name: str = Field(default="", max_length=50, pattern=_PRINTABLE)
    os_version: str = Field(default="", max_length=50, pattern=_PRINTABLE)
    hardware_ids: dict[str, str] = Field(default_factory=dict, max_length=10)


def status_of(token: EnrollmentToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.uses >= token.max_uses:
        return "used"
    if token.expires_at <= now:
        return "expired"
    return "active"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, data: EnrollmentTokenCreate, *, scope: str | None, actor: str, now: dt.datetime
) -> tuple[str, EnrollmentToken]:
    """A new token for a person of the tenant; the secret is returned once."""
    if scope is not None and data.tenant_id != scope:
        raise NotFound(f"no tenant {data.tenant_id}")
    device = None
    if data.device_id is not None:
        device = session.get(Device, data.device_id)
        if device is None or device.tenant_id != data.tenant_id:
            raise NotFound(f"no device {data.device_id} in this department")
        if data.max_uses != 1:
            raise InvalidInput(
                "a re-enrollment token enrolls one device once: leave max_uses at 1", code="invalid_max_uses"
            )
    person_id = data.person_id if data.person_id is not None else device.person_id if device else ""
    person = get_person(session, person_id, scope=data.tenant_id)
    if person.disabled:
        raise Gone(
            f"person {person.username} is disabled; enable them before enrolling a device",
            code="person_disabled",
        )
    if data.group_id is not None:
        get_group(session, data.group_id, scope=data.tenant_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(24)
    token = EnrollmentToken(
        tenant_id=data.tenant_id,
        person_id=person.id,
        group_id=data.group_id,
        device_id=data.device_id,
        secret_hash=hash_secret(secret),
        max_uses=data.max_uses,
        created_by=actor,
        created_at=now,
        expires_at=now + dt.timedelta(hours=data.ttl_hours),
    )
    session.add(token)
    session.flush()
    return secret, token


def get_token(session: Session, token_id: str, *, scope: str | None) -> EnrollmentToken:
    token = session.get(EnrollmentToken, token_id)
    if token is None or (scope is not None and token.tenant_id != scope):
        raise NotFound(f"no enrollment token {token_id}")
    return token


def list_tokens(
    session: Session, *, scope: str | None, tenant_id: str | None, limit: int = 200
) -> list[EnrollmentToken]:
    statement = select(EnrollmentToken)
    if scope is not None:
        statement = statement.where(EnrollmentToken.tenant_id == scope)
    if tenant_id is not None:
        statement = statement.where(EnrollmentToken.tenant_id == tenant_id)
    return list(session.exec(statement.order_by(col(EnrollmentToken.created_at).desc()).limit(limit)).all())


def revoke_token(session: Session, token: EnrollmentToken, *, now: dt.datetime) -> None:
    if token.revoked_at is not None:
        raise Conflict("this enrollment token is already revoked", code="already_revoked")
    token.revoked_at = now
    session.add(token)


def usable_token(session: Session, secret: str, *, now: dt.datetime) -> EnrollmentToken:
    """The token a secret stands for, if it can still enroll a device; otherwise say why."""
    token = session.exec(
        select(EnrollmentToken).where(EnrollmentToken.secret_hash == hash_secret(secret))
    ).first()
    if token is None:
        raise Unauthenticated(
            "this enrollment token is not valid; check it or ask your admin for a new one",
            code="invalid_token",
        )
    status = status_of(token, now)
    if status != "active":
        raise Unauthenticated(
            f"this enrollment token has {'been ' if status != 'expired' else ''}{status}; ask your admin for a new one",
            code=f"token_{status}",
        )
    return token


def consume(session: Session, token_id: str, *, now: dt.datetime) -> bool:
    """Use the token once, atomically; False when another enrollment got there first."""
    result = session.exec(
        update(EnrollmentToken)
        .where(
            col(EnrollmentToken.id) == token_id,
            col(EnrollmentToken.revoked_at).is_(None),
            col(EnrollmentToken.expires_at) > now,
            col(EnrollmentToken.uses) < col(EnrollmentToken.max_uses),
        )
        .values(uses=col(EnrollmentToken.uses) + 1, last_used_at=now)
    )
    return int(result.rowcount) == 1


def check_quota(session: Session, tenant_id: str) -> None:
    """Refuse a new device when the department has reached its device quota."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.max_devices is None:
        return
    in_service = session.exec(
        select(func.count())
        .select_from(Device)
        .where(Device.tenant_id == tenant_id, Device.state != DeviceState.RETIRED)
    ).one()
    if in_service >= tenant.max_devices:
        raise QuotaExceeded(
            f"department {tenant.slug} has reached its limit of {tenant.max_devices} devices; "
            "retire a device or ask a platform admin to raise the limit",
        )


def check_reenrollment(token: EnrollmentToken, known: Device | None) -> None:
    """Refuse a token that may not enroll this device (see the module's docstring).

    ``known`` is the department's device with the serial number the device reported, if any.
    """
    if token.device_id is not None:
        if known is None or known.id != token.device_id:
            raise PermissionDenied(
                "this re-enrollment token is for another device (the serial number differs); "
                "use it on the device it was made for",
                code="token_for_another_device",
            )
        return
    if known is not None and known.person_id != token.person_id and known.state is not DeviceState.RETIRED:
        raise PermissionDenied(
            "a device with this serial number is enrolled for someone else; ask your admin for a "
            "re-enrollment token for this device",
            code="device_of_another_person",
        )


def find_by_serial(session: Session, tenant_id: str, serial_number: str) -> Device | None:
    return session.exec(
        select(Device).where(Device.tenant_id == tenant_id, Device.serial_number == serial_number)
    ).first()


def person_of(session: Session, token: EnrollmentToken) -> Person:
    person = session.get(Person, token.person_id)
    if person is None or person.disabled:
        raise Gone(
            "the person this token was made for is disabled or gone; ask your admin", code="person_disabled"
        )
    return person


def qr_payload(server_url: str, ca_sha256: str, secret: str) -> str:
    """What the enrollment QR code holds: where to enroll, which CA to pin, and the token."""
    query = urllib.parse.urlencode({"server": server_url, "ca_sha256": ca_sha256, "token": secret})
    return f"govmobile:enroll?{query}"


def facts_json(facts: DeviceFacts) -> dict[str, Any]:
    return facts.model_dump(mode="json")
