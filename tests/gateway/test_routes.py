"""The routes API: validation, optimistic concurrency, and what the data plane did with a route."""

from __future__ import annotations

from typing import Any

from tests.support.gateway import Gateway
from tests.support.mdm import Admin, Department, make_department
from tests.support.upstreams import RecordingUpstream


def _route(water: Department, upstream: str, **extra: Any) -> dict[str, Any]:
    return {"name": "docs", "upstream_url": upstream, "allowed_tenants": [water.tenant_id], **extra}


def test_a_route_reports_when_it_is_live(
    gateway: Gateway, management: Admin, water: Department, upstream: tuple[RecordingUpstream, str]
) -> None:
    created = management.ok("POST", "/api/v1/routes", json=_route(water, upstream[1]))
    assert created["data_plane"] in ("pending", "live")
    gateway.wait_until(lambda: management.ok("GET", "/api/v1/routes/docs")["data_plane"] == "live")


def test_an_unresolvable_upstream_is_reported_not_hidden(
    gateway: Gateway, management: Admin, water: Department
) -> None:
    management.ok("POST", "/api/v1/routes", json=_route(water, "http://no-such-host.invalid:8080"))
    gateway.wait_until(
        lambda: management.ok("GET", "/api/v1/routes/docs")["data_plane"].startswith("unavailable")
    )
    assert "does not resolve" in management.ok("GET", "/api/v1/routes/docs")["data_plane"]
    assert gateway.status_of("/apps/docs/") == 404


def test_a_stale_replace_is_refused(
    management: Admin, water: Department, upstream: tuple[RecordingUpstream, str]
) -> None:
    created = management.ok("POST", "/api/v1/routes", json=_route(water, upstream[1]))
    management.ok(
        "PUT",
        "/api/v1/routes/docs",
        json=_route(water, upstream[1], rate_limit=5, version=created["version"]),
    )
    stale = management(
        "PUT",
        "/api/v1/routes/docs",
        json=_route(water, upstream[1], websocket=True, version=created["version"]),
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "route_changed"
    assert management.ok("GET", "/api/v1/routes/docs")["rate_limit"] == 5


def test_the_upstream_ca_survives_a_replace_that_does_not_mention_it(
    management: Admin, water: Department, gateway: Gateway
) -> None:
    pem = gateway.tls.root.read_text()
    management.ok("POST", "/api/v1/routes", json=_route(water, "https://127.0.0.1:9", upstream_ca_pem=pem))
    kept = management.ok(
        "PUT", "/api/v1/routes/docs", json=_route(water, "https://127.0.0.1:9", rate_limit=3)
    )
    assert kept["upstream_ca_configured"] is True
    cleared = management.ok(
        "PUT", "/api/v1/routes/docs", json=_route(water, "https://127.0.0.1:9", upstream_ca_pem=None)
    )
    assert cleared["upstream_ca_configured"] is False


def test_bad_routes_are_refused(management: Admin, water: Department, platform: Admin, database: Any) -> None:
    for body, fragment in [
        (_route(water, "ftp://files.example"), "upstream_url"),
        (_route(water, "http://user:pass@intranet.example"), "upstream_url"),
        (_route(water, "http://x.example", name="api"), "reserved"),
        (_route(water, "http://x.example", name="Bad Name"), "name"),
        (_route(water, "http://x.example", allowed_tenants=[]), "at least one tenant"),
        (_route(water, "http://x.example", allowed_tenants=["atlantis"]), "atlantis"),
        (_route(water, "http://x.example", user_header="GovMobile-Gateway-Proof"), "header"),
        (_route(water, "http://x.example", upstream_ca_pem="not a certificate"), "upstream_ca_pem"),
    ]:
        response = management("POST", "/api/v1/routes", json=body)
        assert response.status_code in (400, 422), (body, response.text)
        assert fragment in response.text, (fragment, response.text)
    assert management.ok("GET", "/api/v1/routes") == []
    from govmobile.core.accounts import Role
    from tests.support.admins import make_admin

    tenant_admin = Admin(management.client, make_admin(database, Role.TENANT_ADMIN, water.tenant_id))
    refused = tenant_admin("POST", "/api/v1/routes", json=_route(water, "http://x.example"))
    assert refused.status_code == 403


def _tenant_admin(management: Admin, department: Department, username: str) -> Admin:
    password = "a-long-enough-password"
    management.ok(
        "POST",
        "/api/v1/admins",
        json={
            "username": username,
            "role": "tenant_admin",
            "tenant_id": department.tenant_id,
            "password": password,
        },
    )
    login = management.client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return Admin(management.client, login.json()["token"])


def test_a_department_sees_only_the_routes_that_admit_it(
    management: Admin, water: Department, platform: Admin, upstream: tuple[RecordingUpstream, str]
) -> None:
    roads = make_department(platform, "roads")
    shared = _route(water, upstream[1], name="shared")
    shared["allowed_tenants"] = [water.tenant_id, roads.tenant_id]
    management.ok("POST", "/api/v1/routes", json=shared)
    management.ok("POST", "/api/v1/routes", json=_route(water, upstream[1], name="water-only"))

    roads_admin = _tenant_admin(management, roads, "roads-admin")
    listed = roads_admin.ok("GET", "/api/v1/routes")
    assert [r["name"] for r in listed] == ["shared"]
    # Which other departments an app admits is not its business.
    assert listed[0]["allowed_tenants"] == [roads.tenant_id]
    assert roads_admin("GET", "/api/v1/routes/water-only").status_code == 404
    assert roads_admin.ok("GET", "/api/v1/routes/shared")["allowed_tenants"] == [roads.tenant_id]
    # ... nor may it change any route.
    assert roads_admin("DELETE", "/api/v1/routes/shared").status_code == 403
    # The platform admin sees everything as it is.
    everything = {r["name"]: r for r in management.ok("GET", "/api/v1/routes")}
    assert set(everything) == {"shared", "water-only"}
    assert set(everything["shared"]["allowed_tenants"]) == {water.tenant_id, roads.tenant_id}
