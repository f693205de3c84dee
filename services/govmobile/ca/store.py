"""The CA's ``CertificateStore`` on the shared database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import case, func, insert, or_, update
from sqlmodel import Session, col, select

from govmobile.ca.authority import CertificateQuery, CrlDocument, ExpiryCount
from govmobile.ca.models import Certificate, CertificateStatus, CrlState, RevocationReason
from govmobile.ca.revocation_list import RevokedEntry
from govmobile.core import audit
from govmobile.core.database import Database, GroupCommit
from govmobile.core.errors import Conflict, NotFound
from govmobile.core.tenancy import get_tenant

_CERTIFICATES = Certificate.__table__  # type: ignore[attr-defined]

# Revoked certificates stay on the CRL for this long after they expire, so that a relying
# party with a slow clock still sees them (RFC 5280 §3.3 allows removal after expiry).
_CRL_RETENTION_AFTER_EXPIRY = dt.timedelta(days=1)


class SqlCertificateStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        # Issuance is the CA's hot path: concurrent issuances share one commit.
        self._group_commit = GroupCommit(database)

    def add_issued(self, certificate: Certificate, *, actor: str) -> None:
        """Record a certificate and its audit event; returns only once they are committed.

        Concurrent callers share transactions (group commit), each in its own savepoint: a
        failure returns to its own caller, and no certificate is ever handed out unrecorded.
        """
        self._group_commit.run(lambda session: self._write_issued(session, certificate, actor))

    @staticmethod
    def _write_issued(session: Session, certificate: Certificate, actor: str) -> None:
        # A Core insert: issuance needs no unit of work.
        session.connection().execute(insert(_CERTIFICATES), [certificate.model_dump()])
        audit.record(
            session,
            actor=actor,
            action="certificate.issued",
            target=f"certificate:{certificate.serial}",
            tenant_id=certificate.tenant_id,
            details={
                "profile": certificate.profile,
                "subject": certificate.subject,
                "sha256": certificate.sha256,
                "not_after": certificate.not_after.isoformat(),
                "renewed_from": certificate.renewed_from,
            },
            now=certificate.issued_at,
        )

    def get(self, serial: str) -> Certificate | None:
        with self.database.session() as session:
            return session.get(Certificate, serial)

    def get_by_sha256(self, sha256: str) -> Certificate | None:
        with self.database.session() as session:
            return session.exec(select(Certificate).where(Certificate.sha256 == sha256)).first()

    def revoke(
        self,
        serial: str,
        *,
        reason: RevocationReason,
        at: dt.datetime,
        actor: str,
        tenant_scope: str | None,
        profiles: frozenset[str] | None,
    ) -> Certificate:
        with self.database.transaction() as session:
            certificate = session.exec(
                select(Certificate).where(Certificate.serial == serial).with_for_update()
            ).first()
            if (
                certificate is None
                or (tenant_scope is not None and certificate.tenant_id != tenant_scope)
                or (profiles is not None and certificate.profile not in profiles)
            ):
                raise NotFound(f"no certificate with serial {serial}", code="unknown_serial")
            if certificate.revoked_at is not None:
                raise Conflict(
                    f"certificate {serial} was already revoked at {certificate.revoked_at.isoformat()}",
                    code="already_revoked",
                )
            certificate.revoked_at = at
            certificate.revocation_reason = reason.value
            certificate.revoked_by = actor
            session.add(certificate)
            audit.record(
                session,
                actor=actor,
                action="certificate.revoked",
                target=f"certificate:{serial}",
                tenant_id=certificate.tenant_id,
                details={"reason": reason.label, "device_id": certificate.device_id},
                now=at,
            )
            return certificate

    def publish_crl(
        self,
        build: Callable[[int, Iterator[RevokedEntry]], bytes],
        *,
        now: dt.datetime,
        next_update: dt.datetime,
    ) -> CrlDocument:
        with self.database.transaction() as session:
            # Updating the row first takes its lock, so two publishers get distinct numbers.
            session.exec(update(CrlState).where(col(CrlState.id) == 1).values(number=CrlState.number + 1))
            state = session.exec(select(CrlState).where(CrlState.id == 1)).one()
            revoked_count = session.exec(
                select(func.count()).select_from(Certificate).where(col(Certificate.revoked_at).is_not(None))
            ).one()
            rows = session.connection().execute(
                select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason)
                .where(col(Certificate.revoked_at).is_not(None))
                .where(col(Certificate.not_after) > now - _CRL_RETENTION_AFTER_EXPIRY)
                .order_by(col(Certificate.revoked_at))
            )
            entries = (
                RevokedEntry(int(serial, 16), _aware(revoked_at), reason or 0)
                for serial, revoked_at, reason in rows
            )
            der = build(state.number, entries)
            state.this_update = now
            state.next_update = next_update
            state.revoked_count = revoked_count
            state.der = der
            session.add(state)
            return CrlDocument(state.number, now, next_update, der, revoked_count)

    def current_crl(self) -> CrlDocument | None:
        with self.database.session() as session:
            state = session.get(CrlState, 1)
            if state is None or state.der is None or state.this_update is None or state.next_update is None:
                return None
            return CrlDocument(
                state.number, state.this_update, state.next_update, state.der, state.revoked_count
            )

    def revocation_count(self) -> int:
        with self.database.session() as session:
            return session.exec(
                select(func.count()).select_from(Certificate).where(col(Certificate.revoked_at).is_not(None))
            ).one()

    def search(self, query: CertificateQuery, *, now: dt.datetime) -> list[Certificate]:
        statement = select(Certificate)
        if query.tenant_scope is not None:
            statement = statement.where(Certificate.tenant_id == query.tenant_scope)
        if query.serial:
            statement = statement.where(Certificate.serial == query.serial)
        if query.device_id:
            statement = statement.where(Certificate.device_id == query.device_id)
        if query.tenant_id:
            statement = statement.where(Certificate.tenant_id == query.tenant_id)
        if query.profile:
            statement = statement.where(Certificate.profile == query.profile)
        if query.text:
            pattern = f"%{_escape_like(query.text.lower())}%"
            statement = statement.where(
                or_(
                    func.lower(Certificate.subject).like(pattern, escape="\\"),
                    func.lower(Certificate.common_name).like(pattern, escape="\\"),
                )
            )
        if query.status is CertificateStatus.REVOKED:
            statement = statement.where(col(Certificate.revoked_at).is_not(None))
        elif query.status is CertificateStatus.EXPIRED:
            statement = statement.where(
                col(Certificate.revoked_at).is_(None), col(Certificate.not_after) <= now
            )
        elif query.status is CertificateStatus.VALID:
            statement = statement.where(
                col(Certificate.revoked_at).is_(None), col(Certificate.not_after) > now
            )
        if query.expiring_before is not None:
            statement = statement.where(
                col(Certificate.revoked_at).is_(None), col(Certificate.not_after) < query.expiring_before
            )
        if query.after_serial:
            statement = statement.where(col(Certificate.serial) > query.after_serial)
        statement = statement.order_by(col(Certificate.serial)).limit(query.limit)
        with self.database.session() as session:
            return list(session.exec(statement).all())

    def tenant_id_of(self, tenant: str) -> str:
        with self.database.session() as session:
            return get_tenant(session, tenant).id

    def expiry_counts(self, *, now: dt.datetime, tenant_id: str | None) -> list[ExpiryCount]:
        not_after = col(Certificate.not_after)
        within = [
            func.coalesce(func.sum(case((not_after < now + dt.timedelta(days=days), 1), else_=0)), 0)
            for days in (7, 30)
        ]
        statement = (
            select(Certificate.profile, *within)
            .where(
                col(Certificate.revoked_at).is_(None),
                not_after > now,
                not_after < now + dt.timedelta(days=30),
            )
            .group_by(Certificate.profile)
            .order_by(Certificate.profile)
        )
        if tenant_id is not None:
            statement = statement.where(Certificate.tenant_id == tenant_id)
        with self.database.session() as session:
            rows: list[Any] = list(session.exec(statement).all())
        return [ExpiryCount(str(row[0]), int(row[1]), int(row[2])) for row in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _aware(value: dt.datetime) -> dt.datetime:
    # Raw column reads skip the UTCDateTime decorator on some drivers.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
