"""Devices as full-lifecycle asset records: states and their transitions, history, listing."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, union_all
from sqlmodel import Session, col, select

from govmobile.core.directory import Membership, Person
from govmobile.core.errors import Conflict, NotFound
from govmobile.mdm.models import (
    AccessChange,
    Command,
    CommandState,
    Device,
    DeviceCheckin,
    DeviceEvent,
    DeviceState,
)

_ALLOWED: dict[DeviceState, frozenset[DeviceState]] = {
    DeviceState.ENROLLED: frozenset(
        {DeviceState.ACTIVE, DeviceState.LOCKED, DeviceState.LOST, DeviceState.WIPED, DeviceState.RETIRED}
    ),
    DeviceState.ACTIVE: frozenset(
        {DeviceState.LOCKED, DeviceState.LOST, DeviceState.WIPED, DeviceState.RETIRED}
    ),
    DeviceState.LOCKED: frozenset(
        {DeviceState.ACTIVE, DeviceState.LOST, DeviceState.WIPED, DeviceState.RETIRED}
    ),
    DeviceState.LOST: frozenset(
        {DeviceState.ACTIVE, DeviceState.LOCKED, DeviceState.WIPED, DeviceState.RETIRED}
    ),
    DeviceState.WIPED: frozenset({DeviceState.RETIRED}),
    DeviceState.RETIRED: frozenset(),
}
#: States in which a device can still be reached with commands.
REACHABLE = frozenset({DeviceState.ENROLLED, DeviceState.ACTIVE, DeviceState.LOCKED, DeviceState.LOST})


def record_event(
    session: Session,
    device: Device,
    *,
    actor: str,
    change: str,
    now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Add a line to the device's history."""
    session.add(
        DeviceEvent(
            device_id=device.id,
            tenant_id=device.tenant_id,
            at=now,
            actor=actor,
            change=change,
            details=json.dumps(details or {}, sort_keys=True, default=str),
        )
    )


def access_lost(
    session: Session,
    *,
    reason: str,
    now: dt.datetime,
    device: Device | None = None,
    person_id: str | None = None,
) -> None:
    """Tell the gateway that access may have been taken away (see AccessChange)."""
    session.add(
        AccessChange(device_id=device.id if device else None, person_id=person_id, at=now, reason=reason)
    )


def set_state(
    session: Session, device: Device, state: DeviceState, *, actor: str, now: dt.datetime, reason: str = ""
) -> None:
    """Move a device to another lifecycle state, if the lifecycle allows it."""
    if state == device.state:
        return
    if state not in _ALLOWED[device.state]:
        raise Conflict(
            f"a {device.state.value} device cannot become {state.value}", code="invalid_transition"
        )
    record_event(
        session,
        device,
        actor=actor,
        change="state",
        now=now,
        details={"from": device.state.value, "to": state.value, "reason": reason},
    )
    if device.state is DeviceState.ACTIVE:
        access_lost(session, device=device, reason=f"device {state.value}", now=now)
    device.state = state
    device.revision += 1
    session.add(device)


def get_device(session: Session, device_id: str, *, scope: str | None) -> Device:
    """One device within the caller's tenant scope."""
    device = session.get(Device, device_id)
    if device is None or (scope is not None and device.tenant_id != scope):
        raise NotFound(f"no device {device_id}")
    return device


@dataclass(frozen=True)
class DeviceQuery:
    tenant_id: str | None = None
    state: DeviceState | None = None
    compliant: bool | None = None
    group_id: str | None = None
    person_id: str | None = None
    last_seen_before: dt.datetime | None = None
    last_seen_after: dt.datetime | None = None
    text: str | None = None
    after_id: str | None = None
    limit: int = 50


def list_devices(session: Session, query: DeviceQuery, *, scope: str | None) -> list[Device]:
    """Devices matching the filters, ordered by id, one page after ``after_id``."""
    statement = select(Device)
    if scope is not None:
        statement = statement.where(Device.tenant_id == scope)
    if query.tenant_id is not None:
        statement = statement.where(Device.tenant_id == query.tenant_id)
    if query.state is not None:
        statement = statement.where(Device.state == query.state)
    if query.compliant is not None:
        statement = statement.where(Device.compliant == query.compliant)
    if query.person_id is not None:
        statement = statement.where(Device.person_id == query.person_id)
    if query.group_id is not None:
        members = select(Membership.person_id).where(Membership.group_id == query.group_id)
        statement = statement.where(col(Device.person_id).in_(members))
    if query.last_seen_before is not None:
        statement = statement.where(col(Device.last_seen_at) < query.last_seen_before)
    if query.last_seen_after is not None:
        statement = statement.where(col(Device.last_seen_at) >= query.last_seen_after)
    if query.text:
        # A substring search cannot use an index. Collect the matching ids first (one pass over
        # devices and one over people), then page through them by id: otherwise the database
        # walks the id index fetching every row until it finds a rare match (a serial number).
        pattern = f"%{_escape_like(query.text.lower())}%"
        people = select(Person.id).where(
            or_(
                func.lower(Person.username).like(pattern, escape="\\"),
                func.lower(Person.display_name).like(pattern, escape="\\"),
            )
        )
        matches = (
            union_all(
                select(Device.id).where(
                    or_(
                        func.lower(Device.serial_number).like(pattern, escape="\\"),
                        func.lower(Device.model).like(pattern, escape="\\"),
                    )
                ),
                select(Device.id).where(col(Device.person_id).in_(people)),
            )
            .cte("matching_devices")
            .prefix_with("MATERIALIZED")
        )
        statement = statement.where(col(Device.id).in_(select(matches.c.id)))
    if query.after_id is not None:
        statement = statement.where(col(Device.id) > query.after_id)
    return list(session.exec(statement.order_by(col(Device.id)).limit(query.limit)).all())


def history(session: Session, device: Device, *, limit: int = 100) -> list[DeviceEvent]:
    statement = select(DeviceEvent).where(DeviceEvent.device_id == device.id)
    return list(session.exec(statement.order_by(col(DeviceEvent.id).desc()).limit(limit)).all())


def recent_checkins(session: Session, device: Device, *, limit: int = 20) -> list[DeviceCheckin]:
    statement = select(DeviceCheckin).where(DeviceCheckin.device_id == device.id)
    return list(session.exec(statement.order_by(col(DeviceCheckin.id).desc()).limit(limit)).all())


def pending_actions(session: Session, device: Device) -> list[str]:
    """Open commands, kept apart from the device's confirmed state."""
    statement = (
        select(Command.type)
        .where(
            Command.device_id == device.id,
            col(Command.state).in_([s.value for s in CommandState if s.is_open]),
        )
        .order_by(col(Command.priority).desc(), col(Command.seq))
    )
    return [str(t) for t in session.exec(statement).all()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
