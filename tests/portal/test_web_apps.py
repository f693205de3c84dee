"""Web apps against the real portal and a real database (SQLite and PostgreSQL): catalogue
entries that open a gateway route, reviewed and published like APKs, offered to a device only
when an assignment gives it and the route admits the device's department and groups.

The routes are written as the gateway writes them (``gateway.routes.save_route``, the table's one
writer); the portal only reads them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from govmobile.core.accounts import Principal, Role
from govmobile.core.audit import AuditEvent
from govmobile.core.database import Database
from govmobile.gateway.models import Route, RouteWrite
from govmobile.gateway.routes import delete_route, get_route, save_route
from govmobile.portal.desired_state import DesiredStateVerifier, key_from_document
from tests.portal.test_portal_api import assign, upload
from tests.portal.test_portal_hostile import refused
from tests.support.admins import make_admin
from tests.support.apks import ApkFactory, AppSpec
from tests.support.ca import Clock
from tests.support.mdm import Admin, Department
from tests.support.portal import PortalDevice

GATEWAY = Principal("gateway-test", "route-admin", Role.PLATFORM_ADMIN, None)
WEB_APPS = "/api/v1/portal/web-apps"


def gateway_route(
    database: Database,
    name: str,
    tenants: list[str],
    groups: list[str] | None = None,
    *,
    enabled: bool = True,
    host: str | None = None,
) -> Route:
    """Create or replace a route as the gateway's admin API does."""
    data = RouteWrite(
        name=name,
        upstream_url="http://127.0.0.1:9",
        allowed_tenants=tenants,
        allowed_groups=groups or [],
        enabled=enabled,
        host=host,
    )
    with database.transaction() as session:
        existing = session.exec(select(Route).where(Route.name == name)).first()
        route = save_route(session, GATEWAY, data, now=dt.datetime.now(dt.UTC), existing=existing)
        session.expunge(route)
        return route


def drop_route(database: Database, name: str) -> None:
    with database.transaction() as session:
        delete_route(session, GATEWAY, get_route(session, name), now=dt.datetime.now(dt.UTC))


def draft(admin: Admin, route: str, *, package: str = "cn.gov.water.oa", **fields: Any) -> httpx.Response:
    body = {"package": package, "route": route, "name_en": "Office", "name_zh": "办公", **fields}
    params = {"tenant_id": body.pop("tenant_id")} if "tenant_id" in body else {}
    return admin("POST", WEB_APPS, json=body, params=params)


def published_web(admin: Admin, route: str, reviewer: Admin | None = None, **fields: Any) -> dict[str, Any]:
    response = draft(admin, route, **fields)
    assert response.status_code == 201, response.text
    release = response.json()
    (reviewer or admin).ok("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    result: dict[str, Any] = admin.ok(
        "POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"}
    )
    return result


def device_apps(
    device: PortalDevice, clock: Clock, key: Any
) -> list[tuple[str, str, str | None, str | None]]:
    answer = device.desired_state()
    assert answer.status_code == 200, answer.text
    state = DesiredStateVerifier(key, device.id).verify(answer.content, last_sequence=0, now=clock())
    return [(a.package, a.kind, a.url, a.target) for a in state.apps]


def desired_state_key(portal_data: Path) -> Any:
    keys = sorted((portal_data / "repository" / "targets" / "keys").glob("*.desired-state.json"))
    return key_from_document(keys[-1].read_bytes())


@dataclass(frozen=True)
class Members:
    inside: PortalDevice
    outside: PortalDevice
    clerk_id: str

    def __iter__(self) -> Iterator[PortalDevice]:
        return iter((self.inside, self.outside))


@pytest.fixture
def member_and_outsider(platform: Admin, water: Department, portal_device_factory: Any) -> Members:
    """A water device whose person is in field-staff, and one whose person (a clerk) is in no group."""
    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    clerk = platform.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": water.tenant_id, "username": "clerk", "display_name": "C"},
    )
    return Members(portal_device_factory(water), portal_device_factory(water, clerk["id"]), clerk["id"])


def test_a_web_app_is_reviewed_published_and_offered_only_to_devices_its_route_admits(
    water: Department,
    water_admin: Admin,
    water_reviewer: Admin,
    member_and_outsider: Members,
    database: Database,
    portal_data: Path,
    clock: Clock,
) -> None:
    inside, outside = member_and_outsider
    gateway_route(database, "oa", [water.tenant_id], ["field-staff"])
    water_admin.ok(
        "PUT", f"/api/v1/portal/departments/{water.tenant_id}/rules", json={"second_approval": True}
    )
    response = draft(water_admin, "oa", start_path="inbox/new?tab=1", category="office", publisher="Water IT")
    assert response.status_code == 201, response.text
    release = response.json()
    assert (release["state"], release["route"], release["start_path"], release["url"]) == (
        "draft",
        "oa",
        "inbox/new?tab=1",
        "/apps/oa/inbox/new?tab=1",
    )
    assert (release["size"], release["signers"], release["version_code"]) == (0, [], 1)
    # The department's government review applies to web apps too.
    refused(
        water_admin("POST", f"/api/v1/portal/releases/{release['id']}/approve"),
        409,
        "release_transition_refused",
    )
    water_reviewer.ok("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    water_admin.ok("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"})
    app = water_admin.ok("GET", f"/api/v1/portal/apps/{release['app_id']}")
    assert (app["kind"], app["availability"], app["name_zh"], app["category"]) == (
        "web",
        "available",
        "办公",
        "office",
    )
    # Nothing to download: no package file and no TUF target for a web app.
    assert not (portal_data / "repository" / "targets" / "apps" / "cn.gov.water.oa").exists()

    # The assignment gives presence (department-wide); the route decides who may open it.
    assert assign(water_admin, app["id"], "department", water.tenant_id, "available").status_code == 201
    key = desired_state_key(portal_data)
    assert device_apps(inside, clock, key) == [("cn.gov.water.oa", "web", "/apps/oa/inbox/new?tab=1", None)]
    assert device_apps(outside, clock, key) == []
    seen = water_admin.ok("GET", f"/api/v1/portal/devices/{inside.id}/apps")
    assert [(a["package"], a["kind"], a["url"]) for a in seen["apps"]] == [
        ("cn.gov.water.oa", "web", "/apps/oa/inbox/new?tab=1")
    ]
    assert seen["unavailable"] == []
    not_seen = water_admin.ok("GET", f"/api/v1/portal/devices/{outside.id}/apps")
    assert not_seen["apps"] == []
    assert [(u["package"], u["code"]) for u in not_seen["unavailable"]] == [
        ("cn.gov.water.oa", "group_not_admitted")
    ]
    assert "field-staff" in not_seen["unavailable"][0]["reason"]

    # The route is the one source of truth: open it to everyone of the department, and the
    # outsider is offered the app at its next fetch, with no change in the portal.
    gateway_route(database, "oa", [water.tenant_id])
    assert device_apps(outside, clock, key) == [("cn.gov.water.oa", "web", "/apps/oa/inbox/new?tab=1", None)]

    with database.session() as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        actions = [e.action for e in events]
    for action in (
        "portal.app.registered",
        "portal.release.drafted",
        "portal.release.approved",
        "portal.release.published",
        "portal.assignment.created",
    ):
        assert action in actions
    drafted = next(e for e in events if e.action == "portal.release.drafted")
    assert json.loads(drafted.details)["route"] == "oa"


def test_an_entry_change_is_a_new_release_reviewed_again(
    water: Department, water_admin: Admin, database: Database
) -> None:
    gateway_route(database, "oa", [water.tenant_id])
    gateway_route(database, "mail", [water.tenant_id])
    first = published_web(water_admin, "oa")
    second = draft(water_admin, "mail", start_path="inbox", package="cn.gov.water.oa").json()
    assert (second["version_code"], second["state"], second["app_id"]) == (2, "draft", first["app_id"])
    # Until the new entry is published, devices keep the published one.
    app = water_admin.ok("GET", f"/api/v1/portal/apps/{first['app_id']}")
    assert app["availability"] == "available"


def test_an_assignment_to_people_the_route_does_not_admit_is_refused(
    platform: Admin,
    water: Department,
    water_admin: Admin,
    member_and_outsider: Members,
    database: Database,
) -> None:
    inside, outside = member_and_outsider
    gateway_route(database, "oa", [water.tenant_id], ["field-staff"])
    app_id = published_web(water_admin, "oa")["app_id"]
    office = platform.ok("POST", "/api/v1/groups", json={"tenant_id": water.tenant_id, "name": "office"})
    body = refused(assign(water_admin, app_id, "group", office["id"]), 409, "group_not_admitted")
    assert "field-staff" in body["message"]
    assert "route" in body["message"]
    refused(assign(water_admin, app_id, "person", member_and_outsider.clerk_id), 409, "group_not_admitted")
    refused(assign(water_admin, app_id, "device", outside.id), 409, "group_not_admitted")
    # Targets the route admits are accepted.
    assert assign(water_admin, app_id, "group", water.group_id).status_code == 201
    assert assign(water_admin, app_id, "device", inside.id, "available").status_code == 201
    # Removing an app is never refused: it opens nothing.
    assert assign(water_admin, app_id, "group", office["id"], "uninstall").status_code == 201


def test_a_disabled_or_deleted_route_makes_the_web_app_unavailable_with_a_reason(
    water: Department,
    water_admin: Admin,
    member_and_outsider: Members,
    database: Database,
    portal_data: Path,
    clock: Clock,
) -> None:
    inside, _ = member_and_outsider
    gateway_route(database, "oa", [water.tenant_id])
    app_id = published_web(water_admin, "oa")["app_id"]
    assert assign(water_admin, app_id, "department", water.tenant_id).status_code == 201
    key = desired_state_key(portal_data)
    assert [a[0] for a in device_apps(inside, clock, key)] == ["cn.gov.water.oa"]

    gateway_route(database, "oa", [water.tenant_id], enabled=False)
    assert device_apps(inside, clock, key) == []
    app = water_admin.ok("GET", f"/api/v1/portal/apps/{app_id}")
    assert app["availability"] == "the gateway route 'oa' is disabled"
    status = water_admin.ok("GET", f"/api/v1/portal/devices/{inside.id}/apps")
    assert [(u["code"], u["reason"]) for u in status["unavailable"]] == [
        ("route_disabled", "the gateway route 'oa' is disabled")
    ]

    drop_route(database, "oa")
    assert device_apps(inside, clock, key) == []
    app = water_admin.ok("GET", f"/api/v1/portal/apps/{app_id}")
    assert "there is no gateway route 'oa'" in app["availability"]
    status = water_admin.ok("GET", f"/api/v1/portal/devices/{inside.id}/apps")
    assert [u["code"] for u in status["unavailable"]] == ["route_not_found"]

    gateway_route(database, "oa", [water.tenant_id])  # a route of that name again: the app is back
    assert [a[0] for a in device_apps(inside, clock, key)] == ["cn.gov.water.oa"]


# --- Hostile cases --------------------------------------------------------------------------


def _nothing_registered(admin: Admin) -> None:
    assert admin.ok("GET", "/api/v1/portal/apps") == []


def test_a_web_app_on_a_route_that_does_not_exist_is_refused(water_admin: Admin) -> None:
    body = refused(draft(water_admin, "nowhere"), 409, "route_not_found")
    assert "nowhere" in body["message"]
    _nothing_registered(water_admin)


def test_a_department_cannot_put_a_web_app_onto_a_route_that_does_not_admit_it(
    water: Department, fire: Department, water_admin: Admin, portal_http: httpx.Client, database: Database
) -> None:
    platform = Admin(portal_http, make_admin(database, Role.PLATFORM_ADMIN, username="portal-root"))
    gateway_route(database, "fire-oa", [fire.tenant_id])
    body = refused(draft(water_admin, "fire-oa"), 409, "route_not_found")
    # The same answer as for a route that does not exist: no oracle of other departments' routes.
    assert body["message"] == refused(draft(water_admin, "nowhere"), 409, "route_not_found")[
        "message"
    ].replace("nowhere", "fire-oa")
    assert fire.tenant_id not in body["message"]
    # Nor may a platform admin put a water app there.
    refused(draft(platform, "fire-oa", tenant_id=water.tenant_id), 409, "route_not_found")
    # Even disabled, another department's route says nothing more.
    gateway_route(database, "fire-oa", [fire.tenant_id], enabled=False)
    assert refused(draft(water_admin, "fire-oa"), 409, "route_not_found")["message"] == body["message"]
    _nothing_registered(water_admin)
    # A route served by its own host name has no /apps/<name>/ to open.
    gateway_route(database, "byhost", [water.tenant_id], host="oa.water.gov.example")
    refused(draft(water_admin, "byhost"), 409, "route_by_host")


def test_a_route_changed_after_the_draft_stops_the_publication(
    water: Department, fire: Department, water_admin: Admin, database: Database
) -> None:
    gateway_route(database, "oa", [water.tenant_id])
    release = draft(water_admin, "oa").json()
    gateway_route(database, "oa", [fire.tenant_id])
    refused(water_admin("POST", f"/api/v1/portal/releases/{release['id']}/approve"), 409, "route_not_found")
    gateway_route(database, "oa", [water.tenant_id])
    water_admin.ok("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    gateway_route(database, "oa", [water.tenant_id], enabled=False)
    refused(
        water_admin("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"}),
        409,
        "route_disabled",
    )
    assert water_admin.ok("GET", f"/api/v1/portal/releases/{release['id']}")["state"] == "approved"


@pytest.mark.parametrize(
    "start_path",
    [
        "..",
        "../other/",
        "inbox/../../other",
        "%2e%2e/other",
        "%2E%2e%2fother",
        "%252e%252e/other",
        "./inbox",
        "//evil.example/x",
        "/%2fevil.example/x",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "\\\\evil.example\\x",
        "inbox\\..\\..\\other",
        "%5c%5cevil.example",
        "inbox#fragment",
        "inbox page",
        "inbox%0d%0aSet-Cookie:x",
        "inbox%zz",
        "a" * 501,
    ],
)
def test_a_start_path_that_would_leave_the_route_is_refused(
    start_path: str, water: Department, water_admin: Admin, database: Database
) -> None:
    gateway_route(database, "oa", [water.tenant_id])
    response = draft(water_admin, "oa", start_path=start_path)
    if len(start_path) > 500:
        assert response.status_code == 422  # the schema's bound, before the domain is asked
    else:
        refused(response, 400, "invalid_start_path")
    _nothing_registered(water_admin)


def test_a_route_name_that_is_not_one_is_refused(water_admin: Admin) -> None:
    for name in ("../oa", "OA", "oa/x", "-oa"):
        refused(draft(water_admin, name), 400, "invalid_route_name")
    refused(draft(water_admin, "oa", package="../../etc"), 400, "invalid_package_id")
    _nothing_registered(water_admin)


def test_another_department_cannot_read_assign_or_change_a_web_app(
    water: Department,
    fire: Department,
    water_admin: Admin,
    fire_admin: Admin,
    member_and_outsider: Members,
    database: Database,
) -> None:
    inside, _ = member_and_outsider
    gateway_route(database, "oa", [water.tenant_id, fire.tenant_id])
    release = published_web(water_admin, "oa")
    app_id = release["app_id"]
    assert fire_admin.ok("GET", "/api/v1/portal/apps") == []
    refused(fire_admin("GET", f"/api/v1/portal/apps/{app_id}"), 404, "not_found")
    refused(fire_admin("GET", f"/api/v1/portal/releases/{release['id']}"), 404, "not_found")
    refused(fire_admin("POST", f"/api/v1/portal/releases/{release['id']}/retire"), 404, "not_found")
    refused(assign(fire_admin, app_id, "department", fire.tenant_id), 404, "not_found")
    # Even on a route that admits both, the package id stays water's.
    refused(draft(fire_admin, "oa"), 409, "package_owned_elsewhere")
    # And a device never reads another's desired state.
    assert assign(water_admin, app_id, "department", water.tenant_id).status_code == 201
    _, outsider = member_and_outsider
    refused(inside.desired_state(outsider.id), 403, "certificate_of_another_device")


def test_an_apk_and_a_web_entry_never_share_a_package_id(
    apks: ApkFactory, water: Department, water_admin: Admin, database: Database
) -> None:
    gateway_route(database, "oa", [water.tenant_id])
    apk = apks.build(AppSpec())
    assert upload(water_admin, apk).status_code == 201
    refused(draft(water_admin, "oa", package="cn.gov.example.inspect"), 409, "app_kind_mismatch")
    assert draft(water_admin, "oa").status_code == 201
    web_apk = apks.build(AppSpec(package="cn.gov.water.oa"))
    refused(upload(water_admin, web_apk), 409, "app_kind_mismatch")


def test_a_web_release_is_never_a_download(
    water: Department,
    water_admin: Admin,
    member_and_outsider: Members,
    database: Database,
) -> None:
    inside, _ = member_and_outsider
    gateway_route(database, "oa", [water.tenant_id])
    release = published_web(water_admin, "oa")
    assert assign(water_admin, release["app_id"], "department", water.tenant_id).status_code == 201
    path = f"/portal/v1/targets/apps/cn.gov.water.oa/{release['sha256']}.1.apk"
    refused(inside.get(path), 404, "not_found")


def test_a_new_web_app_needs_a_name_and_a_real_icon(
    water: Department, water_admin: Admin, database: Database
) -> None:
    gateway_route(database, "oa", [water.tenant_id])
    refused(
        water_admin("POST", WEB_APPS, json={"package": "cn.gov.water.oa", "route": "oa"}),
        400,
        "invalid_web_app",
    )
    refused(draft(water_admin, "oa", icon_base64="not base64!"), 400, "invalid_icon")
    refused(draft(water_admin, "oa", icon_base64="\u00ca\\\u00ed\u00db"), 400, "invalid_icon")  # not ASCII
    refused(draft(water_admin, "oa", icon_base64="PHN2Zz48L3N2Zz4="), 400, "invalid_icon")  # an SVG
    _nothing_registered(water_admin)
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    created = draft(water_admin, "oa", icon_base64=png)
    assert created.status_code == 201, created.text
    app = water_admin.ok("GET", f"/api/v1/portal/apps/{created.json()['app_id']}")
    assert (app["icon_media_type"], app["icon_base64"]) == ("image/png", png)
