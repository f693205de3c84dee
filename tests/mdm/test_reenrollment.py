"""Re-enrollment by serial number (issue 10, item 2): a token made for one person cannot take over
another person's device, and a re-enrollment never cancels the lock or wipe queued for it."""

from __future__ import annotations

from typing import Any

import pytest

from govmobile.core.database import Database
from tests.mdm.test_isolation import snapshot
from tests.mdm.test_queue import ack, next_id, queue
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department, make_department, new_token


@pytest.fixture
def colleague(platform: Admin, water: Department) -> str:
    """A second person in the same department."""
    return str(
        platform.ok(
            "POST",
            "/api/v1/people",
            json={"tenant_id": water.tenant_id, "username": "colleague", "display_name": "A Colleague"},
        )["id"]
    )


def test_a_token_for_another_person_cannot_take_over_a_device_by_its_serial_number(
    platform: Admin,
    water: Department,
    enrolled: ScriptedDevice,
    colleague: str,
    device_factory: Any,
    database: Database,
) -> None:
    enrolled.checkin()
    wipe = queue(platform, enrolled, "wipe")
    token = new_token(platform, water, person_id=colleague)
    before = snapshot(database)
    intruder: ScriptedDevice = device_factory(enrolled.serial_number)  # the serial is printed on it
    refused = intruder.enroll(token)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "device_of_another_person"
    assert "re-enrollment token" in refused.json()["message"]
    assert snapshot(database) == before  # nothing changed, the token is not even used
    detail = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert (detail["person_id"], detail["state"]) == (water.person_id, "active")
    assert platform.ok("GET", f"/api/v1/commands/{wipe}")["state"] == "queued"
    assert enrolled.checkin().status_code == 200  # its own certificate still works


def test_the_devices_own_person_may_enroll_it_again(
    platform: Admin, water: Department, enrolled: ScriptedDevice, device_factory: Any
) -> None:
    again: ScriptedDevice = device_factory(enrolled.serial_number)
    assert again.enroll(new_token(platform, water)).status_code == 200
    assert again.device_id == enrolled.device_id


def test_pending_locks_and_wipes_survive_a_reenrollment_and_reach_the_new_installation(
    platform: Admin, water: Department, enrolled: ScriptedDevice, device_factory: Any
) -> None:
    enrolled.checkin()
    message = queue(platform, enrolled, "message", text="hello")
    lock = queue(platform, enrolled, "lock", message="Call the IT desk")
    assert next_id(enrolled) == lock  # sent to the old installation, never answered
    wipe = queue(platform, enrolled, "selective_wipe")
    again: ScriptedDevice = device_factory(enrolled.serial_number)
    assert again.enroll(new_token(platform, water)).status_code == 200
    states = {c: platform.ok("GET", f"/api/v1/commands/{c}")["state"] for c in (message, lock, wipe)}
    assert states == {message: "cancelled", lock: "queued", wipe: "queued"}
    detail = platform.ok("GET", f"/api/v1/devices/{again.device_id}")
    assert detail["pending_actions"] == ["lock", "selective_wipe"]
    assert detail["history"][0]["details"]["commands_kept"] == 2
    assert next_id(again) == lock
    assert next_id(again, [ack(lock)]) == wipe
    assert platform.ok("GET", f"/api/v1/devices/{again.device_id}")["state"] == "locked"


def test_an_admin_hands_a_device_to_another_person_with_a_reenrollment_token(
    platform: Admin, water: Department, enrolled: ScriptedDevice, colleague: str, device_factory: Any
) -> None:
    enrolled.checkin()
    lock = queue(platform, enrolled, "lock")
    issued = platform.ok(
        "POST",
        "/api/v1/enrollment-tokens",
        json={"tenant_id": "water", "person_id": colleague, "device_id": enrolled.device_id},
    )
    listed = platform.ok("GET", f"/api/v1/enrollment-tokens/{issued['id']}")
    assert (listed["device_id"], listed["person_id"]) == (enrolled.device_id, colleague)
    other: ScriptedDevice = device_factory()  # another device cannot use it
    refused = other.enroll(issued["token"])
    assert refused.status_code == 403
    assert refused.json()["error"] == "token_for_another_device"
    again: ScriptedDevice = device_factory(enrolled.serial_number)
    assert again.enroll(issued["token"]).status_code == 200
    detail = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert detail["person_id"] == colleague
    assert detail["pending_actions"] == ["lock"]
    assert platform.ok("GET", f"/api/v1/commands/{lock}")["state"] == "queued"


def test_a_reenrollment_token_defaults_to_the_devices_person_and_is_for_one_use(
    platform: Admin, water: Department, enrolled: ScriptedDevice, device_factory: Any
) -> None:
    body = {"tenant_id": water.tenant_id, "device_id": enrolled.device_id}
    issued = platform.ok("POST", "/api/v1/enrollment-tokens", json=body)
    assert platform.ok("GET", f"/api/v1/enrollment-tokens/{issued['id']}")["person_id"] == water.person_id
    many = platform("POST", "/api/v1/enrollment-tokens", json={**body, "max_uses": 2})
    assert many.status_code == 400
    assert many.json()["error"] == "invalid_max_uses"
    neither = platform("POST", "/api/v1/enrollment-tokens", json={"tenant_id": water.tenant_id})
    assert neither.status_code == 422
    assert "person_id" in neither.json()["message"]


def test_a_reenrollment_token_names_only_a_device_of_its_department(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    roads = make_department(platform, "roads")
    elsewhere = platform(
        "POST",
        "/api/v1/enrollment-tokens",
        json={"tenant_id": roads.tenant_id, "person_id": roads.person_id, "device_id": enrolled.device_id},
    )
    assert elsewhere.status_code == 404
    unknown = platform(
        "POST",
        "/api/v1/enrollment-tokens",
        json={"tenant_id": water.tenant_id, "device_id": "00000000-0000-0000-0000-000000000000"},
    )
    assert unknown.status_code == 404


def test_a_retired_device_may_be_enrolled_for_someone_new(
    platform: Admin, water: Department, enrolled: ScriptedDevice, colleague: str, device_factory: Any
) -> None:
    platform.ok("POST", f"/api/v1/devices/{enrolled.device_id}/retire")
    again: ScriptedDevice = device_factory(enrolled.serial_number)
    assert again.enroll(new_token(platform, water, person_id=colleague)).status_code == 200
    assert platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")["person_id"] == colleague
