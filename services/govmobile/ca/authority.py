"""The certificate authority's domain: sign, renew, revoke, publish_crl, answer_ocsp.

It knows nothing of HTTP. It keeps certificates through the narrow ``CertificateStore``
interface; ``govmobile.ca.store`` implements it on the shared database.

Issuance is "sign, then record, then return": the certificate is built in memory and only
leaves the authority after the store has committed it together with its audit event. A crash
in between leaves a certificate nobody ever received, never one issued but unrecorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID

from govmobile.ca import revocation_list
from govmobile.ca.csr import KeyPolicy, RequestedNames, check_csr, parse_csr
from govmobile.ca.hierarchy import IssuerKey
from govmobile.ca.keyfiles import load_certificates
from govmobile.ca.models import Certificate, CertificateStatus, RevocationReason
from govmobile.ca.profiles import CertifiedNames, Profile, ProfileName, SubjectRequest
from govmobile.ca.serials import normalise_serial, serial_text
from govmobile.core.database import utcnow
from govmobile.core.errors import Conflict, Gone, InvalidInput, NotFound

_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertificateQuery:
    """Filters for listing certificates; ``tenant_scope`` confines to one tenant."""

    serial: str | None = None
    text: str | None = None
    device_id: str | None = None
    tenant_id: str | None = None
    profile: str | None = None
    status: CertificateStatus | None = None
    expiring_before: dt.datetime | None = None
    tenant_scope: str | None = None
    after_serial: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class CrlDocument:
    number: int
    this_update: dt.datetime
    next_update: dt.datetime
    der: bytes
    revoked_count: int


@dataclass(frozen=True)
class ExpiryCount:
    """Unrevoked certificates of one profile that expire soon (the 30 days include the 7)."""

    profile: str
    within_7_days: int
    within_30_days: int


class CertificateStore(Protocol):
    """What the authority needs from storage."""

    def add_issued(self, certificate: Certificate, *, actor: str) -> None:
        """Record a new certificate and its audit event in one transaction."""

    def get(self, serial: str) -> Certificate | None: ...

    def get_by_sha256(self, sha256: str) -> Certificate | None: ...

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
        """Mark a certificate revoked (NotFound / Conflict otherwise) with its audit event.

        ``tenant_scope`` and ``profiles`` confine which certificates the caller may touch;
        one outside them is reported as not found."""

    def publish_crl(
        self,
        build: Callable[[int, Iterator[revocation_list.RevokedEntry]], bytes],
        *,
        now: dt.datetime,
        next_update: dt.datetime,
    ) -> CrlDocument:
        """Allocate the next CRL number, build the CRL from current revocations, and keep it."""

    def current_crl(self) -> CrlDocument | None: ...

    def revocation_count(self) -> int: ...

    def search(self, query: CertificateQuery, *, now: dt.datetime) -> list[Certificate]: ...

    def tenant_id_of(self, tenant: str) -> str:
        """The id of a department named by id or slug; NotFound when there is none."""

    def expiry_counts(self, *, now: dt.datetime, tenant_id: str | None) -> list[ExpiryCount]:
        """Valid certificates expiring within 7 and 30 days of ``now``, counted per profile."""


@dataclass(frozen=True)
class AuthorityPolicy:
    organisation: str = "GovMobile"
    renewal_grace: dt.timedelta = dt.timedelta(days=7)
    crl_lifetime: dt.timedelta = dt.timedelta(hours=24)
    #: Regenerate the CRL when less than this remains before its nextUpdate.
    crl_refresh_margin: dt.timedelta = dt.timedelta(hours=6)
    crl_url: str | None = None
    ocsp_url: str | None = None
    key_policy: KeyPolicy = field(default_factory=KeyPolicy)


@dataclass(frozen=True)
class Revocation:
    certificate: Certificate
    crl: CrlDocument


@dataclass(frozen=True)
class IssuedCertificate:
    record: Certificate
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    def chain_pem(self) -> list[str]:
        return [c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain]


class Authority:
    """The issuing CA at work."""

    def __init__(
        self,
        issuer: IssuerKey,
        store: CertificateStore,
        profiles: dict[ProfileName, Profile],
        policy: AuthorityPolicy,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.issuer = issuer
        self.store = store
        self.profiles = profiles
        self.policy = policy
        self.clock = clock

    # -- issuance -------------------------------------------------------------------------

    def sign(
        self, csr_data: bytes | str, profile_name: str, subject: SubjectRequest, *, actor: str
    ) -> IssuedCertificate:
        """Sign a CSR with a named profile and record the certificate."""
        profile = self.profiles[ProfileName.parse(profile_name)]
        csr = parse_csr(csr_data)
        csr_names = check_csr(csr, self.policy.key_policy)
        names = profile.certified_names(
            subject, csr_names, organisation=self.policy.organisation, constraints=self.issuer.name_policy
        )
        return self._issue(profile, csr.public_key(), names, actor=actor, renewed_from=None)

    def renew(
        self,
        certificate_data: bytes | str,
        csr_data: bytes | str,
        *,
        actor: str,
        allowed: frozenset[ProfileName] | None = None,
    ) -> IssuedCertificate:
        """Issue a successor for a valid certificate, or one expired within the grace window.

        A revoked certificate can never be renewed. ``allowed`` limits the profiles the caller
        may renew.
        """
        raw = certificate_data.encode() if isinstance(certificate_data, str) else certificate_data
        current = load_certificates(raw, what="the certificate to renew")[0]
        fingerprint = current.fingerprint(hashes.SHA256()).hex()
        record = self.store.get_by_sha256(fingerprint)
        if record is None or (allowed is not None and ProfileName(record.profile) not in allowed):
            raise NotFound("this certificate was not issued by this CA", code="unknown_certificate")
        now = self.clock()
        if record.revoked_at is not None:
            raise Conflict(
                "this certificate is revoked and can never be renewed; enroll again", code="revoked"
            )
        if record.not_after + self.policy.renewal_grace < now:
            raise Gone(
                "this certificate expired longer ago than the renewal grace window; enroll again",
                code="expired",
            )
        csr = parse_csr(csr_data)
        asked = check_csr(csr, self.policy.key_policy)
        profile = self.profiles[ProfileName.parse(record.profile)]
        subject = _subject_request_of(record, x509.load_pem_x509_certificate(record.pem.encode()))
        # A renewal certifies the same names as before; it cannot be used to add one.
        extra = ({*asked.dns} | {str(ip) for ip in asked.ip}) - {*subject.dns_names, *subject.ip_addresses}
        if extra:
            raise InvalidInput(
                f"a renewal cannot add names ({', '.join(sorted(extra))}); request a new certificate",
                code="name_not_allowed",
            )
        names = profile.certified_names(
            subject,
            RequestedNames(),
            organisation=self.policy.organisation,
            constraints=self.issuer.name_policy,
        )
        return self._issue(profile, csr.public_key(), names, actor=actor, renewed_from=record.serial)

    def _issue(
        self,
        profile: Profile,
        public_key: CertificatePublicKeyTypes,
        names: CertifiedNames,
        *,
        actor: str,
        renewed_from: str | None,
    ) -> IssuedCertificate:
        now = self.clock()
        issuer_cert = self.issuer.certificate
        not_after = min(now + profile.validity, issuer_cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(names.subject)
            .issuer_name(issuer_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(profile.key_usage(public_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usage)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                ),
                critical=False,
            )
        )
        if names.alt_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(names.alt_names)), critical=False
            )
        if self.policy.crl_url:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(self.policy.crl_url)], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
        if self.policy.ocsp_url:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self.policy.ocsp_url),
                        )
                    ]
                ),
                critical=False,
            )
        certificate = builder.sign(self.issuer.private_key, hashes.SHA256())
        record = Certificate(
            serial=serial_text(certificate.serial_number),
            profile=profile.name.value,
            subject=certificate.subject.rfc4514_string(),
            common_name=names.common_name,
            device_id=names.device_id,
            tenant_id=names.tenant_id,
            sha256=certificate.fingerprint(hashes.SHA256()).hex(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            issued_at=now,
            issued_by=actor,
            renewed_from=renewed_from,
            pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        )
        self.store.add_issued(record, actor=actor)
        return IssuedCertificate(record, certificate, self.issuer.chain)

    # -- revocation -----------------------------------------------------------------------

    def revoke(
        self,
        serial: str,
        reason: RevocationReason,
        *,
        actor: str,
        tenant_scope: str | None = None,
        allowed: frozenset[ProfileName] | None = None,
    ) -> Revocation:
        """Revoke a certificate for good and publish a CRL that lists it."""
        record = self.store.revoke(
            normalise_serial(serial),
            reason=reason,
            at=self.clock(),
            actor=actor,
            tenant_scope=tenant_scope,
            profiles=frozenset(p.value for p in allowed) if allowed is not None else None,
        )
        return Revocation(record, self.publish_crl())

    def publish_crl(self) -> CrlDocument:
        """Generate and keep a new CRL with the next number."""
        now = self.clock()
        next_update = now + self.policy.crl_lifetime

        def build(number: int, entries: Iterator[revocation_list.RevokedEntry]) -> bytes:
            return revocation_list.build_crl(
                self.issuer, entries, number=number, this_update=now, next_update=next_update
            )

        return self.store.publish_crl(build, now=now, next_update=next_update)

    def refresh_crl_if_due(self) -> CrlDocument:
        """Regenerate the CRL when it is missing, near its nextUpdate, or misses a revocation."""
        document = self.store.current_crl()
        now = self.clock()
        if (
            document is None
            or document.next_update - self.policy.crl_refresh_margin <= now
            or document.revoked_count != self.store.revocation_count()
        ):
            return self.publish_crl()
        return document

    # -- lookup ---------------------------------------------------------------------------

    def get_certificate(self, serial: str, *, tenant_scope: str | None = None) -> Certificate:
        """One certificate by serial, within the caller's tenant."""
        record = self.store.get(normalise_serial(serial))
        if record is None or (tenant_scope is not None and record.tenant_id != tenant_scope):
            raise NotFound(f"no certificate with serial {serial}")
        return record

    def expiry_overview(self, tenant: str | None, *, tenant_scope: str | None) -> list[ExpiryCount]:
        """Certificates expiring soon, per profile, within the caller's tenant (another is a NotFound)."""
        tenant_id = None if tenant is None else self.store.tenant_id_of(tenant)
        if tenant_id is not None and tenant_scope is not None and tenant_id != tenant_scope:
            raise NotFound("no such tenant")
        return self.store.expiry_counts(now=self.clock(), tenant_id=tenant_id or tenant_scope)

    def find_certificates(self, query: CertificateQuery) -> list[Certificate]:
        """Certificates matching the filters, ordered by serial, one page."""
        if query.serial is not None:
            query = replace(query, serial=normalise_serial(query.serial))
        return self.store.search(query, now=self.clock())


def _subject_request_of(record: Certificate, certificate: x509.Certificate) -> SubjectRequest:
    if record.profile == ProfileName.DEVICE.value:
        return SubjectRequest(device_id=record.device_id, tenant_id=record.tenant_id)
    if record.profile == ProfileName.SERVICE.value:
        try:
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return SubjectRequest()
        return SubjectRequest(
            dns_names=tuple(san.get_values_for_type(x509.DNSName)),
            ip_addresses=tuple(str(a) for a in san.get_values_for_type(x509.IPAddress)),
        )
    return SubjectRequest(common_name=record.common_name)
