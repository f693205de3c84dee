"""The MDM's application service: each public method is one use case, in its own transactions.

It coordinates the domain modules, the CA (through ``CertificateSigner``), the audit log and
wake-ups. Routes call these methods and nothing else. Calls to the CA never happen inside a
database transaction: the CA writes to the same database, and a transaction held across the
call would make it wait for us.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from govmobile.core import audit
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, GroupCommit, utcnow
from govmobile.core.directory import add_member, get_group, get_person
from govmobile.core.errors import Conflict, InvalidInput, Unauthenticated
from govmobile.core.ids import new_id
from govmobile.core.tenancy import get_tenant, tenant_id_of
from govmobile.mdm import commands as queue
from govmobile.mdm import devices as lifecycle
from govmobile.mdm import enrollment, policies
from govmobile.mdm.checkin import CheckinOutcome, CheckinRequest, check_in, device_for_certificate, heartbeat
from govmobile.mdm.devices import DeviceQuery
from govmobile.mdm.enrollment import DeviceFacts, EnrollmentTokenCreate
from govmobile.mdm.est import csr_pem
from govmobile.mdm.identity import PresentedCertificate
from govmobile.mdm.models import (
    Command,
    CommandState,
    CommandType,
    Device,
    DeviceState,
    EnrollmentToken,
    Policy,
)
from govmobile.mdm.signer import CertificateSigner, IssuedChain

log = logging.getLogger("govmobile.mdm")


@dataclass(frozen=True)
class EnrollmentResult:
    device: Device
    issued: IssuedChain
    reenrolled: bool


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    token: EnrollmentToken
    qr_payload: str


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
        server_url: str,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.signer = signer
        self.server_url = server_url
        self.clock = clock
        self.policies = policies.PolicyCache()
        self._checkins = GroupCommit(database)

    # -- enrollment ------------------------------------------------------------------------

    def ca_certificates(self) -> list[x509.Certificate]:
        """The issuing CA and root, as EST ``cacerts`` returns them."""
        return self.signer.ca_certificates()

    def ca_fingerprint(self) -> str:
        """SHA-256 of the root certificate, which devices pin when they enroll."""
        return self.ca_certificates()[-1].fingerprint(hashes.SHA256()).hex()

    def create_enrollment_token(self, principal: Principal, data: EnrollmentTokenCreate) -> IssuedToken:
        """A one-time token for a person; the secret and its QR payload are shown once."""
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            data = data.model_copy(update={"tenant_id": tenant_id_of(session, data.tenant_id)})
            secret, token = enrollment.create_token(
                session, data, scope=principal.tenant_scope(), actor=principal.actor, now=now
            )
            audit.record(
                session,
                actor=principal.actor,
                action="enrollment_token.created",
                target=f"enrollment_token:{token.id}",
                tenant_id=token.tenant_id,
                details={
                    "person_id": token.person_id,
                    "expires_at": token.expires_at.isoformat(),
                    "max_uses": token.max_uses,
                },
                now=now,
            )
        return IssuedToken(
            secret, token, enrollment.qr_payload(self.server_url, self.ca_fingerprint(), secret)
        )

    def enrollment_tokens(self, principal: Principal, tenant_id: str | None) -> list[EnrollmentToken]:
        with self.database.session() as session:
            return enrollment.list_tokens(
                session, scope=principal.tenant_scope(), tenant_id=tenant_id_of(session, tenant_id)
            )

    def enrollment_token(self, principal: Principal, token_id: str) -> EnrollmentToken:
        with self.database.session() as session:
            return enrollment.get_token(session, token_id, scope=principal.tenant_scope())

    def revoke_enrollment_token(self, principal: Principal, token_id: str) -> EnrollmentToken:
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            token = enrollment.get_token(session, token_id, scope=principal.tenant_scope())
            enrollment.revoke_token(session, token, now=now)
            audit.record(
                session,
                actor=principal.actor,
                action="enrollment_token.revoked",
                target=f"enrollment_token:{token.id}",
                tenant_id=token.tenant_id,
                now=now,
            )
            return token

    def enroll(
        self, secret: str, csr: x509.CertificateSigningRequest, facts: DeviceFacts
    ) -> EnrollmentResult:
        """EST simpleenroll: check the token, have the CA sign, then consume the token and bind.

        The token is consumed only in the transaction that binds the certificate, with a
        conditional update: of two concurrent enrollments with one token exactly one binds;
        the other's certificate is revoked before anyone sees it.
        """
        now = self.clock()
        with self.database.session() as session:
            token = enrollment.usable_token(session, secret, now=now)
            enrollment.person_of(session, token)
            known = enrollment.find_by_serial(session, token.tenant_id, facts.serial_number)
            if known is None:
                enrollment.check_quota(session, token.tenant_id)
            device_id = known.id if known is not None else new_id()
        issued = self.signer.sign_device(csr_pem(csr), device_id=device_id, tenant_id=token.tenant_id)
        try:
            with self.database.transaction() as session:
                result = self._bind_enrollment(session, token, device_id, facts, issued, now)
        except IntegrityError as exc:
            self._discard(issued)
            raise Conflict(
                "another enrollment of this device is in progress; try again", code="enrollment_conflict"
            ) from exc
        except BaseException:
            self._discard(issued)
            raise
        if result[1] is not None:
            self._revoke_quietly(result[1], "superseded")
        return EnrollmentResult(result[0], issued, reenrolled=known is not None)

    def _bind_enrollment(
        self,
        session: Session,
        token: EnrollmentToken,
        device_id: str,
        facts: DeviceFacts,
        issued: IssuedChain,
        now: dt.datetime,
    ) -> tuple[Device, str | None]:
        if not enrollment.consume(session, token.id, now=now):
            raise Unauthenticated(
                "this enrollment token was used, revoked or expired just now; ask your admin for a new one",
                code="token_used",
            )
        device = session.get(Device, device_id)
        old_serial = None
        actor = f"enrollment_token:{token.id}"
        if device is None:
            enrollment.check_quota(session, token.tenant_id)
            device = Device(
                id=device_id,
                tenant_id=token.tenant_id,
                person_id=token.person_id,
                serial_number=facts.serial_number,
                enrolled_at=now,
            )
            session.add(device)
            session.flush()
            lifecycle.record_event(
                session, device, actor=actor, change="enrolled", now=now, details=enrollment.facts_json(facts)
            )
            action = "device.enrolled"
        else:
            old_serial = device.cert_serial
            cleared = queue.close_open_commands(
                session, device, CommandState.CANCELLED, reason="device enrolled again", now=now
            )
            lifecycle.record_event(
                session,
                device,
                actor=actor,
                change="re-enrolled",
                now=now,
                details={
                    "from_state": device.state.value,
                    "commands_cleared": cleared,
                    "previous_person_id": device.person_id,
                },
            )
            lifecycle.access_lost(session, device=device, reason="re-enrolled", now=now)
            device.state = DeviceState.ENROLLED
            device.person_id = token.person_id
            device.lost_mode = False
            device.lock_message = None
            device.compliant = None
            device.noncompliant_since = None
            action = "device.reenrolled"
        device.model = facts.model or device.model
        device.os_name = facts.os_name or device.os_name
        device.os_version = facts.os_version or device.os_version
        device.hardware_ids = json.dumps(facts.hardware_ids, sort_keys=True)
        device.cert_sha256 = issued.sha256
        device.cert_serial = issued.serial
        device.cert_not_after = issued.not_after
        device.previous_cert_sha256 = None
        device.previous_cert_serial = None
        device.revision += 1
        session.add(device)
        if token.group_id is not None:
            person = get_person(session, token.person_id, scope=token.tenant_id)
            add_member(session, get_group(session, token.group_id, scope=token.tenant_id), person)
        audit.record(
            session,
            actor=actor,
            action=action,
            target=f"device:{device.id}",
            tenant_id=device.tenant_id,
            details={
                "serial_number": facts.serial_number,
                "certificate": issued.serial,
                "person_id": token.person_id,
            },
            now=now,
        )
        session.flush()
        return device, old_serial

    def reenroll(self, presented: PresentedCertificate, csr: x509.CertificateSigningRequest) -> IssuedChain:
        """EST simplereenroll: a successor for the certificate the device authenticated with."""
        with self.database.session() as session:
            device = device_for_certificate(session, presented)
        current_pem = presented.load().public_bytes(Encoding.PEM).decode()
        issued = self.signer.renew(current_pem, csr_pem(csr))
        now = self.clock()
        discard: str | None = None
        try:
            with self.database.transaction() as session:
                device = device_for_certificate(session, presented)
                if presented.sha256 == device.previous_cert_sha256:
                    # The device never got (or lost) the last renewal: replace that one instead.
                    discard = device.cert_serial
                else:
                    device.previous_cert_sha256 = device.cert_sha256
                    device.previous_cert_serial = device.cert_serial
                device.cert_sha256 = issued.sha256
                device.cert_serial = issued.serial
                device.cert_not_after = issued.not_after
                device.revision += 1
                session.add(device)
                lifecycle.record_event(
                    session,
                    device,
                    actor=f"device:{device.id}",
                    change="certificate renewed",
                    now=now,
                    details={"serial": issued.serial, "not_after": issued.not_after.isoformat()},
                )
                audit.record(
                    session,
                    actor=f"device:{device.id}",
                    action="device.certificate_renewed",
                    target=f"device:{device.id}",
                    tenant_id=device.tenant_id,
                    details={"certificate": issued.serial},
                    now=now,
                )
        except BaseException:
            self._discard(issued)
            raise
        if discard:
            self._revoke_quietly(discard, "superseded")
        return issued

    # -- check-in --------------------------------------------------------------------------

    def check_in(self, presented: PresentedCertificate, request: CheckinRequest) -> CheckinOutcome:
        """Report posture and results, get compliance, policy and the next command.

        Check-ins run through a group commit: concurrent ones share a transaction and one
        commit, each in its own savepoint, so a refused check-in changes nothing."""
        now = self.clock()
        outcome = self._checkins.run(lambda session: self._check_in(session, presented, request, now))
        for serial, reason in outcome.revoke:
            self._revoke_quietly(serial, reason)
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
        device = device_for_certificate(session, presented)
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
            return device_for_certificate(session, presented)

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
            lifecycle.set_state(
                session,
                device,
                DeviceState.RETIRED,
                actor=principal.actor,
                now=now,
                reason="retired by an admin",
            )
            queue.close_open_commands(
                session, device, CommandState.CANCELLED, reason="device retired", now=now
            )
            # The certificates stay bound (and are revoked) so the device is told it was retired.
            serials = [s for s in (device.cert_serial, device.previous_cert_serial) if s]
            audit.record(
                session,
                actor=principal.actor,
                action="device.retired",
                target=f"device:{device.id}",
                tenant_id=device.tenant_id,
                now=now,
            )
        for serial in serials:
            self._revoke_quietly(serial, "cessationOfOperation")
        return device

    def send_command(
        self,
        principal: Principal,
        device_id: str,
        kind: CommandType,
        payload: dict[str, Any],
        deadline: dt.timedelta | None,
    ) -> Command:
        """Queue a command for one device."""
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            device = lifecycle.get_device(session, device_id, scope=principal.tenant_scope())
            _require_reachable(device)
            command = queue.enqueue(
                session, device, kind, payload, actor=principal.actor, now=now, deadline=deadline
            )
            audit.record(
                session,
                actor=principal.actor,
                action="command.queued",
                target=f"command:{command.id}",
                tenant_id=device.tenant_id,
                details={"type": kind.value, "device_id": device.id},
                now=now,
            )
            return command

    def cancel_command(self, principal: Principal, command_id: str) -> Command:
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            command = queue.get_command(session, command_id, scope=principal.tenant_scope())
            queue.cancel(session, command, actor=principal.actor, now=now)
            audit.record(
                session,
                actor=principal.actor,
                action="command.cancelled",
                target=f"command:{command.id}",
                tenant_id=command.tenant_id,
                now=now,
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
        principal.require_write()
        queue.validate_payload(kind, payload)
        now = self.clock()
        bulk_id = new_id()
        with self.database.transaction() as session:
            targets = self._bulk_devices(session, principal, target)
            if len(targets) != expected_count:
                raise Conflict(
                    f"the target now matches {len(targets)} devices, not the {expected_count} previewed; preview again",
                    code="count_changed",
                    details={"count": len(targets)},
                )
            for device in targets:
                queue.enqueue(
                    session,
                    device,
                    kind,
                    payload,
                    actor=principal.actor,
                    now=now,
                    deadline=deadline,
                    bulk_id=bulk_id,
                )
            audit.record(
                session,
                actor=principal.actor,
                action="command.bulk_queued",
                target=f"bulk:{bulk_id}",
                tenant_id=principal.tenant_scope() or target.tenant_id,
                details={
                    "type": kind.value,
                    "count": len(targets),
                    "group_id": target.group_id,
                    "state": target.state,
                    "compliant": target.compliant,
                },
                now=now,
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
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            tenant = get_tenant(session, tenant_id)
            principal.require_tenant(tenant.id, "tenant")
            policy = policies.set_policy(session, tenant.id, update, actor=principal.actor, now=now)
            self.policies.forget(tenant.id)
            audit.record(
                session,
                actor=principal.actor,
                action="policy.updated",
                target=f"tenant:{tenant.id}",
                tenant_id=tenant.id,
                details=update.model_dump(exclude_unset=True),
                now=now,
            )
            return policy

    # -- helpers ---------------------------------------------------------------------------

    def _discard(self, issued: IssuedChain) -> None:
        """Revoke a certificate that was signed but will never be handed out."""
        self._revoke_quietly(issued.serial, "superseded")

    def _revoke_quietly(self, serial: str, reason: str) -> None:
        try:
            self.signer.revoke(serial, reason)
        except Exception:
            log.warning(
                "could not revoke certificate %s now; the maintenance job will retry", serial, exc_info=True
            )


def _require_reachable(device: Device) -> None:
    if device.state not in lifecycle.REACHABLE:
        raise Conflict(
            f"this device is {device.state.value}; commands can no longer reach it", code="device_unreachable"
        )
