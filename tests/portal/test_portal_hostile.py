"""Every hostile case of issue 12 against the running portal: each gets a clear error, and
nothing is kept (no file in the volume, no release in the database, no listing in TUF)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from govmobile.portal.desired_state import LIFETIME
from govmobile.portal.errors import InvalidAssignment
from govmobile.portal.protection import ProtectionPolicy
from tests.portal.test_portal_api import APK, assign, published, upload
from tests.support.admins import make_admin
from tests.support.apks import (
    ApkFactory,
    AppSpec,
    malformed_manifest_copy,
    tampered_copy,
    traversal_copy,
    zip_bomb,
)
from tests.support.ca import Clock
from tests.support.mdm import Admin, Department


def left_behind(portal_data: Path) -> list[str]:
    """Every file in the portal's volume apart from its TUF metadata, the desired-state key and the lock."""
    kept = ("repository/metadata/", "repository/targets/keys/")
    found = []
    for directory, _, files in os.walk(portal_data):
        for name in files:
            relative = str(Path(directory, name).relative_to(portal_data))
            if not relative.startswith(kept) and relative != "repository/.lock":
                found.append(relative)
    return found


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert body["message"]
    return body


def no_releases(admin: Admin) -> None:
    for app in admin.ok("GET", "/api/v1/portal/apps"):
        assert admin.ok("GET", f"/api/v1/portal/apps/{app['id']}/releases") == []


@pytest.mark.parametrize(
    ("make", "code"),
    [
        ("tampered", "signature_invalid"),
        ("not_an_apk", "not_an_apk"),
        ("malformed_manifest", "malformed_manifest"),
        ("zip_bomb", "zip_bomb"),
        ("traversal", "unsafe_archive"),
    ],
)
def test_a_hostile_package_is_refused_and_nothing_is_kept(
    make: str, code: str, apks: ApkFactory, water_admin: Admin, portal_data: Path, tmp_path: Path
) -> None:
    good = apks.build(AppSpec())
    hostile = {
        "tampered": lambda: tampered_copy(good, tmp_path / "tampered.apk"),
        "not_an_apk": lambda: _write(
            tmp_path / "report.apk", b"%PDF-1.7 this is a report, not a package\n" * 100
        ),
        "malformed_manifest": lambda: malformed_manifest_copy(
            good, tmp_path / "broken.apk", apks.publisher, AppSpec()
        ),
        "zip_bomb": lambda: zip_bomb(tmp_path / "bomb.apk", 64 << 20),
        "traversal": lambda: traversal_copy(good, tmp_path / "evil.apk", apks.publisher, AppSpec()),
    }[make]()
    refused(upload(water_admin, hostile), 400, code)
    assert left_behind(portal_data) == []
    assert water_admin.ok("GET", "/api/v1/portal/apps") == []


def test_an_update_signed_by_another_key_and_a_downgrade_are_refused(
    apks: ApkFactory, water_admin: Admin, portal_data: Path
) -> None:
    published(water_admin, apks.build(AppSpec(version_code=2, version_name="2.0")))
    before = sorted(left_behind(portal_data))
    refused(upload(water_admin, apks.build(AppSpec(version_code=3), apks.impostor)), 409, "signer_mismatch")
    refused(upload(water_admin, apks.build(AppSpec(version_code=1))), 409, "version_not_newer")
    assert sorted(left_behind(portal_data)) == before


def test_an_upload_over_the_limit_is_cut_off_while_it_streams(water_admin: Admin, portal_data: Path) -> None:
    def endless() -> Iterator[bytes]:
        # No Content-Length: the portal must count what arrives. 64 MiB offered, 8 MiB allowed.
        for _ in range(1024):
            yield bytes(64 << 10)

    response = water_admin(
        "POST", "/api/v1/portal/releases", content=endless(), headers={"Content-Type": APK}
    )
    refused(response, 400, "package_too_large")
    assert left_behind(portal_data) == []
    # A declared length over the limit is refused before a byte of the body is read.
    declared = water_admin(
        "POST", "/api/v1/portal/releases", content=bytes(9 << 20), headers={"Content-Type": APK}
    )
    refused(declared, 413, "too_large")
    assert left_behind(portal_data) == []


def test_an_upload_interrupted_halfway_leaves_nothing(
    apks: ApkFactory, water_admin: Admin, portal_url: str, portal_data: Path
) -> None:
    apk = apks.build(AppSpec()).read_bytes()
    address = urlsplit(portal_url)
    assert address.hostname is not None
    assert address.port is not None
    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.sendall(
            (
                f"POST /api/v1/portal/releases HTTP/1.1\r\nHost: portal\r\n"
                f"Authorization: Bearer {water_admin.token}\r\n"
                f"Content-Type: {APK}\r\nContent-Length: {len(apk)}\r\n\r\n"
            ).encode()
            + apk[: len(apk) // 2]
        )
        # The first half is being written to the volume before the connection breaks.
        _wait_until(lambda: any(name.startswith("incoming/.upload-") for name in left_behind(portal_data)))
    # Then the portal notices the broken connection and removes what it had received.
    _wait_until(lambda: left_behind(portal_data) == [])
    assert water_admin.ok("GET", "/api/v1/portal/apps") == []


def test_a_package_id_another_department_owns_is_refused(
    apks: ApkFactory, water_admin: Admin, fire_admin: Admin
) -> None:
    published(water_admin, apks.build(AppSpec()))
    body = refused(upload(fire_admin, apks.build(AppSpec(version_code=5))), 409, "package_owned_elsewhere")
    assert "water" not in body["message"].lower()
    assert fire_admin.ok("GET", "/api/v1/portal/apps") == []


def test_departments_cannot_read_or_assign_across_each_other(
    apks: ApkFactory, water_admin: Admin, fire_admin: Admin, water: Department, fire: Department
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    app_id = release["app_id"]
    refused(fire_admin("GET", f"/api/v1/portal/apps/{app_id}"), 404, "not_found")
    refused(fire_admin("GET", f"/api/v1/portal/apps/{app_id}/releases"), 404, "not_found")
    refused(fire_admin("GET", f"/api/v1/portal/releases/{release['id']}"), 404, "not_found")
    refused(fire_admin("POST", f"/api/v1/portal/releases/{release['id']}/retire"), 404, "not_found")
    refused(assign(fire_admin, app_id, "group", fire.group_id), 404, "not_found")
    # The water admin cannot reach fire's group, person or department with water's app either.
    refused(assign(water_admin, app_id, "group", fire.group_id), 404, "not_found")
    refused(assign(water_admin, app_id, "person", fire.person_id), 404, "not_found")
    refused(assign(water_admin, app_id, "department", fire.tenant_id), 404, "not_found")
    refused(
        assign(
            water_admin,
            app_id,
            "department",
            water.tenant_id,
            exclusions=[{"kind": "group", "id": fire.group_id}],
        ),
        404,
        "not_found",
    )
    refused(fire_admin("GET", f"/api/v1/portal/departments/{water.tenant_id}/rules"), 404, "not_found")
    refused(assign(fire_admin, app_id, "group", water.group_id, tenant_id=water.tenant_id), 404, "not_found")
    assert fire_admin.ok("GET", "/api/v1/portal/assignments") == []


def test_the_uploader_cannot_approve_their_own_release_where_a_second_admin_is_required(
    apks: ApkFactory, water_admin: Admin, water_reviewer: Admin, water: Department
) -> None:
    water_admin.ok(
        "PUT",
        f"/api/v1/portal/departments/{water.tenant_id}/rules",
        json={"second_approval": True, "pilot_first": True},
    )
    release = upload(water_admin, apks.build(AppSpec())).json()
    refused(
        water_admin("POST", f"/api/v1/portal/releases/{release['id']}/approve"),
        409,
        "release_transition_refused",
    )
    refused(
        water_admin("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"}),
        409,
        "release_transition_refused",
    )
    water_reviewer.ok("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    refused(
        water_admin("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"}),
        409,
        "release_transition_refused",
    )
    assert (
        water_admin.ok("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "pilot"})[
            "track"
        ]
        == "pilot"
    )
    promoted = water_admin.ok(
        "POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"}
    )
    assert (promoted["state"], promoted["track"]) == ("published", "production")


def test_an_auditor_cannot_upload_and_the_body_is_not_read(
    database: Database, portal_http: httpx.Client, water: Department, portal_data: Path
) -> None:
    auditor = Admin(portal_http, make_admin(database, Role.AUDITOR, water.tenant_id))
    refused(upload(auditor, Path(__file__)), 403, "permission_denied")
    refused(portal_http.post("/api/v1/portal/releases", content=b"PK"), 401, "unauthenticated")
    assert left_behind(portal_data) == []


def test_a_device_gets_only_its_own_desired_state_and_only_through_the_gateway(
    portal_device_factory: Any, water: Department, portal_http: httpx.Client
) -> None:
    mine, other = portal_device_factory(water), portal_device_factory(water)
    refused(mine.desired_state(other.id), 403, "certificate_of_another_device")
    no_proof = portal_http.get(
        f"/portal/v1/devices/{mine.id}/desired-state",
        headers={"Client-Cert": mine.device.identity()["Client-Cert"]},
    )
    refused(no_proof, 401, "not_via_gateway")
    forged = mine.desired_state(headers={"GovMobile-Gateway-Proof": "not-the-gateway-secret-at-all"})
    refused(forged, 401, "not_via_gateway")
    refused(mine.get("/portal/v1/metadata/..%2f..%2fportal.sqlite3"), 404, "not_found")
    refused(mine.get("/portal/v1/targets/apps/../../../etc/passwd"), 404, "not_found")


def test_a_device_cannot_download_a_package_not_assigned_to_it(
    apks: ApkFactory,
    water_admin: Admin,
    fire_admin: Admin,
    water: Department,
    fire: Department,
    portal_device_factory: Any,
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    water_device, fire_device = portal_device_factory(water), portal_device_factory(fire)
    path = f"/portal/v1/targets/apps/{release['package']}/{release['sha256']}.1.apk"
    refused(water_device.get(path), 404, "not_found")  # published, but not assigned yet
    assign(water_admin, release["app_id"], "department", water.tenant_id, intent="available")
    assert water_device.get(path).headers["x-accel-redirect"].endswith(f"{release['sha256']}.1.apk")
    refused(fire_device.get(path), 404, "not_found")
    assign(water_admin, release["app_id"], "device", water_device.id, intent="uninstall")
    refused(water_device.get(path), 404, "not_found")  # the device-level uninstall wins


def test_the_sequence_grows_with_every_change_and_an_old_document_is_replaced_before_it_expires(
    apks: ApkFactory, water_admin: Admin, water: Department, portal_device_factory: Any, clock: Clock
) -> None:
    device = portal_device_factory(water)
    first = device.desired_state()
    assert first.headers["etag"] == '"1"'
    again = device.desired_state(headers={"If-None-Match": '"1"'})
    assert again.status_code == 304
    release = published(water_admin, apks.build(AppSpec()))
    assign(water_admin, release["app_id"], "department", water.tenant_id)
    changed = device.desired_state(headers={"If-None-Match": '"1"'})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')
    clock.advance(LIFETIME / 2 + dt.timedelta(seconds=1))
    renewed = device.desired_state(headers={"If-None-Match": '"2"'})
    assert (renewed.status_code, renewed.headers["etag"]) == (200, '"3"')


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


def test_a_department_that_does_not_exist_is_not_found_and_nothing_is_kept(
    apks: ApkFactory, platform: Admin, portal_http: httpx.Client, portal_data: Path
) -> None:
    root = Admin(portal_http, platform.token)
    nowhere = "00000000-0000-4000-8000-000000000000"
    refused(upload(root, apks.build(AppSpec()), tenant_id=nowhere), 404, "not_found")
    refused(root("PUT", f"/api/v1/portal/departments/{nowhere}/rules", json={}), 404, "not_found")
    assert left_behind(portal_data) == []
    assert root.ok("GET", "/api/v1/portal/apps") == []


def test_protection_settings_out_of_range_are_refused_not_a_server_error(
    water_admin: Admin, water: Department
) -> None:
    for setting in ("offline_block_after_seconds", "pin_max_attempts"):
        answer = water_admin(
            "PUT",
            f"/api/v1/portal/departments/{water.tenant_id}/rules",
            json={"protection": {setting: 10**30}},
        )
        refused(answer, 422, "invalid_request")
    with pytest.raises(InvalidAssignment, match="between one minute"):
        ProtectionPolicy.from_document({"offline_block_after_seconds": 10**30})
