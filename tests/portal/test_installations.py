"""Install reports and retries against the running portal, with the gateway's headers: a device
reports its own apps only, absurd values are refused or cut, unknown packages are refused; the
admin sees the reports beside the desired state, and a retry is audited, tenant-checked, carried
once in the signed document and never replayable into an install loop."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlmodel import col, select

from govmobile.core.audit import AuditEvent
from govmobile.core.database import Database
from tests.portal.test_portal_api import assign, published
from tests.support.apks import ApkFactory, AppSpec
from tests.support.mdm import Admin, Department
from tests.support.portal import PortalDevice

PACKAGE = "cn.gov.example.inspect"


def report(device: PortalDevice, apps: list[dict[str, Any]], device_id: str | None = None) -> Any:
    headers = device.device.identity()
    body = {"device_id": device_id or device.id, "apps": apps}
    return device.http.post("/portal/v1/installations", json=body, headers=headers)


def failed(attempts: int = 3, error: str = "tampered: the package does not match") -> dict[str, Any]:
    return {"package": PACKAGE, "state": "failed", "attempts": attempts, "last_error": error}


def payload(answer: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(base64.b64decode(answer.json()["payload"]))
    return document


def test_a_device_reports_its_apps_and_the_admin_sees_them_beside_the_desired_state(
    apks: ApkFactory, water: Department, water_admin: Admin, portal_device_factory: Any
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    assert assign(water_admin, release["app_id"], "department", water.tenant_id).status_code == 201
    device = portal_device_factory(water)
    answer = report(device, [failed(error="x" * 100_000)])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"device_id": device.id, "recorded": 1}
    status = water_admin.ok("GET", f"/api/v1/portal/devices/{device.id}/apps")
    assert [a["package"] for a in status["apps"]] == [PACKAGE]
    [seen] = status["installations"]
    assert (seen["state"], seen["attempts"], seen["retry_generation"]) == ("failed", 3, 0)
    # 100 KB of error text is kept to 1,000 characters, marked as cut.
    assert len(seen["last_error"]) == 1000
    assert seen["last_error"].endswith("…")
    installed = {"package": PACKAGE, "state": "installed", "version_code": 1, "attempts": 0}
    assert report(device, [installed]).status_code == 200
    [seen] = water_admin.ok("GET", f"/api/v1/portal/devices/{device.id}/apps")["installations"]
    assert (seen["state"], seen["version_code"], seen["last_error"]) == ("installed", 1, None)


def test_hostile_reports_are_refused_and_record_nothing(
    apks: ApkFactory,
    water: Department,
    fire: Department,
    water_admin: Admin,
    fire_admin: Admin,
    portal_device_factory: Any,
) -> None:
    published(water_admin, apks.build(AppSpec()))
    fire_only = published(fire_admin, apks.build(AppSpec(package="cn.gov.fire.rescue")))
    device = portal_device_factory(water)
    other = portal_device_factory(water)

    # Reporting for another device, with a valid certificate of its own: refused.
    answer = report(device, [failed()], device_id=other.id)
    assert answer.status_code == 403
    assert answer.json()["error"] == "certificate_of_another_device"
    # Absurd values: refused by the schema, with the field named.
    for bad in (
        {**failed(), "attempts": -1},
        {**failed(), "attempts": 10**12},
        {**failed(), "version_code": -5},
        {**failed(), "state": "exploded"},
        {**failed(), "package": "../../etc/passwd"},
        {**failed(), "extra": 1},
    ):
        answer = report(device, [bad])
        assert answer.status_code == 422, (bad, answer.text)
    answer = report(device, [failed(), failed()])
    assert answer.status_code == 400
    assert answer.json()["error"] == "duplicate_package"
    # A package the portal does not have, or another department's: the same refusal, no oracle.
    for unknown in ("cn.gov.made.up", fire_only["package"]):
        answer = report(device, [failed(), {**failed(), "package": unknown}])
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "unknown_package"
        assert unknown in answer.json()["message"]
    # No certificate proof at all.
    anonymous = device.http.post("/portal/v1/installations", json={"apps": [failed()]})
    assert anonymous.status_code == 401
    status = water_admin.ok("GET", f"/api/v1/portal/devices/{device.id}/apps")
    assert status["installations"] == []
    assert water_admin.ok("GET", f"/api/v1/portal/devices/{other.id}/apps")["installations"] == []


def test_a_retry_is_audited_carried_once_in_the_document_and_refused_across_departments(
    apks: ApkFactory,
    water: Department,
    water_admin: Admin,
    fire_admin: Admin,
    portal_device_factory: Any,
    database: Database,
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    assign(water_admin, release["app_id"], "department", water.tenant_id)
    device = portal_device_factory(water)
    first = device.desired_state()
    assert first.status_code == 200
    assert "retry" not in payload(first)["apps"][0]
    retry = f"/api/v1/portal/devices/{device.id}/apps/{PACKAGE}/retry"

    # Nothing failed yet: nothing to retry.
    assert water_admin("POST", retry).status_code == 409
    assert report(device, [failed()]).status_code == 200
    # Another department's admin: the device does not exist for them.
    refused = fire_admin("POST", retry)
    assert refused.status_code == 404, refused.text
    assert fire_admin("GET", f"/api/v1/portal/devices/{device.id}/apps").status_code == 404

    asked = water_admin.ok("POST", retry)
    assert (asked["state"], asked["retry_generation"]) == ("pending", 1)
    assert asked["retry_requested_by"]
    # Asked once: until the device reports a failure again, a second retry is refused.
    again = water_admin("POST", retry)
    assert again.status_code == 409
    assert again.json()["error"] == "nothing_to_retry"

    second = device.desired_state(headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200, "the retry changes the document"
    document = payload(second)
    assert document["sequence"] > payload(first)["sequence"]
    assert document["apps"][0]["retry"] == 1
    # Unchanged afterwards: the same generation, the same document (a 304), never a new request.
    assert device.desired_state(headers={"If-None-Match": second.headers["ETag"]}).status_code == 304
    # A device that reports failed again (its stale report, or a real failure) raises nothing by itself.
    assert report(device, [failed(attempts=1)]).status_code == 200
    assert device.desired_state(headers={"If-None-Match": second.headers["ETag"]}).status_code == 304

    with database.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "portal.installation.retry_requested")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(e.target, e.tenant_id) for e in events] == [(f"{device.id}/{PACKAGE}", water.tenant_id)]
