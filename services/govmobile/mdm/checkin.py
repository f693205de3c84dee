"""Check-in: the device reports its posture and results, then fetches its next command.

Everything in one transaction, in this order: results first (all validated before any is
applied), then posture and compliance, then the next command. What an acknowledgement means
for the device — locked, lost, wiped — is decided in ``acknowledgements``, one handler per
command type, so that the device's state always reflects what it confirmed, never what is
merely queued.

Most check-ins are heartbeats: no results, no change of state or compliance. ``heartbeat``
handles those with a few Core statements (the ORM's unit of work costs several times more
than the SQL); anything else goes through ``check_in`` on ORM objects. Both write what
``checkin_record`` computes, and both end in the same ``deliver_next``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Text, bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from govmobile.core.certificate_status import certificates, refuse_unusable, usable
from govmobile.core.errors import PermissionDenied, Unauthenticated
from govmobile.mdm import acknowledgements, queue
from govmobile.mdm.acknowledgements import Acknowledgement
from govmobile.mdm.checkin_record import StoredPosture, record_checkin
from govmobile.mdm.compliance import Compliance, Posture, evaluate
from govmobile.mdm.lifecycle import access_lost, record_event, set_state
from govmobile.mdm.models import Command, Device, DeviceCheckin, DeviceState, Policy
from govmobile.web.device_identity import PresentedCertificate


class CheckinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The device's own id (from its certificate); a mismatch means a confused or hostile client.
    device_id: str | None = Field(default=None, max_length=36)
    posture: Posture
    results: list[queue.CommandReport] = Field(default_factory=list, max_length=20)


@dataclass(frozen=True)
class DeviceView:
    """What a check-in tells the device about itself."""

    id: str
    tenant_id: str
    state: DeviceState
    lost_mode: bool
    lock_message: str | None
    cert_not_after: dt.datetime | None

    @classmethod
    def of(cls, device: Device) -> DeviceView:
        return cls(
            device.id,
            device.tenant_id,
            DeviceState(device.state),
            device.lost_mode,
            device.lock_message,
            device.cert_not_after,
        )


@dataclass
class CheckinOutcome:
    device: DeviceView
    compliance: Compliance
    command: queue.DeliveredCommand | None
    policy: Policy
    #: Certificates to revoke once the transaction has committed.
    revoke: list[tuple[str, str]] = field(default_factory=list)
    #: Commands whose results were applied, for the audit log.
    reported: list[tuple[Command, queue.CommandReport]] = field(default_factory=list)


_DEVICES = Device.__table__  # type: ignore[attr-defined]
_CHECKINS = DeviceCheckin.__table__  # type: ignore[attr-defined]
_HEARTBEAT_STATES = (DeviceState.ACTIVE.value, DeviceState.LOCKED.value, DeviceState.LOST.value)


def _heartbeat_statements() -> tuple[Any, Any]:
    # Built once: composing SQL expressions costs more than running them on this hot path.
    # The CA's record of the certificate comes in the same statement: revocation is checked on
    # every check-in, whatever the TLS handshake saw (a resumed session sees no CRL).
    d, c = _DEVICES.c, certificates.c
    by_certificate = (
        core_select(
            d.id,
            d.tenant_id,
            d.state,
            d.compliant,
            d.posture,
            d.lost_mode,
            d.lock_message,
            d.cert_not_after,
            d.previous_cert_sha256,
            d.checkin_count,
            d.os_name,
            d.os_version,
            c.revoked_at,
            c.not_after,
        )
        .select_from(_DEVICES.outerjoin(certificates, c.sha256 == d.cert_sha256))
        .where(d.cert_sha256 == bindparam("sha256"))
    )
    record = (
        update(_DEVICES)
        .where(d.id == bindparam("for_device"))
        .values(
            checkin_count=d.checkin_count + 1,
            last_seen_at=bindparam("seen_at"),
            posture=bindparam("posture_json"),
            compliance_reasons=bindparam("reasons_json"),
            os_name=bindparam("new_os_name"),
            os_version=bindparam("new_os_version"),
            last_location=func.coalesce(bindparam("location_json", type_=Text), d.last_location),
        )
    )
    return by_certificate, record


_DEVICE_BY_CERTIFICATE, _RECORD_HEARTBEAT = _heartbeat_statements()


def heartbeat(
    connection: Connection,
    presented: PresentedCertificate,
    request: CheckinRequest,
    *,
    policy_for: Callable[[str], Policy],
    now: dt.datetime,
) -> CheckinOutcome | None:
    """A check-in that changes nothing but posture and last-seen, in Core SQL; None otherwise."""
    if request.results:
        return None
    row = connection.execute(_DEVICE_BY_CERTIFICATE, {"sha256": presented.sha256}).first()
    if row is None or row.previous_cert_sha256 is not None or row.state not in _HEARTBEAT_STATES:
        return None
    if not usable(row.revoked_at, row.not_after, now):
        return None  # the full path refuses it with the right error
    if request.device_id is not None and request.device_id != row.id:
        return None  # the full path refuses it with the right error
    policy = policy_for(row.tenant_id)
    compliance = evaluate(policy, request.posture)
    stored = StoredPosture(row.posture, row.compliant, row.os_name, row.os_version, row.lost_mode)
    record = record_checkin(stored, request.posture, compliance, now=now)
    if record.compliance_changed:
        return None  # a compliance change is an event in the device's history
    connection.execute(
        _RECORD_HEARTBEAT,
        {
            "for_device": row.id,
            "seen_at": record.last_seen_at,
            "posture_json": record.posture,
            "reasons_json": record.compliance_reasons,
            "new_os_name": record.os_name,
            "new_os_version": record.os_version,
            "location_json": record.last_location,
        },
    )
    if record.history:
        connection.execute(insert(_CHECKINS).values(**record.history_row(row.id)))
    command = queue.deliver_next(connection, row.id, row.checkin_count + 1, now=now)
    view = DeviceView(
        row.id, row.tenant_id, DeviceState(row.state), row.lost_mode, row.lock_message, row.cert_not_after
    )
    return CheckinOutcome(view, compliance, command, policy)


def device_for_certificate(
    session: Session, presented: PresentedCertificate, *, now: dt.datetime, expired_allowed: bool = False
) -> Device:
    """The device a verified certificate is bound to; refuse any other certificate, and one that
    was revoked or has expired since the gateway's handshake (``revocation``)."""
    # Two lookups on unique indexes; the second only during a certificate renewal.
    device = session.exec(select(Device).where(Device.cert_sha256 == presented.sha256)).first()
    if device is None:
        device = session.exec(select(Device).where(Device.previous_cert_sha256 == presented.sha256)).first()
    if device is None:
        raise Unauthenticated(
            "this certificate is not bound to any device (replaced, revoked or never enrolled); enroll again",
            code="certificate_not_bound",
        )
    if device.state in (DeviceState.WIPED, DeviceState.RETIRED):
        # Said before the revocation (its certificates were revoked with it): the device learns
        # why, and nothing is done for it.
        raise PermissionDenied(
            f"this device has been {device.state.value}; enroll it again to use it",
            code=f"device_{device.state.value}",
        )
    record = (
        session.connection()
        .execute(
            core_select(certificates.c.revoked_at, certificates.c.not_after).where(
                certificates.c.sha256 == presented.sha256
            )
        )
        .first()
    )
    refuse_unusable(
        record.revoked_at if record else None,
        record.not_after if record else None,
        now=now,
        expired_allowed=expired_allowed,
    )
    return device


def check_in(
    session: Session,
    device: Device,
    presented: PresentedCertificate,
    request: CheckinRequest,
    *,
    policy: Policy,
    now: dt.datetime,
) -> CheckinOutcome:
    """Apply a check-in and return what the device should know and do next."""
    if request.device_id is not None and request.device_id != device.id:
        raise PermissionDenied(
            "this certificate belongs to another device", code="certificate_of_another_device"
        )
    outcome = CheckinOutcome(DeviceView.of(device), Compliance(True, ()), None, policy)
    checked = queue.check_reports(session, device, request.results)
    outcome.reported = checked
    device.checkin_count += 1
    if presented.sha256 == device.cert_sha256 and device.previous_cert_sha256 is not None:
        # The renewed certificate is in use, so the one it replaced can go.
        if device.previous_cert_serial:
            outcome.revoke.append((device.previous_cert_serial, "superseded"))
        device.previous_cert_sha256 = None
        device.previous_cert_serial = None
    for command, report in checked:
        queue.record_report(session, device, command, report, now=now)
        if report.status == "acknowledged":
            acknowledgements.apply(
                Acknowledgement(session, device, command, report.result, presented, now, outcome.revoke)
            )
    if device.state in (DeviceState.WIPED, DeviceState.RETIRED):
        outcome.compliance = Compliance(False, (f"device {device.state.value}",))
        _save(session, device, request.posture, outcome.compliance, now)
        outcome.device = DeviceView.of(device)
        return outcome
    if device.state is DeviceState.ENROLLED:
        set_state(
            session, device, DeviceState.ACTIVE, actor=f"device:{device.id}", now=now, reason="first check-in"
        )
    outcome.compliance = evaluate(policy, request.posture)
    _save(session, device, request.posture, outcome.compliance, now)
    session.flush()
    outcome.device = DeviceView.of(device)
    outcome.command = queue.deliver_next(session.connection(), device.id, device.checkin_count, now=now)
    return outcome


def _save(
    session: Session, device: Device, posture: Posture, compliance: Compliance, now: dt.datetime
) -> None:
    stored = StoredPosture(
        device.posture, device.compliant, device.os_name, device.os_version, device.lost_mode
    )
    record = record_checkin(stored, posture, compliance, now=now)
    if record.compliance_changed:
        record_event(
            session,
            device,
            actor=f"device:{device.id}",
            change="compliance",
            now=now,
            details={"compliant": compliance.compliant, "reasons": list(compliance.reasons)},
        )
        device.revision += 1
        device.noncompliant_since = record.noncompliant_since
        if not record.compliant:
            access_lost(session, device=device, reason="non-compliant", now=now)
    device.compliant = record.compliant
    device.compliance_reasons = record.compliance_reasons
    device.posture = record.posture
    device.os_name = record.os_name
    device.os_version = record.os_version
    device.last_seen_at = record.last_seen_at
    if record.last_location is not None:
        device.last_location = record.last_location
    session.add(device)
    if record.history:
        session.add(DeviceCheckin(**record.history_row(device.id)))
