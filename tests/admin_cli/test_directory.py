"""tenant, person, group, admin: names in, tables or JSON out."""

from __future__ import annotations

import json

from tests.admin_cli.conftest import Terminal, login_args, table_rows
from tests.client.management import Appliance
from tests.support.client import Login


def test_tenants(admin: Terminal) -> None:
    made = admin.json("tenant", "create", "water", "--name", "Water Resources", "--max-devices", "50")
    assert (made["slug"], made["max_devices"]) == ("water", 50)
    admin.ok("tenant", "create", "fire", "--name", "Fire Brigade")
    rows = table_rows(admin.ok("tenant", "list"))
    assert [(r["SLUG"], r["NAME"], r["MAX DEVICES"]) for r in rows] == [
        ("fire", "Fire Brigade", "-"),
        ("water", "Water Resources", "50"),
    ]
    shown = admin.ok("tenant", "show", made["id"])
    assert "slug:        water" in shown
    assert "max devices: 50" in shown
    assert admin.json("tenant", "update", "water", "--unlimited")["max_devices"] is None
    assert admin.json("tenant", "update", "water", "--name", "Water")["name"] == "Water"
    assert (
        admin.refused("tenant", "update", "water")
        == "nothing to change: give --name, --max-devices or --unlimited"
    )
    assert admin.refused("tenant", "create", "water", "--name", "Again") == (
        "a tenant with slug 'water' already exists; choose another slug"
    )
    assert admin.refused("tenant", "show", "roads") == "no tenant 'roads'"


def test_people_and_groups_by_name(admin: Terminal) -> None:
    admin.ok("tenant", "create", "water", "--name", "Water")
    ana = admin.json(
        "person", "create", "ana", "--tenant", "water", "--name", "Ana Silva", "--email", "ana@w.example"
    )
    admin.ok("person", "create", "bo", "-t", "water", "--name", "Bo Berg")
    assert [r["USERNAME"] for r in table_rows(admin.ok("person", "list", "--tenant", "water"))] == [
        "ana",
        "bo",
    ]
    assert [p["username"] for p in admin.json("person", "list", "--q", "berg")] == ["bo"]
    admin.ok("group", "create", "field-staff", "--tenant", "water", "--description", "on the road")
    assert admin.ok("group", "add-member", "field-staff", "ana", "--tenant", "water") == (
        "ana is a member of field-staff\n"
    )
    group = admin.json("group", "show", "field-staff", "-t", "water")
    assert [m["username"] for m in group["members"]] == ["ana"]
    shown = admin.ok("person", "show", "ana", "--tenant", "water")
    assert "groups:   field-staff" in shown
    assert admin.json("person", "show", ana["id"])["groups"][0]["name"] == "field-staff"
    assert table_rows(admin.ok("group", "list"))[0]["MEMBERS"] == "1"
    updated = admin.json("person", "update", "ana", "-t", "water", "--disable", "--email", "")
    assert (updated["disabled"], updated["email"]) == (True, None)
    admin.ok("group", "remove-member", "field-staff", "ana", "-t", "water")
    assert admin.json("group", "show", "field-staff", "-t", "water")["members"] == []
    assert admin.refused("person", "show", "carl", "-t", "water") == "no person 'carl' in this tenant"
    assert admin.refused("group", "show", "office", "-t", "water") == "no group 'office' in this tenant"
    assert "name must be 1-100 letters" in admin.refused("group", "create", "bad name!", "-t", "water")


def test_admin_accounts_throttled_unlock_disable(admin: Terminal, appliance: Appliance) -> None:
    terminal = Terminal(admin.config_file.with_name("lead.json"))  # the tenant admin's own terminal
    admin.ok("tenant", "create", "water", "--name", "Water")
    lead = Login("water-lead", "a long enough password")
    made = json.loads(
        admin.ok(
            "admin",
            "create",
            lead.username,
            "--role",
            "tenant_admin",
            "-t",
            "water",
            "--json",
            input=f"{lead.password}\n{lead.password}\n",
        )
    )
    assert (made["role"], made["disabled"]) == ("tenant_admin", False)
    assert admin.refused("admin", "create", "x-lead", "--role", "tenant_admin", "--password-stdin") == (
        "a tenant admin needs --tenant"
    )
    rows = {r["USERNAME"]: r for r in table_rows(admin.ok("admin", "list"))}
    assert rows["water-lead"]["ROLE"] == "tenant_admin"
    login = [
        *login_args(appliance),
        "-u",
        lead.username,
        "--password-stdin",
    ]
    for _ in range(5):
        terminal.refused(*login, input="not the password\n")
    # Throttled from this address (not locked): "try again later", exit 1.
    throttled = terminal.refused(*login, input=lead.password + "\n", exit_code=1)
    assert throttled.startswith("too many failed logins for this username from this address")
    assert throttled.endswith(" s)")
    assert admin.json("admin", "unlock", "water-lead")["id"] == made["id"]
    terminal.ok(*login, input=lead.password + "\n")
    assert admin.json("admin", "disable", "water-lead")["disabled"] is True
    assert terminal.refused("whoami") == "the bearer token is invalid, expired or revoked; log in again"
    assert "disabled:   no" in admin.ok("admin", "enable", made["id"])
    assert admin.refused("admin", "disable", "ops-lead") == "you cannot disable your own account"
    assert admin.refused("admin", "unlock", "nobody") == "no admin account 'nobody' that you may see"
