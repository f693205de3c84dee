"""The CA hierarchy: an offline root and the issuing intermediate that signs everything else.

Both use ECDSA P-256. The intermediate has ``pathLenConstraint = 0`` (it can issue only
end-entity certificates) and optional name constraints that bound every DNS name and IP
address a service certificate may carry.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import NameOID

from govmobile.ca import keyfiles
from govmobile.core.errors import ConfigurationError

ROOT_VALIDITY = dt.timedelta(days=20 * 365)
ISSUING_VALIDITY = dt.timedelta(days=10 * 365)
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew on relying parties


@dataclass(frozen=True)
class NamePolicy:
    """Name constraints for the issuing CA (RFC 5280 §4.2.1.10)."""

    permitted_dns: tuple[str, ...] = ()
    permitted_ip: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def extension(self) -> x509.NameConstraints | None:
        subtrees: list[x509.GeneralName] = [x509.DNSName(d) for d in self.permitted_dns]
        subtrees += [x509.IPAddress(n) for n in self.permitted_ip]
        return x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None) if subtrees else None

    @classmethod
    def parse(cls, dns: list[str], ip: list[str]) -> NamePolicy:
        try:
            networks = tuple(ipaddress.ip_network(n, strict=True) for n in ip)
        except ValueError as exc:
            raise ConfigurationError(f"bad IP range in name constraints: {exc}") from exc
        return cls(tuple(d.strip().lower().lstrip(".") for d in dns if d.strip()), networks)


@dataclass(frozen=True)
class CaLayout:
    """Where the CA keeps its files (the CA's volume in a deployment)."""

    directory: Path

    @property
    def root_certificate(self) -> Path:
        return self.directory / "root.crt"

    @property
    def issuing_certificate(self) -> Path:
        return self.directory / "issuing.crt"

    @property
    def issuing_key(self) -> Path:
        return self.directory / "issuing.key"

    @property
    def issuing_request(self) -> Path:
        return self.directory / "issuing.csr"

    def is_initialised(self) -> bool:
        return self.issuing_certificate.exists() and self.issuing_key.exists()


@dataclass(frozen=True)
class IssuerKey:
    """The issuing CA as the authority uses it: its certificate, key and chain up to the root."""

    certificate: x509.Certificate
    private_key: CertificateIssuerPrivateKeyTypes
    root: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())

    @property
    def name_policy(self) -> x509.NameConstraints | None:
        try:
            return self.certificate.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            return None


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_root(
    *, organisation: str, common_name: str, now: dt.datetime, validity: dt.timedelta = ROOT_VALIDITY
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new self-signed root: ECDSA P-256, CA without path length limit, long-lived."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(organisation, common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issuing_request(
    key: ec.EllipticCurvePrivateKey, *, organisation: str, common_name: str
) -> x509.CertificateSigningRequest:
    """A CSR for the issuing CA, to be signed by a root kept elsewhere."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(organisation, common_name))
        .sign(key, hashes.SHA256())
    )


def sign_issuing(
    csr: x509.CertificateSigningRequest,
    *,
    root_key: CertificateIssuerPrivateKeyTypes,
    root_certificate: x509.Certificate,
    names: NamePolicy,
    now: dt.datetime,
    validity: dt.timedelta = ISSUING_VALIDITY,
) -> x509.Certificate:
    """Sign an issuing CA certificate with the root: pathlen 0 and the given name constraints."""
    if not csr.is_signature_valid:
        raise ConfigurationError("the issuing CA's CSR signature does not verify")
    not_after = min(now + validity, root_certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(root_certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    constraints = names.extension()
    if constraints is not None:
        builder = builder.add_extension(constraints, critical=True)
    return builder.sign(root_key, hashes.SHA256())


def load_issuer(layout: CaLayout, *, passphrase: bytes | None = None) -> IssuerKey:
    """Load the issuing CA from its directory and check that key, certificate and root agree."""
    if not layout.is_initialised():
        raise ConfigurationError(
            f"no issuing CA in {layout.directory}; run `govmobile-ca init --ca-dir {layout.directory}`"
        )
    key = keyfiles.read_private_key(layout.issuing_key, passphrase=passphrase)
    certificate = keyfiles.read_certificates(layout.issuing_certificate)[0]
    root = keyfiles.read_certificates(layout.root_certificate)[0]
    return validate_issuer(key, certificate, root)


def validate_issuer(key: PrivateKeyTypes, certificate: x509.Certificate, root: x509.Certificate) -> IssuerKey:
    """Refuse an issuing CA whose key, constraints or signature do not fit together."""
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ConfigurationError("the issuing key must be ECDSA or RSA")
    if key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
        raise ConfigurationError("the issuing key does not belong to the issuing certificate")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ConfigurationError("the issuing certificate is not a CA certificate")
    if certificate.issuer != root.subject or not _signed_by(certificate, root):
        raise ConfigurationError("the issuing certificate was not signed by the given root")
    try:
        certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        raise ConfigurationError("the issuing certificate lacks a subject key identifier") from None
    return IssuerKey(certificate, key, root, (certificate, root))


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,  # signs OCSP responses directly
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
