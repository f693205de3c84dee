"""Enrollment over EST: tokens, binding, re-enrollment, and everything that must be refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from sqlmodel import select

from govmobile.core.database import Database
from govmobile.mdm.models import Device
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice, StraightToMdm, csr_der, read_pkcs7
from tests.support.mdm import GATEWAY_SECRET, Admin, Department, make_department, new_token
from tests.support.pki import csr_with_foreign_key


def _device_count(database: Database) -> int:
    with database.session() as session:
        return len(session.exec(select(Device)).all())


def test_cacerts_returns_the_chain(http: httpx.Client) -> None:
    response = http.get("/.well-known/est/cacerts")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/pkcs7-mime")
    assert response.headers["content-transfer-encoding"] == "base64"
    certificates = read_pkcs7(response.content)
    assert len(certificates) == 2
    assert all(c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca for c in certificates)


def test_enrollment_binds_the_certificate_and_makes_a_device(
    platform: Admin, water: Department, enrolled: ScriptedDevice, database: Database
) -> None:
    assert enrolled.certificate is not None
    detail = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert detail["state"] == "enrolled"
    assert detail["tenant_id"] == water.tenant_id
    assert detail["person_id"] == water.person_id
    assert detail["serial_number"] == enrolled.serial_number
    assert detail["model"] == "Tab S9"
    with database.session() as session:
        device = session.get(Device, enrolled.device_id)
        assert device is not None
        assert device.cert_sha256 == enrolled.certificate.fingerprint(hashes.SHA256()).hex()
    assert detail["history"][0]["change"] == "enrolled"
    assert enrolled.checkin().json()["device"]["state"] == "active"


def test_the_qr_payload_pins_the_root(platform: Admin, water: Department, http: httpx.Client) -> None:
    issued = platform.ok(
        "POST", "/api/v1/enrollment-tokens", json={"tenant_id": water.tenant_id, "person_id": water.person_id}
    )
    root = next(c for c in read_pkcs7(http.get("/.well-known/est/cacerts").content) if c.issuer == c.subject)
    assert issued["qr_payload"] == (
        f"govmobile:enroll?server=https%3A%2F%2Fgm.water.example&ca_sha256={root.fingerprint(hashes.SHA256()).hex()}&token={issued['token']}"
    )
    listed = platform.ok("GET", "/api/v1/enrollment-tokens")
    assert issued["token"] not in json.dumps(listed)  # the secret is shown once only


@pytest.mark.parametrize("how", ["used", "revoked", "expired", "unknown", "missing"])
def test_unusable_tokens_are_refused_and_change_nothing(
    how: str, platform: Admin, water: Department, device_factory: Any, database: Database, clock: Clock
) -> None:
    token = new_token(platform, water)
    if how == "used":
        assert device_factory().enroll(token).status_code == 200
    elif how == "revoked":
        token_id = platform.ok("GET", "/api/v1/enrollment-tokens")[0]["id"]
        platform.ok("DELETE", f"/api/v1/enrollment-tokens/{token_id}")
    elif how == "expired":
        clock.advance(dt.timedelta(hours=25))
    elif how == "unknown":
        token = "gme_" + "x" * 32
    before = _device_count(database)
    device = device_factory()
    response = device.enroll("" if how == "missing" else token)
    assert response.status_code == 401, response.text
    body = response.json()
    assert (
        body["error"]
        == {
            "used": "token_used",
            "revoked": "token_revoked",
            "expired": "token_expired",
            "unknown": "invalid_token",
            "missing": "token_required",
        }[how]
    )
    assert "token" in body["message"]
    assert _device_count(database) == before


def test_bad_csrs_are_refused_without_consuming_the_token(
    platform: Admin, water: Department, device_factory: Any, http: httpx.Client
) -> None:
    token = new_token(platform, water)
    headers = {
        "Content-Type": "application/pkcs10",
        "GovMobile-Device-Facts": base64.urlsafe_b64encode(b'{"serial_number":"SN1"}').decode(),
    }
    garbage = http.post(
        "/.well-known/est/simpleenroll", content=b"not base64 !!", headers=headers, auth=("d", token)
    )
    assert garbage.status_code == 400
    assert garbage.json()["error"] == "invalid_csr"
    forged = http.post(
        "/.well-known/est/simpleenroll",
        content=csr_with_foreign_key().encode(),
        headers=headers,
        auth=("d", token),
    )
    assert forged.status_code == 400
    assert "signature does not verify" in forged.json()["message"]
    assert device_factory().enroll(token).status_code == 200  # the token survived both


def test_facts_are_required_and_checked(platform: Admin, water: Department, http: httpx.Client) -> None:
    token = new_token(platform, water)
    key = ec.generate_private_key(ec.SECP256R1())
    no_serial = http.post(
        "/.well-known/est/simpleenroll", content=base64.b64encode(csr_der(key)), auth=("d", token)
    )
    assert no_serial.status_code == 400
    assert no_serial.json()["error"] == "serial_number_required"
    bad_header = http.post(
        "/.well-known/est/simpleenroll",
        content=base64.b64encode(csr_der(key)),
        auth=("d", token),
        headers={"GovMobile-Device-Facts": "%%%"},
    )
    assert bad_header.json()["error"] == "bad_facts"
    via_csr = http.post(
        "/.well-known/est/simpleenroll",
        content=base64.b64encode(csr_der(key, serial_number="SN-FROM-CSR")),
        auth=("d", token),
    )
    assert via_csr.status_code == 200, via_csr.text
    assert (
        platform.ok("GET", "/api/v1/devices", params={"q": "sn-from-csr"})["items"][0]["serial_number"]
        == "SN-FROM-CSR"
    )


def test_a_token_used_twice_at_once_is_consumed_once(
    platform: Admin, water: Department, device_factory: Any, database: Database
) -> None:
    token = new_token(platform, water)
    devices = [device_factory() for _ in range(6)]
    barrier = threading.Barrier(len(devices))
    statuses: list[int] = []

    def attempt(device: ScriptedDevice) -> None:
        with httpx.Client(base_url=str(device.client.base_url), timeout=30) as own:
            device.transport = StraightToMdm(own, GATEWAY_SECRET)
            barrier.wait()
            statuses.append(device.enroll(token).status_code)

    threads = [threading.Thread(target=attempt, args=(d,)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [401] * 5
    assert _device_count(database) == 1
    # the losers' certificates were signed but revoked before anyone saw them
    tokens = platform.ok("GET", "/api/v1/enrollment-tokens")
    assert tokens[0]["uses"] == 1
    assert tokens[0]["status"] == "used"


def test_reenrollment_clears_the_queue_and_revokes_the_old_certificate(
    platform: Admin, water: Department, enrolled: ScriptedDevice, device_factory: Any, ca_url: str
) -> None:
    enrolled.checkin()
    old_certificate = enrolled.certificate
    assert old_certificate is not None
    command = platform.ok(
        "POST",
        f"/api/v1/devices/{enrolled.device_id}/commands",
        json={"type": "message", "payload": {"text": "hi"}},
    )
    again: ScriptedDevice = device_factory(enrolled.serial_number)
    assert again.enroll(new_token(platform, water)).status_code == 200
    assert again.device_id == enrolled.device_id
    assert platform.ok("GET", f"/api/v1/commands/{command['id']}")["state"] == "cancelled"
    detail = platform.ok("GET", f"/api/v1/devices/{again.device_id}")
    assert detail["state"] == "enrolled"
    assert detail["history"][0]["change"] == "re-enrolled"
    serial = format(old_certificate.serial_number, "x")
    on_ca = httpx.get(
        f"{ca_url}/api/v1/certificates/{serial}", headers={"Authorization": f"Bearer {platform.token}"}
    )
    assert on_ca.json()["status"] == "revoked"
    assert on_ca.json()["revocation_reason"] == "superseded"
    old = enrolled.checkin()
    assert old.status_code == 401
    assert old.json()["error"] == "certificate_not_bound"


def test_department_quota(platform: Admin, device_factory: Any) -> None:
    small = make_department(platform, "roads", max_devices=1)
    assert device_factory().enroll(new_token(platform, small)).status_code == 200
    refused = device_factory().enroll(new_token(platform, small))
    assert refused.status_code == 409
    assert "limit of 1 devices" in refused.json()["message"]


def test_enrollment_joins_the_tokens_group(platform: Admin, water: Department, device_factory: Any) -> None:
    assert device_factory().enroll(new_token(platform, water, group_id=water.group_id)).status_code == 200
    members = platform.ok("GET", f"/api/v1/groups/{water.group_id}")["members"]
    assert [m["id"] for m in members] == [water.person_id]


def test_renewal_keeps_the_old_certificate_until_the_new_one_is_used(
    enrolled: ScriptedDevice, platform: Admin
) -> None:
    enrolled.checkin()
    old = enrolled.certificate
    response = enrolled.reenroll()
    assert response.status_code == 200, response.text
    assert enrolled.certificate is not None
    assert old is not None
    assert enrolled.certificate.serial_number != old.serial_number
    assert enrolled.checkin(results=[]).status_code == 200
    stale = enrolled.client.post(
        "/api/v1/device/checkin", json={"posture": enrolled.posture}, headers=enrolled.identity(old)
    )
    assert stale.status_code == 401


def test_curl_and_openssl_enroll_with_a_token(
    platform: Admin, water: Department, mdm_url: str, tmp_path: Path
) -> None:
    """A real EST exchange by clients written by others."""
    token = new_token(platform, water)
    key, csr, body = tmp_path / "device.key", tmp_path / "device.csr", tmp_path / "device.b64"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-outform",
            "DER",
            "-out",
            str(csr),
            "-subj",
            "/serialNumber=CURL-0001/CN=curl-device",
        ],
        check=True,
        capture_output=True,
    )
    body.write_bytes(base64.b64encode(csr.read_bytes()))
    reply = tmp_path / "reply.b64"
    subprocess.run(
        [
            "curl",
            "-fsS",
            "-u",
            f"device:{token}",
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            f"@{body}",
            "-o",
            str(reply),
            f"{mdm_url}/.well-known/est/simpleenroll",
        ],
        check=True,
        capture_output=True,
    )
    p7 = tmp_path / "reply.p7"
    p7.write_bytes(base64.b64decode(reply.read_bytes()))
    chain = tmp_path / "chain.pem"
    subprocess.run(
        ["openssl", "pkcs7", "-inform", "DER", "-in", str(p7), "-print_certs", "-out", str(chain)],
        check=True,
        capture_output=True,
    )
    certificates = x509.load_pem_x509_certificates(chain.read_bytes())
    root = next(c for c in certificates if c.issuer == c.subject)
    issuing = next(
        c
        for c in certificates
        if c.issuer != c.subject and c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    )
    leaf = next(
        c for c in certificates if not c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    )
    files = {}
    for name, certificate in (("root", root), ("issuing", issuing), ("leaf", leaf)):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(certificate.public_bytes(Encoding.PEM))
    verified = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(files["root"]),
            "-untrusted",
            str(files["issuing"]),
            str(files["leaf"]),
        ],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert ": OK" in verified.stdout
    pubkey = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout"], capture_output=True, text=True, check=True
    ).stdout
    leaf_pubkey = subprocess.run(
        ["openssl", "x509", "-in", str(files["leaf"]), "-noout", "-pubkey"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert pubkey == leaf_pubkey
    assert platform.ok("GET", "/api/v1/devices", params={"q": "CURL-0001"})["items"][0]["state"] == "enrolled"
