"""A device's apps as the portal resolves them at each fetch: it reads only the assignments whose
target is the device's own (its department, its groups, its person, itself), and the outcome is
the pure function's over all of the department's assignments, exclusions and precedence
included; assignments to other groups, people and devices change nothing for it."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlmodel import select

from govmobile.core.database import Database
from govmobile.portal.assignments import DeviceContext, resolve_desired_apps
from govmobile.portal.catalogue import department_rules
from govmobile.portal.models import PortalAssignment
from govmobile.portal.targeting import DeviceRecord, resolve_device, to_assignment
from tests.portal.test_portal_api import assign, published
from tests.support.apks import ApkFactory, AppSpec
from tests.support.mdm import Admin, Department


def test_a_device_resolves_from_its_own_targets_as_from_all_of_the_departments_assignments(
    apks: ApkFactory,
    water: Department,
    water_admin: Admin,
    platform: Admin,
    portal_device_factory: Any,
    database: Database,
) -> None:
    apps = {
        name: published(water_admin, apks.build(AppSpec(package=f"cn.gov.example.{name}")))["app_id"]
        for name in ("maps", "forms", "chat")
    }
    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    other_group = platform.ok("POST", "/api/v1/groups", json={"tenant_id": water.tenant_id, "name": "office"})
    clerk = platform.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": water.tenant_id, "username": "clerk", "display_name": "Clerk"},
    )
    inside = portal_device_factory(water, water.person_id)
    outside = portal_device_factory(water, clerk["id"])
    exclude_ours = {"exclusions": [{"kind": "group", "id": water.group_id}]}
    for app, kind, target, intent, extra in (
        # maps: the department's, but not for our group; the person's own assignment reaches.
        ("maps", "department", water.tenant_id, "required", exclude_ours),
        ("maps", "person", water.person_id, "available", {}),
        ("maps", "person", clerk["id"], "uninstall", {}),
        # forms: our group's required, the device's own uninstall wins (most specific).
        ("forms", "group", water.group_id, "required", {}),
        ("forms", "device", inside.id, "uninstall", {}),
        ("forms", "device", outside.id, "required", {}),
        # chat: through our group only.
        ("chat", "group", water.group_id, "available", {}),
        ("chat", "group", other_group["id"], "required", {}),
        ("chat", "person", clerk["id"], "available", {}),
    ):
        answer = assign(water_admin, apps[app], kind, target, intent, **extra)
        assert answer.status_code == 201, answer.text

    intents: dict[str, dict[str, str]] = {}
    for device, person in ((inside, water.person_id), (outside, clerk["id"])):
        record = DeviceRecord(device.id, water.tenant_id, person, "active")
        with database.session() as session:
            resolved = resolve_device(session, record).resolution
            groups = frozenset([water.group_id]) if device is inside else frozenset()
            every = session.exec(
                select(PortalAssignment).where(PortalAssignment.tenant_id == water.tenant_id)
            ).all()
            assert len(every) == 9
            expected = resolve_desired_apps(
                DeviceContext(device.id, water.tenant_id, person, groups),
                [to_assignment(row) for row in every],
                department_rules(session, water.tenant_id).protection,
            )
        assert resolved == expected
        intents[device.id] = {package: app.intent.value for package, app in resolved.apps.items()}
    assert intents[inside.id] == {
        "cn.gov.example.maps": "available",
        "cn.gov.example.forms": "uninstall",
        "cn.gov.example.chat": "available",
    }
    assert intents[outside.id] == {
        "cn.gov.example.maps": "uninstall",
        "cn.gov.example.forms": "required",
        "cn.gov.example.chat": "available",
    }

    # The signed document the device fetches says the same.
    answer = inside.desired_state()
    assert answer.status_code == 200, answer.text
    document = json.loads(base64.b64decode(answer.json()["payload"]))
    assert {a["package"]: a["intent"] for a in document["apps"]} == intents[inside.id]
