"""The MDM as the EST registration authority: enrollment tokens, enrollment and renewal.

The MDM decides who may have a device certificate; the CA signs (through ``CertificateSigner``).
Calls to the CA never happen inside a database transaction: the CA writes to the same
database, and a transaction held across the call would make it wait for us.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from govmobile.administration.changes import AuditedChanges
from govmobile.core import audit
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.directory import add_member, get_group, get_person
from govmobile.core.errors import Conflict, Unauthenticated
from govmobile.core.ids import new_id
from govmobile.core.tenancy import tenant_id_of
from govmobile.mdm import enrollment, lifecycle, queue
from govmobile.mdm.checkin import device_for_certificate
from govmobile.mdm.enrollment import DeviceFacts, EnrollmentTokenCreate
from govmobile.mdm.est import csr_pem
from govmobile.mdm.models import Device, DeviceState, EnrollmentToken
from govmobile.mdm.signer import CertificateSigner, IssuedChain, revoke_quietly
from govmobile.web.device_identity import PresentedCertificate


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


class Registrar:
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
        self.changes = AuditedChanges(database, clock)

    # -- enrollment ------------------------------------------------------------------------

    def ca_certificates(self) -> list[x509.Certificate]:
        """The issuing CA and root, as EST ``cacerts`` returns them."""
        return self.signer.ca_certificates()

    def ca_fingerprint(self) -> str:
        """SHA-256 of the root certificate, which devices pin when they enroll."""
        return self.ca_certificates()[-1].fingerprint(hashes.SHA256()).hex()

    def create_enrollment_token(self, principal: Principal, data: EnrollmentTokenCreate) -> IssuedToken:
        """A one-time token for a person; the secret and its QR payload are shown once."""
        with self.changes.by(principal) as change:
            data = data.model_copy(update={"tenant_id": tenant_id_of(change.session, data.tenant_id)})
            secret, token = enrollment.create_token(
                change.session, data, scope=principal.tenant_scope(), actor=change.actor, now=change.now
            )
            change.record(
                "enrollment_token.created",
                f"enrollment_token:{token.id}",
                tenant_id=token.tenant_id,
                details={
                    "person_id": token.person_id,
                    "device_id": token.device_id,
                    "expires_at": token.expires_at.isoformat(),
                    "max_uses": token.max_uses,
                },
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
        with self.changes.by(principal) as change:
            token = enrollment.get_token(change.session, token_id, scope=principal.tenant_scope())
            enrollment.revoke_token(change.session, token, now=change.now)
            change.record(
                "enrollment_token.revoked",
                f"enrollment_token:{token.id}",
                tenant_id=token.tenant_id,
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
            enrollment.check_reenrollment(token, known)
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
            revoke_quietly(self.signer, result[1], "superseded")
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
        if device is not None:
            enrollment.check_reenrollment(token, device)  # again: its person may have changed since
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
            cancelled, kept = queue.carry_over_reenrollment(session, device, now=now)
            lifecycle.record_event(
                session,
                device,
                actor=actor,
                change="re-enrolled",
                now=now,
                details={
                    "from_state": device.state.value,
                    "commands_cleared": cancelled,
                    "commands_kept": kept,
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
        # An expired certificate may renew in the grace window: the CA judges that, and refuses
        # a revoked one too; the MDM refuses a revoked one before asking.
        with self.database.session() as session:
            device = device_for_certificate(session, presented, now=self.clock(), expired_allowed=True)
        current_pem = presented.load().public_bytes(Encoding.PEM).decode()
        issued = self.signer.renew(current_pem, csr_pem(csr))
        now = self.clock()
        discard: str | None = None
        try:
            with self.database.transaction() as session:
                device = device_for_certificate(session, presented, now=now, expired_allowed=True)
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
            revoke_quietly(self.signer, discard, "superseded")
        return issued

    def _discard(self, issued: IssuedChain) -> None:
        """Revoke a certificate that was signed but will never be handed out."""
        revoke_quietly(self.signer, issued.serial, "superseded")
