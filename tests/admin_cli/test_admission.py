"""``govmobile-admin app admission`` against the real MDM behind the management listener: a
department's allowlist or blocklist, by package or signer, and what a device is told."""

from __future__ import annotations

from pathlib import Path

from tests.admin_cli.conftest import Terminal, table_rows
from tests.admin_cli.test_apps import logged_in
from tests.client.management import Appliance
from tests.support.client import make_login
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department

SIGNER = "5a" * 32
KEYTOOL_SIGNER = ":".join(["5A"] * 32)


def test_an_allowlist_is_set_added_to_and_removed_from_and_judges_devices(
    admin: Terminal, water: Department, enrolled: ScriptedDevice
) -> None:
    assert admin.json("app", "admission", "show", "water") == {
        "tenant_id": water.tenant_id,
        "version": 0,
        "mode": "off",
        "packages": [],
        "signers": [],
    }
    made = admin.json(
        "app",
        "admission",
        "set",
        "water",
        "--mode",
        "allowlist",
        "--package",
        "cn.gov.mail",
        "--signer",
        KEYTOOL_SIGNER,
    )
    assert (made["mode"], made["packages"], made["signers"]) == ("allowlist", ["cn.gov.mail"], [SIGNER])
    admin.ok("app", "admission", "set", "water", "--add", "--package", "cn.gov.maps")
    admin.ok("app", "admission", "set", "water", "--remove", "--signer", SIGNER.upper())
    shown = admin.ok("app", "admission", "show", "water")
    assert "allowlist" in shown
    assert table_rows(shown.split("\n\n", 1)[1]) == [
        {"KIND": "package", "ENTRY": "cn.gov.mail"},
        {"KIND": "package", "ENTRY": "cn.gov.maps"},
    ]
    assert "app admission:" in admin.ok("policy", "show", "water")

    enrolled.report_apps(("cn.gov.mail", 1, SIGNER), ("com.games.birds", 4, "e7" * 32))
    assert enrolled.checkin().json()["device"]["reasons"] == [
        f"app com.games.birds is not admitted: the allowlist lists neither the package nor its signer {'e7' * 32}"
    ]
    admin.ok(
        "app", "admission", "set", "water", "--mode", "blocklist", "--clear", "--package", "com.games.birds"
    )
    assert enrolled.checkin().json()["device"]["reasons"] == [
        "app com.games.birds is blocked: the blocklist lists the package"
    ]
    admin.ok("app", "admission", "set", "water", "--mode", "off")
    assert enrolled.checkin().json()["device"]["compliant"] is True
    # Off keeps the list, ready to be switched on again.
    assert admin.json("app", "admission", "show", "water")["packages"] == ["com.games.birds"]


def test_bad_entries_and_contradictions_get_one_line_and_change_nothing(
    admin: Terminal, water: Department
) -> None:
    admin.ok("app", "admission", "set", "water", "--mode", "allowlist", "--package", "cn.gov.mail")
    message = admin.refused("app", "admission", "set", "water", "--signer", "ab" * 31)
    assert message.startswith("app_admission: '" + "ab" * 31 + "' is not a signer"), message
    assert "not an Android package id" in admin.refused(
        "app", "admission", "set", "water", "--package", "a/../b"
    )
    assert admin.refused("app", "admission", "set", "water") == (
        "nothing to change: give --mode, entries (--package, --signer) or --clear"
    )
    assert admin.refused("app", "admission", "set", "water", "--add", "--remove", "--package", "a.b") == (
        "--add, --remove and --clear contradict each other; give one"
    )
    assert admin.refused("app", "admission", "set", "water", "--add") == (
        "--add and --remove need at least one --package or --signer"
    )
    usage = admin.run("app", "admission", "set", "water", "--mode", "greylist")
    assert usage.exit_code == 2
    assert "'greylist' is not one of 'off', 'allowlist', 'blocklist'" in usage.stderr
    assert admin.json("app", "admission", "show", "water")["packages"] == ["cn.gov.mail"]


def test_a_department_admin_cannot_see_or_change_another_departments_admission(
    tmp_path: Path,
    appliance: Appliance,
    platform: Admin,
    admin: Terminal,
    water: Department,
    fire: Department,
) -> None:
    admin.ok("app", "admission", "set", "water", "--mode", "allowlist", "--package", "cn.gov.mail")
    fire_admin = logged_in(tmp_path, appliance, make_login(platform, "tenant_admin", fire.tenant_id))
    assert fire_admin.refused("app", "admission", "show", "water").startswith("no ")
    assert fire_admin.refused("app", "admission", "set", "water", "--mode", "off").startswith("no ")
    assert fire_admin.refused("app", "admission", "set", water.tenant_id, "--mode", "off").startswith("no ")
    assert admin.json("app", "admission", "show", "water")["mode"] == "allowlist"
    fire_admin.ok("app", "admission", "set", "fire", "--mode", "blocklist", "--package", "com.games.birds")
