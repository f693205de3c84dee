"""The portal's admin and device APIs against a real server, a real database (SQLite and
PostgreSQL) and real APKs: publishing with review, assignment to a group, and a device in the
group receiving its signed desired state and its package (sent by nginx) while a device outside
never sees it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from govmobile.core.audit import AuditEvent
from govmobile.core.database import Database
from govmobile.portal.desired_state import DesiredStateVerifier, key_from_document
from tests.support.apks import ApkFactory, AppSpec
from tests.support.ca import Clock
from tests.support.mdm import Admin, Department
from tests.support.portal import INTERNAL_PREFIX, PortalDevice
from tests.support.static_files import in_front_of_portal

APK = "application/vnd.android.package-archive"


def upload(admin: Admin, apk: Path, **params: Any) -> httpx.Response:
    return admin(
        "POST",
        "/api/v1/portal/releases",
        content=apk.read_bytes(),
        params=params,
        headers={"Content-Type": APK},
    )


def published(
    admin: Admin, apk: Path, *, reviewer: Admin | None = None, track: str = "production"
) -> dict[str, Any]:
    """Upload, approve (by ``reviewer`` if given) and publish; the release as the API shows it."""
    response = upload(admin, apk)
    assert response.status_code == 201, response.text
    release = response.json()
    (reviewer or admin).ok("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    result: dict[str, Any] = admin.ok(
        "POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": track}
    )
    return result


def assign(
    admin: Admin, app_id: str, kind: str, target: str, intent: str = "required", **extra: Any
) -> httpx.Response:
    body = {"app_id": app_id, "target": {"kind": kind, "id": target}, "intent": intent, **extra}
    return admin("POST", "/api/v1/portal/assignments", json=body)


def test_a_release_reaches_the_group_it_is_assigned_to_and_no_other_device(
    apks: ApkFactory,
    water: Department,
    water_admin: Admin,
    water_reviewer: Admin,
    platform: Admin,
    portal_device_factory: Any,
    portal_url: str,
    portal_data: Path,
    clock: Clock,
    database: Database,
) -> None:
    water_admin.ok(
        "PUT", f"/api/v1/portal/departments/{water.tenant_id}/rules", json={"second_approval": True}
    )
    apk = apks.build(AppSpec())
    release = published(water_admin, apk, reviewer=water_reviewer)
    assert release["state"] == "published"
    assert release["sha256"] == hashlib.sha256(apk.read_bytes()).hexdigest()
    app = water_admin.ok("GET", f"/api/v1/portal/apps/{release['app_id']}")
    assert (app["package"], app["name_en"], app["name_zh"]) == (
        "cn.gov.example.inspect",
        "Field Inspection",
        "现场检查",
    )

    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    assert assign(water_admin, app["id"], "group", water.group_id).status_code == 201
    inside = portal_device_factory(water)
    outsider_person = platform.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": water.tenant_id, "username": "clerk", "display_name": "Clerk"},
    )
    outside = portal_device_factory(water, outsider_person["id"])

    answer = inside.desired_state()
    assert answer.status_code == 200, answer.text
    key_answer = inside.get("/portal/v1/metadata/timestamp.json")
    assert key_answer.status_code == 200
    with (
        in_front_of_portal(portal_url, portal_data / "repository", INTERNAL_PREFIX) as front,
        httpx.Client(base_url=front, timeout=30) as via_nginx,
    ):
        key = _desired_state_key(via_nginx, inside)
        state = DesiredStateVerifier(key, inside.id).verify(answer.content, last_sequence=0, now=clock())
        assert [(a.package, a.intent.value, a.version_code) for a in state.apps] == [
            ("cn.gov.example.inspect", "required", 1)
        ]
        assert state.apps[0].sha256 == release["sha256"]
        target = f"/portal/v1/targets/{state.apps[0].target.rsplit('/', 1)[0]}/{release['sha256']}.1.apk"  # type: ignore[union-attr]
        got = via_nginx.get(target, headers=inside.device.identity())
        assert got.status_code == 200
        assert got.content == apk.read_bytes()
        resumed = via_nginx.get(target, headers={**inside.device.identity(), "Range": "bytes=100-"})
        assert resumed.status_code == 206
        assert resumed.content == apk.read_bytes()[100:]
        # The device outside the group sees nothing and may not fetch the package by its URL.
        theirs = DesiredStateVerifier(key, outside.id).verify(
            outside.desired_state().content, last_sequence=0, now=clock()
        )
        assert theirs.apps == ()
        refused = via_nginx.get(target, headers=outside.device.identity())
        assert refused.status_code == 404
        assert refused.json()["error"] == "not_found"
        assert refused.content != apk.read_bytes()

    status = water_admin.ok("GET", f"/api/v1/portal/devices/{inside.id}/apps")
    assert status["apps"][0]["package"] == "cn.gov.example.inspect"
    assert status["sequence"] == 1
    with database.session() as session:
        from sqlmodel import col, select

        actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()]
    for action in (
        "portal.release.uploaded",
        "portal.release.approved",
        "portal.release.published",
        "portal.assignment.created",
    ):
        assert action in actions


def _desired_state_key(http: httpx.Client, device: PortalDevice) -> Any:
    """The desired-state key as a device learns it: listed by the TUF targets metadata, sent by nginx."""
    headers = device.device.identity()
    timestamp = http.get("/portal/v1/metadata/timestamp.json", headers=headers).json()
    snapshot_version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    snapshot = http.get(f"/portal/v1/metadata/{snapshot_version}.snapshot.json", headers=headers).json()
    targets_version = snapshot["signed"]["meta"]["targets.json"]["version"]
    targets = http.get(f"/portal/v1/metadata/{targets_version}.targets.json", headers=headers).json()
    listed = targets["signed"]["targets"]["keys/desired-state.json"]
    sha256 = listed["hashes"]["sha256"]
    data = http.get(f"/portal/v1/targets/keys/{sha256}.desired-state.json", headers=headers).content
    assert hashlib.sha256(data).hexdigest() == sha256
    return key_from_document(data)
