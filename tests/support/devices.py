"""A scripted device for server tests: enrolls over EST and talks the device protocol.

It sends the identity headers exactly as the gateway will (Client-Cert with the verified
certificate, URL-escaped PEM as nginx writes it, and the gateway proof), because these tests run
without the gateway.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from govmobile.web.device_identity import client_cert_header

GOOD_POSTURE: dict[str, Any] = {
    "os_name": "android",
    "os_version": "14.0.2",
    "storage_encrypted": True,
    "passcode_set": True,
    "rooted": False,
    "installed_apps": [],
    "battery_percent": 80,
}


def csr_der(key: ec.EllipticCurvePrivateKey, serial_number: str | None = None) -> bytes:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, "tablet")]
    if serial_number:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes)).sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


def read_pkcs7(body: bytes) -> list[x509.Certificate]:
    return pkcs7.load_der_pkcs7_certificates(base64.b64decode(body))


def leaf_for(key: ec.EllipticCurvePrivateKey, certificates: list[x509.Certificate]) -> x509.Certificate:
    """PKCS#7 keeps certificates in a SET, in no useful order: find ours by its key."""
    ours = key.public_key().public_numbers()
    return next(c for c in certificates if c.public_key().public_numbers() == ours)  # type: ignore[union-attr]


def facts_header(facts: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(facts).encode()).decode().rstrip("=")


@dataclass
class ScriptedDevice:
    client: httpx.Client
    gateway_secret: str
    serial_number: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    certificate: x509.Certificate | None = None
    posture: dict[str, Any] = field(default_factory=lambda: dict(GOOD_POSTURE))

    @property
    def device_id(self) -> str:
        assert self.certificate is not None
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def enroll(self, token: str, **facts: Any) -> httpx.Response:
        body = base64.b64encode(csr_der(self.key))
        headers = {
            "Content-Type": "application/pkcs10",
            "GovMobile-Device-Facts": facts_header(
                {"serial_number": self.serial_number, "model": "Tab S9", **facts}
            ),
        }
        response = self.client.post(
            "/.well-known/est/simpleenroll", content=body, headers=headers, auth=("device", token)
        )
        if response.status_code == 200:
            self.certificate = leaf_for(self.key, read_pkcs7(response.content))
        return response

    def identity(
        self, certificate: x509.Certificate | None = None, *, proof: str | None = None
    ) -> dict[str, str]:
        cert = certificate or self.certificate
        assert cert is not None
        der = cert.public_bytes(serialization.Encoding.DER)
        return {
            "Client-Cert": client_cert_header(der),
            "GovMobile-Gateway-Proof": proof or self.gateway_secret,
        }

    def checkin(self, results: list[dict[str, Any]] | None = None, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {"posture": self.posture, "results": results or []}
        body.update(overrides)
        return self.client.post("/api/v1/device/checkin", json=body, headers=self.identity())

    def reenroll(self) -> httpx.Response:
        new_key = ec.generate_private_key(ec.SECP256R1())
        response = self.client.post(
            "/.well-known/est/simplereenroll",
            content=base64.b64encode(csr_der(new_key)),
            headers={**self.identity(), "Content-Type": "application/pkcs10"},
        )
        if response.status_code == 200:
            self.key = new_key
            self.certificate = leaf_for(new_key, read_pkcs7(response.content))
        return response
