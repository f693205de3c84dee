"""Revocation holds per request, not only at the handshake: a TLS session resumed with
``openssl s_client -sess_in`` skips the handshake's CRL check, so every device-facing endpoint
must refuse a revoked certificate however the connection was made (issue 10, item 1)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.devices import GOOD_POSTURE, ScriptedDevice
from tests.support.gateway import DECISION_TIMEOUT, Gateway
from tests.support.mdm import Admin
from tests.support.upstreams import RecordingUpstream

pytestmark = pytest.mark.usefixtures("oa_route")


@dataclass(frozen=True)
class Exchange:
    reused: bool
    status: int
    body: str


def s_client(
    gateway: Gateway,
    device: ScriptedDevice,
    request: bytes,
    *,
    version: str,
    sess_out: Path | None = None,
    sess_in: Path | None = None,
) -> Exchange:
    """One HTTP request over ``openssl s_client``; whether the TLS session was resumed."""
    # -ign_eof: read the answer to the end; the request asks the server to close.
    command = [*gateway.s_client(version, device.cert_files), "-ign_eof"]
    if sess_out is not None:
        command += ["-sess_out", str(sess_out)]
    if sess_in is not None:
        command += ["-sess_in", str(sess_in)]
    result = subprocess.run(command, input=request, capture_output=True, timeout=30)
    out = result.stdout.decode(errors="replace")
    match = re.search(r"^HTTP/1\.1 (\d{3}) (.*?)\r\n\r\n(.*)", out, re.M | re.S)
    if match is None:
        return Exchange("Reused, TLS" in out, 0, out[-2000:])
    length = re.search(r"^content-length: (\d+)", match.group(2), re.M | re.I)
    body = match.group(3)[: int(length.group(1))] if length else match.group(3)
    return Exchange("Reused, TLS" in out, int(match.group(1)), body)


def http_request(method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


CHECKIN = http_request("POST", "/api/v1/device/checkin", {"posture": GOOD_POSTURE, "results": []})

#: Every device-facing endpoint that takes a client certificate, as a request a stolen key could send.
DEVICE_ENDPOINTS = {
    "check-in": CHECKIN,
    "command results": http_request(
        "POST",
        "/api/v1/device/checkin",
        {
            "posture": GOOD_POSTURE,
            "results": [{"command_id": "00000000-0000-0000-0000-000000000000", "status": "acknowledged"}],
        },
    ),
    "wake-up wait": http_request("GET", "/api/v1/device/wait?timeout=1"),
    "unenroll": http_request("POST", "/api/v1/device/unenroll", {}),
    "EST re-enroll": b"POST /.well-known/est/simplereenroll HTTP/1.1\r\nHost: localhost\r\n"
    b"Connection: close\r\nContent-Type: application/pkcs10\r\nContent-Length: 4\r\n\r\nAAAA",
    "intranet app": http_request("GET", "/apps/oa/inbox"),
}


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_a_revoked_certificate_is_refused_over_a_resumed_session(
    gateway: Gateway,
    mobile: ScriptedDevice,
    management: Admin,
    upstream: tuple[RecordingUpstream, str],
    tmp_path: Path,
    version: str,
) -> None:
    session = tmp_path / "session.pem"
    first = s_client(gateway, mobile, CHECKIN, version=version, sess_out=session)
    assert (first.reused, first.status) == (False, 200), first.body
    assert s_client(gateway, mobile, CHECKIN, version=version, sess_in=session).reused  # resumption works
    before = management.ok("GET", f"/api/v1/devices/{mobile.device_id}")
    assert mobile.certificate is not None
    serial = format(mobile.certificate.serial_number, "x")
    management.ok("POST", f"/api/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    revoked = time.monotonic()

    def refused_by_the_gateway() -> bool:
        # The MDM refuses the certificate itself as soon as it is revoked (certificate_revoked,
        # tests/mdm/test_identity.py); here, the data plane's own refusal is awaited.
        exchange = s_client(gateway, mobile, CHECKIN, version=version, sess_in=session)
        assert exchange.reused, "the server no longer resumes the session: the test proves nothing"
        assert exchange.status in (200, 401), exchange.body
        return exchange.status == 401 and json.loads(exchange.body)["error"] == "certificate_refused"

    # Within the same five seconds in which a fresh handshake is refused.
    gateway.wait_until(refused_by_the_gateway, timeout=DECISION_TIMEOUT)
    assert time.monotonic() - revoked < 5
    seen_by_upstream = len(upstream[0].requests)
    for name, request in DEVICE_ENDPOINTS.items():
        exchange = s_client(gateway, mobile, request, version=version, sess_in=session)
        assert exchange.reused, name
        assert exchange.status == 401, (name, exchange.status, exchange.body)
        assert json.loads(exchange.body)["error"] == "certificate_refused", name
        assert "revoked" in json.loads(exchange.body)["message"], name
    assert len(upstream[0].requests) == seen_by_upstream  # nothing reached the intranet app
    # And the device was not touched by any of it: no check-in recorded, not unenrolled.
    after = management.ok("GET", f"/api/v1/devices/{mobile.device_id}")
    assert after["state"] == "active"
    assert after["last_seen_at"] == before["last_seen_at"]
