"""How a service behind the gateway knows which device is calling: the gateway vouches for it.

The gateway terminates mutual TLS, verifies the chain and the CRL, and forwards the verified
client certificate in the ``Client-Cert`` header, as nginx writes it: ``$ssl_client_escaped_cert``,
the certificate's PEM, URL-escaped. (RFC 9440's ``:<base64 DER>:`` form would need code in the
data plane on every request; nginx writes the escaped PEM natively. This module, the docs and the
test stand-ins all use the one format nginx sends.) The gateway always overwrites that header, so
a client cannot set it. A service accepts it only together with ``GovMobile-Gateway-Proof``, a
secret shared by the gateway and the services alone (generated at deployment, mounted as a file,
sent only over the internal network). A request that arrives any other way, from the internal
network without the secret or with a header forged by a client, is refused before any device
lookup.

Every service that serves devices (the MDM, the portal) and the gateway's own control plane read
the header with this module: one parser, one proof check. Whether the certificate may still be
used (revoked, expired, unknown to the CA) is ``govmobile.core.certificate_status``; which device
it is bound to is each service's own lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass

from cryptography import x509
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
    """The DER of the certificate in a ``Client-Cert`` header (URL-escaped PEM, as nginx sends it)."""
    try:
        pem = urllib.parse.unquote(value.strip(), errors="strict").encode()
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "the Client-Cert header does not hold a certificate", code="bad_client_cert"
        ) from exc
    return der


def client_cert_header(der: bytes) -> str:
    """The ``Client-Cert`` value the gateway sends for a certificate (what nginx's
    ``$ssl_client_escaped_cert`` holds), for the test stand-ins of the gateway and for tools."""
    pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()
    return urllib.parse.quote(pem, safe="")
