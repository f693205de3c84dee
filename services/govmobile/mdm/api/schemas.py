"""Bodies of the MDM's API. Responses always use these public shapes, never table rows."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from govmobile.mdm.compliance import Posture, ReasonKind
from govmobile.mdm.models import (
    Command,
    CommandState,
    CommandType,
    Device,
    DeviceCheckin,
    DeviceEvent,
    DeviceState,
)
from govmobile.mdm.overview import CommandFigures, DeviceFigures, LastSeen
from govmobile.mdm.policies import AdmissionPublic
from govmobile.mdm.queue import CommandReport


class EnrollmentTokenIssued(BaseModel):
    id: str
    token: str = Field(description="the enrollment secret, shown once")
    qr_payload: str = Field(description="what the enrollment QR code holds")
    expires_at: dt.datetime
    max_uses: int


class DevicePublic(BaseModel):
    id: str
    tenant_id: str
    person_id: str
    serial_number: str
    model: str
    os_name: str
    os_version: str
    hardware_ids: dict[str, str]
    state: DeviceState
    compliant: bool | None
    compliance_reasons: list[str]
    noncompliant_since: dt.datetime | None
    lost_mode: bool
    lock_message: str | None
    last_location: dict[str, Any] | None
    enrolled_at: dt.datetime
    last_seen_at: dt.datetime | None
    cert_serial: str | None
    cert_not_after: dt.datetime | None
    work_container_wiped_at: dt.datetime | None

    @classmethod
    def of(cls, device: Device) -> DevicePublic:
        return cls(
            **device.model_dump(
                include={
                    "id",
                    "tenant_id",
                    "person_id",
                    "serial_number",
                    "model",
                    "os_name",
                    "os_version",
                    "state",
                    "compliant",
                    "noncompliant_since",
                    "lost_mode",
                    "lock_message",
                    "enrolled_at",
                    "last_seen_at",
                    "cert_serial",
                    "cert_not_after",
                    "work_container_wiped_at",
                }
            ),
            hardware_ids=json.loads(device.hardware_ids),
            compliance_reasons=json.loads(device.compliance_reasons),
            last_location=json.loads(device.last_location) if device.last_location else None,
        )


class DevicePage(BaseModel):
    items: list[DevicePublic]
    next_cursor: str | None


class DeviceEventPublic(BaseModel):
    at: dt.datetime
    actor: str
    change: str
    details: dict[str, Any]

    @classmethod
    def of(cls, event: DeviceEvent) -> DeviceEventPublic:
        return cls(at=event.at, actor=event.actor, change=event.change, details=json.loads(event.details))


class CheckinPublic(BaseModel):
    at: dt.datetime
    compliant: bool
    reasons: list[str]
    posture: dict[str, Any]

    @classmethod
    def of(cls, checkin: DeviceCheckin) -> CheckinPublic:
        return cls(
            at=checkin.at,
            compliant=checkin.compliant,
            reasons=json.loads(checkin.reasons),
            posture=json.loads(checkin.posture),
        )


class DeviceDetail(DevicePublic):
    pending_actions: list[str] = Field(description="open commands, apart from the confirmed state")
    history: list[DeviceEventPublic]
    recent_checkins: list[CheckinPublic]


class CommandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: CommandType
    payload: dict[str, Any] = Field(default_factory=dict)
    deadline_hours: StrictInt | None = Field(default=None, ge=1, le=90 * 24)


class CommandPublic(BaseModel):
    id: str
    device_id: str
    tenant_id: str
    type: CommandType
    payload: dict[str, Any]
    state: CommandState
    priority: int
    created_at: dt.datetime
    created_by: str
    deadline: dt.datetime
    sent_at: dt.datetime | None
    closed_at: dt.datetime | None
    closed_reason: str | None
    bulk_id: str | None
    result: dict[str, Any] | None = None

    @classmethod
    def of(cls, command: Command, result: dict[str, Any] | None = None) -> CommandPublic:
        return cls(
            **{
                **command.model_dump(exclude={"payload", "not_now_checkin"}),
                "payload": json.loads(command.payload),
                "result": result,
            }
        )


class BulkTargetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str | None = Field(default=None, max_length=63)
    group_id: str | None = Field(default=None, max_length=36)
    state: DeviceState | None = None
    compliant: StrictBool | None = None


class BulkCommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: BulkTargetBody
    type: CommandType
    payload: dict[str, Any] = Field(default_factory=dict)
    deadline_hours: StrictInt | None = Field(default=None, ge=1, le=90 * 24)
    preview: StrictBool = Field(
        default=True, description="only count the devices; send with preview=false and expected_count"
    )
    expected_count: StrictInt | None = Field(default=None, ge=0, le=10**9)


class BulkCommandResponse(BaseModel):
    count: int
    bulk_id: str | None
    sent: bool


# -- device protocol ---------------------------------------------------------------------------


class DeviceStatus(BaseModel):
    id: str
    tenant_id: str
    state: DeviceState
    compliant: bool
    reasons: list[str]
    lost_mode: bool
    lock_message: str | None
    cert_not_after: dt.datetime | None


class PolicyForDevice(BaseModel):
    version: int
    min_os_version: str | None
    require_encryption: bool
    require_passcode: bool
    forbid_rooted: bool
    app_admission: AdmissionPublic
    checkin_interval_seconds: int


class CommandForDevice(BaseModel):
    id: str
    type: CommandType
    payload: dict[str, Any]
    deadline: dt.datetime


class CheckinResponse(BaseModel):
    device: DeviceStatus
    policy: PolicyForDevice
    command: CommandForDevice | None = Field(
        description="the next command; report its result in the next check-in"
    )
    next_checkin_seconds: int


class WaitResponse(BaseModel):
    wake: bool = Field(description="true: something is queued, check in now")


class UnenrollResponse(BaseModel):
    device_id: str
    state: str = Field(description="retired: the device's certificates are revoked")


__all__ = ["CommandReport", "Posture"]


class DeviceOverviewPublic(BaseModel):
    """Devices counted: all of them by state; those in service by compliance and last check-in."""

    total: int
    by_state: dict[DeviceState, int]
    in_service: int = Field(description="enrolled, active, locked or lost: the devices still managed")
    compliant: int
    noncompliant: int
    unknown: int = Field(description="in service, not evaluated yet (first check-in pending)")
    reasons: dict[ReasonKind, int] = Field(
        description="non-compliant devices per kind of reason; a device with two kinds counts in both"
    )
    other_reasons: int = Field(description="non-compliant devices with no reason of a known kind")
    last_seen: dict[LastSeen, int]

    @classmethod
    def of(cls, figures: DeviceFigures) -> DeviceOverviewPublic:
        return cls(**asdict(figures))


class EnrollmentDay(BaseModel):
    day: dt.date = Field(description="a calendar day in the time zone the request named")
    count: int


class EnrollmentOverviewPublic(BaseModel):
    time_zone: str
    days: list[EnrollmentDay]


class CommandCountPublic(BaseModel):
    type: CommandType
    state: CommandState
    count: int


class CommandOverviewPublic(BaseModel):
    pending: list[CommandCountPublic] = Field(
        description="open commands (queued, sent, not now) by type and state"
    )
    failed: list[CommandCountPublic] = Field(
        description="commands that ended in error or expired since failed_since"
    )
    failed_since: dt.datetime

    @classmethod
    def of(cls, figures: CommandFigures) -> CommandOverviewPublic:
        return cls(**asdict(figures))
