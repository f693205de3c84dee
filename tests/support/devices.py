"""The scripted device for server tests: it enrolls over EST and speaks the device protocol.

One device, two transports:

- ``StraightToMdm``: to the MDM itself, with the identity headers exactly as the gateway writes
  them (``Client-Cert`` with the certificate as the URL-escaped PEM nginx sends, and the gateway's
  proof), for tests that run without the gateway;
- ``ThroughGateway``: to the real gateway (nginx), with mutual TLS; the device's key and
  certificate are kept as files, as a TLS client needs them.

The device agent's own tests drive the real agent (``govmobile_device``) instead; the deploy tests
use curl and the agent against the deployed appliance (``tests/deploy/clients.py``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from bench.support.postures import COMPLIANT_POSTURE
from govmobile.ca import keyfiles
from govmobile.web.device_identity import client_cert_header

#: A compliant tablet's posture (the benchmarks report the same).
GOOD_POSTURE = COMPLIANT_POSTURE


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


class Transport(Protocol):
    """How a scripted device's requests reach the service."""

    def post(self, device: ScriptedDevice, path: str, *, identified: bool, **kwargs: Any) -> httpx.Response:
        """POST ``path``; ``identified``: as the device with its certificate (not for enrollment)."""
        ...

    def keep(self, device: ScriptedDevice) -> None:
        """The device has a new key and certificate."""
        ...


@dataclass
class StraightToMdm:
    """Straight to the MDM, with the identity headers the gateway would add."""

    client: httpx.Client
    gateway_secret: str

    def post(self, device: ScriptedDevice, path: str, *, identified: bool, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if identified:
            headers = {**device.identity(), **headers}
        return self.client.post(path, headers=headers, **kwargs)

    def keep(self, device: ScriptedDevice) -> None:
        """Nothing to keep: the headers are made from the certificate on every request."""


class TlsEndpoint(Protocol):
    def client(self, cert: tuple[Path, Path] | None = None, **kwargs: Any) -> httpx.Client: ...


@dataclass
class ThroughGateway:
    """Through the real gateway with mutual TLS; key and certificate kept in ``directory``."""

    gateway: TlsEndpoint
    directory: Path

    @property
    def cert_files(self) -> tuple[Path, Path]:
        return self.directory / "device.crt", self.directory / "device.key"

    def post(self, device: ScriptedDevice, path: str, *, identified: bool, **kwargs: Any) -> httpx.Response:
        with self.gateway.client(self.cert_files if identified else None) as client:
            return client.post(path, **kwargs)

    def keep(self, device: ScriptedDevice) -> None:
        assert device.certificate is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        keyfiles.write_certificates(self.cert_files[0], [device.certificate])
        keyfiles.write_private_key(self.cert_files[1], device.key)


@dataclass
class ScriptedDevice:
    transport: StraightToMdm | ThroughGateway
    serial_number: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    certificate: x509.Certificate | None = None
    posture: dict[str, Any] = field(default_factory=lambda: dict(GOOD_POSTURE))

    @property
    def device_id(self) -> str:
        assert self.certificate is not None
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def enroll(self, token: str, **facts: Any) -> httpx.Response:
        headers = {
            "Content-Type": "application/pkcs10",
            "GovMobile-Device-Facts": facts_header(
                {"serial_number": self.serial_number, "model": "Tab S9", **facts}
            ),
        }
        response = self.transport.post(
            self,
            "/.well-known/est/simpleenroll",
            identified=False,
            content=base64.b64encode(csr_der(self.key)),
            headers=headers,
            auth=("device", token),
        )
        if response.status_code == 200:
            self.certificate = leaf_for(self.key, read_pkcs7(response.content))
            self.transport.keep(self)
        return response

    def identity(
        self, certificate: x509.Certificate | None = None, *, proof: str | None = None
    ) -> dict[str, str]:
        """The headers the gateway adds for this device's certificate (or ``certificate``)."""
        cert = certificate or self.certificate
        assert cert is not None
        assert isinstance(self.transport, StraightToMdm), "only a device without a gateway sends these itself"
        der = cert.public_bytes(serialization.Encoding.DER)
        return {
            "Client-Cert": client_cert_header(der),
            "GovMobile-Gateway-Proof": proof or self.transport.gateway_secret,
        }

    def report_apps(self, *apps: tuple[str, int, str], installed_apps: list[str] | None = None) -> None:
        """Report these apps, as (package, version code, signer), in the posture's inventory and
        its ``installed_apps`` (or ``installed_apps`` as given: what an agent without inventory sends)."""
        self.posture["app_inventory"] = [
            {"package": package, "version_code": version, "signer": signer}
            for package, version, signer in apps
        ]
        self.posture["installed_apps"] = (
            [package for package, _, _ in apps] if installed_apps is None else installed_apps
        )

    def checkin(self, results: list[dict[str, Any]] | None = None, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {"posture": self.posture, "results": results or []}
        body.update(overrides)
        return self.transport.post(self, "/api/v1/device/checkin", identified=True, json=body)

    def reenroll(self) -> httpx.Response:
        new_key = ec.generate_private_key(ec.SECP256R1())
        response = self.transport.post(
            self,
            "/.well-known/est/simplereenroll",
            identified=True,
            content=base64.b64encode(csr_der(new_key)),
            headers={"Content-Type": "application/pkcs10"},
        )
        if response.status_code == 200:
            self.key = new_key
            self.certificate = leaf_for(new_key, read_pkcs7(response.content))
            self.transport.keep(self)
        return response

    # Through the gateway only: what a TLS client of the device's own needs.

    @property
    def cert_files(self) -> tuple[Path, Path]:
        assert isinstance(self.transport, ThroughGateway), "a device straight to the MDM keeps no files"
        return self.transport.cert_files

    def tls_client(self) -> httpx.Client:
        """A new HTTP client presenting the device's certificate to the gateway."""
        assert isinstance(self.transport, ThroughGateway), "a device straight to the MDM has no TLS client"
        return self.transport.gateway.client(self.transport.cert_files)

    # Straight to the MDM only.

    @property
    def client(self) -> httpx.Client:
        """The HTTP client straight to the MDM (requests sent with it carry no identity by themselves)."""
        assert isinstance(self.transport, StraightToMdm), (
            "a device through the gateway has no client of its own"
        )
        return self.transport.client

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
