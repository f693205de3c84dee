"""How answers and failures from the gateway become the agent's messages and exit codes."""

from __future__ import annotations

import ssl

import httpx
import pytest

from govmobile_device.errors import (
    CertificateRejected,
    ServerRefused,
    ServerUnreachable,
    TrustFailure,
    UsageError,
)
from govmobile_device.gateway import check_server_url, refusal, transport_error
from tests.device.conftest import Tablet
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
    [(495, "certificate_revoked"), (496, "http_496"), (401, "certificate_not_bound"), (403, "device_wiped")],
)
def test_certificate_refusals(status: int, code: str) -> None:
    body = {"error": code, "message": "refused"} if not code.startswith("http_") else None
    error = refusal(
        answer(status, body) if body else answer(status, text="<html>No required SSL certificate</html>")
    )
    assert isinstance(error, CertificateRejected)
    assert error.exit_code == 7
    assert "enroll again" in error.message


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_unavailable_is_retryable(status: int) -> None:
    error = refusal(answer(status, text="<html>Bad Gateway</html>"))
    assert isinstance(error, ServerUnreachable)
    assert "try again later" in error.message


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


def test_server_urls() -> None:
    assert check_server_url(" https://gm.water.example/ ") == "https://gm.water.example"
    assert check_server_url("https://gm.example:8443/base/") == "https://gm.example:8443/base"
    for bad in ("http://gm.example", "gm.example", "https://", "https://gm.example/?x=1"):
        with pytest.raises(UsageError):
            check_server_url(bad)


def test_the_stub_never_forwards_identity_headers_a_client_sets(gateway: GatewayStub, device: Tablet) -> None:
    forged = {"Client-Cert": ":AAAA:", "GovMobile-Gateway-Proof": "guess"}
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with httpx.Client(base_url=gateway.url, verify=context) as client:
        response = client.post("/api/v1/device/checkin", json={"posture": {}}, headers=forged)
    # No client certificate in TLS: the stub vouches for none, so the MDM sees none.
    assert response.status_code == 401
    assert response.json()["error"] == "no_client_certificate"
