"""How answers and failures from the gateway become the agent's messages and exit codes."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from govmobile.web.device_identity import client_cert_header
from govmobile_device.errors import (
    CertificateRejected,
    DeviceLocked,
    ServerRefused,
    ServerUnreachable,
    TrustFailure,
    UsageError,
)
from govmobile_device.gateway import (
    check_server_url,
    mutual_context,
    refusal,
    server_context,
    transport_error,
)
from tests.device.conftest import Admin, Department, new_token
from tests.support.gateway_stub import GatewayStub


def answer(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text)
    return httpx.Response(status, json=body)


def test_server_errors_keep_their_code_message_and_details() -> None:
    error = refusal(
        answer(409, {"error": "command_closed", "message": "closed", "details": {"command_ids": ["c1"]}})
    )
    assert isinstance(error, ServerRefused)
    assert not isinstance(error, CertificateRejected)
    assert (error.status, error.code, error.command_ids()) == (409, "command_closed", ["c1"])
    assert error.exit_code == 5


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "client_certificate_required"),  # the nginx gateway, docs/gateway.md
        (401, "certificate_refused"),
        (495, "certificate_revoked"),
        (496, "http_496"),
        (401, "certificate_not_bound"),  # the MDM
        (403, "device_wiped"),
    ],
)
def test_certificate_refusals(status: int, code: str) -> None:
    body = {"error": code, "message": "refused"} if not code.startswith("http_") else None
    error = refusal(
        answer(status, body) if body else answer(status, text="<html>No required SSL certificate</html>")
    )
    assert isinstance(error, CertificateRejected)
    assert error.exit_code == 7
    assert "enroll again" in error.message


def test_the_gateway_refusing_a_locked_device_is_a_lock() -> None:
    error = refusal(
        answer(403, {"error": "device_locked", "message": "access refused: the device is locked"})
    )
    assert isinstance(error, DeviceLocked)
    assert error.exit_code == 9


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_unavailable_is_retryable(status: int) -> None:
    error = refusal(answer(status, text="<html>Bad Gateway</html>"))
    assert isinstance(error, ServerUnreachable)
    assert "try again later" in error.message
    assert error.cause == f"http_{status}"


def test_tls_failures() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "unable to get local issuer certificate"
    wrapped = httpx.ConnectError("handshake failed")
    wrapped.__cause__ = verify
    assert isinstance(transport_error("https://gw", wrapped), TrustFailure)

    alert = ssl.SSLError(1, "[SSL: SSLV3_ALERT_CERTIFICATE_REVOKED] sslv3 alert certificate revoked")
    alert.reason = "SSLV3_ALERT_CERTIFICATE_REVOKED"
    read = httpx.ReadError("alert")
    read.__context__ = alert
    error = transport_error("https://gw", read)
    assert isinstance(error, CertificateRejected)
    assert error.code == "certificate_revoked"

    refused = transport_error("https://gw", httpx.ConnectError("[Errno 111] Connection refused"))
    assert isinstance(refused, ServerUnreachable)
    assert "cannot reach https://gw" in refused.message
    assert refused.cause == "connection"


def test_server_urls() -> None:
    assert check_server_url(" https://gm.water.example/ ") == "https://gm.water.example"
    assert check_server_url("https://gm.example:8443/base/") == "https://gm.example:8443/base"
    for bad in ("http://gm.example", "gm.example", "https://", "https://gm.example/?x=1"):
        with pytest.raises(UsageError):
            check_server_url(bad)


def test_the_stub_overwrites_identity_headers_a_client_sets(
    gateway: GatewayStub, device_factory: Any, platform: Admin, water: Department
) -> None:
    first, second = device_factory("first"), device_factory("second")
    for device in (first, second):
        assert device.enroll(new_token(platform, water)).code == 0
    other = second.store.load_identity().certificate.public_bytes(serialization.Encoding.DER)
    forged = {"Client-Cert": client_cert_header(other), "GovMobile-Gateway-Proof": "guess"}
    identity = first.store.load_identity()
    with httpx.Client(base_url=gateway.url, verify=mutual_context(identity)) as client:
        response = client.post("/api/v1/device/checkin", json={"posture": {}}, headers=forged)
    assert response.status_code == 200, response.text
    assert response.json()["device"]["id"] == identity.device_id
    # And without a certificate there is nothing to vouch for.
    with httpx.Client(base_url=gateway.url, verify=server_context(identity.root)) as client:
        anonymous = client.post("/api/v1/device/checkin", json={"posture": {}}, headers=forged)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "client_certificate_required"
