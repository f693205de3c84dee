"""Access changes reach nginx through its shared memory, not through reloads: what the control
plane writes there, how nginx reads it, and what holds when it is full."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
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
from govmobile.gateway.dataplane.access_state import AccessStateRejected, nginx_serial
from tests.support.devices import ScriptedDevice
from tests.support.gateway import DECISION_TIMEOUT, Gateway
from tests.support.mdm import Admin
from tests.support.pki import ec_key

pytestmark = pytest.mark.usefixtures("oa_route")


def test_serials_are_written_as_nginx_shows_them() -> None:
    assert nginx_serial(0xFF) == "FF"
    assert nginx_serial(0xABC) == "0ABC"
    assert nginx_serial("0abc") == "0ABC"
    assert nginx_serial("00ff") == "FF"
    assert nginx_serial((1 << 158) | 5) == format((1 << 158) | 5, "X")


class KeepAlive:
    """One TLS connection, kept open across requests (http.client would reconnect silently, so
    the socket is compared: the connection must be the same one)."""

    def __init__(self, gateway: Gateway, cert: tuple[Path, Path]) -> None:
        context = ssl.create_default_context(cafile=str(gateway.tls.root))
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        self.connection = http.client.HTTPSConnection("localhost", gateway.public_port, context=context)
        self.connection.connect()
        self.socket = self.connection.sock

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        assert self.connection.sock is self.socket, "the connection was dropped and made again"
        return response.status, json.loads(body) if body else {}


def test_a_lock_and_a_revocation_reach_an_open_connection_without_a_reload(
    gateway: Gateway,
    mobile: ScriptedDevice,
    platform: Admin,
    management: Admin,
    request: pytest.FixtureRequest,
) -> None:
    reloads = gateway.app.state.nginx.reloads
    connection = KeepAlive(gateway, mobile.cert_files)
    request.addfinalizer(connection.connection.close)
    assert connection.get("/apps/oa/inbox")[0] == 200
    platform.ok("POST", f"/api/v1/devices/{mobile.device_id}/commands", json={"type": "lock"})
    gateway.wait_until(lambda: connection.get("/apps/oa/inbox")[0] == 403, timeout=DECISION_TIMEOUT)
    assert connection.get("/apps/oa/inbox")[1]["error"] == "device_locked"
    assert mobile.certificate is not None
    serial = format(mobile.certificate.serial_number, "x")
    management.ok("POST", f"/api/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    gateway.wait_until(lambda: connection.get("/apps/oa/inbox")[0] == 401, timeout=DECISION_TIMEOUT)
    for path in ("/apps/oa/inbox", "/api/v1/device/wait?timeout=1"):
        status, body = connection.get(path)
        assert (status, body["error"]) == (401, "certificate_refused"), path
        assert "revoked" in body["message"]
    # Neither change reloaded nginx, so no device's idle connection was dropped for it.
    assert gateway.app.state.nginx.reloads == reloads


def _certificate_with_serial(ca_layout: CaLayout, directory: Path, serial: int) -> tuple[Path, Path]:
    """A device certificate from the appliance's issuing CA, with a serial of our choosing."""
    issuing_key = keyfiles.read_private_key(ca_layout.issuing_key)
    issuing = keyfiles.read_certificates(ca_layout.issuing_certificate)[0]
    key = ec_key()
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tablet-{serial:x}")]))
        .issuer_name(issuing.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuing_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    files = directory / f"{serial:x}.crt", directory / f"{serial:x}.key"
    keyfiles.write_certificates(files[0], [certificate])
    keyfiles.write_private_key(files[1], key)
    return files


def _curl(gateway: Gateway, path: str, cert: tuple[Path, Path]) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            str(gateway.tls.root),
            "--cert",
            str(cert[0]),
            "--key",
            str(cert[1]),
            "-w",
            "\n%{http_code}",
            f"{gateway.public_url}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status or 0), json.loads(body) if body.startswith("{") else {}


@pytest.mark.parametrize("serial", [0xABC, 0xFF, 0x80, (1 << 158) | 0x0F, 0x0100])
def test_nginx_refuses_the_serials_the_control_plane_names(
    gateway: Gateway, ca_layout: CaLayout, tmp_path: Path, serial: int
) -> None:
    cert = _certificate_with_serial(ca_layout, tmp_path, serial)
    # Unknown to the MDM (never enrolled), so the MDM is the one refusing it at first.
    assert _curl(gateway, "/api/v1/device/wait?timeout=1", cert)[1]["error"] == "certificate_not_bound"
    gateway.app.state.access.refuse([nginx_serial(serial)])
    status, body = _curl(gateway, "/api/v1/device/wait?timeout=1", cert)
    assert (status, body["error"]) == (401, "certificate_refused")


@pytest.mark.parametrize("gateway_overrides", [{"access_memory": "64k"}], indirect=True)
def test_when_shared_memory_is_full_a_revoked_certificate_is_still_refused(
    gateway: Gateway, mobile: ScriptedDevice, management: Admin
) -> None:
    access = gateway.app.state.access
    with pytest.raises(AccessStateRejected, match="shared memory is full"):
        access.refuse(f"{n:040X}" for n in range(2000))
    assert mobile.checkin().status_code == 200
    reloads = gateway.app.state.nginx.reloads
    assert mobile.certificate is not None
    serial = format(mobile.certificate.serial_number, "x")
    management.ok("POST", f"/api/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    # The control plane cannot write the refusal: it has nginx re-read the CRL at once instead,
    # so the handshake refuses the certificate...
    gateway.wait_until(lambda: gateway.app.state.nginx.reloads > reloads, timeout=DECISION_TIMEOUT)
    deadline = time.monotonic() + DECISION_TIMEOUT
    while (refused := _curl(gateway, "/api/v1/device/checkin", mobile.cert_files))[0] != 401:
        assert time.monotonic() < deadline
    assert refused[1]["error"] == "certificate_refused"
    assert "certificate revoked" in refused[1]["message"]  # nginx's verification result
    # ... and every service behind it refuses it per request all along (tests/mdm/test_identity.py).


def test_nginx_killed_outright_comes_back_with_its_refusals(
    gateway: Gateway, mobile: ScriptedDevice, management: Admin
) -> None:
    nginx = gateway.app.state.nginx
    assert mobile.certificate is not None
    serial = format(mobile.certificate.serial_number, "x")
    management.ok("POST", f"/api/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    gateway.wait_until(lambda: _curl(gateway, "/api/v1/device/checkin", mobile.cert_files)[0] == 401)
    killed_master, workers = nginx.pid, gateway.workers()
    for pid in (killed_master, *workers):  # as the kernel's OOM killer would
        os.kill(pid, signal.SIGKILL)

    def restarted() -> bool:
        # Until the control plane reaps it, the killed master still answers to its pid.
        master = nginx.pid
        return master not in (None, killed_master) and not gateway.workers(master) & workers

    gateway.wait_until(restarted, timeout=15)

    # A new nginx (its control socket bound again, not left behind by the dead one) that knows
    # the refusals: the control plane tells every new nginx all of them.
    def refusals_known() -> bool:
        try:
            return bool(gateway.app.state.access.state()["access_free_bytes"] < 32 * 1024 * 1024)
        except AccessStateRejected:
            return False  # not listening yet

    gateway.wait_until(refusals_known)
    status, body = _curl(gateway, "/api/v1/device/checkin", mobile.cert_files)
    assert (status, body["error"]) == (401, "certificate_refused")
