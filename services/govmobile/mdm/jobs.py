"""Periodic maintenance, run by every MDM process (each step is idempotent).

- expire commands whose deadline passed, so they cannot block a queue;
- nudge devices that still have open commands (queued, sent without answer, not now);
- mark devices non-compliant when they stayed offline longer than their policy allows;
- queue a lock for devices non-compliant longer than ``lock_after_noncompliant_days``;
- revoke device certificates that no device is bound to any more (a revocation that failed
  when the CA was unreachable is retried here);
- keep posture history and wake-up notes bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import CompoundSelect, column, delete, func, table, union
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from govmobile.core import audit, logins
from govmobile.core.database import Database, utcnow
from govmobile.mdm import queue
from govmobile.mdm.compliance import offline_reason
from govmobile.mdm.lifecycle import REACHABLE, access_lost, record_event
from govmobile.mdm.models import (
    AccessChange,
    Command,
    CommandType,
    Device,
    DeviceCheckin,
    DeviceState,
    Policy,
)
from govmobile.mdm.signer import CertificateSigner
from govmobile.mdm.wakeups import prune_wakeups

log = logging.getLogger("govmobile.mdm.jobs")

# The CA's certificate table, read (never written) without importing the CA: services never
# import each other, but every service may read what it needs from the one schema.
_certificates = table(
    "certificate",
    column("serial"),
    column("profile"),
    column("revoked_at"),
    column("not_after"),
    column("issued_at"),
)
_WATCHED = (DeviceState.ACTIVE, DeviceState.LOCKED, DeviceState.LOST)


@dataclass(frozen=True)
class MaintenanceReport:
    expired: int = 0
    nudged: int = 0
    offline: int = 0
    locked: int = 0
    revoked: int = 0
    pruned: int = 0


class Maintenance:
    def __init__(
        self,
        database: Database,
        signer: CertificateSigner,
        *,
        checkin_retention: dt.timedelta = dt.timedelta(days=14),
        reconcile_grace: dt.timedelta = dt.timedelta(minutes=10),
        nudge_interval: dt.timedelta = dt.timedelta(minutes=5),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.nudge_interval = nudge_interval
        self._last_nudge: dt.datetime | None = None
        self.signer = signer
        self.checkin_retention = checkin_retention
        self.reconcile_grace = reconcile_grace
        self.clock = clock

    def run_once(self) -> MaintenanceReport:
        """One pass of every maintenance step."""
        now = self.clock()
        with self.database.transaction() as session:
            expired = queue.expire_overdue(session, now=now)
            open_devices: list[str] = []
            if self._last_nudge is None or now - self._last_nudge >= self.nudge_interval:
                self._last_nudge = now
                open_devices = list(
                    session.exec(
                        select(Command.device_id).where(col(Command.state).in_(queue.OPEN_STATES)).distinct()
                    ).all()
                )
                for device_id in open_devices:
                    queue.wake(session, device_id, now=now)
            offline = self._offline(session, now)
            locked = self._lock_long_noncompliant(session, now)
            pruned = session.exec(
                delete(DeviceCheckin).where(col(DeviceCheckin.at) < now - self.checkin_retention)
            ).rowcount
        pruned += prune_wakeups(self.database, older_than=now - dt.timedelta(minutes=10))
        with self.database.transaction() as session:
            # The gateway reads this feed every second; a day is plenty. The newest entry stays,
            # however old: SQLite numbers a row one past the highest present, and a number handed
            # out twice would look to the gateway like an entry it has already seen.
            newest = select(func.max(AccessChange.seq)).scalar_subquery()
            stale = delete(AccessChange).where(
                col(AccessChange.at) < now - dt.timedelta(days=1), col(AccessChange.seq) < newest
            )
            pruned += session.connection().execute(stale).rowcount
            # Failed logins count for at most a day (the longest throttling window allowed).
            pruned += logins.prune(session, before=now - dt.timedelta(days=1))
        revoked = self._revoke_unbound(now)
        return MaintenanceReport(expired, len(open_devices), offline, locked, revoked, int(pruned))

    def _offline(self, session: Session, now: dt.datetime) -> int:
        changed = 0
        for policy in session.exec(select(Policy).where(col(Policy.max_offline_hours).is_not(None))).all():
            cutoff = now - dt.timedelta(hours=policy.max_offline_hours or 0)
            stale = session.exec(
                select(Device).where(
                    Device.tenant_id == policy.tenant_id,
                    col(Device.state).in_([s.value for s in _WATCHED]),
                    col(Device.last_seen_at) < cutoff,
                    col(Device.compliant).is_not(False),
                )
            ).all()
            for device in stale:
                reason = offline_reason(policy, device.last_seen_at, now)
                if reason is None:
                    continue
                device.compliant = False
                access_lost(session, device=device, reason="offline too long", now=now)
                device.compliance_reasons = json.dumps([reason])
                device.noncompliant_since = now
                device.revision += 1
                record_event(
                    session,
                    device,
                    actor="system",
                    change="compliance",
                    now=now,
                    details={"compliant": False, "reasons": [reason]},
                )
                session.add(device)
                changed += 1
        return changed

    def _lock_long_noncompliant(self, session: Session, now: dt.datetime) -> int:
        queued = 0
        for policy in session.exec(
            select(Policy).where(col(Policy.lock_after_noncompliant_days).is_not(None))
        ).all():
            cutoff = now - dt.timedelta(days=policy.lock_after_noncompliant_days or 0)
            pending_lock = select(Command.device_id).where(
                col(Command.state).in_(queue.OPEN_STATES), Command.type == CommandType.LOCK
            )
            overdue = session.exec(
                select(Device).where(
                    Device.tenant_id == policy.tenant_id,
                    Device.state == DeviceState.ACTIVE,
                    Device.compliant == False,  # noqa: E712 - SQL comparison
                    col(Device.noncompliant_since) < cutoff,
                    col(Device.id).not_in(pending_lock),
                )
            ).all()
            for device in overdue:
                message = f"Locked: not compliant for more than {policy.lock_after_noncompliant_days} days. Contact your IT desk."
                command = queue.enqueue(
                    session, device, CommandType.LOCK, {"message": message}, actor="system", now=now
                )
                audit.record(
                    session,
                    actor="system",
                    action="command.queued",
                    target=f"command:{command.id}",
                    tenant_id=device.tenant_id,
                    details={"type": "lock", "device_id": device.id, "reason": "non-compliant"},
                    now=now,
                )
                queued += 1
        return queued

    def _revoke_unbound(self, now: dt.datetime) -> int:
        with self.database.session() as session:
            # Certificates that authenticate a device in service; every other device certificate
            # (unbound, or bound to a wiped or retired device) must be revoked.
            in_service = col(Device.state).in_([state.value for state in REACHABLE])
            bound: CompoundSelect[tuple[str]] = union(
                select(Device.cert_serial).where(col(Device.cert_serial).is_not(None), in_service),
                select(Device.previous_cert_serial).where(
                    col(Device.previous_cert_serial).is_not(None), in_service
                ),
            )
            serials = session.exec(
                select(_certificates.c.serial).where(
                    _certificates.c.profile == "device",
                    _certificates.c.revoked_at.is_(None),
                    _certificates.c.not_after > now,
                    _certificates.c.issued_at < now - self.reconcile_grace,
                    _certificates.c.serial.not_in(bound),
                )
            ).all()
        revoked = 0
        for serial in serials:
            try:
                self.signer.revoke(str(serial), "superseded")
                revoked += 1
            except Exception:
                log.warning("could not revoke unbound device certificate %s", serial, exc_info=True)
                break
        return revoked


async def maintenance_pass(maintenance: Maintenance) -> None:
    """One maintenance pass off the event loop, logged when it did something."""
    report = await run_in_threadpool(maintenance.run_once)
    if any(vars(report).values()):
        log.info("maintenance: %s", report)
