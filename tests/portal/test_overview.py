"""Installs counted per app and state (``/api/v1/portal/overview/installations``), as devices
last reported them, and a department admin counts only their department's."""

from __future__ import annotations

from typing import Any

from tests.portal.test_installations import PACKAGE, failed, report
from tests.portal.test_portal_api import assign, published
from tests.support.apks import ApkFactory, AppSpec
from tests.support.mdm import Admin, Department

PATH = "/api/v1/portal/overview/installations"


def test_installs_are_counted_per_app_and_state_within_the_department(
    apks: ApkFactory,
    water: Department,
    water_admin: Admin,
    fire_admin: Admin,
    platform: Admin,
    portal_device_factory: Any,
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    assert assign(water_admin, release["app_id"], "department", water.tenant_id).status_code == 201
    installed = {"package": PACKAGE, "state": "installed", "version_code": 1, "attempts": 1}
    for apps in ([installed], [installed], [failed()]):
        answer = report(portal_device_factory(water), apps)
        assert answer.status_code == 200, answer.text

    expected = [
        {"package": PACKAGE, "state": "failed", "count": 1},
        {"package": PACKAGE, "state": "installed", "count": 2},
    ]
    assert water_admin.ok("GET", PATH)["counts"] == expected
    assert water_admin.ok("GET", PATH, params={"tenant_id": "water"})["counts"] == expected
    everything = Admin(water_admin.client, platform.token)
    assert everything.ok("GET", PATH)["counts"] == expected
    assert everything.ok("GET", PATH, params={"tenant_id": "fire"})["counts"] == []
    assert fire_admin.ok("GET", PATH)["counts"] == []
    for other in ("water", water.tenant_id, "nowhere"):
        refused = fire_admin("GET", PATH, params={"tenant_id": other})
        assert refused.status_code == 404, refused.text
    assert water_admin.client.get(PATH).status_code == 401
