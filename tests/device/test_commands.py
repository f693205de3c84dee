"""Every command's round trip: queued by an admin, carried out by the agent, and the server's final state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.device.conftest import Admin, Tablet, command_of, send, server_view
from tests.support.gateway_stub import GatewayStub


@pytest.fixture
def active(enrolled: Tablet, platform: Admin) -> Tablet:
    enrolled.ok("checkin")
    assert server_view(platform, enrolled.device_id)["state"] == "active"
    return enrolled


def status(device: Tablet) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(device.ok("status", "--json").out)
    return report


def result_of(admin: Admin, command_id: str) -> dict[str, Any]:
    command = command_of(admin, command_id)
    assert command["result"] is not None, command
    found: dict[str, Any] = command["result"]
    return found


def test_first_checkin_reports_posture_and_compliance(enrolled: Tablet, platform: Admin) -> None:
    enrolled.edit_profile(passcode_set=False, installed_apps=["gov.water.floodreport"], battery_percent=42)
    outcome = enrolled.ok("checkin")
    assert "NOT compliant" in outcome.out
    assert "no passcode is set" in outcome.out
    view = server_view(platform, enrolled.device_id)
    assert view["state"] == "active"
    assert view["compliant"] is False
    posture = view["recent_checkins"][0]["posture"]
    assert posture["installed_apps"] == ["gov.water.floodreport"]
    assert posture["battery_percent"] == 42
    assert posture["agent_version"] == "0.1.0"
    enrolled.edit_profile(passcode_set=True)
    enrolled.ok("checkin")
    assert server_view(platform, enrolled.device_id)["compliant"] is True


def test_lock_then_unlock(active: Tablet, platform: Admin) -> None:
    device_id = active.device_id
    lock = send(platform, device_id, "lock", {"message": "Call the IT desk", "phone": "+977 1 4200000"})
    active.ok("checkin")
    view = server_view(platform, device_id)
    assert view["state"] == "locked"
    assert view["lock_message"] == "Call the IT desk"
    assert command_of(platform, lock)["state"] == "acknowledged"
    # Locked: government apps and files stay closed, and say why.
    for argv in (("open", "floodreport/"), ("files", "list"), ("install", "gov.water.floodreport")):
        refused = active(*argv)
        assert refused.code == 9, argv
        assert "locked by its administrator: Call the IT desk. Call +977 1 4200000" in refused.err
    assert "LOCKED          Call the IT desk" in active.ok("status").out

    send(platform, device_id, "unlock")
    active.ok("checkin")
    view = server_view(platform, device_id)
    assert view["state"] == "active"
    assert view["lock_message"] is None
    assert status(active)["locked"] is False
    assert active("files", "list").code == 0


def test_message_is_kept_and_shown(active: Tablet, platform: Admin) -> None:
    command = send(platform, active.device_id, "message", {"text": "Flood drill at 14:00"})
    active.ok("checkin")
    assert command_of(platform, command)["state"] == "acknowledged"
    assert [m["text"] for m in status(active)["messages"]] == ["Flood drill at 14:00"]
    assert "Flood drill at 14:00" in active.ok("status").out


def test_locate(active: Tablet, platform: Admin) -> None:
    active.edit_profile(location={"latitude": 27.7172, "longitude": 85.324, "accuracy_m": 12})
    command = send(platform, active.device_id, "locate")
    active.ok("checkin")
    assert command_of(platform, command)["state"] == "acknowledged"
    location = server_view(platform, active.device_id)["last_location"]
    assert (location["latitude"], location["longitude"], location["accuracy_m"]) == (27.7172, 85.324, 12)


def test_locate_without_a_location_is_an_error_not_a_guess(active: Tablet, platform: Admin) -> None:
    command = send(platform, active.device_id, "locate")
    active.ok("checkin")
    assert command_of(platform, command)["state"] == "error"
    assert "cannot tell where it is" in result_of(platform, command)["result"]["error"]


def test_lost_mode_sends_location_at_every_checkin(active: Tablet, platform: Admin) -> None:
    device_id = active.device_id
    active.edit_profile(location={"latitude": 27.7, "longitude": 85.3})
    send(platform, device_id, "lost_mode_on", {"message": "Return to the Water Office", "phone": "1234"})
    active.ok("checkin")
    view = server_view(platform, device_id)
    assert view["state"] == "lost"
    assert view["lost_mode"] is True
    assert status(active)["lost_message"] == "Return to the Water Office"
    active.edit_profile(location={"latitude": 28.2, "longitude": 83.98})
    active.ok("checkin")
    assert server_view(platform, device_id)["last_location"]["latitude"] == 28.2
    send(platform, device_id, "lost_mode_off")
    active.ok("checkin")
    view = server_view(platform, device_id)
    assert view["state"] == "active"
    assert view["lost_mode"] is False
    # Out of lost mode the device stops reporting where it is.
    active.edit_profile(location={"latitude": 1.0, "longitude": 1.0})
    active.ok("checkin")
    assert server_view(platform, device_id)["recent_checkins"][0]["posture"]["location"] is None


def test_install_app_without_a_portal_is_a_pending_install(active: Tablet, platform: Admin) -> None:
    command = send(
        platform, active.device_id, "install_app", {"app_id": "gov.water.floodreport", "version": "2.1"}
    )
    active.ok("checkin")
    found = command_of(platform, command)
    assert found["state"] == "error"
    assert "this appliance has no app portal" in found["result"]["result"]["error"]
    assert [(p["app_id"], p["version"]) for p in status(active)["pending_installs"]] == [
        ("gov.water.floodreport", "2.1")
    ]
    assert "pending install gov.water.floodreport" in active.ok("status").out


def test_remove_app_uninstalls_it(active: Tablet, platform: Admin) -> None:
    active.edit_profile(installed_apps=["gov.water.floodreport", "org.example.game"])
    command = send(platform, active.device_id, "remove_app", {"app_id": "org.example.game"})
    active.ok("checkin")
    assert result_of(platform, command)["result"] == {"removed": True}
    assert active.profile.load().installed_apps == ["gov.water.floodreport"]
    posture = server_view(platform, active.device_id)["recent_checkins"][0]["posture"]
    assert posture["installed_apps"] == ["gov.water.floodreport"]


def test_refresh_policy(active: Tablet, platform: Admin, water: Any) -> None:
    platform.ok("PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json={"min_os_version": "15"})
    command = send(platform, active.device_id, "refresh_policy")
    outcome = active.ok("checkin")
    assert command_of(platform, command)["state"] == "acknowledged"
    assert "older than the required 15" in outcome.out
    assert status(active)["server_view"]["compliant"] is False


def test_renew_certificate_command(active: Tablet, platform: Admin) -> None:
    before = active.store.load_identity().certificate
    command = send(platform, active.device_id, "renew_certificate")
    active.ok("checkin")
    after = active.store.load_identity().certificate
    assert after.serial_number != before.serial_number
    assert command_of(platform, command)["state"] == "acknowledged"
    view = server_view(platform, active.device_id)
    assert view["cert_serial"] == format(after.serial_number, "x")
    # The result went out with the new certificate, so the server revoked the old one.
    assert any(e["change"] == "certificate renewed" for e in view["history"])


def test_unknown_command_type_is_answered_with_an_error_and_does_not_block_the_queue(
    active: Tablet, platform: Admin, gateway: GatewayStub
) -> None:
    # The server only queues types it knows, so play a newer server: the stub renames the
    # first command it delivers.
    renamed: list[str] = []

    def newer_server(answer: dict[str, Any]) -> dict[str, Any]:
        command = answer.get("command")
        if isinstance(command, dict) and not renamed:
            renamed.append(str(command["id"]))
            command["type"] = "teleport"
        return answer

    gateway.rewrite_checkin = newer_server
    first = send(platform, active.device_id, "refresh_policy")
    second = send(platform, active.device_id, "message", {"text": "after the unknown one"})
    active.ok("checkin")
    assert renamed == [first]
    found = command_of(platform, first)
    assert found["state"] == "error"
    assert "unsupported command type 'teleport'" in found["result"]["result"]["error"]
    assert command_of(platform, second)["state"] == "acknowledged"


def test_bad_payload_is_answered_with_an_error(active: Tablet, platform: Admin, gateway: GatewayStub) -> None:
    def broken(answer: dict[str, Any]) -> dict[str, Any]:
        if isinstance(answer.get("command"), dict):
            answer["command"]["payload"] = {"text": ["not", "a", "string"]}
        return answer

    gateway.rewrite_checkin = broken
    command = send(platform, active.device_id, "message", {"text": "hello"})
    active.ok("checkin")
    assert command_of(platform, command)["state"] == "error"
    assert "bad payload for message" in result_of(platform, command)["result"]["error"]
    assert status(active)["messages"] == []


def test_status_shows_the_device_id_as_a_qr_code(active: Tablet) -> None:
    outcome = active.ok("status", "--qr")
    assert active.device_id in outcome.out
    assert "█" in outcome.out or "▀" in outcome.out  # segno draws with block characters
