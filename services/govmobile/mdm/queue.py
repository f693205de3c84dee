"""The command queue (ARCHITECTURE.md, "MDM protocol semantics").

- States: queued → sent → acknowledged | error | not_now (offered again on a later check-in,
  never the same one); expired (deadline passed, so it cannot block the queue); cancelled (by
  an admin, before acknowledgement); superseded (a newer lock/wipe replaced it).
- The command id is the idempotency key: one result per (device, command).
- Lock and wipe outrank other commands; within a priority, oldest first.

This module keeps the queue only. What an acknowledgement does to the device (locked, wiped)
is in ``checkin``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, bindparam, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from govmobile.core.errors import Conflict, InvalidInput, NotFound
from govmobile.mdm.models import (
    AccessChange,
    Command,
    CommandResult,
    CommandState,
    CommandType,
    Device,
    Wakeup,
)

OPEN_STATES = tuple(s.value for s in CommandState if s.is_open)

PRIORITY: dict[CommandType, int] = {
    CommandType.WIPE: 100,
    CommandType.LOCK: 90,
    CommandType.LOST_MODE_ON: 90,
    CommandType.UNLOCK: 80,
    CommandType.LOST_MODE_OFF: 80,
    CommandType.SELECTIVE_WIPE: 70,
}
DEFAULT_PRIORITY = 10

DEFAULT_DEADLINE = dt.timedelta(days=7)
DEADLINES: dict[CommandType, dt.timedelta] = {
    CommandType.WIPE: dt.timedelta(days=30),
    CommandType.SELECTIVE_WIPE: dt.timedelta(days=30),
    CommandType.LOCK: dt.timedelta(days=30),
    CommandType.LOST_MODE_ON: dt.timedelta(days=30),
    CommandType.LOCATE: dt.timedelta(days=1),
}
MAX_DEADLINE = dt.timedelta(days=90)

_LOCKING = {CommandType.LOCK, CommandType.UNLOCK}
_LOST_MODE = {CommandType.LOST_MODE_ON, CommandType.LOST_MODE_OFF}
#: A new command of the key type closes pending commands of these types as superseded.
SUPERSEDES: dict[CommandType, set[CommandType]] = {
    CommandType.LOCK: _LOCKING,
    CommandType.UNLOCK: _LOCKING,
    CommandType.LOST_MODE_ON: _LOST_MODE,
    CommandType.LOST_MODE_OFF: _LOST_MODE,
    CommandType.WIPE: set(CommandType),  # nothing else matters once a wipe is ordered
    CommandType.SELECTIVE_WIPE: {CommandType.SELECTIVE_WIPE},
    CommandType.REFRESH_POLICY: {CommandType.REFRESH_POLICY},
    CommandType.RENEW_CERTIFICATE: {CommandType.RENEW_CERTIFICATE},
}


#: Commands that take a device's access away from the moment they are queued: a stolen device
#: may never check in to receive its lock, so the gateway refuses it while one is open (see
#: govmobile.gateway.decisions). The MDM itself stays reachable, so the device can obey.
ENDS_ACCESS = frozenset(
    {CommandType.LOCK, CommandType.LOST_MODE_ON, CommandType.WIPE, CommandType.SELECTIVE_WIPE}
)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Empty(_Payload):
    pass


class LockPayload(_Payload):
    message: str = Field(default="", max_length=500)
    phone: str = Field(default="", max_length=50)


class LostModePayload(_Payload):
    message: str = Field(min_length=1, max_length=500)
    phone: str = Field(default="", max_length=50)


class MessagePayload(_Payload):
    text: str = Field(min_length=1, max_length=1000)


class AppPayload(_Payload):
    app_id: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, max_length=50)


PAYLOADS: dict[CommandType, type[_Payload]] = {
    CommandType.LOCK: LockPayload,
    CommandType.LOST_MODE_ON: LostModePayload,
    CommandType.MESSAGE: MessagePayload,
    CommandType.INSTALL_APP: AppPayload,
    CommandType.REMOVE_APP: AppPayload,
}


def validate_payload(kind: CommandType, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload a command type takes, refusing unknown or missing fields."""
    model = PAYLOADS.get(kind, _Empty)
    try:
        return model.model_validate(payload).model_dump()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidInput(f"bad payload for {kind.value}: {problems}", code="invalid_payload") from None


def enqueue(
    session: Session,
    device: Device,
    kind: CommandType,
    payload: dict[str, Any],
    *,
    actor: str,
    now: dt.datetime,
    deadline: dt.timedelta | None = None,
    bulk_id: str | None = None,
) -> Command:
    """Queue a command, closing the pending ones it supersedes, and wake the device."""
    clean = validate_payload(kind, payload)
    lifetime = deadline or DEADLINES.get(kind, DEFAULT_DEADLINE)
    if lifetime <= dt.timedelta(0) or lifetime > MAX_DEADLINE:
        raise InvalidInput(
            f"a command's deadline must be between now and {MAX_DEADLINE.days} days", code="invalid_deadline"
        )
    superseded = SUPERSEDES.get(kind)
    if superseded:
        session.exec(
            update(Command)
            .where(
                col(Command.device_id) == device.id,
                col(Command.state).in_(OPEN_STATES),
                col(Command.type).in_([t.value for t in superseded]),
            )
            .values(
                state=CommandState.SUPERSEDED.value,
                closed_at=now,
                closed_reason=f"superseded by a newer {kind.value}",
            )
        )
    command = Command(
        device_id=device.id,
        tenant_id=device.tenant_id,
        type=kind,
        payload=json.dumps(clean, sort_keys=True),
        priority=PRIORITY.get(kind, DEFAULT_PRIORITY),
        created_at=now,
        created_by=actor,
        deadline=now + lifetime,
        bulk_id=bulk_id,
    )
    session.add(command)
    if kind in ENDS_ACCESS:
        # Into the gateway's feed, so that it drops its cached decisions for this device now.
        session.add(AccessChange(device_id=device.id, at=now, reason=f"{kind.value} queued"))
    wake(session, device.id, now=now)
    session.flush()
    return command


def wake(session: Session, device_id: str, *, now: dt.datetime) -> None:
    """Tell every MDM process that this device has something to fetch."""
    session.add(Wakeup(device_id=device_id, at=now))


def expire_overdue(session: Session, *, now: dt.datetime, device_id: str | None = None) -> int:
    """Close open commands whose deadline passed; returns how many."""
    statement = (
        update(Command)
        .where(col(Command.state).in_(OPEN_STATES), col(Command.deadline) <= now)
        .values(state=CommandState.EXPIRED.value, closed_at=now, closed_reason="deadline passed")
    )
    if device_id is not None:
        statement = statement.where(col(Command.device_id) == device_id)
    return int(session.connection().execute(statement).rowcount)


@dataclass(frozen=True)
class DeliveredCommand:
    """A command as handed to a device."""

    id: str
    type: CommandType
    payload: dict[str, Any]
    deadline: dt.datetime


_COMMANDS = Command.__table__  # type: ignore[attr-defined]


def _delivery_statements() -> tuple[Any, Any, Any]:
    # Built once: composing SQL expressions costs more than running them on this hot path.
    c = _COMMANDS.c
    next_open = (
        core_select(c.seq, c.id, c.type, c.payload, c.deadline)
        .where(
            c.device_id == bindparam("device_id"),
            c.state.in_(OPEN_STATES),
            ~((c.state == CommandState.NOT_NOW.value) & (c.not_now_checkin == bindparam("checkin_number"))),
        )
        .order_by(c.priority.desc(), c.seq)
        .limit(1)
    )
    expire = (
        update(_COMMANDS)
        .where(
            c.device_id == bindparam("for_device"), c.state.in_(OPEN_STATES), c.deadline <= bindparam("now")
        )
        .values(
            state=CommandState.EXPIRED.value,
            closed_at=bindparam("closed_time"),
            closed_reason="deadline passed",
        )
    )
    mark_sent = (
        update(_COMMANDS)
        .where(c.seq == bindparam("command_seq"))
        .values(state=CommandState.SENT.value, sent_at=bindparam("sent_time"))
    )
    return next_open, expire, mark_sent


_NEXT_OPEN, _EXPIRE_OVERDUE, _MARK_SENT = _delivery_statements()


def deliver_next(
    connection: Connection, device_id: str, checkin_number: int, *, now: dt.datetime
) -> DeliveredCommand | None:
    """The command to deliver now (marked sent), or None. Core SQL: this runs at every check-in.

    A command sent earlier without a result is offered again: the device may have lost the
    answer. One that said "not now" during this check-in waits for a later one. Overdue
    commands are marked expired when one comes up, so they can never block the queue.
    """
    parameters = {"device_id": device_id, "checkin_number": checkin_number}
    row = connection.execute(_NEXT_OPEN, parameters).first()
    if row is not None and row.deadline <= now:
        connection.execute(_EXPIRE_OVERDUE, {"for_device": device_id, "now": now, "closed_time": now})
        row = connection.execute(_NEXT_OPEN, parameters).first()
    if row is None:
        return None
    connection.execute(_MARK_SENT, {"command_seq": row.seq, "sent_time": now})
    return DeliveredCommand(row.id, CommandType(row.type), json.loads(row.payload), row.deadline)


class CommandReport(BaseModel):
    """A device's result for one command."""

    model_config = ConfigDict(extra="forbid")

    command_id: str = Field(max_length=36)
    status: Literal["acknowledged", "error", "not_now"]
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = Field(default=None, max_length=1000)


def check_reports(
    session: Session, device: Device, reports: Iterable[CommandReport]
) -> list[tuple[Command, CommandReport]]:
    """Validate every report before anything changes: unknown ids, replays, closed commands."""
    checked: list[tuple[Command, CommandReport]] = []
    seen: set[str] = set()
    unknown, replayed, closed = [], [], []
    for report in reports:
        if report.command_id in seen:
            raise InvalidInput(
                f"command {report.command_id} is reported twice in one check-in", code="duplicate_report"
            )
        seen.add(report.command_id)
        command = find_command(session, report.command_id)
        if command is None or command.device_id != device.id:
            unknown.append(report.command_id)
            continue
        previous = session.get(CommandResult, (device.id, command.id))
        if previous is not None and previous.status in ("acknowledged", "error"):
            replayed.append(report.command_id)
        elif not CommandState(command.state).is_open:
            closed.append(report.command_id)
        elif command.state == CommandState.QUEUED:
            closed.append(report.command_id)  # never delivered, so it cannot have a result
        else:
            checked.append((command, report))
    if unknown:
        raise NotFound(
            f"no command {', '.join(unknown)} for this device; nothing was changed",
            code="unknown_command_id",
            details={"command_ids": unknown},
        )
    if replayed:
        raise Conflict(
            f"a result for command {', '.join(replayed)} was already recorded; nothing was changed. "
            "Drop it and check in again.",
            code="result_already_recorded",
            details={"command_ids": replayed},
        )
    if closed:
        raise Conflict(
            f"command {', '.join(closed)} is no longer open (cancelled, expired, superseded or never sent); "
            "nothing was changed. Drop it and check in again.",
            code="command_closed",
            details={"command_ids": closed},
        )
    return checked


def record_report(
    session: Session, device: Device, command: Command, report: CommandReport, *, now: dt.datetime
) -> None:
    """Record one checked report on the queue (upserted per device and command)."""
    result = session.get(CommandResult, (device.id, command.id))
    body = dict(report.result)
    if report.error:
        body["error"] = report.error
    if result is None:
        result = CommandResult(
            device_id=device.id, command_id=command.id, status=report.status, result="{}", received_at=now
        )
    result.status = report.status
    result.result = json.dumps(body, sort_keys=True, default=str)
    result.received_at = now
    session.add(result)
    if report.status == "not_now":
        command.state = CommandState.NOT_NOW
        command.not_now_checkin = device.checkin_count
    else:
        command.state = CommandState.ACKNOWLEDGED if report.status == "acknowledged" else CommandState.ERROR
        command.closed_at = now
    session.add(command)


def cancel(session: Session, command: Command, *, actor: str, now: dt.datetime) -> None:
    """Withdraw a command the device has not answered yet."""
    if not CommandState(command.state).is_open:
        raise Conflict(
            f"command {command.id} is already {command.state}; only open commands can be cancelled",
            code="command_closed",
        )
    command.state = CommandState.CANCELLED
    command.closed_at = now
    command.closed_reason = f"cancelled by {actor}"
    session.add(command)


def close_open_commands(
    session: Session, device: Device, state: CommandState, *, reason: str, now: dt.datetime
) -> int:
    """Clear a device's queue (re-enrollment, retirement, wipe)."""
    statement = (
        update(Command)
        .where(col(Command.device_id) == device.id, col(Command.state).in_(OPEN_STATES))
        .values(state=state.value, closed_at=now, closed_reason=reason)
    )
    return int(session.exec(statement).rowcount)


#: Commands a re-enrollment never cancels: whoever enrolls the device again must not be able to
#: undo a lock or a wipe ordered for it (a lost device found, reset and enrolled again).
SURVIVES_REENROLLMENT = ENDS_ACCESS


def carry_over_reenrollment(session: Session, device: Device, *, now: dt.datetime) -> tuple[int, int]:
    """The queue of a device enrolled again: locks and wipes wait for its new installation (as
    if never sent), the rest is cancelled. Returns (cancelled, kept)."""
    survivors = [t.value for t in SURVIVES_REENROLLMENT]
    is_open = (col(Command.device_id) == device.id) & col(Command.state).in_(OPEN_STATES)
    cancelled = session.exec(
        update(Command)
        .where(is_open, col(Command.type).not_in(survivors))
        .values(state=CommandState.CANCELLED.value, closed_at=now, closed_reason="device enrolled again")
    ).rowcount
    kept = session.exec(
        update(Command)
        .where(is_open, col(Command.type).in_(survivors))
        .values(state=CommandState.QUEUED.value, sent_at=None, not_now_checkin=None)
    ).rowcount
    return int(cancelled), int(kept)


def find_command(session: Session, command_id: str) -> Command | None:
    return session.exec(select(Command).where(Command.id == command_id)).first()


def get_command(session: Session, command_id: str, *, scope: str | None) -> Command:
    command = find_command(session, command_id)
    if command is None or (scope is not None and command.tenant_id != scope):
        raise NotFound(f"no command {command_id}")
    return command


def result_of(session: Session, command: Command) -> CommandResult | None:
    return session.get(CommandResult, (command.device_id, command.id))


def list_commands(session: Session, device: Device, *, limit: int = 100) -> list[Command]:
    statement = select(Command).where(Command.device_id == device.id)
    return list(session.exec(statement.order_by(col(Command.seq).desc()).limit(limit)).all())
