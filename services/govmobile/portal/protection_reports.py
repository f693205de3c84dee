"""Protection events a device reports: the denials (and data wipes) its agent enforced.

The device agent enforces each managed app's protection policy (issue 12, "Sandbox and app
protection"; the policy travels in the desired-state document) and queues an event for every
copy, "save as", screenshot or opening it refused, and every wipe the policy ordered. It sends
them at check-in, and each becomes an event in the audit log, written by the device
(``actor = device:<id>``) in its department, so that admins read them per device (``actor``)
and per department (``tenant_id``) with the audit log's own tenant scope:

- ``portal.protection.denied``      target ``app:<package>``; details: the event's id, action,
                                    code, reason, destination and the device's time;
- ``portal.protection.data_wiped``  the same, when the policy wiped the app's data;
- ``portal.protection.events_dropped``  the device's queue overflowed while it was offline.

A device reports only for itself. Every event carries a random id chosen by the device; a report
sent again after its answer was lost is recorded once (events already in the log from this
device within ``REPLAY_WINDOW`` are skipped), so the audit log does not double-count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from govmobile.core import audit
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import PermissionDenied
from govmobile.portal.targeting import DeviceRecord

ACTIONS = ("copy", "save_as", "screenshot", "open", "unlock")
OUTCOMES = ("denied", "data_wiped")
MAX_EVENTS_PER_REPORT = 100
MAX_REASON = 500
#: How far back a repeated event id is looked for (a device retries at its next check-ins).
REPLAY_WINDOW = dt.timedelta(days=30)
#: The audit log's target column.
MAX_TARGET = 200


@dataclass(frozen=True)
class ReportedEvent:
    id: str
    package: str
    action: str
    outcome: str
    code: str
    reason: str
    occurred_at: dt.datetime
    destination: str | None = None


@dataclass(frozen=True)
class ReportOutcome:
    recorded: int
    duplicates: int


class ProtectionReports:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def record(
        self, device: DeviceRecord, device_id: str, events: Sequence[ReportedEvent], *, dropped: int = 0
    ) -> ReportOutcome:
        """Write the calling device's events to the audit log, each once."""
        if device.id != device_id:
            raise PermissionDenied(
                "a device may report protection events only for itself", code="certificate_of_another_device"
            )
        actor = f"device:{device.id}"
        now = self.clock()
        with self.database.transaction() as session:
            # Hold the audit chain's head first: two reports of one device are then written one
            # after the other, and the second sees the first's events (on SQLite the transaction
            # already holds the write lock).
            session.connection().execute(
                select(audit.AuditHead.last_event_id).where(audit.AuditHead.id == 1).with_for_update()
            )
            seen = _recorded_ids(session, actor, {e.package for e in events}, since=now - REPLAY_WINDOW)
            batch: list[audit.NewEvent] = []
            for event in events:
                if event.id in seen:
                    continue
                seen.add(event.id)
                batch.append(
                    audit.NewEvent(
                        actor=actor,
                        action=f"portal.protection.{event.outcome}",
                        target=app_target(event.package),
                        tenant_id=device.tenant_id,
                        details={
                            "package": event.package,
                            "event_id": event.id,
                            "action": event.action,
                            "code": event.code,
                            "reason": event.reason,
                            "destination": event.destination,
                            "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
                        },
                    )
                )
            if dropped:
                batch.append(
                    audit.NewEvent(
                        actor=actor,
                        action="portal.protection.events_dropped",
                        target=f"device:{device.id}",
                        tenant_id=device.tenant_id,
                        details={"dropped": dropped},
                    )
                )
            audit.record_many(session, batch, now=now)
            recorded = len(batch) - (1 if dropped else 0)
        return ReportOutcome(recorded, len(events) - recorded)


def app_target(package: str) -> str:
    """The audit target of an app: ``app:<package>``, or, for a package id too long for the audit
    log's 200 characters (Android allows 255), its start and a digest of the whole (the details
    keep the whole id)."""
    target = f"app:{package}"
    if len(target) <= MAX_TARGET:
        return target
    digest = hashlib.sha256(package.encode()).hexdigest()[:16]
    return f"app:{package[: MAX_TARGET - 21]}~{digest}"


def _recorded_ids(session: Session, actor: str, packages: set[str], *, since: dt.datetime) -> set[str]:
    """The event ids this device already reported for these apps, recently."""
    if not packages:
        return set()
    rows = session.exec(
        select(audit.AuditEvent.details).where(
            audit.AuditEvent.actor == actor,
            col(audit.AuditEvent.action).in_([f"portal.protection.{o}" for o in OUTCOMES]),
            col(audit.AuditEvent.target).in_([app_target(p) for p in packages]),
            col(audit.AuditEvent.occurred_at) >= since,
        )
    ).all()
    ids = set()
    for details in rows:
        event_id = json.loads(details).get("event_id")
        if isinstance(event_id, str):
            ids.add(event_id)
    return ids
