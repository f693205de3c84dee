"""Command queue conformance, in the spirit of NanoMDM's end-to-end queue tests.

Runs over the real device protocol against SQLite, and against PostgreSQL in the second pass
of ``./govmobile test``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin


def queue(admin: Admin, device: ScriptedDevice, kind: str, **payload: Any) -> str:
    body: dict[str, Any] = {"type": kind, "payload": payload}
    deadline = payload.pop("deadline_hours", None)
    if deadline:
        body["deadline_hours"] = deadline
    return str(admin.ok("POST", f"/api/v1/devices/{device.device_id}/commands", json=body)["id"])


def next_id(device: ScriptedDevice, results: list[dict[str, Any]] | None = None) -> str | None:
    response = device.checkin(results=results)
    assert response.status_code == 200, response.text
    command = response.json()["command"]
    return None if command is None else str(command["id"])


def ack(command_id: str, status: str = "acknowledged", **result: Any) -> dict[str, Any]:
    return {"command_id": command_id, "status": status, "result": result}


def state_of(admin: Admin, command_id: str) -> str:
    return str(admin.ok("GET", f"/api/v1/commands/{command_id}")["state"])


@pytest.fixture
def device(enrolled: ScriptedDevice) -> ScriptedDevice:
    assert next_id(enrolled) is None  # first check-in: active, empty queue
    return enrolled


def test_basic_order_is_oldest_first(platform: Admin, device: ScriptedDevice) -> None:
    first = queue(platform, device, "message", text="one")
    second = queue(platform, device, "message", text="two")
    assert next_id(device) == first
    assert next_id(device, [ack(first)]) == second
    assert next_id(device, [ack(second)]) is None
    assert state_of(platform, first) == state_of(platform, second) == "acknowledged"


def test_lock_and_wipe_outrank_other_commands(platform: Admin, device: ScriptedDevice) -> None:
    message = queue(platform, device, "message", text="routine")
    lock = queue(platform, device, "lock")
    assert next_id(device) == lock
    assert next_id(device, [ack(lock)]) == message
    wipe = queue(platform, device, "wipe")
    assert next_id(device) == wipe


def test_a_sent_command_without_result_is_offered_again(platform: Admin, device: ScriptedDevice) -> None:
    command = queue(platform, device, "locate")
    assert next_id(device) == command
    assert next_id(device) == command  # the device lost the answer and checks in again
    assert state_of(platform, command) == "sent"


def test_not_now_waits_for_a_later_check_in(platform: Admin, device: ScriptedDevice) -> None:
    busy = queue(platform, device, "message", text="later please")
    other = queue(platform, device, "refresh_policy")
    assert next_id(device) == busy
    assert next_id(device, [ack(busy, "not_now")]) == other  # not the same check-in
    assert state_of(platform, busy) == "not_now"
    assert next_id(device, [ack(other)]) == busy  # a later check-in offers it again
    assert next_id(device, [ack(busy)]) is None


def test_not_now_alone_leaves_the_check_in_empty(platform: Admin, device: ScriptedDevice) -> None:
    busy = queue(platform, device, "message", text="x")
    assert next_id(device) == busy
    assert next_id(device, [ack(busy, "not_now")]) is None
    assert next_id(device) == busy


def test_error_closes_the_command_and_the_queue_moves_on(platform: Admin, device: ScriptedDevice) -> None:
    failing = queue(platform, device, "install_app", app_id="gov.unknown")
    following = queue(platform, device, "message", text="next")
    assert next_id(device) == failing
    assert next_id(device, [{"command_id": failing, "status": "error", "error": "no such app"}]) == following
    detail = platform.ok("GET", f"/api/v1/commands/{failing}")
    assert detail["state"] == "error"
    assert detail["result"]["result"]["error"] == "no such app"


def test_expired_commands_never_block_the_queue(
    platform: Admin, device: ScriptedDevice, clock: Clock
) -> None:
    stale = queue(platform, device, "message", text="too late", deadline_hours=1)
    clock.advance(dt.timedelta(hours=2))
    fresh = queue(platform, device, "message", text="on time")
    assert next_id(device) == fresh
    assert state_of(platform, stale) == "expired"


def test_a_newer_lock_or_unlock_supersedes_the_pending_one(platform: Admin, device: ScriptedDevice) -> None:
    lock = queue(platform, device, "lock")
    unlock = queue(platform, device, "unlock")
    assert state_of(platform, lock) == "superseded"
    assert next_id(device) == unlock


def test_a_wipe_supersedes_everything_pending(platform: Admin, device: ScriptedDevice) -> None:
    pending = [
        queue(platform, device, "message", text="a"),
        queue(platform, device, "lock"),
        queue(platform, device, "locate"),
    ]
    wipe = queue(platform, device, "wipe")
    assert [state_of(platform, c) for c in pending] == ["superseded"] * 3
    assert next_id(device) == wipe


def test_cancel_before_acknowledgement_only(platform: Admin, device: ScriptedDevice) -> None:
    cancelled = queue(platform, device, "message", text="never mind")
    platform.ok("POST", f"/api/v1/commands/{cancelled}/cancel")
    assert next_id(device) is None
    done = queue(platform, device, "message", text="read this")
    assert next_id(device) == done
    next_id(device, [ack(done)])
    refused = platform("POST", f"/api/v1/commands/{done}/cancel")
    assert refused.status_code == 409
    assert "already acknowledged" in refused.json()["message"]


def test_a_replayed_acknowledgement_changes_nothing(platform: Admin, device: ScriptedDevice) -> None:
    lock = queue(platform, device, "lock")
    assert next_id(device) == lock
    assert next_id(device, [ack(lock)]) is None
    before = platform.ok("GET", f"/api/v1/commands/{lock}")
    seen_before = platform.ok("GET", f"/api/v1/devices/{device.device_id}")["last_seen_at"]
    replay = device.checkin(results=[ack(lock)])
    assert replay.status_code == 409
    assert replay.json()["error"] == "result_already_recorded"
    assert replay.json()["details"] == {"command_ids": [lock]}
    assert platform.ok("GET", f"/api/v1/commands/{lock}") == before
    assert platform.ok("GET", f"/api/v1/devices/{device.device_id}")["last_seen_at"] == seen_before


def test_results_for_unknown_or_closed_commands_change_nothing(
    platform: Admin, device: ScriptedDevice, device_factory: Any, water: Any
) -> None:
    unknown = device.checkin(results=[ack("00000000-0000-0000-0000-000000000000")])
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_command_id"
    never_sent = queue(platform, device, "message", text="queued only")
    early = device.checkin(results=[ack(never_sent)])
    assert early.status_code == 409
    assert early.json()["error"] == "command_closed"
    assert state_of(platform, never_sent) == "queued"
    from tests.support.mdm import new_token

    other: ScriptedDevice = device_factory()
    other.enroll(new_token(platform, water))
    theirs = device.checkin(results=[ack(queue(platform, other, "message", text="not yours"))])
    assert theirs.status_code == 404


def test_the_same_result_twice_in_one_check_in_is_refused(platform: Admin, device: ScriptedDevice) -> None:
    command = queue(platform, device, "message", text="x")
    next_id(device)
    doubled = device.checkin(results=[ack(command), ack(command)])
    assert doubled.status_code == 400
    assert state_of(platform, command) == "sent"
