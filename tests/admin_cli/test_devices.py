"""device, command and policy commands, and what a tenant admin can reach."""

from __future__ import annotations

from collections.abc import Callable

from tests.admin_cli.conftest import Terminal, table_rows
from tests.client.management import Appliance
from tests.support.client import make_login
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department, new_token

DeviceFactory = Callable[..., ScriptedDevice]


def enroll(platform: Admin, department: Department, device_factory: DeviceFactory) -> ScriptedDevice:
    device = device_factory()
    assert device.enroll(new_token(platform, department)).status_code == 200
    return device


def test_device_list_pages_and_filters(
    admin: Terminal, platform: Admin, water: Department, device_factory: DeviceFactory
) -> None:
    devices = [enroll(platform, water, device_factory) for _ in range(3)]
    ids = sorted(d.device_id for d in devices)
    devices[0].checkin()  # active and compliant now
    first = admin.run("device", "list", "--tenant", "water", "--limit", "2")
    assert first.exit_code == 0
    assert [r["ID"] for r in table_rows(first.stdout)] == ids[:2]
    assert first.stderr == f"more devices: add --cursor {ids[1]}, or --all\n"
    assert [r["ID"] for r in table_rows(admin.ok("device", "list", "--cursor", ids[1]))] == [ids[2]]
    every = admin.json("device", "list", "--all", "--limit", "1")
    assert ([d["id"] for d in every["items"]], every["next_cursor"]) == (ids, None)
    active = admin.json("device", "list", "--state", "active", "--compliant")["items"]
    assert [d["id"] for d in active] == [devices[0].device_id]
    assert admin.json("device", "list", "--noncompliant")["items"] == []
    found = admin.json(
        "device", "list", "--q", devices[1].serial_number.lower(), "--group", "field-staff", "-t", "water"
    )
    assert found["items"] == []  # the inspector is not in field-staff yet
    assert [
        d["id"] for d in admin.json("device", "list", "--person", "water-inspector", "-t", "water")["items"]
    ] == ids
    assert admin.ok("device", "list", "--state", "lost") == "no devices\n"


def test_device_show_and_retire(admin: Terminal, enrolled: ScriptedDevice) -> None:
    enrolled.checkin()
    shown = admin.ok("device", "show", enrolled.device_id)
    assert f"serial:              {enrolled.serial_number}" in shown
    assert "state:               active" in shown
    assert "history (newest first):" in shown
    assert (
        admin.refused("device", "retire", enrolled.device_id, input="n\n")
        == "not confirmed; nothing was changed"
    )
    assert admin.refused("device", "retire", enrolled.device_id) == (
        "no confirmation (add --yes to confirm without a prompt); nothing was changed"
    )
    assert admin.json("device", "show", enrolled.device_id)["state"] == "active"
    said = admin.ok("device", "retire", enrolled.device_id, input="y\n")
    assert said.endswith(
        f"retired {enrolled.serial_number} ({enrolled.device_id}); its certificate is revoked\n"
    )
    assert admin.refused("device", "retire", enrolled.device_id, "--yes") == "this device is already retired"


def test_commands_send_list_show_cancel(admin: Terminal, enrolled: ScriptedDevice) -> None:
    lock = admin.json("command", "send", enrolled.device_id, "lock", "--message", "Call IT", "--phone", "112")
    assert (lock["type"], lock["state"], lock["payload"]) == (
        "lock",
        "queued",
        {"message": "Call IT", "phone": "112"},
    )
    note = admin.ok(
        "command",
        "send",
        enrolled.device_id,
        "message",
        "--payload",
        '{"text": "hello"}',
        "--deadline-hours",
        "2",
    )
    note_id = note.split()[2]
    assert note.startswith(f"queued message {note_id} for device {enrolled.device_id}")
    rows = table_rows(admin.ok("command", "list", enrolled.device_id))
    assert [(r["TYPE"], r["STATE"]) for r in rows] == [("message", "queued"), ("lock", "queued")]
    assert admin.ok("command", "cancel", note_id) == f"cancelled message {note_id}\n"
    assert admin.refused("command", "cancel", note_id) == (
        f"command {note_id} is already cancelled; only open commands can be cancelled"
    )
    delivered = enrolled.checkin().json()["command"]
    enrolled.checkin(results=[{"command_id": delivered["id"], "status": "acknowledged"}])
    shown = admin.ok("command", "show", lock["id"])
    assert "state:           acknowledged" in shown
    assert "result:          acknowledged" in shown
    assert "bad payload for message" in admin.refused(
        "command", "send", enrolled.device_id, "message", "--message", "x"
    )
    assert admin.refused("command", "send", enrolled.device_id, "lock", "--payload", "[1]") == (
        '--payload must be a JSON object, e.g. \'{"text": "hello"}\''
    )
    assert admin.refused("command", "send", enrolled.device_id, "wipe") == (
        "no confirmation (add --yes to confirm without a prompt); nothing was changed"
    )
    assert admin.json("command", "list", enrolled.device_id)[0]["type"] == "message"  # no wipe was queued
    wipe = admin.json("command", "send", enrolled.device_id, "wipe", "--yes")
    assert wipe["priority"] == 100


def test_bulk_preview_confirm_send(
    admin: Terminal, platform: Admin, water: Department, device_factory: DeviceFactory
) -> None:
    for _ in range(2):
        enroll(platform, water, device_factory)
    assert admin.ok("command", "bulk", "locate", "--tenant", "water", "--dry-run") == (
        "locate would reach 2 devices; nothing was sent\n"
    )
    declined = admin.run("command", "bulk", "lock", "--tenant", "water", "--message", "audit", input="n\n")
    assert declined.exit_code == 2
    assert "send lock to 2 devices? [y/N]" in declined.stderr
    assert admin.json("device", "list", "-t", "water")["items"][0]["state"] == "enrolled"
    sent = admin.ok("command", "bulk", "lock", "--tenant", "water", "--message", "audit", input="y\n")
    assert sent.startswith("queued lock for 2 devices (bulk ")
    outcome = admin.json("command", "bulk", "refresh_policy", "-t", "water", "--state", "enrolled", "--yes")
    assert (outcome["count"], outcome["sent"]) == (2, True)
    assert admin.ok("command", "bulk", "unlock", "-t", "water", "--state", "lost") == (
        "unlock would reach 0 devices; nothing was sent\n"
    )
    assert (
        admin.refused("command", "bulk", "lock", "--yes") == "a bulk command needs a tenant_id or a group_id"
    )


def test_policy_show_and_set(admin: Terminal, water: Department) -> None:
    assert "version:            0 (defaults)" in admin.ok("policy", "show", "water")
    changed = admin.json(
        "policy", "set", "water",
        "--min-os-version", "14",
        "--no-require-passcode",
        "--max-offline-hours", "72",
        "--lock-after-days", "3",
        "--checkin-interval", "600",
    )  # fmt: skip
    assert changed["min_os_version"] == "14"
    assert changed["require_passcode"] is False
    assert changed["app_admission"] == {"mode": "off", "packages": [], "signers": []}
    assert (changed["max_offline_hours"], changed["lock_after_noncompliant_days"]) == (72, 3)
    assert changed["checkin_interval_seconds"] == 600
    cleared = admin.json(
        "policy", "set", water.tenant_id, "--max-offline-hours", "none", "--min-os-version", ""
    )
    assert (cleared["max_offline_hours"], cleared["min_os_version"], cleared["version"]) == (None, None, 2)
    assert cleared["lock_after_noncompliant_days"] == 3
    assert (
        admin.refused("policy", "set", "water") == "nothing to change: give at least one option (see --help)"
    )
    assert "min_os_version must contain a version number" in admin.refused(
        "policy", "set", "water", "--min-os-version", "new"
    )
    assert (
        "is neither a positive whole number nor 'none'"
        in admin.run("policy", "set", "water", "--lock-after-days", "0").stderr
    )


def test_a_tenant_admin_cannot_reach_another_departments_device(
    terminal: Terminal,
    appliance: Appliance,
    platform: Admin,
    water: Department,
    fire: Department,
    device_factory: DeviceFactory,
) -> None:
    theirs = enroll(platform, fire, device_factory)
    mine = enroll(platform, water, device_factory)
    terminal.login(appliance, make_login(platform, "tenant_admin", water.tenant_id))
    assert [d["id"] for d in terminal.json("device", "list", "--all")["items"]] == [mine.device_id]
    assert terminal.refused("device", "show", theirs.device_id) == f"no device {theirs.device_id}"
    assert terminal.refused("command", "send", theirs.device_id, "lock") == f"no device {theirs.device_id}"
    assert (
        terminal.refused("command", "send", theirs.device_id, "wipe", "--yes")
        == f"no device {theirs.device_id}"
    )
    assert terminal.refused("policy", "set", "fire", "--no-require-passcode") == "no such tenant"
    assert terminal.refused("token", "create", "-t", "fire", "-p", "fire-inspector") == "no such tenant"
    assert terminal.json("command", "list", mine.device_id) == []
