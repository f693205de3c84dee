"""The MDM trusts a device identity only when the gateway vouches for it."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.mdm.conftest import Admin, Department, new_token
from tests.support.devices import ScriptedDevice


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


def test_a_garbled_client_cert_header_is_refused(enrolled: ScriptedDevice) -> None:
    headers = {**enrolled.identity(), "Client-Cert": ":bm90IGEgY2VydA==:"}
    response = enrolled.client.post("/api/v1/device/checkin", json=_posture(enrolled), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_client_cert"


def test_url_escaped_pem_is_accepted_too(enrolled: ScriptedDevice) -> None:
    assert enrolled.certificate is not None
    pem = enrolled.certificate.public_bytes(serialization.Encoding.PEM).decode()
    headers = {**enrolled.identity(), "Client-Cert": urllib.parse.quote(pem)}
    assert (
        enrolled.client.post("/api/v1/device/checkin", json=_posture(enrolled), headers=headers).status_code
        == 200
    )


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
