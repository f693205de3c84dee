"""Web apps through the real gateway (nginx, mutual TLS) with the real device agent: a device
whose person the route admits sees the web app in ``govmobile-device apps`` and opens it at
``/apps/<route>/``; a device of a group the route does not admit neither sees it nor opens it.
Nothing is downloaded or installed for a web app, and Android apps are untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509

from govmobile.ca.hierarchy import CaLayout
from govmobile_device import pki
from tests.device.conftest import Tablet
from tests.gateway.test_portal_agent import enrolled, records
from tests.portal.test_portal_api import assign
from tests.portal.test_web_apps import published_web
from tests.support.ca import Clock
from tests.support.gateway import Gateway
from tests.support.mdm import Admin, Department, new_token
from tests.support.upstreams import RecordingUpstream

PACKAGE = "cn.gov.water.oa"


def test_a_web_app_is_seen_and_opened_by_devices_its_route_admits_and_no_other(
    gateway: Gateway,
    management: Admin,
    platform: Admin,
    water: Department,
    water_admin: Admin,
    upstream: tuple[RecordingUpstream, str],
    ca_layout: CaLayout,
    clock: Clock,
    tmp_path: Path,
) -> None:
    recorder, upstream_url = upstream
    gateway.add_route(
        management,
        name="oa",
        upstream_url=upstream_url,
        allowed_tenants=[water.tenant_id],
        allowed_groups=["field-staff"],
        require_compliance=False,
    )
    release = published_web(water_admin, "oa", start_path="inbox")
    # Department-wide: the assignment puts it on every home screen the route lets it open on.
    assert (
        assign(water_admin, release["app_id"], "department", water.tenant_id, "available").status_code == 201
    )

    root = x509.load_pem_x509_certificate(ca_layout.root_certificate.read_bytes())

    def tablets(name: str) -> Tablet:
        return Tablet(tmp_path / name, gateway.public_url, pki.fingerprint(root), clock, {})

    make: Callable[[str], Tablet] = tablets
    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    inside = enrolled(make, "inside", new_token(platform, water))
    clerk = platform.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": water.tenant_id, "username": "clerk", "display_name": "C"},
    )
    outside = enrolled(make, "outside", new_token(platform, water, person_id=clerk["id"]))
    inside.ok("checkin")
    outside.ok("checkin")

    # The admitted device lists it, with where it opens, and installs nothing for it.
    listing: dict[str, Any] = json.loads(inside.ok("apps", "--json").out)
    assert [(a["package"], a["kind"], a["url"], a["status"]) for a in listing["apps"]] == [
        (PACKAGE, "web", "/apps/oa/inbox", "opens in the browser")
    ]
    assert f"{PACKAGE}" in inside.ok("apps").out
    assert "/apps/oa/inbox" in inside.ok("apps").out
    assert records(inside).installed == {}
    assert records(inside).progress == {}
    downloaded = inside.state / "portal" / "targets"
    assert not downloaded.exists() or not any(p.is_file() for p in downloaded.rglob("*") if "apps" in p.parts)
    installing = inside("apps", "install", PACKAGE)
    assert installing.code != 0
    assert "is a web app: there is nothing to install" in installing.err

    # It opens through the gateway, by package id or by its URL.
    opened = inside.ok("open", PACKAGE)
    assert json.loads(opened.out)["path"].endswith("/inbox")
    assert recorder.requests[-1]["path"].endswith("/inbox")
    assert json.loads(inside.ok("open", "/apps/oa/inbox").out)["path"].endswith("/inbox")

    # The device outside the route's groups: not offered, and the gateway refuses it anyway.
    assert json.loads(outside.ok("apps", "--json").out)["apps"] == []
    seen = len(recorder.requests)
    refused = outside("open", "/apps/oa/inbox")
    assert refused.code != 0
    assert "group_not_admitted" in refused.err
    assert len(recorder.requests) == seen
    status = water_admin.ok("GET", f"/api/v1/portal/devices/{outside.device_id}/apps")
    assert [(u["package"], u["code"]) for u in status["unavailable"]] == [(PACKAGE, "group_not_admitted")]
