"""The app portal behind the real gateway: an admin uploads a package through the management
listener (streamed, not buffered by nginx), and an enrolled device fetches its desired state and
the package with mutual TLS, the file sent by nginx from the portal's volume after the portal
authorises it; nginx's internal location cannot be reached from outside."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tests.support.apks import ApkFactory, AppSpec
from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.mdm import Admin, Department

APK = "application/vnd.android.package-archive"


def test_an_admin_publishes_through_the_management_listener_and_a_device_downloads_through_the_gateway(
    apks: ApkFactory, management: Admin, water: Department, mobile: ScriptedDevice, gateway: Gateway
) -> None:
    apk = apks.build(AppSpec()).read_bytes()

    def chunks() -> Any:
        for start in range(0, len(apk), 16 << 10):
            yield apk[start : start + 16 << 10]

    uploaded = management(
        "POST",
        "/api/v1/portal/releases",
        params={"tenant_id": water.tenant_id},
        content=chunks(),
        headers={"Content-Type": APK},
    )
    assert uploaded.status_code == 201, uploaded.text
    release = uploaded.json()
    assert release["sha256"] == hashlib.sha256(apk).hexdigest()
    management.ok("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    management.ok("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"})
    management.ok(
        "POST",
        "/api/v1/portal/assignments",
        json={
            "app_id": release["app_id"],
            "tenant_id": water.tenant_id,
            "target": {"kind": "department", "id": water.tenant_id},
            "intent": "required",
        },
    )

    target = f"/portal/v1/targets/apps/{release['package']}/{release['sha256']}.1.apk"
    with mobile.tls_client() as device:
        state = device.get(f"/portal/v1/devices/{mobile.device_id}/desired-state")
        assert state.status_code == 200, state.text
        payload = json.loads(base64.b64decode(state.json()["payload"]))  # verified in tests/portal
        assert [(a["package"], a["sha256"]) for a in payload["apps"]] == [
            (release["package"], release["sha256"])
        ]
        package = device.get(target)
        assert package.status_code == 200, package.text
        assert package.content == apk
        resumed = device.get(target, headers={"Range": "bytes=1000-1999"})
        assert resumed.status_code == 206
        assert resumed.content == apk[1000:2000]
        hidden = device.get(f"/_portal_files/targets/apps/{release['package']}/{release['sha256']}.1.apk")
        assert hidden.status_code == 404
    with gateway.client() as anonymous:
        refused = anonymous.get(target)
        assert refused.status_code in (400, 401, 403), refused.text
        assert refused.content != apk
