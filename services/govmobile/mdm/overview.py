"""The fleet in figures, for the console's overview: devices, enrollments and commands counted.

Every figure is counted by the database (``GROUP BY``, or sums of ``CASE``), a statement or
two per figure, so the answer costs the same whether the department has ten devices or a hundred
thousand, and no device row ever leaves the database. A department admin's figures are their
department's, whatever tenant the request names: another department's answers "no such
tenant", exactly as its devices do.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, case, func, or_
from sqlmodel import Session, col, select

from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import InvalidInput
from govmobile.core.tenancy import tenant_id_of
from govmobile.mdm.compliance import REASON_PATTERNS, ReasonKind
from govmobile.mdm.lifecycle import REACHABLE
from govmobile.mdm.models import Command, CommandState, CommandType, Device, DeviceState

#: The longest enrollment history one request may ask for, in days.
MAX_ENROLLMENT_DAYS = 366
#: Commands that ended without being carried out: refused or failed on the device, or expired.
FAILED_STATES = (CommandState.ERROR, CommandState.EXPIRED)


class LastSeen(enum.StrEnum):
    """How long ago a device in service last checked in."""

    UNDER_1_HOUR = "under_1_hour"
    UNDER_1_DAY = "under_1_day"
    UNDER_7_DAYS = "under_7_days"
    OLDER = "older"
    NEVER = "never"


@dataclass(frozen=True)
class DeviceFigures:
    """Devices by state (all of them), and the in-service ones by compliance and last check-in."""

    total: int
    by_state: dict[DeviceState, int]
    in_service: int
    compliant: int
    noncompliant: int
    #: In service but not evaluated yet (enrolled, first check-in pending).
    unknown: int
    #: Non-compliant devices per kind of reason (a device with two kinds counts in both).
    reasons: dict[ReasonKind, int]
    #: Non-compliant devices with no reason of a known kind.
    other_reasons: int
    last_seen: dict[LastSeen, int]


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    count: int


@dataclass(frozen=True)
class CommandCount:
    type: CommandType
    state: CommandState
    count: int


@dataclass(frozen=True)
class CommandFigures:
    """Commands still waiting for their device, and those that failed since ``failed_since``."""

    pending: list[CommandCount]
    failed: list[CommandCount]
    failed_since: dt.datetime


class FleetOverview:
    def __init__(self, database: Database, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def devices(self, principal: Principal, tenant: str | None) -> DeviceFigures:
        """Devices counted by state, compliance (with the kinds of reasons) and last check-in."""
        now = self.clock()
        seen = col(Device.last_seen_at)
        # One CASE that puts each device in its bucket, then GROUP BY: each row is compared until
        # its bucket is found, instead of once per bucket.
        bucket = case(
            (seen.is_(None), LastSeen.NEVER.value),
            (seen >= now - dt.timedelta(hours=1), LastSeen.UNDER_1_HOUR.value),
            (seen >= now - dt.timedelta(days=1), LastSeen.UNDER_1_DAY.value),
            (seen >= now - dt.timedelta(days=7), LastSeen.UNDER_7_DAYS.value),
            else_=LastSeen.OLDER.value,
        )
        in_service = col(Device.state).in_([s.value for s in REACHABLE])
        reasons = {kind: _matches(patterns) for kind, patterns in REASON_PATTERNS.items()}
        with self.database.session() as session:
            scope = _scope(session, principal, tenant)
            where = _device_scope(scope)
            by_state = {DeviceState(state): count for state, count in _device_states(session, scope)}
            grouped = session.connection().execute(
                select(col(Device.compliant), bucket, func.count())
                .where(*where, in_service)
                .group_by(col(Device.compliant), bucket)
            )
            compliance: dict[bool | None, int] = {}
            last_seen = dict.fromkeys(LastSeen, 0)
            for compliant, seen_bucket, count in grouped:
                compliance[compliant] = compliance.get(compliant, 0) + count
                last_seen[LastSeen(seen_bucket)] += count
            # The reasons are read only in non-compliant rows (an indexed column picks them).
            sums: dict[str, ColumnElement[bool]] = {
                "other": ~or_(*reasons.values()),
                **{kind.value: match for kind, match in reasons.items()},
            }
            row = _sums(session, sums, [*where, in_service, col(Device.compliant).is_(False)])
        return DeviceFigures(
            total=sum(by_state.values()),
            by_state={state: by_state.get(state, 0) for state in DeviceState},
            in_service=sum(compliance.values()),
            compliant=compliance.get(True, 0),
            noncompliant=compliance.get(False, 0),
            unknown=compliance.get(None, 0),
            reasons={kind: row[kind.value] for kind in ReasonKind},
            other_reasons=row["other"],
            last_seen=last_seen,
        )

    def enrollments(
        self, principal: Principal, tenant: str | None, *, days: int, zone: str
    ) -> list[DayCount]:
        """Devices enrolled on each of the last ``days`` days (today included), days as the site's
        time zone has them."""
        if not 1 <= days <= MAX_ENROLLMENT_DAYS:
            raise InvalidInput(f"days must be between 1 and {MAX_ENROLLMENT_DAYS}", code="invalid_days")
        local = _zone(zone)
        today = self.clock().astimezone(local).date()
        dates = [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
        # Midnight as the zone has it on each date (so a day with a clock change is 23 or 25 hours).
        bounds = [
            dt.datetime.combine(d, dt.time(), tzinfo=local) for d in [*dates, today + dt.timedelta(days=1)]
        ]
        enrolled = col(Device.enrolled_at)
        # The day of each enrollment as one CASE, newest day first (most enrollments are recent,
        # so most rows stop at the first comparisons), then GROUP BY.
        day = case(
            *((enrolled >= start, index) for index, start in reversed(list(enumerate(bounds[:-1])))),
            else_=-1,
        )
        with self.database.session() as session:
            scope = _scope(session, principal, tenant)
            rows = session.connection().execute(
                select(day, func.count())
                .where(*_device_scope(scope), enrolled >= bounds[0], enrolled < bounds[-1])
                .group_by(day)
            )
            counted = {int(index): int(count) for index, count in rows}
        return [DayCount(d, int(counted.get(index, 0))) for index, d in enumerate(dates)]

    def commands(self, principal: Principal, tenant: str | None, *, failed_days: int) -> CommandFigures:
        """Open commands by type and state, and failed ones closed in the last ``failed_days`` days."""
        if not 1 <= failed_days <= MAX_ENROLLMENT_DAYS:
            raise InvalidInput(
                f"failed_days must be between 1 and {MAX_ENROLLMENT_DAYS}", code="invalid_days"
            )
        since = self.clock() - dt.timedelta(days=failed_days)
        with self.database.session() as session:
            scope = _scope(session, principal, tenant)
            where = [] if scope is None else [col(Command.tenant_id) == scope]
            open_states = [s.value for s in CommandState if s.is_open]
            pending = _command_counts(session, [*where, col(Command.state).in_(open_states)])
            failed = _command_counts(
                session,
                [
                    *where,
                    col(Command.state).in_([s.value for s in FAILED_STATES]),
                    col(Command.closed_at) >= since,
                ],
            )
        return CommandFigures(pending=pending, failed=failed, failed_since=since)


def _scope(session: Session, principal: Principal, tenant: str | None) -> str | None:
    """The one tenant to count (None: every tenant, for a platform admin who names none)."""
    tenant_id = tenant_id_of(session, tenant)
    if tenant_id is not None:
        principal.require_tenant(tenant_id, "tenant")
        return tenant_id
    return principal.tenant_scope()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"{name[:64]!r} is not a time zone this server knows; give an IANA name such as Asia/Shanghai",
            code="invalid_time_zone",
        ) from exc


def _device_scope(scope: str | None) -> list[ColumnElement[bool]]:
    return [] if scope is None else [col(Device.tenant_id) == scope]


def _device_states(session: Session, scope: str | None) -> Sequence[Any]:
    statement = select(Device.state, func.count()).where(*_device_scope(scope)).group_by(Device.state)
    return session.exec(statement).all()


def _matches(patterns: tuple[str, ...]) -> ColumnElement[bool]:
    return or_(*(col(Device.compliance_reasons).like(pattern) for pattern in patterns))


def _sums(
    session: Session, conditions: dict[str, ColumnElement[bool]], where: Sequence[ColumnElement[bool]]
) -> dict[str, int]:
    """How many rows of the device table meet each condition, counted in one pass."""
    columns = [
        func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)
        for name, condition in conditions.items()
    ]
    # Through the connection: a session's exec would hand back a bare number for one column.
    row = session.connection().execute(select(*columns).select_from(Device).where(*where)).one()
    return {name: int(value) for name, value in zip(conditions, row, strict=True)}


def _command_counts(session: Session, where: Sequence[ColumnElement[bool]]) -> list[CommandCount]:
    statement = (
        select(Command.type, Command.state, func.count())
        .where(*where)
        .group_by(Command.type, Command.state)
        .order_by(Command.type, Command.state)
    )
    return [
        CommandCount(CommandType(kind), CommandState(state), count)
        for kind, state, count in session.exec(statement).all()
    ]
