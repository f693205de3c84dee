"""``govmobile-admin app create-web`` and the review, publication and assignment of a web app,
against the real CA, MDM and portal behind the management listener (SQLite and PostgreSQL).
The gateway route is written as the gateway writes it; the portal only reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govmobile.core.database import Database
from tests.admin_cli.conftest import table_rows
from tests.admin_cli.test_apps import labelled, logged_in
from tests.client.management import Appliance
from tests.portal.test_web_apps import gateway_route
from tests.support.client import make_login
from tests.support.mdm import Admin, Department

PACKAGE = "cn.gov.water.oa"


def test_a_web_app_is_drafted_reviewed_published_and_assigned_from_the_command_line(
    tmp_path: Path,
    portal_appliance: Appliance,
    platform: Admin,
    water: Department,
    fire: Department,
    database: Database,
    portal_device_factory: Any,
) -> None:
    gateway_route(database, "oa", [water.tenant_id], ["field-staff"])
    author = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    reviewer = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    author.ok("app", "rules", "--second-approval")

    shown = author.ok(
        "app", "create-web", PACKAGE, "--route", "oa", "--start-path", "inbox",
        "--name-en", "Office", "--name-zh", "办公", "--category", "office",
    )  # fmt: skip
    drafted = labelled(shown)
    assert (drafted["state"], drafted["route"], drafted["opens"]) == ("draft", "oa", "/apps/oa/inbox")
    assert "next: govmobile-admin app approve" in shown
    release = author.json("app", "releases", PACKAGE)[0]
    assert "second" in author.refused("app", "approve", release["id"])
    reviewer.ok("app", "approve", release["id"])
    author.ok("app", "publish", release["id"])

    listed = table_rows(author.ok("app", "list"))
    assert [(a["PACKAGE"], a["KIND"], a["NAME"]) for a in listed] == [(PACKAGE, "web", "Office")]
    app = labelled(author.ok("app", "show", PACKAGE))
    assert (app["kind"], app["can open"]) == ("web", "available")

    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    inside = portal_device_factory(water)
    author.ok("app", "assign", PACKAGE, "--group", "field-staff", "--intent", "available")
    status = author.json("app", "status", inside.id)
    assert [(a["package"], a["kind"], a["url"]) for a in status["apps"]] == [
        (PACKAGE, "web", "/apps/oa/inbox")
    ]
    assert "/apps/oa/inbox" in author.ok("app", "status", inside.id)

    # A group the route does not admit: refused with the route's reason.
    platform.ok("POST", "/api/v1/groups", json={"tenant_id": water.tenant_id, "name": "office"})
    refusal = author.refused("app", "assign", PACKAGE, "--group", "office", "--intent", "available")
    assert "admits only the groups field-staff" in refusal

    # Another department neither sees it nor can take its package id.
    fire_admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", fire.tenant_id))
    assert fire_admin.json("app", "list") == []
    assert fire_admin.refused("app", "show", PACKAGE).startswith("no app")


def test_create_web_refuses_a_missing_route_and_a_path_that_leaves_it(
    tmp_path: Path, portal_appliance: Appliance, platform: Admin, water: Department, database: Database
) -> None:
    admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    assert "no gateway route 'nowhere'" in admin.refused(
        "app", "create-web", PACKAGE, "--route", "nowhere", "--name-en", "Office"
    )
    gateway_route(database, "oa", [water.tenant_id])
    for start_path in ("../mdm/", "%2e%2e/x", "//evil.example/", "https://evil.example/"):
        message = admin.refused(
            "app", "create-web", PACKAGE, "--route", "oa", "--start-path", start_path, "--name-en", "Office"
        )
        assert "start path" in message, (start_path, message)
    assert admin.json("app", "list") == []
