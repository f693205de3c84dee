"""Enrollment over EST through the gateway stub: pinning, tokens, refusals, the state it leaves."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import stat
import urllib.parse
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govmobile.ca import keyfiles
from govmobile.ca.hierarchy import CaLayout
from tests.device.conftest import GATEWAY_SECRET, Admin, Department, Tablet, new_token, server_view
from tests.support.ca import DEPLOY_SECRET, Clock
from tests.support.gateway_stub import GatewayStub, issue_server_certificate
from tests.support.pki import make_ca


def token_status(admin: Admin, department: Department) -> list[str]:
    tokens = admin.ok("GET", "/api/v1/enrollment-tokens", params={"tenant_id": department.tenant_id})
    return [t["status"] for t in tokens]


def test_enroll_with_token_and_fingerprint(device: Tablet, platform: Admin, water: Department) -> None:
    outcome = device.enroll(new_token(platform, water))
    assert outcome.code == 0, outcome.err
    assert "enrolled as device" in outcome.out
    identity = device.store.load_identity()
    view = server_view(platform, identity.device_id)
    assert view["state"] == "enrolled"
    assert view["tenant_id"] == water.tenant_id == identity.tenant_id
    assert view["serial_number"] == device.profile.load().serial_number
    assert view["cert_serial"] == format(identity.certificate.serial_number, "x")
    # The chain the agent keeps ends at the pinned root; the intermediate is the issuing CA.
    assert identity.ca_sha256 == device.pin
    assert [c.subject.rfc4514_string() for c in identity.intermediates] == [
        "CN=Test Issuing CA,O=GovMobile Test"
    ]


def test_enroll_from_the_qr_code_the_admin_api_gives(
    device: Tablet, platform: Admin, water: Department
) -> None:
    issued = platform.ok(
        "POST", "/api/v1/enrollment-tokens", json={"tenant_id": water.tenant_id, "person_id": water.person_id}
    )
    # The MDM advertises its public URL; the QR code from it names the real gateway, here the stub.
    query = urllib.parse.parse_qs(issued["qr_payload"].partition("?")[2])
    assert query["ca_sha256"] == [device.pin]
    qr = "govmobile:enroll?" + urllib.parse.urlencode(
        {"server": device.server, "ca_sha256": query["ca_sha256"][0], "token": query["token"][0]}
    )
    outcome = device("enroll", "--qr", qr)
    assert outcome.code == 0, outcome.err
    assert server_view(platform, device.device_id)["state"] == "enrolled"


def test_refuses_without_a_fingerprint_and_sends_nothing(
    device: Tablet, platform: Admin, water: Department, gateway: GatewayStub
) -> None:
    outcome = device("enroll", "--server", device.server, "--token", new_token(platform, water))
    assert outcome.code == 2
    assert "without the CA fingerprint" in outcome.err
    assert gateway.requests == 0
    assert token_status(platform, water) == ["active"]


def test_insecure_first_use_trusts_and_says_so(device: Tablet, platform: Admin, water: Department) -> None:
    outcome = device(
        "enroll", "--server", device.server, "--token", new_token(platform, water), "--insecure-first-use"
    )
    assert outcome.code == 0, outcome.err
    assert (
        f"WARNING: trusted the server's CA on first use without checking it: SHA-256 {device.pin}"
        in outcome.err
    )


def test_wrong_fingerprint_is_refused_before_the_token_is_sent(
    device: Tablet, platform: Admin, water: Department
) -> None:
    outcome = device(
        "enroll",
        "--server",
        device.server,
        "--token",
        new_token(platform, water),
        "--ca-fingerprint",
        "ab" * 32,
    )
    assert outcome.code == 6
    assert "does not match the pinned fingerprint" in outcome.err
    assert "Nothing was sent" in outcome.err
    assert token_status(platform, water) == ["active"]  # the token was never presented
    assert not device.store.is_enrolled()


def test_a_server_whose_tls_does_not_chain_to_the_pinned_root_is_refused(
    tmp_path: Path,
    ca_url: str,
    mdm_url: str,
    clock: Clock,
    device: Tablet,
    platform: Admin,
    water: Department,
) -> None:
    # An impostor in the middle: it relays the real MDM (so cacerts shows the right root) but
    # its TLS certificate comes from another CA.
    chain, key = _server_certificate_from(make_ca(tmp_path / "other-ca"))
    _, _, trusted = issue_server_certificate(ca_url, ("deploy", DEPLOY_SECRET))
    impostor = GatewayStub(
        mdm_url,
        gateway_secret=GATEWAY_SECRET,
        certificate_chain_pem=chain,
        key_pem=key,
        trusted_ca_pem=trusted,
        clock=clock,
    )
    with impostor.serving() as url:
        outcome = device(
            "enroll", "--server", url, "--token", new_token(platform, water), "--ca-fingerprint", device.pin
        )
    assert outcome.code == 6
    assert "is not trusted: its TLS certificate does not verify against the pinned CA" in outcome.err
    assert token_status(platform, water) == ["active"]


def _server_certificate_from(layout: CaLayout) -> tuple[bytes, bytes]:
    """A server certificate for 127.0.0.1 from another CA (signed here, without a CA service)."""
    issuer_key = keyfiles.read_private_key(layout.issuing_key)
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    issuer = x509.load_pem_x509_certificate(layout.issuing_certificate.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = certificate.public_bytes(pem) + issuer.public_bytes(pem)
    return chain, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_a_used_token_is_refused_with_the_servers_message(
    device_factory: Any, platform: Admin, water: Department
) -> None:
    token = new_token(platform, water)
    assert device_factory("first").enroll(token).code == 0
    second = device_factory("second")
    outcome = second.enroll(token)
    assert outcome.code == 5
    assert "token_used" in outcome.err
    assert not second.store.is_enrolled()


def test_server_unreachable(device: Tablet, platform: Admin, water: Department) -> None:
    outcome = device(
        "--timeout",
        "3",
        "enroll",
        "--server",
        "https://127.0.0.1:9",
        "--token",
        "gme_x",
        "--ca-fingerprint",
        device.pin,
    )
    assert outcome.code == 4
    assert "cannot reach https://127.0.0.1:9" in outcome.err
    assert "Traceback" not in outcome.err


def test_plain_http_and_bad_input_are_usage_errors(device: Tablet) -> None:
    assert (
        device(
            "enroll", "--server", "http://127.0.0.1:1", "--token", "t", "--ca-fingerprint", device.pin
        ).code
        == 2
    )
    bad_pin = device("enroll", "--server", device.server, "--token", "t", "--ca-fingerprint", "12:34")
    assert bad_pin.code == 2
    assert "64 digits" in bad_pin.err
    assert device("enroll", "--qr", "https://example.org/?token=x").code == 2
    assert device("enroll", "--qr", "govmobile:enroll?server=https%3A%2F%2Fx").code == 2
    assert device("enroll").code == 2


def test_enrolled_twice_needs_force_and_reenrolls_the_same_device(
    enrolled: Tablet, platform: Admin, water: Department
) -> None:
    first = enrolled.store.load_identity()
    assert enrolled.enroll(new_token(platform, water)).code == 3
    outcome = enrolled.enroll(new_token(platform, water), "--force")
    assert outcome.code == 0, outcome.err
    second = enrolled.store.load_identity()
    # Same hardware serial, so the server re-enrolls the same device with a new certificate.
    assert second.device_id == first.device_id
    assert second.certificate.serial_number != first.certificate.serial_number


def test_state_is_private_and_the_key_is_encrypted_at_rest(enrolled: Tablet) -> None:
    state = enrolled.state
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    identity = enrolled.store.load_identity()
    der = identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secret_scalar = identity.key.private_numbers().private_value.to_bytes(32, "big")
    for path in state.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert der not in content, path
            assert secret_scalar not in content, path
    record = json.loads((state / "identity.json").read_text())
    assert "PRIVATE KEY" not in json.dumps(record)


def test_sm4_gcm_and_a_passphrase(device_factory: Any, platform: Admin, water: Department) -> None:
    device = device_factory("sm4", GOVMOBILE_DEVICE_PASSPHRASE="correct horse battery staple")
    outcome = device.enroll(new_token(platform, water), "--cipher", "sm4-gcm")
    assert outcome.code == 0, outcome.err
    assert "sealed with sm4-gcm (passphrase)" in outcome.out
    assert not (device.state / "keystore" / "device.secret").exists()
    assert device.ok("checkin").code == 0
    device.environ["GOVMOBILE_DEVICE_PASSPHRASE"] = "wrong"
    wrong = device("checkin")
    assert wrong.code == 8
    assert "the passphrase is wrong" in wrong.err
    del device.environ["GOVMOBILE_DEVICE_PASSPHRASE"]
    missing = device("checkin")
    assert missing.code == 8
    assert "set GOVMOBILE_DEVICE_PASSPHRASE" in missing.err
