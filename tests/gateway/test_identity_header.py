"""The Client-Cert header exactly as the real nginx sends it, read by the one shared parser
(govmobile.web.device_identity) that the MDM, the portal and the gateway's control plane use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govmobile.ca import keyfiles
from govmobile.ca.hierarchy import CaLayout
from govmobile.web.device_identity import client_cert_header, parse_client_cert
from tests.support.gateway import Gateway
from tests.support.servers import serving
from tests.support.upstreams import RecordingUpstream


@pytest.fixture
def recorder() -> Iterator[tuple[RecordingUpstream, str]]:
    recording = RecordingUpstream()
    with serving(recording.app()) as url:
        yield recording, url


@pytest.fixture
def mdm_url(recorder: tuple[RecordingUpstream, str]) -> str:
    """The gateway forwards device requests to a recorder standing where the MDM would be."""
    return recorder[1]


def device_certificate(ca_layout: CaLayout, directory: Path) -> tuple[tuple[Path, Path], bytes]:
    """A client certificate from the test issuing CA, as the device profile makes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuing = keyfiles.read_certificates(ca_layout.issuing_certificate)[0]
    issuing_key = keyfiles.read_private_key(ca_layout.issuing_key)
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev_header0000000000000001")]))
        .issuer_name(issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuing_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_file, key_file = directory / "device.crt", directory / "device.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfiles.write_private_key(key_file, key)
    return (cert_file, key_file), certificate.public_bytes(serialization.Encoding.DER)


def test_the_header_nginx_sends_is_the_one_the_services_and_the_stand_ins_use(
    gateway: Gateway, recorder: tuple[RecordingUpstream, str], ca_layout: CaLayout, tmp_path: Path
) -> None:
    files, der = device_certificate(ca_layout, tmp_path)
    with gateway.client(files) as client:
        response = client.post(
            "/api/v1/device/checkin", json={"posture": {}}, headers={"Client-Cert": "forged"}
        )
    assert response.status_code == 200, response.text
    (forwarded,) = [r for r in recorder[0].requests if r["path"] == "/api/v1/device/checkin"]
    sent = forwarded["headers"]["client-cert"]
    assert parse_client_cert(sent) == der
    # The test stand-ins of the gateway send the very same bytes.
    assert sent == client_cert_header(der)
