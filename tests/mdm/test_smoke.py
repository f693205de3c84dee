from __future__ import annotations

from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin


def test_enroll_check_in_lock(platform: Admin, enrolled: ScriptedDevice) -> None:
    first = enrolled.checkin()
    assert first.status_code == 200, first.text
    assert first.json()["device"]["state"] == "active"
    command = platform.ok(
        "POST",
        f"/api/v1/devices/{enrolled.device_id}/commands",
        json={"type": "lock", "payload": {"message": "Call IT"}},
    )
    second = enrolled.checkin().json()
    assert second["command"]["id"] == command["id"]
    third = enrolled.checkin(results=[{"command_id": command["id"], "status": "acknowledged"}]).json()
    assert third["device"]["state"] == "locked"
    assert third["device"]["lock_message"] == "Call IT"
