"""The MDM trusts a device identity only when the gateway vouches for it."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete

from govmobile.core.certificate_status import certificates
from govmobile.core.database import Database
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice, csr_der
from tests.support.mdm import Admin, Department, new_token


def _posture(device: ScriptedDevice) -> dict[str, Any]:
    return {"posture": device.posture}


@pytest.mark.parametrize(
    "proof", [None, "", "wrong-proof-0123456789abcdef", "gateway-proof-0123456789abcdeF"]
)
def test_identity_headers_without_the_gateway_proof_are_refused(
    enrolled: ScriptedDevice, platform: Admin, proof: str | None
) -> None:
    headers = enrolled.identity()
    if proof is None:
        del headers["GovMobile-Gateway-Proof"]
    else:
        headers["GovMobile-Gateway-Proof"] = proof
    response = enrolled.client.post("/api/v1/device/checkin", json=_posture(enrolled), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "not_via_gateway"
    assert platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")["last_seen_at"] is None


def test_no_client_certificate_is_refused(enrolled: ScriptedDevice) -> None:
    headers = enrolled.identity()
    del headers["Client-Cert"]
    response = enrolled.client.post("/api/v1/device/checkin", json=_posture(enrolled), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "no_client_certificate"


@pytest.mark.parametrize(
    "garbled",
    ["%2D%2D%2D%2D%2DBEGIN%20CERTIFICATE%2D%2D%2D%2D%2D%0Anot%20base64%0A", "not a certificate", "%FF%FE"],
)
def test_a_garbled_client_cert_header_is_refused(enrolled: ScriptedDevice, garbled: str) -> None:
    headers = {**enrolled.identity(), "Client-Cert": garbled}
    response = enrolled.client.post("/api/v1/device/checkin", json=_posture(enrolled), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_client_cert"


def test_the_rfc_9440_form_is_not_what_the_gateway_sends(enrolled: ScriptedDevice) -> None:
    """One format (the URL-escaped PEM nginx writes); the other is refused, not guessed."""
    assert enrolled.certificate is not None
    der = enrolled.certificate.public_bytes(serialization.Encoding.DER)
    headers = {**enrolled.identity(), "Client-Cert": f":{base64.b64encode(der).decode()}:"}
    response = enrolled.client.post("/api/v1/device/checkin", json=_posture(enrolled), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_client_cert"


def test_a_certificate_bound_to_another_device_is_refused(
    enrolled: ScriptedDevice, platform: Admin, water: Department, device_factory: Any
) -> None:
    other: ScriptedDevice = device_factory()
    other.enroll(new_token(platform, water))
    enrolled.checkin()
    impersonation = enrolled.checkin(device_id=other.device_id)
    assert impersonation.status_code == 403
    assert impersonation.json()["error"] == "certificate_of_another_device"
    assert platform.ok("GET", f"/api/v1/devices/{other.device_id}")["last_seen_at"] is None


def test_a_certificate_the_mdm_never_bound_is_refused(enrolled: ScriptedDevice, ca_layout: Any) -> None:
    from govmobile.ca.keyfiles import read_certificates

    issuing = read_certificates(ca_layout.issuing_certificate)[0]  # a real CA certificate, but no device's
    response = enrolled.client.post(
        "/api/v1/device/checkin", json=_posture(enrolled), headers=enrolled.identity(issuing)
    )
    assert response.status_code == 401
    assert response.json()["error"] == "certificate_not_bound"


def test_oversized_and_malformed_bodies(enrolled: ScriptedDevice) -> None:
    too_big = enrolled.client.post(
        "/api/v1/device/checkin",
        content=b"{" + b" " * (300 * 1024) + b"}",
        headers={**enrolled.identity(), "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    broken = enrolled.client.post(
        "/api/v1/device/checkin",
        content=b'{"posture": ',
        headers={**enrolled.identity(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert "not valid JSON" in broken.json()["message"]
    extra = enrolled.client.post(
        "/api/v1/device/checkin", json={"posture": {}, "admin": True}, headers=enrolled.identity()
    )
    assert extra.status_code == 422


def _revoke(ca_url: str, platform: Admin, device: ScriptedDevice, reason: str = "keyCompromise") -> None:
    assert device.certificate is not None
    serial = format(device.certificate.serial_number, "x")
    response = httpx.post(
        f"{ca_url}/api/v1/certificates/{serial}/revoke",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {platform.token}"},
    )
    assert response.status_code == 200, response.text


def _every_device_endpoint(device: ScriptedDevice) -> dict[str, httpx.Response]:
    """What a stolen key can ask for, each through the identity the gateway would vouch for."""
    headers = device.identity()
    return {
        "check-in": device.checkin(),
        "command results": device.checkin(
            results=[{"command_id": "00000000-0000-0000-0000-000000000000", "status": "acknowledged"}]
        ),
        "wake-up wait": device.client.get("/api/v1/device/wait", params={"timeout": 0.1}, headers=headers),
        "unenroll": device.client.post("/api/v1/device/unenroll", headers=headers),
        "EST re-enroll": device.client.post(
            "/.well-known/est/simplereenroll",
            content=base64.b64encode(csr_der(ec.generate_private_key(ec.SECP256R1()))),
            headers={**headers, "Content-Type": "application/pkcs10"},
        ),
    }


def test_a_revoked_certificate_is_refused_per_request_whatever_the_handshake_saw(
    enrolled: ScriptedDevice, platform: Admin, ca_url: str
) -> None:
    # The gateway vouches for the certificate (a resumed TLS session never saw the new CRL):
    # the MDM still refuses it, on the heartbeat's fast path as on every other endpoint.
    assert enrolled.checkin().status_code == 200
    assert enrolled.checkin().status_code == 200  # a heartbeat now
    seen = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    _revoke(ca_url, platform, enrolled)
    for name, response in _every_device_endpoint(enrolled).items():
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"] == "certificate_revoked", name
    after = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert (after["state"], after["last_seen_at"]) == ("active", seen["last_seen_at"])


def test_an_expired_certificate_is_refused_but_may_still_renew(
    enrolled: ScriptedDevice, clock: Clock
) -> None:
    assert enrolled.checkin().status_code == 200
    assert enrolled.certificate is not None
    clock.now = enrolled.certificate.not_valid_after_utc + dt.timedelta(minutes=1)
    refused = enrolled.checkin()
    assert refused.status_code == 401
    assert refused.json()["error"] == "certificate_expired"
    waited = enrolled.client.get("/api/v1/device/wait", params={"timeout": 0.1}, headers=enrolled.identity())
    assert waited.json()["error"] == "certificate_expired"
    # Renewal in the grace window is the CA's to judge, and it allows it.
    assert enrolled.reenroll().status_code == 200
    assert enrolled.checkin().status_code == 200


def test_a_certificate_the_ca_never_issued_is_refused(enrolled: ScriptedDevice, database: Database) -> None:
    # Bound to the device in the MDM's table, but missing from the CA's: refuse, never assume.
    assert enrolled.checkin().status_code == 200
    assert enrolled.certificate is not None
    with database.transaction() as session:
        session.connection().execute(
            delete(certificates).where(
                certificates.c.sha256 == enrolled.certificate.fingerprint(hashes.SHA256()).hex()
            )
        )
    refused = enrolled.checkin()
    assert refused.status_code == 401
    assert refused.json()["error"] == "certificate_not_bound"
