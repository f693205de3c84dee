"""Hostile input on the device API: wrong types, huge numbers, control characters, another
device's ids. Each is a clear 4xx in the common error shape, and nothing changes."""

from __future__ import annotations

import base64
from typing import Any

from govmobile.core.database import Database
from tests.mdm.test_isolation import snapshot
from tests.mdm.test_queue import queue
from tests.support.devices import GOOD_POSTURE, ScriptedDevice, csr_der, facts_header
from tests.support.mdm import Admin, Department, new_token

POSTURES: list[dict[str, Any]] = [
    {"storage_encrypted": "true"},  # was read as True: a device could claim encryption with a string
    {"battery_percent": "80"},
    {"battery_percent": 2**63},
    {"rooted": 0},
    {"location": {"latitude": 1.0, "longitude": 2.0, "at": 0}},  # a number is not a time
    {"location": {"latitude": 1.0, "longitude": 2.0, "at": "1700000000"}},
    {"location": {"latitude": True, "longitude": 2.0}},
    {"location": {"latitude": 1.0, "longitude": 2.0, "accuracy_m": False}},
    {"location": {"latitude": 1.0, "longitude": 2.0, "accuracy_m": 1e308}},
    {"installed_apps": ["x" * 201]},
    {"installed_apps": ["a\u0000b"]},
    {"os_version": "1" * 51},
]


def test_a_checkin_refuses_wrong_types_and_changes_nothing(
    enrolled: ScriptedDevice, platform: Admin, database: Database
) -> None:
    enrolled.checkin()
    before = snapshot(database)
    for change in POSTURES:
        response = enrolled.checkin(posture={**GOOD_POSTURE, **change})
        assert response.status_code == 422, (change, response.text)
        assert response.json()["error"] == "invalid_request"
    assert snapshot(database) == before


def test_a_checkin_refuses_results_it_cannot_match(
    enrolled: ScriptedDevice, platform: Admin, device_factory: Any, water: Department
) -> None:
    enrolled.checkin()
    other: ScriptedDevice = device_factory()
    assert other.enroll(new_token(platform, water)).status_code == 200
    theirs = queue(platform, other, "message", text="not yours")
    foreign = enrolled.checkin(results=[{"command_id": theirs, "status": "acknowledged"}])
    assert foreign.status_code == 404
    assert foreign.json()["details"]["command_ids"] == [theirs]
    too_long = enrolled.checkin(results=[{"command_id": "c" * 37, "status": "acknowledged"}])
    assert too_long.status_code == 422
    many = [{"command_id": f"c{n}", "status": "acknowledged"} for n in range(21)]
    assert enrolled.checkin(results=many).status_code == 422
    as_other = enrolled.checkin(device_id=other.device_id)
    assert as_other.status_code == 403
    assert as_other.json()["error"] == "certificate_of_another_device"
    assert platform.ok("GET", f"/api/v1/commands/{theirs}")["state"] == "queued"


def test_enrollment_refuses_control_characters_in_the_device_facts(
    platform: Admin, water: Department, device_factory: Any, database: Database
) -> None:
    token = new_token(platform, water)
    before = snapshot(database)
    device: ScriptedDevice = device_factory()
    for facts in ({"model": "Tab\u0000S9"}, {"os_version": "14\n"}, {"serial_number": "SN 1"}):
        response = device.client.post(
            "/.well-known/est/simpleenroll",
            content=base64.b64encode(csr_der(device.key)),
            headers={"GovMobile-Device-Facts": facts_header({"serial_number": "SN1", **facts})},
            auth=("device", token),
        )
        assert (response.status_code, response.json()["error"]) == (400, "bad_facts"), facts
    assert snapshot(database) == before
    assert device.enroll(token).status_code == 200  # the token survived
