"""The public listener against hostile or broken clients, driven by curl and openssl s_client.

Nothing refused here may reach an upstream: the recording intranet app must see none of it.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govmobile.ca import keyfiles
from govmobile.ca.hierarchy import CaLayout
from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.pki import ec_key, foreign_client_certificate
from tests.support.upstreams import RecordingUpstream

pytestmark = pytest.mark.usefixtures("oa_route")


def test_no_client_certificate_is_refused_everywhere_but_enrollment(
    gateway: Gateway, upstream: tuple[RecordingUpstream, str]
) -> None:
    for path in ("/apps/oa/", "/api/v1/device/checkin", "/.well-known/est/simplereenroll"):
        status, body = gateway.curl(path)
        assert status == 401, path
        assert json.loads(body)["error"] == "client_certificate_required"
    assert gateway.curl("/.well-known/est/cacerts")[0] == 200
    assert gateway.curl("/pki/crl")[0] == 200
    assert gateway.curl("/.well-known/jwks.json")[0] == 200
    assert upstream[0].requests == []


def test_a_certificate_from_another_ca_is_refused(
    gateway: Gateway, upstream: tuple[RecordingUpstream, str], tmp_path: Path
) -> None:
    status, body = gateway.curl("/apps/oa/", cert=foreign_client_certificate(tmp_path))
    assert status == 401
    assert json.loads(body)["error"] == "certificate_refused"
    assert "FAILED:unable to" in json.loads(body)["message"]
    assert upstream[0].requests == []


def test_an_expired_certificate_is_refused(
    gateway: Gateway, ca_layout: CaLayout, upstream: tuple[RecordingUpstream, str], tmp_path: Path
) -> None:
    issuing_key = keyfiles.read_private_key(ca_layout.issuing_key)
    issuing = keyfiles.read_certificates(ca_layout.issuing_certificate)[0]
    key = ec_key()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old-tablet")]))
        .issuer_name(issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(past)
        .not_valid_after(past + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuing_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    keyfiles.write_certificates(tmp_path / "old.crt", [certificate])
    keyfiles.write_private_key(tmp_path / "old.key", key)
    status, body = gateway.curl("/apps/oa/", cert=(tmp_path / "old.crt", tmp_path / "old.key"))
    assert status == 401
    assert json.loads(body)["error"] == "certificate_refused"
    assert "certificate has expired" in json.loads(body)["message"]
    assert upstream[0].requests == []


@pytest.mark.parametrize(
    "path",
    [
        "/apps/oa/../../api/v1/admins",
        "/apps/oa/%2e%2e/%2e%2e/api/v1/admins",
        "/apps/oa/%2E%2E%2F%2E%2E%2Fapi/v1/admins",
        "/apps/oa/..%2f..%2fapi/v1/admins",
        "/apps/oa/.%2e/secret",
        "/apps/oa/docs%00.pdf",
        "/apps/oa/a%5c..%5cb",
        "/apps/oa/a\\..\\b",
        # A dot segment right before the query or a fragment: nginx would normalise it away.
        "/apps/oa/..?",
        "/apps/oa/..?next=x",
        "/apps/oa/x/.?",
        "/apps/oa/..#top",
        "/apps/oa/a%2fb?next=%2Fhome",
        "/apps/oa/inbox?q=%00",
    ],
)
def test_path_traversal_never_reaches_an_upstream(
    gateway: Gateway, mobile: ScriptedDevice, upstream: tuple[RecordingUpstream, str], path: str
) -> None:
    status, body = gateway.curl(path, "--path-as-is", cert=mobile.cert_files)
    assert status == 400, body
    if "%00" not in path:  # nginx refuses a NUL while parsing the request line, with its own page
        assert json.loads(body)["error"] == "bad_request"
    assert upstream[0].requests == []


@pytest.mark.parametrize(
    "query",
    [
        "next=%2Fhome",
        "file=a%2Eb.pdf&dir=..%2F..%2Fx",
        "path=C:%5Cdocs%5C..%5Cx",
        "back=/apps/oa/../inbox",
        "raw=a/./b",
    ],
)
def test_the_query_is_the_upstreams_business(
    gateway: Gateway, mobile: ScriptedDevice, upstream: tuple[RecordingUpstream, str], query: str
) -> None:
    # The path guard tests the path only: encoded or plain dots, slashes and backslashes in a
    # query value reach the intranet app untouched.
    status, body = gateway.curl(f"/apps/oa/inbox?{query}", "--path-as-is", cert=mobile.cert_files)
    assert status == 200, body
    assert upstream[0].requests[-1]["path"] == "/inbox"
    assert upstream[0].requests[-1]["query"] == query


def test_the_management_listener_guards_paths_not_queries(gateway: Gateway, management: Any) -> None:
    context = ["--cacert", str(gateway.tls.root), "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}"]

    def status(path: str) -> int:
        result = subprocess.run(
            ["curl", "-sS", *context, f"{gateway.management_url}{path}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return int(result.stdout or 0)

    assert status("/healthz?next=%2Fconsole%2F") == 200
    assert status("/api/v1/devices?cursor=%2e%2e%2F") == 401  # reaches the MDM, which wants a login
    assert status("/api/v1/%2e%2e/admins") == 400
    assert status("/api/v1/devices/..?x") == 400


def test_client_sent_identity_headers_never_reach_the_upstream(
    gateway: Gateway, mobile: ScriptedDevice, upstream: tuple[RecordingUpstream, str]
) -> None:
    spoofed = {
        "Client-Cert": ":Zm9yZ2Vk:",
        "GovMobile-Gateway-Proof": "guessed-secret-0123456789",
        "GovMobile-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
        "GovMobile-Person": "minister",
        "X-Remote-User": "minister",
        "X-Remote-Groups": "cabinet",
        "Forwarded": "for=10.0.0.1;by=trusted",
    }
    args = [arg for name, value in spoofed.items() for arg in ("-H", f"{name}: {value}")]
    status, _ = gateway.curl("/apps/oa/inbox", *args, cert=mobile.cert_files)
    assert status == 200
    seen = upstream[0].headers_seen()[-1]
    assert seen["x-remote-user"] == "water-inspector"
    assert seen["x-remote-groups"] == "field-staff"
    assert seen["govmobile-assertion"] != spoofed["GovMobile-Assertion"]
    for header in ("client-cert", "govmobile-gateway-proof", "govmobile-person", "forwarded"):
        assert header not in seen, header


def test_identity_headers_sent_to_the_mdm_are_replaced(gateway: Gateway, mobile: ScriptedDevice) -> None:
    # A device cannot pose as another one by sending the header the MDM trusts.
    status, body = gateway.curl(
        "/api/v1/device/checkin",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Client-Cert: :Zm9yZ2Vk:",
        "-H",
        "GovMobile-Gateway-Proof: nope",
        "--data",
        json.dumps({"posture": {"os_version": "14"}}),
        cert=mobile.cert_files,
    )
    assert status == 200, body
    assert json.loads(body)["device"]["id"] == mobile.device_id


def test_oversized_headers_are_refused(
    gateway: Gateway, mobile: ScriptedDevice, upstream: tuple[RecordingUpstream, str]
) -> None:
    status, body = gateway.curl("/apps/oa/", "-H", "X-Padding: " + "a" * 20000, cert=mobile.cert_files)
    assert status == 400
    assert json.loads(body)["error"] == "headers_too_large"
    assert upstream[0].requests == []


def test_a_slow_client_is_cut_off(gateway: Gateway, upstream: tuple[RecordingUpstream, str]) -> None:
    context = ssl.create_default_context(cafile=str(gateway.tls.root))
    started = time.monotonic()
    with (
        socket.create_connection(("127.0.0.1", gateway.public_port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET /apps/oa/ HTTP/1.1\r\nHost: localhost\r\n")  # and never finish the headers
        data = tls.recv(4096)
    assert time.monotonic() - started < 15  # client_header_timeout is 3 s in these tests
    assert data == b"" or b"408" in data
    assert upstream[0].requests == []


def test_unknown_names_are_refused(
    gateway: Gateway, upstream: tuple[RecordingUpstream, str], mobile: ScriptedDevice
) -> None:
    handshake = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{gateway.public_port}",
            "-servername",
            "intranet.evil.example",
            "-CAfile",
            str(gateway.tls.root),
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "unrecognized name" in handshake.stdout + handshake.stderr or "alert" in handshake.stderr
    status, body = gateway.curl("/apps/oa/", "-H", "Host: intranet.evil.example", cert=mobile.cert_files)
    assert status == 421
    assert json.loads(body)["error"] == "misdirected_request"
    assert upstream[0].requests == []


@pytest.mark.parametrize(("version", "accepted"), [("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)])
def test_tls_versions(gateway: Gateway, version: str, accepted: bool) -> None:
    result = subprocess.run(
        gateway.s_client(version),
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ("Cipher is (NONE)" not in result.stdout) is accepted, result.stdout[-500:] + result.stderr[-500:]


def test_refusals_say_why_in_json_or_html(
    gateway: Gateway, mobile: ScriptedDevice, platform: Any, water: Any, management: Any
) -> None:
    with gateway.reloaded():
        management.ok(
            "PUT",
            "/api/v1/routes/oa",
            json={
                "name": "oa",
                "upstream_url": "http://127.0.0.1:9",
                "allowed_tenants": [water.tenant_id],
                "allowed_groups": ["cabinet"],
            },
        )
    # A refusal cached before the change may outlive the reload by a second at most.
    gateway.wait_until(lambda: gateway.curl("/apps/oa/", cert=mobile.cert_files)[0] == 403)
    status, body = gateway.curl("/apps/oa/", cert=mobile.cert_files)
    assert json.loads(body)["error"] == "group_not_admitted"
    assert "not in a group" in json.loads(body)["message"]
    status, page = gateway.curl("/apps/oa/", "-H", "Accept: text/html", cert=mobile.cert_files)
    assert status == 403
    assert "<h1>Access refused</h1>" in page
    assert "not in a group" in page
