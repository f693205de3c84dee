"""The MDM's application service for the fleet: check-ins, devices, commands and policies.

Each public method is one use case, in its own transactions; routes call these methods and
nothing else. Enrollment lives in ``registrar``; accounts and the directory are not the MDM's
(``govmobile.administration``). Revocations requested here reach the CA after the transaction
commits.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session

from govmobile.administration.changes import AuditedChanges
from govmobile.core import audit
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, GroupCommit, utcnow
from govmobile.core.directory import get_group
from govmobile.core.errors import Conflict, InvalidInput
from govmobile.core.ids import new_id
from govmobile.core.tenancy import get_tenant, tenant_id_of
from govmobile.mdm import lifecycle, policies, queue
from govmobile.mdm.checkin import CheckinOutcome, CheckinRequest, check_in, device_for_certificate, heartbeat
from govmobile.mdm.lifecycle import DeviceQuery
from govmobile.mdm.models import (
    Command,
    CommandState,
    CommandType,
    Device,
    DeviceState,
    Policy,
)
from govmobile.mdm.signer import CertificateSigner, revoke_quietly
from govmobile.web.device_identity import PresentedCertificate


@dataclass(frozen=True)
class BulkTarget:
    """Which devices a bulk command goes to: a group, or a filter (or both)."""

    tenant_id: str | None = None
    group_id: str | None = None
    state: DeviceState | None = None
    compliant: bool | None = None


class Mdm:
    def __init__(
        self,
        database: Database,
        signer: CertificateSigner,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.signer = signer
        self.clock = clock
        self.changes = AuditedChanges(database, clock)
        self.policies = policies.PolicyCache()
        self._checkins = GroupCommit(database)

    # -- check-in --------------------------------------------------------------------------

    def check_in(self, presented: PresentedCertificate, request: CheckinRequest) -> CheckinOutcome:
        """Report posture and results, get compliance, policy and the next command.

        Check-ins run through a group commit: concurrent ones share a transaction and one
        commit, each in its own savepoint, so a refused check-in changes nothing."""
        now = self.clock()
        outcome = self._checkins.run(lambda session: self._check_in(session, presented, request, now))
        for serial, reason in outcome.revoke:
            revoke_quietly(self.signer, serial, reason)
        return outcome

    def _check_in(
        self, session: Session, presented: PresentedCertificate, request: CheckinRequest, now: dt.datetime
    ) -> CheckinOutcome:
        outcome = heartbeat(
            session.connection(),
            presented,
            request,
            policy_for=lambda t: self.policies.get(session, t),
            now=now,
        )
        if outcome is not None:
            return outcome
        device = device_for_certificate(session, presented, now=now)
        policy = self.policies.get(session, device.tenant_id)
        outcome = check_in(session, device, presented, request, policy=policy, now=now)
        for command, report in outcome.reported:
            if report.status == "not_now":
                continue
            audit.record(
                session,
                actor=f"device:{device.id}",
                action=f"command.{report.status}",
                target=f"command:{command.id}",
                tenant_id=device.tenant_id,
                details={"type": command.type},
                now=now,
            )
        return outcome

    def device_of(self, presented: PresentedCertificate) -> Device:
        with self.database.session() as session:
            return device_for_certificate(session, presented, now=self.clock())

    def has_pending(self, device: Device) -> bool:
        """Whether the device would get a command if it checked in now."""
        with self.database.session() as session:
            return bool(lifecycle.pending_actions(session, device))

    # -- devices and commands (admin) --------------------------------------------------------

    def list_devices(self, principal: Principal, query: DeviceQuery) -> list[Device]:
        with self.database.session() as session:
            query = replace(query, tenant_id=tenant_id_of(session, query.tenant_id))
            return lifecycle.list_devices(session, query, scope=principal.tenant_scope())

    def device_detail(self, principal: Principal, device_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            device = lifecycle.get_device(session, device_id, scope=principal.tenant_scope())
            return {
                "device": device,
                "pending_actions": lifecycle.pending_actions(session, device),
                "history": lifecycle.history(session, device),
                "checkins": lifecycle.recent_checkins(session, device),
            }

    def retire_device(self, principal: Principal, device_id: str) -> Device:
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            device = lifecycle.get_device(session, device_id, scope=principal.tenant_scope())
            if device.state is DeviceState.RETIRED:
                raise Conflict("this device is already retired", code="already_retired")
            serials = self._retire(
                session,
                device,
                actor=principal.actor,
                reason="retired by an admin",
                action="device.retired",
                now=now,
            )
        for serial in serials:
            revoke_quietly(self.signer, serial, "cessationOfOperation")
        return device

    def unenroll(self, presented: PresentedCertificate) -> Device:
        """The device leaves on its own (its user unenrolls it): retired like an admin would,
        its queue closed and its certificates revoked, so nothing stays behind to be misused."""
        now = self.clock()
        with self.database.transaction() as session:
            device = device_for_certificate(session, presented, now=now)
            serials = self._retire(
                session,
                device,
                actor=f"device:{device.id}",
                reason="unenrolled by the device",
                action="device.unenrolled",
                now=now,
            )
        for serial in serials:
            revoke_quietly(self.signer, serial, "cessationOfOperation")
        return device

    @staticmethod
    def _retire(
        session: Session, device: Device, *, actor: str, reason: str, action: str, now: dt.datetime
    ) -> list[str]:
        """Retire the device in this transaction; the serials to revoke once it has committed."""
        lifecycle.set_state(session, device, DeviceState.RETIRED, actor=actor, now=now, reason=reason)
        queue.close_open_commands(session, device, CommandState.CANCELLED, reason=reason, now=now)
        audit.record(
            session,
            actor=actor,
            action=action,
            target=f"device:{device.id}",
            tenant_id=device.tenant_id,
            now=now,
        )
        # The certificates stay bound (and are revoked) so the device is told it was retired.
        return [s for s in (device.cert_serial, device.previous_cert_serial) if s]

    def send_command(
        self,
        principal: Principal,
        device_id: str,
        kind: CommandType,
        payload: dict[str, Any],
        deadline: dt.timedelta | None,
    ) -> Command:
        """Queue a command for one device."""
        with self.changes.by(principal) as change:
            device = lifecycle.get_device(change.session, device_id, scope=principal.tenant_scope())
            _require_reachable(device)
            command = queue.enqueue(
                change.session, device, kind, payload, actor=change.actor, now=change.now, deadline=deadline
            )
            change.record(
                "command.queued",
                f"command:{command.id}",
                tenant_id=device.tenant_id,
                details={"type": kind.value, "device_id": device.id},
            )
            return command

    def cancel_command(self, principal: Principal, command_id: str) -> Command:
        with self.changes.by(principal) as change:
            command = queue.get_command(change.session, command_id, scope=principal.tenant_scope())
            queue.cancel(change.session, command, actor=change.actor, now=change.now)
            change.record(
                "command.cancelled",
                f"command:{command.id}",
                tenant_id=command.tenant_id,
            )
            return command

    def command_detail(self, principal: Principal, command_id: str) -> tuple[Command, dict[str, Any] | None]:
        with self.database.session() as session:
            command = queue.get_command(session, command_id, scope=principal.tenant_scope())
            result = queue.result_of(session, command)
            return command, (
                None
                if result is None
                else {
                    "status": result.status,
                    "received_at": result.received_at,
                    "result": json.loads(result.result),
                }
            )

    def device_commands(self, principal: Principal, device_id: str) -> list[Command]:
        with self.database.session() as session:
            device = lifecycle.get_device(session, device_id, scope=principal.tenant_scope())
            return queue.list_commands(session, device)

    def bulk_preview(self, principal: Principal, target: BulkTarget) -> int:
        """How many devices a bulk command would reach, before sending it."""
        with self.database.session() as session:
            return len(self._bulk_devices(session, principal, target))

    def bulk_send(
        self,
        principal: Principal,
        target: BulkTarget,
        kind: CommandType,
        payload: dict[str, Any],
        *,
        expected_count: int,
        deadline: dt.timedelta | None,
    ) -> tuple[str, int]:
        """Queue one command per targeted device, if the count still matches the preview."""
        bulk_id = new_id()
        with self.changes.by(principal) as change:
            queue.validate_payload(kind, payload)
            targets = self._bulk_devices(change.session, principal, target)
            if len(targets) != expected_count:
                raise Conflict(
                    f"the target now matches {len(targets)} devices, not the {expected_count} previewed; preview again",
                    code="count_changed",
                    details={"count": len(targets)},
                )
            for device in targets:
                queue.enqueue(
                    change.session,
                    device,
                    kind,
                    payload,
                    actor=change.actor,
                    now=change.now,
                    deadline=deadline,
                    bulk_id=bulk_id,
                )
            change.record(
                "command.bulk_queued",
                f"bulk:{bulk_id}",
                tenant_id=principal.tenant_scope() or target.tenant_id,
                details={
                    "type": kind.value,
                    "count": len(targets),
                    "group_id": target.group_id,
                    "state": target.state,
                    "compliant": target.compliant,
                },
            )
        return bulk_id, len(targets)

    def _bulk_devices(self, session: Session, principal: Principal, target: BulkTarget) -> list[Device]:
        if target.group_id is None and target.tenant_id is None and principal.tenant_scope() is None:
            raise InvalidInput("a bulk command needs a tenant_id or a group_id", code="bulk_without_target")
        if target.tenant_id is not None:
            target = replace(target, tenant_id=tenant_id_of(session, target.tenant_id))
            principal.require_tenant(target.tenant_id, "tenant")
        if target.group_id is not None:
            get_group(session, target.group_id, scope=principal.tenant_scope())
        devices: list[Device] = []
        after: str | None = None
        while True:
            page = lifecycle.list_devices(
                session,
                DeviceQuery(
                    tenant_id=target.tenant_id,
                    group_id=target.group_id,
                    state=target.state,
                    compliant=target.compliant,
                    after_id=after,
                    limit=1000,
                ),
                scope=principal.tenant_scope(),
            )
            devices += [d for d in page if d.state in lifecycle.REACHABLE]
            if len(page) < 1000:
                return devices
            after = page[-1].id

    # -- policies --------------------------------------------------------------------------

    def policy(self, principal: Principal, tenant_id: str) -> Policy:
        with self.database.session() as session:
            tenant = get_tenant(session, tenant_id)
            principal.require_tenant(tenant.id, "tenant")
            return policies.policy_for(session, tenant.id)

    def set_policy(self, principal: Principal, tenant_id: str, update: policies.PolicyUpdate) -> Policy:
        with self.changes.by(principal) as change:
            tenant = get_tenant(change.session, tenant_id)
            principal.require_tenant(tenant.id, "tenant")
            details = policies.audit_details(update, policies.policy_for(change.session, tenant.id))
            policy = policies.set_policy(
                change.session, tenant.id, update, actor=change.actor, now=change.now
            )
            self.policies.forget(tenant.id)
            change.record("policy.updated", f"tenant:{tenant.id}", tenant_id=tenant.id, details=details)
            return policy

    # -- helpers ---------------------------------------------------------------------------


def _require_reachable(device: Device) -> None:
    if device.state not in lifecycle.REACHABLE:
        raise Conflict(
            f"this device is {device.state.value}; commands can no longer reach it", code="device_unreachable"
        )
