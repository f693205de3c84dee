"""Hostile input on the admin API: wrong types, nulls, huge numbers, very long strings. Each is
answered with a clear 4xx in the common error shape, and nothing changes; none is a 500."""

from __future__ import annotations

from typing import Any

import pytest

from govmobile.core.database import Database
from tests.mdm.conftest import Admin, Department
from tests.mdm.test_isolation import snapshot

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


@pytest.mark.parametrize(
    "body",
    [
        {"require_encryption": None, "max_offline_hours": 5},
        {"require_encryption": None},
        {"checkin_interval_seconds": None},
        {"admitted_apps": None},
        {"admitted_apps": ["x" * 201]},
        {"admitted_apps": [""]},
        {"min_os_version": "1" * 51},
        {"max_offline_hours": BIGGER_THAN_BIGINT},
        {"require_passcode": "yes"},
    ],
)
def test_a_policy_refuses_nulls_and_bad_values_where_a_value_is_required(
    body: dict[str, Any], platform: Admin, water: Department, database: Database
) -> None:
    before = snapshot(database)
    refused(platform, "PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json=body)
    assert snapshot(database) == before


def test_a_policy_limit_is_cleared_with_null(platform: Admin, water: Department) -> None:
    path = f"/api/v1/tenants/{water.tenant_id}/policy"
    assert platform.ok("PATCH", path, json={"max_offline_hours": 5})["max_offline_hours"] == 5
    cleared = platform.ok("PATCH", path, json={"max_offline_hours": None, "min_os_version": None})
    assert cleared["max_offline_hours"] is None
    assert cleared["require_encryption"] is True


@pytest.mark.parametrize("body", [{"name": None}, {"name": ""}, {"max_devices": -1}, {"slug": "renamed"}])
def test_a_tenant_update_refuses_what_it_cannot_store(
    body: dict[str, Any], platform: Admin, water: Department, database: Database
) -> None:
    before = snapshot(database)
    refused(platform, "PATCH", f"/api/v1/tenants/{water.tenant_id}", json=body)
    assert snapshot(database) == before


def test_an_admin_account_update_refuses_null(platform: Admin, database: Database) -> None:
    me = platform.ok("GET", "/api/v1/auth/me")["account_id"]
    before = snapshot(database)
    refused(platform, "PATCH", f"/api/v1/admins/{me}", json={"disabled": None})
    refused(platform, "PATCH", f"/api/v1/admins/{me}", json={"unlock": None})
    assert snapshot(database) == before
