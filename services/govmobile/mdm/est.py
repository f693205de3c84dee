"""Enrollment over Secure Transport (RFC 7030) encodings.

Requests carry a base64 PKCS#10 (§4.2.1) and responses a base64 PKCS#7 certs-only structure
(§4.1.3, §4.2.3) with ``Content-Transfer-Encoding: base64``.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from govmobile.core.errors import InvalidInput

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
