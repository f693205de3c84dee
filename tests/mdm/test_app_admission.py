"""App admission against the real MDM and a real database (SQLite and PostgreSQL): devices report
their apps at check-in, a department's allowlist or blocklist judges them by package or signer,
and every hostile change or report is refused with nothing changed."""

from __future__ import annotations

from typing import Any

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from tests.mdm.test_hostile_input import refused
from tests.mdm.test_isolation import snapshot
from tests.support.admins import make_admin
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department

TRUSTED = "5a" * 32  # the department's own publisher
ROGUE = "e7" * 32
FLOOD = "gov.water.flood"
GAME = "com.games.birds"
MAIL = "cn.gov.mail"


def set_admission(admin: Admin, department: Department, **document: Any) -> dict[str, Any]:
    policy: dict[str, Any] = admin.ok(
        "PATCH", f"/api/v1/tenants/{department.tenant_id}/policy", json={"app_admission": document}
    )
    return policy


def reasons(device: ScriptedDevice) -> list[str]:
    response = device.checkin()
    assert response.status_code == 200, response.text
    found: list[str] = response.json()["device"]["reasons"]
    return found


def test_an_allowlist_admits_apps_by_package_or_by_signer_and_names_the_others(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    policy = set_admission(platform, water, mode="allowlist", packages=[MAIL], signers=[TRUSTED.upper()])
    assert policy["app_admission"] == {"mode": "allowlist", "packages": [MAIL], "signers": [TRUSTED]}
    enrolled.report_apps((FLOOD, 7, TRUSTED), (MAIL, 3, ROGUE))
    assert reasons(enrolled) == []  # the flood app by its signer, mail by its package

    enrolled.report_apps((FLOOD, 7, TRUSTED), (MAIL, 3, ROGUE), (GAME, 1, ROGUE))
    assert reasons(enrolled) == [
        f"app {GAME} is not admitted: the allowlist lists neither the package nor its signer {ROGUE}"
    ]
    answer = enrolled.checkin().json()
    assert answer["device"]["compliant"] is False
    # The device is told the rule it is judged by.
    assert answer["policy"]["app_admission"] == {
        "mode": "allowlist",
        "packages": [MAIL],
        "signers": [TRUSTED],
    }


def test_a_blocklist_blocks_by_package_or_by_signer(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    set_admission(platform, water, mode="blocklist", packages=[GAME], signers=[ROGUE])
    enrolled.report_apps((FLOOD, 7, TRUSTED), (MAIL, 3, ROGUE), (GAME, 1, TRUSTED))
    assert reasons(enrolled) == [
        f"app {MAIL} is blocked: the blocklist lists its signer {ROGUE}",
        f"app {GAME} is blocked: the blocklist lists the package",
    ]  # by package id
    enrolled.report_apps((FLOOD, 7, TRUSTED))
    assert reasons(enrolled) == []


def test_an_agent_without_inventory_is_judged_by_package_and_cannot_satisfy_a_signer(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    enrolled.posture["installed_apps"] = [FLOOD, MAIL]  # an older agent: package ids only
    set_admission(platform, water, mode="allowlist", packages=[MAIL], signers=[TRUSTED])
    assert reasons(enrolled) == [
        f"app {FLOOD} is not admitted: the allowlist does not list the package, "
        "and the device did not report its signer"
    ]
    set_admission(platform, water, mode="blocklist", packages=[], signers=[TRUSTED])
    assert reasons(enrolled) == []  # nothing says these apps are bad
    set_admission(platform, water, mode="blocklist", packages=[FLOOD], signers=[])
    assert reasons(enrolled) == [f"app {FLOOD} is blocked: the blocklist lists the package"]
    set_admission(platform, water, mode="off", packages=[FLOOD], signers=[])
    assert reasons(enrolled) == []


def test_many_offending_apps_are_named_up_to_five_then_counted(
    platform: Admin, water: Department, enrolled: ScriptedDevice
) -> None:
    set_admission(platform, water, mode="allowlist", packages=[MAIL])
    enrolled.report_apps(*((f"com.games.g{n}", n, ROGUE) for n in range(8)))
    found = reasons(enrolled)
    assert [r.split(" ", 2)[1] for r in found[:5]] == [f"com.games.g{n}" for n in range(5)]
    assert found[5:] == ["and 3 more apps break the allowlist rule"]


def test_every_admission_change_is_audited_as_what_was_added_and_removed(
    platform: Admin, water: Department
) -> None:
    set_admission(platform, water, mode="allowlist", packages=[MAIL, FLOOD], signers=[TRUSTED])
    set_admission(platform, water, mode="blocklist", packages=[MAIL, GAME], signers=[])
    events = platform.ok("GET", "/api/v1/audit", params={"action": "policy.updated"})["items"]
    assert [e["details"]["app_admission"] for e in events[:2]] == [
        {
            "mode": "blocklist",
            "previous_mode": "allowlist",
            "packages_added": [GAME],
            "packages_removed": [FLOOD],
            "signers_added": [],
            "signers_removed": [TRUSTED],
        },
        {
            "mode": "allowlist",
            "previous_mode": "off",
            "packages_added": [MAIL, FLOOD],
            "packages_removed": [],
            "signers_added": [TRUSTED],
            "signers_removed": [],
        },
    ]
    assert {e["tenant_id"] for e in events[:2]} == {water.tenant_id}


def test_bad_admission_lists_are_refused_and_nothing_changes(
    platform: Admin, water: Department, database: Database
) -> None:
    set_admission(platform, water, mode="allowlist", packages=[MAIL])
    before = snapshot(database)
    path = f"/api/v1/tenants/{water.tenant_id}/policy"
    for document, words in (
        ({"mode": "allowlist", "signers": ["ab" * 31]}, "not a signer"),
        ({"mode": "allowlist", "signers": ["zz" * 32]}, "not a signer"),
        ({"mode": "allowlist", "signers": ["ab" * 33]}, "not a signer"),
        ({"mode": "allowlist", "packages": ["../etc/passwd"]}, "not an Android package id"),
        ({"mode": "allowlist", "packages": ["nodot"]}, "not an Android package id"),
        ({"mode": "allowlist", "packages": [f"com.a{n}" for n in range(10_000)]}, "1000"),
        (
            {
                "mode": "allowlist",
                "packages": [f"com.a{n}" for n in range(600)],
                "signers": [f"{n:064x}" for n in range(600)],
            },
            "at most 1000 entries",
        ),
        ({"mode": "greylist"}, "mode"),
        ({"packages": [MAIL]}, "mode"),
        ({"mode": "allowlist", "extra": 1}, "extra"),
    ):
        body = refused(platform, "PATCH", path, json={"app_admission": document})
        assert words in body["message"], (document, body["message"])
    assert snapshot(database) == before


def test_a_department_admin_cannot_read_or_edit_another_departments_admission(
    platform: Admin, http: Any, water: Department, fire: Department, database: Database
) -> None:
    fire_admin = Admin(http, make_admin(database, Role.TENANT_ADMIN, fire.tenant_id, username="fire-admin"))
    set_admission(platform, water, mode="allowlist", packages=[MAIL])
    before = snapshot(database)
    path = f"/api/v1/tenants/{water.tenant_id}/policy"
    refused(fire_admin, "GET", path, status=404)
    refused(fire_admin, "PATCH", path, status=404, json={"app_admission": {"mode": "off"}})
    refused(
        fire_admin,
        "PATCH",
        "/api/v1/tenants/water/policy",
        status=404,
        json={"app_admission": {"mode": "off"}},
    )
    assert snapshot(database) == before
    assert (
        set_admission(fire_admin, fire, mode="blocklist", packages=[GAME])["app_admission"]["mode"]
        == "blocklist"
    )


def test_a_hostile_inventory_is_refused_and_the_device_record_is_untouched(
    platform: Admin, water: Department, enrolled: ScriptedDevice, database: Database
) -> None:
    assert enrolled.checkin().status_code == 200
    before = snapshot(database)
    good = {"package": FLOOD, "version_code": 1, "signer": TRUSTED}
    for inventory, words in (
        ([good, {**good, "version_code": 2}], f"lists {FLOOD} more than once"),
        ([{**good, "signer": TRUSTED.upper()}], "signer"),
        ([{**good, "signer": TRUSTED[:-1]}], "signer"),
        ([{**good, "package": "../../x"}], "package"),
        ([{**good, "version_code": -1}], "version_code"),
        ([{**good, "version_code": "1"}], "version_code"),
        ([{**good, "installer": "x"}], "installer"),
        ([{**good, "package": f"com.a{n}"} for n in range(501)], "500"),
    ):
        response = enrolled.checkin(posture={**enrolled.posture, "app_inventory": inventory})
        assert response.status_code == 422, response.text
        assert words in response.json()["message"], (words, response.json()["message"])
    assert snapshot(database) == before
