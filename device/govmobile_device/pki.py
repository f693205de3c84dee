"""Keys, CSRs and certificate chains for EST enrollment (RFC 7030) and the pinned root.

The device makes its own key (ECDSA P-256); the private key never leaves it. What comes back
is a certs-only PKCS#7 (RFC 7030 §4.1.3, §4.2.3) whose certificates are a SET, in no useful
order: the device finds its own certificate by its public key, and the chain must verify up to
the root whose SHA-256 fingerprint was pinned at enrollment.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from govmobile_device.errors import TrustFailure, UsageError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def csr_base64(key: ec.EllipticCurvePrivateKey, serial_number: str) -> bytes:
    """Base64 DER PKCS#10 (RFC 7030 §4.2.1). The CA decides the subject; the serial number helps it find the device."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "govmobile-device"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER))


def read_certs_only(body: bytes) -> list[x509.Certificate]:
    """The certificates of a base64 certs-only PKCS#7 body."""
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(body.split())))
    except (ValueError, binascii.Error) as exc:
        raise TrustFailure(
            "the server's answer is not a PKCS#7 certificate bundle (is this a GovMobile gateway?)"
        ) from exc
    if not certificates:
        raise TrustFailure("the server's certificate bundle is empty")
    return certificates


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def normalise_fingerprint(text: str) -> str:
    """``AB:CD:...`` or ``abcd...`` → 64 lower-case hex digits (UsageError otherwise)."""
    folded = text.strip().lower()
    folded = folded.removeprefix("sha256:").removeprefix("sha256=").replace(":", "").replace(" ", "")
    if not _HEX64.match(folded):
        raise UsageError(
            "the CA fingerprint must be a SHA-256 in hex (64 digits, colons allowed), as shown with the "
            "enrollment token"
        )
    return folded


def is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def pinned_root(certificates: list[x509.Certificate], pin: str | None) -> x509.Certificate:
    """The root among ``certificates`` that matches the pin (with no pin: the only root, trusted on first use)."""
    roots = [c for c in certificates if is_self_signed(c)]
    if pin is not None:
        for root in roots:
            if fingerprint(root) == pin:
                return root
        seen = ", ".join(fingerprint(r) for r in roots) or "none"
        raise TrustFailure(
            f"the server's CA does not match the pinned fingerprint {pin} (the server offers root {seen}). "
            "Nothing was sent to it. Check the QR code or the fingerprint with your IT department; this "
            "may be an impostor server"
        )
    if len(roots) != 1:
        raise TrustFailure(f"the server offers {len(roots)} root certificates, expected exactly one")
    return roots[0]


def leaf_for(key: ec.EllipticCurvePrivateKey, certificates: list[x509.Certificate]) -> x509.Certificate:
    """Our certificate in an unordered bundle: the one that certifies our public key."""
    ours = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for certificate in certificates:
        theirs = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if theirs == ours:
            return certificate
    raise TrustFailure("the server's answer does not contain a certificate for this device's key")


def verify_client_chain(
    leaf: x509.Certificate,
    certificates: list[x509.Certificate],
    root: x509.Certificate,
    *,
    now: dt.datetime,
) -> list[x509.Certificate]:
    """Verify ``leaf`` as a TLS client certificate up to ``root`` (RFC 5280); return the intermediates."""
    intermediates = [c for c in certificates if c != leaf and not is_self_signed(c)]
    # Device certificates name the device in the subject, not in a subjectAltName, so the
    # Web PKI default that requires a SAN is relaxed; everything else (key usage, clientAuth,
    # validity, name constraints, path length) is checked as RFC 5280 says.
    leaf_policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([root]))
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=leaf_policy
        )
        .time(now.astimezone(dt.UTC).replace(tzinfo=None))
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise TrustFailure(
            f"the certificate the server issued does not chain to the pinned CA: {exc}"
        ) from exc
    return [c for c in verified.chain[1:] if c != root]


def common_name(certificate: x509.Certificate) -> str:
    values = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def organisational_unit(certificate: x509.Certificate) -> str:
    values = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(values[0].value) if values else ""


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def load_pem_list(text: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(text.encode()) if text.strip() else []
