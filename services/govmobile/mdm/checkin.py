"""Check-in: the device reports its posture and results, then fetches its next command.

Everything in one transaction, in this order: results first (all validated before any is
applied), then posture and compliance, then the next command. What an acknowledgement means
for the device — locked, lost, wiped — is decided here, so that the device's state always
reflects what it confirmed, never what is merely queued.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from govmobile.core.errors import InvalidInput, PermissionDenied, Unauthenticated
from govmobile.mdm import commands as queue
from govmobile.mdm.compliance import Compliance, Location, Posture, evaluate
from govmobile.mdm.devices import record_event, set_state
from govmobile.mdm.identity import PresentedCertificate
from govmobile.mdm.models import (
    Command,
    CommandState,
    CommandType,
    Device,
    DeviceCheckin,
    DeviceState,
    Policy,
)
from govmobile.mdm.receipts import verify_receipt


class CheckinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The device's own id (from its certificate); a mismatch means a confused or hostile client.
    device_id: str | None = Field(default=None, max_length=36)
    posture: Posture
    results: list[queue.CommandReport] = Field(default_factory=list, max_length=20)


@dataclass
class CheckinOutcome:
    device: Device
    compliance: Compliance
    command: Command | None
    policy: Policy
    #: Certificates to revoke once the transaction has committed.
    revoke: list[tuple[str, str]] = field(default_factory=list)


def device_for_certificate(session: Session, presented: PresentedCertificate) -> Device:
    """The device a verified certificate is bound to; refuse any other certificate."""
    device = session.exec(
        select(Device).where(
            (col(Device.cert_sha256) == presented.sha256)
            | (col(Device.previous_cert_sha256) == presented.sha256)
        )
    ).first()
    if device is None:
        raise Unauthenticated(
            "this certificate is not bound to any device (replaced, revoked or never enrolled); enroll again",
            code="certificate_not_bound",
        )
    if device.state in (DeviceState.WIPED, DeviceState.RETIRED):
        raise PermissionDenied(
            f"this device has been {device.state.value}; enroll it again to use it",
            code=f"device_{device.state.value}",
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
    outcome = CheckinOutcome(device, Compliance(True, ()), None, policy)
    checked = queue.check_reports(session, device, request.results)
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
            _apply_acknowledgement(session, device, command, report.result, presented, outcome, now)
    if device.state in (DeviceState.WIPED, DeviceState.RETIRED):
        outcome.compliance = Compliance(False, (f"device {device.state.value}",))
        _save(session, device, request.posture, outcome.compliance, now)
        return outcome
    if device.state is DeviceState.ENROLLED:
        set_state(
            session, device, DeviceState.ACTIVE, actor=f"device:{device.id}", now=now, reason="first check-in"
        )
    outcome.compliance = evaluate(policy, request.posture)
    _save(session, device, request.posture, outcome.compliance, now)
    outcome.command = queue.next_command(session, device, now=now)
    return outcome


def _save(
    session: Session, device: Device, posture: Posture, compliance: Compliance, now: dt.datetime
) -> None:
    posture_json = posture.model_dump_json()
    if device.compliant != compliance.compliant:
        record_event(
            session,
            device,
            actor=f"device:{device.id}",
            change="compliance",
            now=now,
            details={"compliant": compliance.compliant, "reasons": list(compliance.reasons)},
        )
        device.revision += 1
        device.noncompliant_since = None if compliance.compliant else now
    device.compliant = compliance.compliant
    device.compliance_reasons = json.dumps(list(compliance.reasons))
    device.posture = posture_json
    device.os_name = posture.os_name or device.os_name
    device.os_version = posture.os_version or device.os_version
    device.last_seen_at = now
    if device.lost_mode and posture.location is not None:
        device.last_location = posture.location.model_dump_json()
    session.add(device)
    session.add(
        DeviceCheckin(
            device_id=device.id,
            at=now,
            compliant=compliance.compliant,
            reasons=device.compliance_reasons,
            posture=posture_json,
        )
    )


def _apply_acknowledgement(
    session: Session,
    device: Device,
    command: Command,
    result: dict[str, Any],
    presented: PresentedCertificate,
    outcome: CheckinOutcome,
    now: dt.datetime,
) -> None:
    actor = f"device:{device.id}"
    payload = json.loads(command.payload)
    kind = CommandType(command.type)
    if kind is CommandType.LOCK:
        set_state(session, device, DeviceState.LOCKED, actor=actor, now=now, reason="lock acknowledged")
        device.lock_message = payload.get("message") or None
    elif kind is CommandType.UNLOCK:
        if device.state is DeviceState.LOCKED:
            set_state(session, device, DeviceState.ACTIVE, actor=actor, now=now, reason="unlock acknowledged")
        device.lock_message = None
    elif kind is CommandType.LOST_MODE_ON:
        set_state(session, device, DeviceState.LOST, actor=actor, now=now, reason="lost mode acknowledged")
        device.lost_mode = True
    elif kind is CommandType.LOST_MODE_OFF:
        if device.state is DeviceState.LOST:
            set_state(session, device, DeviceState.ACTIVE, actor=actor, now=now, reason="lost mode ended")
        device.lost_mode = False
    elif kind is CommandType.WIPE:
        # The device confirms before it wipes, so from here on the server knows it is gone.
        set_state(
            session, device, DeviceState.WIPED, actor=actor, now=now, reason="wipe confirmed by the device"
        )
        queue.close_open_commands(session, device, CommandState.CANCELLED, reason="device wiped", now=now)
        if device.cert_serial:
            outcome.revoke.append((device.cert_serial, "cessationOfOperation"))
        device.cert_sha256 = None
        device.previous_cert_sha256 = None
    elif kind is CommandType.SELECTIVE_WIPE:
        receipt = verify_receipt(
            result, certificate=presented.load(), device_id=device.id, command_id=command.id
        )
        device.work_container_wiped_at = now
        record_event(
            session,
            device,
            actor=actor,
            change="work container wiped",
            now=now,
            details={"destroyed": receipt.get("destroyed"), "receipt_at": receipt.get("at")},
        )
    elif kind is CommandType.LOCATE:
        location = result.get("location")
        if location is None:
            raise InvalidInput("a locate result needs a 'location'", code="bad_result")
        try:
            device.last_location = Location.model_validate(location).model_dump_json()
        except ValidationError:
            raise InvalidInput(
                "the locate result's location is not a valid position", code="bad_result"
            ) from None
    device.revision += 1
    session.add(device)
