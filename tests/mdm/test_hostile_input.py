"""Hostile input on the admin API: wrong types, nulls, huge numbers, very long strings. Each is
answered with a clear 4xx in the common error shape, and nothing changes; none is a 500."""

from __future__ import annotations

from typing import Any

import pytest

from govmobile.core.database import Database
from tests.mdm.test_isolation import snapshot
from tests.support.mdm import Admin, Department

BIGGER_THAN_BIGINT = 2**63  # 9223372036854775808: one more than PostgreSQL's and SQLite's integers hold


def refused(admin: Admin, method: str, path: str, status: int = 422, **kwargs: Any) -> dict[str, Any]:
    response = admin(method, path, **kwargs)
    assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    assert set(body) <= {"error", "message", "details"}
    assert body["message"]
    return body


def test_an_audit_cursor_beyond_any_event_id_is_refused(platform: Admin, water: Department) -> None:
    body = refused(platform, "GET", "/api/v1/audit", params={"cursor": str(BIGGER_THAN_BIGINT)})
    assert body["error"] == "invalid_request"
    assert "cursor" in body["message"]
    largest = platform.ok("GET", "/api/v1/audit", params={"cursor": str(BIGGER_THAN_BIGINT - 1)})
    assert largest["items"]  # every event is older than the largest possible id


@pytest.mark.parametrize("field", ["display_name", "disabled"])
def test_a_person_field_that_cannot_be_empty_refuses_null(
    field: str, platform: Admin, water: Department, database: Database
) -> None:
    before = snapshot(database)
    body = refused(platform, "PATCH", f"/api/v1/people/{water.person_id}", json={field: None})
    assert field in body["message"]
    assert snapshot(database) == before
    # email may be cleared with null
    assert platform.ok("PATCH", f"/api/v1/people/{water.person_id}", json={"email": None})["email"] is None


POLICY_BODIES: list[dict[str, Any]] = [
    {"require_encryption": None, "max_offline_hours": 5},
    {"require_encryption": None},
    {"checkin_interval_seconds": None},
    {"app_admission": None},
    {"app_admission": {"mode": "allowlist", "packages": ["x" * 201]}},
    {"app_admission": {"mode": "allowlist", "packages": [""]}},
    {"admitted_apps_only": True},
    {"min_os_version": "1" * 51},
    {"max_offline_hours": BIGGER_THAN_BIGINT},
    {"require_passcode": "yes"},
]


def test_a_policy_refuses_nulls_and_bad_values_where_a_value_is_required(
    platform: Admin, water: Department, database: Database
) -> None:
    before = snapshot(database)
    for body in POLICY_BODIES:
        refused(platform, "PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json=body)
    assert snapshot(database) == before


def test_a_policy_limit_is_cleared_with_null(platform: Admin, water: Department) -> None:
    path = f"/api/v1/tenants/{water.tenant_id}/policy"
    assert platform.ok("PATCH", path, json={"max_offline_hours": 5})["max_offline_hours"] == 5
    cleared = platform.ok("PATCH", path, json={"max_offline_hours": None, "min_os_version": None})
    assert cleared["max_offline_hours"] is None
    assert cleared["require_encryption"] is True


def test_a_tenant_update_refuses_what_it_cannot_store(
    platform: Admin, water: Department, database: Database
) -> None:
    before = snapshot(database)
    for body in ({"name": None}, {"name": ""}, {"max_devices": -1}, {"slug": "renamed"}):
        refused(platform, "PATCH", f"/api/v1/tenants/{water.tenant_id}", json=body)
    assert snapshot(database) == before


def test_an_admin_account_update_refuses_null(platform: Admin, database: Database) -> None:
    me = platform.ok("GET", "/api/v1/auth/me")["account_id"]
    before = snapshot(database)
    refused(platform, "PATCH", f"/api/v1/admins/{me}", json={"disabled": None})
    refused(platform, "PATCH", f"/api/v1/admins/{me}", json={"unlock": None})
    assert snapshot(database) == before


QUERIES: list[tuple[str, dict[str, str]]] = [
    ("/api/v1/audit", {"since": "0.5"}),
    ("/api/v1/audit", {"since": "1700000000"}),
    ("/api/v1/devices", {"last_seen_before": "1e9"}),
    ("/api/v1/audit", {"since": "0001-01-01T00:00:00+14:00"}),
    ("/api/v1/devices", {"last_seen_after": "9999-12-31T23:59:59-14:00"}),
    ("/api/v1/audit", {"cursor": "-1"}),
    ("/api/v1/people", {"offset": str(BIGGER_THAN_BIGINT)}),
    ("/api/v1/people", {"limit": "1e3"}),
    ("/api/v1/devices", {"q": "x" * 101}),
    ("/api/v1/devices", {"group_id": "g" * 37}),
    ("/api/v1/enrollment-tokens", {"tenant_id": "t" * 64}),
    ("/api/v1/devices", {"q": "\x00"}),
    ("/api/v1/people", {"q": "a\x00b"}),
    ("/api/v1/devices/" + "d" * 37, {}),
    ("/api/v1/tenants/" + "t" * 64, {}),
]


def test_queries_refuse_what_no_record_can_match(platform: Admin, water: Department) -> None:
    """Times as bare numbers or beyond UTC, huge numbers, ids and text too long, NULs."""
    for path, params in QUERIES:
        body = refused(platform, "GET", path, params=params)
        assert body["error"] == "invalid_request", (path, params)


BODIES: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/tenants", {"slug": "big", "name": "Big", "max_devices": 2**40}),
    ("/api/v1/tenants", {"slug": "big", "name": "Big", "max_devices": "10"}),
    ("/api/v1/tenants", {"slug": "s" * 64, "name": "Big"}),
    ("/api/v1/tenants", {"slug": "big", "name": "Big", "id": "chosen-id"}),
    ("/api/v1/people", {"tenant_id": "water", "username": "nul", "display_name": "a\u0000b"}),
    ("/api/v1/people", {"tenant_id": "water", "username": "long", "display_name": "x" * 201}),
    ("/api/v1/people", {"tenant_id": "water", "username": "u", "display_name": "X", "disabled": True}),
    ("/api/v1/groups", {"tenant_id": "water", "name": "g", "description": "x" * 501}),
    ("/api/v1/tokens", {"name": "t", "ttl_days": "30"}),
    ("/api/v1/tokens", {"name": "t", "ttl_days": 2**64}),
    ("/api/v1/auth/totp/confirm", {"code": "12345a"}),
    ("/api/v1/enrollment-tokens", {"tenant_id": "water", "person_id": "p", "max_uses": True}),
    ("/api/v1/enrollment-tokens", {"tenant_id": "water", "person_id": "p", "ttl_hours": 1.5}),
    ("/api/v1/commands/bulk", {"target": {"tenant_id": "water"}, "type": "lock", "preview": "false"}),
    ("/api/v1/commands/bulk", {"target": {"compliant": "no"}, "type": "lock"}),
    (
        "/api/v1/commands/bulk",
        {"target": {"tenant_id": "water"}, "type": "lock", "expected_count": 2**63},
    ),
]


def test_bodies_refuse_wrong_types_huge_numbers_unknown_fields_and_long_text(
    platform: Admin, water: Department, database: Database
) -> None:
    before = snapshot(database)
    for path, body in BODIES:
        refused(platform, "POST", path, json=body)
    assert snapshot(database) == before


def test_a_string_false_does_not_send_a_bulk_lock(
    platform: Admin, water: Department, device_factory: Any, database: Database
) -> None:
    """Lax parsing once read "false" as False: a "preview" the admin meant became a send."""
    from tests.support.mdm import new_token

    assert device_factory().enroll(new_token(platform, water)).status_code == 200
    body = {"target": {"tenant_id": "water"}, "type": "lock", "preview": "false", "expected_count": 1}
    refused(platform, "POST", "/api/v1/commands/bulk", json=body)
    assert platform.ok("GET", "/api/v1/devices")["items"][0]["state"] == "enrolled"
    assert not platform.ok(
        "GET", f"/api/v1/devices/{platform.ok('GET', '/api/v1/devices')['items'][0]['id']}"
    )["pending_actions"]


def test_a_tenant_admin_cannot_use_another_departments_ids_in_a_body(
    platform: Admin, water: Department, http: Any, database: Database
) -> None:
    from govmobile.core.accounts import Role
    from tests.support.admins import make_admin
    from tests.support.mdm import make_department

    roads = make_department(platform, "roads")
    water_admin = Admin(http, make_admin(database, Role.TENANT_ADMIN, water.tenant_id))
    before = snapshot(database)
    for body in (
        {"tenant_id": water.tenant_id, "person_id": roads.person_id},
        {"tenant_id": water.tenant_id, "person_id": water.person_id, "group_id": roads.group_id},
        {"tenant_id": roads.tenant_id, "person_id": roads.person_id},
    ):
        assert water_admin("POST", "/api/v1/enrollment-tokens", json=body).status_code == 404, body
    bulk = {"target": {"group_id": roads.group_id}, "type": "lock"}
    assert water_admin("POST", "/api/v1/commands/bulk", json=bulk).status_code == 404
    member = water_admin("PUT", f"/api/v1/groups/{water.group_id}/members/{roads.person_id}")
    assert member.status_code == 404
    listed = water_admin("GET", "/api/v1/devices", params={"group_id": roads.group_id})
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    assert snapshot(database) == before
