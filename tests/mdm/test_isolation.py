"""Tenant isolation: every admin endpoint, called by department A's admin on department B's
data, or by an auditor, answers 403/404 and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from govmobile.core import audit
from govmobile.core.accounts import AdminAccount, Role
from govmobile.core.database import Database
from govmobile.core.directory import Group, Membership, Person
from govmobile.core.tenancy import Tenant
from govmobile.mdm.models import Command, Device, EnrollmentToken, Policy
from tests.mdm.test_queue import queue
from tests.support.admins import make_admin
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department, make_department, new_token


@pytest.fixture
def world(platform: Admin, device_factory: Any, database: Database) -> dict[str, Any]:
    """Two departments, each with a person, group, token, enrolled device and command."""
    ids: dict[str, Any] = {}
    for slug in ("water", "roads"):
        department = make_department(platform, slug)
        platform.ok("PUT", f"/api/v1/groups/{department.group_id}/members/{department.person_id}")
        device: ScriptedDevice = device_factory()
        device.enroll(new_token(platform, department))
        device.checkin()
        token_id = platform.ok(
            "POST",
            "/api/v1/enrollment-tokens",
            json={"tenant_id": department.tenant_id, "person_id": department.person_id},
        )["id"]
        ids[slug] = {
            "department": department,
            "device_id": device.device_id,
            "command_id": queue(platform, device, "message", text="hello"),
            "token_id": token_id,
        }
    ids["roads_admin_id"] = platform.ok(
        "POST",
        "/api/v1/admins",
        json={
            "username": "roads-admin",
            "role": "tenant_admin",
            "tenant_id": ids["roads"]["department"].tenant_id,
            "password": "a-long-enough-password",
        },
    )["id"]
    return ids


def snapshot(database: Database) -> str:
    """Everything the admin API can change, as text, for before/after comparison."""
    parts = []
    with database.session() as session:
        for model in (
            Tenant,
            Person,
            Group,
            Membership,
            EnrollmentToken,
            Device,
            Command,
            Policy,
            AdminAccount,
        ):
            rows = session.exec(select(model)).all()
            parts.append(
                repr(sorted(repr(r.model_dump(exclude={"last_login_at", "failed_logins"})) for r in rows))
            )
    return "\n".join(parts)


def calls(b: dict[str, Any], roads_admin_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    d: Department = b["department"]
    return [
        ("GET", f"/api/v1/tenants/{d.tenant_id}", None),
        ("PATCH", f"/api/v1/tenants/{d.tenant_id}", {"max_devices": 1}),
        ("POST", "/api/v1/people", {"tenant_id": d.tenant_id, "username": "intruder", "display_name": "X"}),
        ("GET", f"/api/v1/people/{d.person_id}", None),
        ("PATCH", f"/api/v1/people/{d.person_id}", {"disabled": True}),
        ("POST", "/api/v1/groups", {"tenant_id": d.tenant_id, "name": "intruders"}),
        ("GET", f"/api/v1/groups/{d.group_id}", None),
        ("PUT", f"/api/v1/groups/{d.group_id}/members/{d.person_id}", None),
        ("DELETE", f"/api/v1/groups/{d.group_id}/members/{d.person_id}", None),
        ("POST", "/api/v1/enrollment-tokens", {"tenant_id": d.tenant_id, "person_id": d.person_id}),
        ("GET", f"/api/v1/enrollment-tokens/{b['token_id']}", None),
        ("DELETE", f"/api/v1/enrollment-tokens/{b['token_id']}", None),
        ("GET", f"/api/v1/devices/{b['device_id']}", None),
        ("POST", f"/api/v1/devices/{b['device_id']}/retire", None),
        ("POST", f"/api/v1/devices/{b['device_id']}/commands", {"type": "wipe"}),
        ("GET", f"/api/v1/devices/{b['device_id']}/commands", None),
        ("GET", f"/api/v1/commands/{b['command_id']}", None),
        ("POST", f"/api/v1/commands/{b['command_id']}/cancel", None),
        (
            "POST",
            "/api/v1/commands/bulk",
            {"target": {"group_id": d.group_id}, "type": "wipe", "preview": False, "expected_count": 1},
        ),
        (
            "POST",
            "/api/v1/commands/bulk",
            {"target": {"tenant_id": d.tenant_id}, "type": "lock", "preview": False, "expected_count": 1},
        ),
        ("GET", f"/api/v1/tenants/{d.tenant_id}/policy", None),
        ("PATCH", f"/api/v1/tenants/{d.tenant_id}/policy", {"require_passcode": False}),
        (
            "POST",
            "/api/v1/admins",
            {
                "username": "sneaky",
                "role": "tenant_admin",
                "tenant_id": d.tenant_id,
                "password": "a-long-enough-password",
            },
        ),
        ("PATCH", f"/api/v1/admins/{roads_admin_id}", {"disabled": True}),
    ]


def test_tenant_admin_cannot_touch_another_department(
    platform: Admin, world: dict[str, Any], database: Database
) -> None:
    water_admin = Admin(
        platform.client, make_admin(database, Role.TENANT_ADMIN, world["water"]["department"].tenant_id)
    )
    before = snapshot(database)
    for method, path, body in calls(world["roads"], world["roads_admin_id"]):
        response = water_admin(method, path, json=body) if body is not None else water_admin(method, path)
        assert response.status_code in (403, 404), (
            f"{method} {path} -> {response.status_code} {response.text}"
        )
        assert world["roads"]["device_id"] not in response.text or response.status_code == 404
    assert snapshot(database) == before


def test_tenant_admin_lists_show_only_its_department(
    platform: Admin, world: dict[str, Any], database: Database
) -> None:
    water = world["water"]["department"]
    roads = world["roads"]["department"]
    water_admin = Admin(platform.client, make_admin(database, Role.TENANT_ADMIN, water.tenant_id))
    assert [t["id"] for t in water_admin.ok("GET", "/api/v1/tenants")] == [water.tenant_id]
    assert water_admin.ok("GET", "/api/v1/people", params={"tenant_id": roads.tenant_id}) == []
    assert {p["tenant_id"] for p in water_admin.ok("GET", "/api/v1/people")} == {water.tenant_id}
    assert {g["tenant_id"] for g in water_admin.ok("GET", "/api/v1/groups")} == {water.tenant_id}
    assert [d["id"] for d in water_admin.ok("GET", "/api/v1/devices")["items"]] == [
        world["water"]["device_id"]
    ]
    assert water_admin.ok("GET", "/api/v1/devices", params={"tenant_id": roads.tenant_id})["items"] == []
    assert {t["tenant_id"] for t in water_admin.ok("GET", "/api/v1/enrollment-tokens")} == {water.tenant_id}
    events = water_admin.ok("GET", "/api/v1/audit", params={"limit": 1000})["items"]
    assert events
    assert {e["tenant_id"] for e in events} == {water.tenant_id}
    assert {a["tenant_id"] for a in water_admin.ok("GET", "/api/v1/admins")} == {water.tenant_id}
    assert (
        water_admin.ok(
            "POST",
            "/api/v1/commands/bulk",
            json={"target": {"tenant_id": water.tenant_id}, "type": "message", "payload": {"text": "x"}},
        )["count"]
        == 1
    )


def test_an_auditor_reads_everything_and_changes_nothing(
    platform: Admin, world: dict[str, Any], database: Database
) -> None:
    auditor = Admin(platform.client, make_admin(database, Role.AUDITOR))
    before = snapshot(database)
    for slug in ("water", "roads"):
        for method, path, body in calls(world[slug], world["roads_admin_id"]):
            response = auditor(method, path, json=body) if body is not None else auditor(method, path)
            if method == "GET":
                assert response.status_code == 200, f"{method} {path} -> {response.status_code}"
            else:
                assert response.status_code == 403, (
                    f"{method} {path} -> {response.status_code} {response.text}"
                )
    assert auditor("POST", "/api/v1/tenants", json={"slug": "new", "name": "New"}).status_code == 403
    assert auditor.ok("GET", "/api/v1/audit/verify")["ok"] is True
    assert snapshot(database) == before
    with database.session() as session:
        assert audit.verify_chain(session).ok


def test_a_tenant_admin_cannot_create_tenants_or_platform_admins(
    platform: Admin, world: dict[str, Any], database: Database
) -> None:
    water = world["water"]["department"]
    water_admin = Admin(platform.client, make_admin(database, Role.TENANT_ADMIN, water.tenant_id))
    assert water_admin("POST", "/api/v1/tenants", json={"slug": "mine", "name": "Mine"}).status_code == 403
    escalate = water_admin(
        "POST",
        "/api/v1/admins",
        json={"username": "boss", "role": "platform_admin", "password": "a-long-enough-password"},
    )
    assert escalate.status_code == 403
    own = water_admin(
        "POST",
        "/api/v1/admins",
        json={
            "username": "water-auditor",
            "role": "auditor",
            "tenant_id": water.tenant_id,
            "password": "a-long-enough-password",
        },
    )
    assert own.status_code == 201


def test_tenants_can_be_named_by_slug_everywhere(platform: Admin, water: Department) -> None:
    person = platform.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": "water", "username": "by-slug", "display_name": "By Slug"},
    )
    assert person["tenant_id"] == water.tenant_id
    group = platform.ok("POST", "/api/v1/groups", json={"tenant_id": "water", "name": "by-slug"})
    assert group["tenant_id"] == water.tenant_id
    assert {p["username"] for p in platform.ok("GET", "/api/v1/people", params={"tenant_id": "water"})} >= {
        "by-slug"
    }
    unknown = platform(
        "POST", "/api/v1/people", json={"tenant_id": "atlantis", "username": "x", "display_name": "X"}
    )
    assert unknown.status_code == 404
    assert "atlantis" in unknown.json()["message"]
    token = platform.ok(
        "POST", "/api/v1/enrollment-tokens", json={"tenant_id": "water", "person_id": person["id"]}
    )
    assert token["token"].startswith("gme_")


def test_filters_and_updates_refuse_what_they_cannot_use(platform: Admin, water: Department) -> None:
    naive = platform("GET", "/api/v1/audit", params={"since": "2020-01-01T00:00:00"})
    assert naive.status_code == 400
    assert "time zone" in naive.json()["message"]
    empty = platform("PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json={})
    assert empty.status_code == 400
    assert empty.json()["error"] == "empty_update"
    preview = platform.ok(
        "POST",
        "/api/v1/commands/bulk",
        json={"target": {"tenant_id": "water"}, "type": "message", "payload": {"text": "x"}},
    )
    assert preview["count"] == 0  # the department exists and has no devices yet
    assert platform("GET", "/api/v1/devices", params={"tenant_id": "atlantis"}).status_code == 404
