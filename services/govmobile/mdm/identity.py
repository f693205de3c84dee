"""How the MDM knows which device is calling: the gateway vouches for a verified certificate.

The gateway terminates mutual TLS, verifies the chain and the CRL, and forwards the verified
client certificate in the ``Client-Cert`` header (RFC 9440: ``:<base64 DER>:``). It always
overwrites that header, so a client cannot set it. The MDM accepts the header only together
with ``GovMobile-Gateway-Proof``, a secret shared by gateway and MDM alone (generated at
deployment, mounted as a file in both containers, sent only over the internal network). A
request that reaches the MDM any other way — from the internal network without the secret, or
with a header forged by a client — is refused before any device lookup.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from govmobile.core.errors import InvalidInput, Unauthenticated

CLIENT_CERT_HEADER = "client-cert"
GATEWAY_PROOF_HEADER = "govmobile-gateway-proof"


@dataclass(frozen=True)
class PresentedCertificate:
    der: bytes
    sha256: str

    def load(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


class GatewayTrust:
    """Checks that a request came through the gateway and extracts the certificate it vouches for."""

    def __init__(self, proof_secret: str) -> None:
        self._proof = hashlib.sha256(proof_secret.encode()).digest()

    def certificate(self, proof: str | None, client_cert: str | None) -> PresentedCertificate:
        """The verified certificate, or Unauthenticated when the gateway did not vouch for one."""
        offered = hashlib.sha256((proof or "").encode()).digest()
        if not proof or not hmac.compare_digest(offered, self._proof):
            raise Unauthenticated(
                "device endpoints accept requests only through the GovMobile gateway",
                code="not_via_gateway",
            )
        if not client_cert:
            raise Unauthenticated(
                "no client certificate: connect with your device certificate", code="no_client_certificate"
            )
        der = parse_client_cert(client_cert)
        return PresentedCertificate(der, hashlib.sha256(der).hexdigest())

    def vouches(self, proof: str | None) -> bool:
        """Whether the gateway sent this request, so that the headers it sets can be believed."""
        offered = hashlib.sha256((proof or "").encode()).digest()
        return bool(proof) and hmac.compare_digest(offered, self._proof)


def parse_client_cert(value: str) -> bytes:
    """RFC 9440 byte sequence (``:base64:``), or the URL-escaped PEM some proxies send."""
    value = value.strip()
    try:
        if value.startswith(":") and value.endswith(":"):
            der = base64.b64decode(value[1:-1], validate=True)
        else:
            pem = urllib.parse.unquote(value).encode()
            der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        x509.load_der_x509_certificate(der)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput(
            "the Client-Cert header does not hold a certificate", code="bad_client_cert"
        ) from exc
    return der


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
