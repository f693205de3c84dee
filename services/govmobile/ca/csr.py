"""Certificate signing requests (RFC 2986): parsing and the checks every CSR must pass.

A CSR proves possession of a key and may suggest names; it never decides extensions, validity
or key usage — the profile does.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from govmobile.core.errors import InvalidInput

_PEM_HEADERS = (b"-----BEGIN CERTIFICATE REQUEST-----", b"-----BEGIN NEW CERTIFICATE REQUEST-----")
MAX_CSR_BYTES = 16 * 1024


@dataclass(frozen=True)
class KeyPolicy:
    """Which public keys the CA accepts in a CSR."""

    approved_curves: frozenset[str] = field(default_factory=lambda: frozenset({"secp256r1", "secp384r1"}))
    min_rsa_bits: int = 2048
    max_rsa_bits: int = 8192

    def check(self, public_key: object) -> None:
        """Refuse a weak or unapproved key with a message that names the problem."""
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if public_key.curve.name not in self.approved_curves:
                approved = ", ".join(sorted(self.approved_curves))
                raise InvalidInput(
                    f"the CSR's key uses curve {public_key.curve.name}, which is not approved; "
                    f"use one of: {approved}",
                    code="weak_key",
                )
            return
        if isinstance(public_key, rsa.RSAPublicKey):
            bits = public_key.key_size
            if bits < self.min_rsa_bits:
                raise InvalidInput(
                    f"the CSR's RSA key has {bits} bits; at least {self.min_rsa_bits} are required",
                    code="weak_key",
                )
            if bits > self.max_rsa_bits:
                raise InvalidInput(
                    f"the CSR's RSA key has {bits} bits; at most {self.max_rsa_bits} are accepted",
                    code="weak_key",
                )
            if public_key.public_numbers().e != 65537:
                raise InvalidInput("the CSR's RSA key must use the public exponent 65537", code="weak_key")
            return
        raise InvalidInput(
            f"the CSR's key type ({type(public_key).__name__}) is not accepted; use ECDSA P-256",
            code="weak_key",
        )


@dataclass(frozen=True)
class RequestedNames:
    """The subject alternative names a CSR asks for."""

    dns: tuple[str, ...] = ()
    ip: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.dns or self.ip)


def parse_csr(data: bytes | str) -> x509.CertificateSigningRequest:
    """Parse a CSR given as PEM, base64 DER (as EST sends it) or raw DER."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_CSR_BYTES:
        raise InvalidInput(f"the CSR is larger than {MAX_CSR_BYTES} bytes", code="invalid_csr")
    stripped = raw.strip()
    if not stripped:
        raise InvalidInput("the CSR is empty", code="invalid_csr")
    try:
        if raw[:1] == b"\x30":
            # Raw DER is binary: its last byte (part of the signature) is whitespace in about one
            # request in 40, so it is parsed as given, never stripped.
            return x509.load_der_x509_csr(raw)
        if any(header in stripped for header in _PEM_HEADERS):
            return x509.load_pem_x509_csr(stripped.replace(b"NEW CERTIFICATE", b"CERTIFICATE"))
        if stripped.startswith(b"-----BEGIN"):
            raise InvalidInput(
                "the PEM block is not a certificate request (expected BEGIN CERTIFICATE REQUEST)",
                code="invalid_csr",
            )
        der = base64.b64decode(b"".join(stripped.split()), validate=True)
        return x509.load_der_x509_csr(der)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput(
            "the CSR is not a valid PKCS#10 request in PEM, base64 DER or DER form",
            code="invalid_csr",
        ) from exc


def check_csr(csr: x509.CertificateSigningRequest, policy: KeyPolicy) -> RequestedNames:
    """Verify the CSR's self-signature and key, and return the names it asks for."""
    try:
        public_key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise InvalidInput("the CSR's public key cannot be read", code="invalid_csr") from exc
    policy.check(public_key)
    try:
        signature_ok = csr.is_signature_valid
    except (ValueError, TypeError):
        signature_ok = False
    if not signature_ok:
        raise InvalidInput(
            "the CSR's signature does not verify: it was not signed by the key it carries",
            code="bad_csr_signature",
        )
    return requested_names(csr)


def requested_names(csr: x509.CertificateSigningRequest) -> RequestedNames:
    """The DNS names and IP addresses of the CSR's subjectAltName, refusing other name types."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return RequestedNames()
    except (ValueError, x509.DuplicateExtension) as exc:
        raise InvalidInput("the CSR's extensions cannot be parsed", code="invalid_csr") from exc
    dns: list[str] = []
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for name in san:
        if isinstance(name, x509.DNSName):
            dns.append(name.value)
        elif isinstance(name, x509.IPAddress) and not isinstance(
            name.value, (ipaddress.IPv4Network, ipaddress.IPv6Network)
        ):
            ips.append(name.value)
        else:
            raise InvalidInput(
                f"the CSR asks for a {type(name).__name__} name; only DNS names and IP "
                "addresses can be requested",
                code="name_not_allowed",
            )
    return RequestedNames(tuple(dns), tuple(ips))
