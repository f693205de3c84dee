"""Check-in: compliance against the tenant's policy, and what each acknowledgement does."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.mdm.test_queue import ack, next_id, queue
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department


def test_compliance_is_evaluated_with_reasons(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    platform.ok(
        "PATCH",
        f"/api/v1/tenants/{water.tenant_id}/policy",
        json={
            "min_os_version": "15",
            "app_admission": {"mode": "allowlist", "packages": ["gov.water.floodreport"], "signers": []},
        },
    )
    enrolled.posture.update(
        passcode_set=False, rooted=True, installed_apps=["gov.water.floodreport", "com.games.fun"]
    )
    status = enrolled.checkin().json()["device"]
    assert status["compliant"] is False
    assert status["reasons"] == [
        "OS version 14.0.2 is older than the required 15",
        "no passcode is set",
        "the device is rooted or jailbroken",
        "app com.games.fun is not admitted: the allowlist does not list the package",
    ]
    enrolled.posture.update(
        os_version="15.1", passcode_set=True, rooted=False, installed_apps=["gov.water.floodreport"]
    )
    assert enrolled.checkin().json()["device"] == {
        **status,
        "compliant": True,
        "reasons": [],
        "state": "active",
    }
    history = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")["history"]
    assert [h["details"]["compliant"] for h in history if h["change"] == "compliance"] == [True, False]


def test_policy_comes_with_every_check_in(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    before = enrolled.checkin().json()["policy"]
    platform.ok("PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json={"checkin_interval_seconds": 300})
    after = enrolled.checkin().json()
    assert after["policy"]["version"] == before["version"] + 1
    assert after["next_checkin_seconds"] == 300


def test_lock_unlock_and_lost_mode_follow_acknowledgements(platform: Admin, enrolled: ScriptedDevice) -> None:
    enrolled.checkin()
    lock = queue(platform, enrolled, "lock", message="Return to the district office")
    assert (
        platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")["state"] == "active"
    )  # queued is not done
    assert platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")["pending_actions"] == ["lock"]
    next_id(enrolled)
    assert enrolled.checkin(results=[ack(lock)]).json()["device"]["state"] == "locked"
    lost = queue(platform, enrolled, "lost_mode_on", message="Found? Call 1234")
    next_id(enrolled)
    enrolled.posture["location"] = {"latitude": 27.71, "longitude": 85.32, "accuracy_m": 20}
    assert enrolled.checkin(results=[ack(lost)]).json()["device"]["lost_mode"] is True
    enrolled.posture["location"] = {"latitude": 27.8, "longitude": 85.4}
    enrolled.checkin()
    detail = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert detail["state"] == "lost"
    assert detail["last_location"]["latitude"] == 27.8
    found = queue(platform, enrolled, "lost_mode_off")
    next_id(enrolled)
    assert enrolled.checkin(results=[ack(found)]).json()["device"]["state"] == "active"


def test_locate_records_the_reported_position(platform: Admin, enrolled: ScriptedDevice) -> None:
    enrolled.checkin()
    locate = queue(platform, enrolled, "locate")
    next_id(enrolled)
    bad = enrolled.checkin(results=[ack(locate)])
    assert bad.status_code == 400
    assert "location" in bad.json()["message"]
    enrolled.checkin(results=[ack(locate, location={"latitude": -1.29, "longitude": 36.82, "accuracy_m": 5})])
    assert platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")["last_location"]["longitude"] == 36.82


def test_wipe_is_confirmed_then_the_device_is_shut_out(
    platform: Admin, enrolled: ScriptedDevice, ca_url: str
) -> None:
    enrolled.checkin()
    wipe = queue(platform, enrolled, "wipe")
    assert next_id(enrolled) == wipe
    confirmed = enrolled.checkin(results=[ack(wipe)])
    assert confirmed.status_code == 200
    assert confirmed.json()["device"]["state"] == "wiped"
    assert confirmed.json()["command"] is None
    assert enrolled.certificate is not None
    serial = format(enrolled.certificate.serial_number, "x")
    on_ca = httpx.get(
        f"{ca_url}/api/v1/certificates/{serial}", headers={"Authorization": f"Bearer {platform.token}"}
    ).json()
    assert on_ca["status"] == "revoked"
    assert on_ca["revocation_reason"] == "cessationOfOperation"
    after = enrolled.checkin()
    assert after.status_code == 403
    assert after.json()["error"] == "device_wiped"
    refused = platform("POST", f"/api/v1/devices/{enrolled.device_id}/commands", json={"type": "lock"})
    assert refused.status_code == 409
    assert "wiped" in refused.json()["message"]


def _receipt(device: ScriptedDevice, command_id: str, **changes: Any) -> dict[str, Any]:
    receipt = {
        "device_id": device.device_id,
        "command_id": command_id,
        "destroyed": ["work/report.pdf", "work/data.key"],
        "data_key_destroyed": True,
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    receipt.update(changes)
    signature = device.key.sign(
        json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode(), ec.ECDSA(hashes.SHA256())
    )
    return {"receipt": receipt, "signature": base64.b64encode(signature).decode()}


def test_selective_wipe_needs_a_receipt_signed_by_the_device(
    platform: Admin, enrolled: ScriptedDevice
) -> None:
    enrolled.checkin()
    command = queue(platform, enrolled, "selective_wipe")
    next_id(enrolled)
    forged = _receipt(enrolled, command)
    forged["receipt"]["destroyed"] = ["nothing"]  # altered after signing
    refused = enrolled.checkin(results=[ack(command, **forged)])
    assert refused.status_code == 400
    assert refused.json()["error"] == "bad_receipt"
    wrong_command = enrolled.checkin(results=[ack(command, **_receipt(enrolled, "another-command"))])
    assert wrong_command.status_code == 400
    unsigned = enrolled.checkin(results=[ack(command)])
    assert unsigned.status_code == 400
    assert platform.ok("GET", f"/api/v1/commands/{command}")["state"] == "sent"
    accepted = enrolled.checkin(results=[ack(command, **_receipt(enrolled, command))])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["device"]["state"] == "active"  # the personal side stays in use
    detail = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert detail["work_container_wiped_at"] is not None
    assert detail["history"][0]["change"] == "work container wiped"
    stored = platform.ok("GET", f"/api/v1/commands/{command}")["result"]["result"]
    assert stored["receipt"]["destroyed"] == ["work/report.pdf", "work/data.key"]


def test_unknown_command_type_answered_with_error_does_not_block(
    platform: Admin, enrolled: ScriptedDevice
) -> None:
    enrolled.checkin()
    command = queue(platform, enrolled, "refresh_policy")
    message = queue(platform, enrolled, "message", text="after")
    next_id(enrolled)
    nxt = enrolled.checkin(
        results=[{"command_id": command, "status": "error", "error": "unsupported command"}]
    ).json()
    assert nxt["command"]["id"] == message


def test_bad_command_requests_are_refused(platform: Admin, enrolled: ScriptedDevice) -> None:
    path = f"/api/v1/devices/{enrolled.device_id}/commands"
    unknown = platform("POST", path, json={"type": "selfdestruct"})
    assert unknown.status_code == 422  # the enum is in the OpenAPI document, and enforced
    assert "type: Input should be 'lock'" in unknown.json()["message"]
    missing = platform("POST", path, json={"type": "message", "payload": {}})
    assert missing.status_code == 400
    assert "text" in missing.json()["message"]
    extra = platform("POST", path, json={"type": "lock", "payload": {"message": "x", "rm -rf": "/"}})
    assert extra.status_code == 400
    far = platform("POST", path, json={"type": "lock", "deadline_hours": 24 * 365})
    assert far.status_code == 422
    assert platform.ok("GET", path) == []


def test_bulk_command_previews_then_sends(platform: Admin, water: Department, device_factory: Any) -> None:
    from tests.support.mdm import new_token

    devices = []
    for _ in range(3):
        device: ScriptedDevice = device_factory()
        device.enroll(new_token(platform, water, group_id=water.group_id))
        devices.append(device)
    body = {
        "target": {"group_id": water.group_id},
        "type": "message",
        "payload": {"text": "Flood warning: stay off river roads"},
    }
    preview = platform.ok("POST", "/api/v1/commands/bulk", json=body)
    assert preview == {"count": 3, "bulk_id": None, "sent": False}
    assert platform.ok("GET", f"/api/v1/devices/{devices[0].device_id}/commands") == []
    stale = platform("POST", "/api/v1/commands/bulk", json={**body, "preview": False, "expected_count": 2})
    assert stale.status_code == 409
    assert stale.json()["details"] == {"count": 3}
    sent = platform.ok("POST", "/api/v1/commands/bulk", json={**body, "preview": False, "expected_count": 3})
    assert sent["sent"] is True
    assert sent["count"] == 3
    for device in devices:
        commands = platform.ok("GET", f"/api/v1/devices/{device.device_id}/commands")
        assert [(c["type"], c["bulk_id"]) for c in commands] == [("message", sent["bulk_id"])]
