"""Enrollment over Secure Transport (RFC 7030) encodings.

Requests carry a base64 PKCS#10 (§4.2.1) and responses a base64 PKCS#7 certs-only structure
(§4.1.3, §4.2.3) with ``Content-Transfer-Encoding: base64``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from govmobile.core.errors import InvalidInput, Unauthenticated
from govmobile.web.device_identity import PresentedCertificate

CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only"
MAX_CSR_BYTES = 16 * 1024


def certs_only(certificates: list[x509.Certificate]) -> bytes:
    """Base64 (with line breaks every 76 characters) of a degenerate PKCS#7 SignedData."""
    der = pkcs7.serialize_certificates(certificates, serialization.Encoding.DER)
    return base64.encodebytes(der)


def read_csr(body: bytes) -> x509.CertificateSigningRequest:
    """The CSR of an EST request: base64 DER (PEM is accepted too, for hand-made requests)."""
    if len(body) > MAX_CSR_BYTES:
        raise InvalidInput(f"the CSR is larger than {MAX_CSR_BYTES} bytes", code="invalid_csr")
    stripped = body.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(stripped)
        return x509.load_der_x509_csr(base64.b64decode(b"".join(stripped.split()), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput(
            "the body is not a base64-encoded PKCS#10 certificate request (RFC 7030 §4.2.1)",
            code="invalid_csr",
        ) from exc


def csr_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode()


EXPIRED_CERT_HEADER = "govmobile-expired-certificate"
POSSESSION_HEADER = "govmobile-possession-signature"


def proven_possession(
    certificate_b64: str | None, signature_b64: str | None, csr_der: bytes
) -> PresentedCertificate:
    """An expired certificate whose key signed the renewal request: renewal in the grace window.

    TLS cannot carry an expired certificate (the gateway refuses it in the handshake), so the
    device proves it still holds the old key by signing the new CSR with it (ECDSA-SHA256 over
    the CSR's DER). The CA then decides whether the certificate is inside the grace window and
    never revoked; the MDM accepts only a certificate bound to a device.
    """
    if not certificate_b64 or not signature_b64:
        raise Unauthenticated(
            "renewing an expired certificate needs GovMobile-Expired-Certificate and GovMobile-Possession-Signature",
            code="possession_proof_required",
        )
    try:
        der = base64.b64decode(certificate_b64, validate=True)
        certificate = x509.load_der_x509_certificate(der)
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput(
            "the expired certificate or the possession signature is not valid base64 DER",
            code="bad_possession_proof",
        ) from exc
    public_key = certificate.public_key()
    try:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public_key.verify(signature, csr_der, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Unauthenticated(
            "the possession signature does not verify with the expired certificate's key",
            code="bad_possession_proof",
        ) from None
    return PresentedCertificate(der, hashlib.sha256(der).hexdigest())
