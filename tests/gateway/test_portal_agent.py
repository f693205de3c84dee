"""The real device agent and the app portal, through the real gateway (nginx, mutual TLS), with
real APKs: a required app installs at check-in on a device of the assigned group and never on one
outside it; a tampered package, a rollback and a freeze are refused on the device with their
reason; failed installs retry with backoff (an injected clock and random source) and the admin
sees attempts and last error, and can ask for one retry; the uninstall intent removes; the MDM's
install_app and remove_app commands install and remove; ``govmobile-device apps`` lists,
requests and removes."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from govmobile.ca.hierarchy import CaLayout
from govmobile_device import pki
from govmobile_device.agent import Agent
from govmobile_device.installed_apps import AppRecords, FileAppRecords
from govmobile_device.installer import AppInstaller, InstallBackoff
from govmobile_device.sandbox import AppSpaces
from govmobile_device.tablet import DeviceProtection, InstallerSpaces
from tests.device.conftest import Tablet, command_of, send
from tests.portal.test_portal_api import assign, published
from tests.support.apks import ApkFactory, AppSpec
from tests.support.ca import Clock
from tests.support.gateway import Gateway
from tests.support.mdm import Admin, Department, new_token

PACKAGE = "cn.gov.example.inspect"
OTHER = "cn.gov.example.other"


@pytest.fixture
def tablets(gateway: Gateway, ca_layout: CaLayout, clock: Clock, tmp_path: Path) -> Callable[[str], Tablet]:
    root = x509.load_pem_x509_certificate(ca_layout.root_certificate.read_bytes())

    def make(name: str) -> Tablet:
        return Tablet(tmp_path / name, gateway.public_url, pki.fingerprint(root), clock, {})

    return make


def enrolled(tablets: Callable[[str], Tablet], name: str, token: str) -> Tablet:
    tablet = tablets(name)
    outcome = tablet.enroll(token)
    assert outcome.code == 0, outcome.err
    assert "trust anchor (TUF root) received" in outcome.out
    return tablet


def records(tablet: Tablet) -> AppRecords:
    return FileAppRecords(tablet.state / "apps").load()


def installer(tablet: Tablet, clock: Clock, **options: Any) -> AppInstaller:
    return AppInstaller(
        FileAppRecords(tablet.state / "apps"), tablet.state / "portal", clock=clock, **options
    )


def check_in(agent: Agent) -> None:
    async def once() -> None:
        try:
            await agent.check_in()
        finally:
            await agent.aclose()

    asyncio.run(once())


def package_file(portal_data: Path, release: dict[str, Any]) -> Path:
    return portal_data / "repository" / "targets" / "apps" / release["package"] / f"{release['sha256']}.1.apk"


def test_a_required_app_installs_at_check_in_in_the_group_and_a_device_outside_never_sees_it(
    apks: ApkFactory,
    platform: Admin,
    water: Department,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
) -> None:
    apk = apks.build(AppSpec())
    release = published(water_admin, apk)
    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    assert assign(water_admin, release["app_id"], "group", water.group_id).status_code == 201
    inside = enrolled(tablets, "inside", new_token(platform, water))
    clerk = platform.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": water.tenant_id, "username": "clerk", "display_name": "Clerk"},
    )
    outside = enrolled(tablets, "outside", new_token(platform, water, person_id=clerk["id"]))

    inside.ok("checkin")
    outside.ok("checkin")

    kept = records(inside)
    assert list(kept.installed) == [PACKAGE]
    app = kept.installed[PACKAGE]
    assert (app.version_code, app.sha256) == (1, hashlib.sha256(apk.read_bytes()).hexdigest())
    assert app.signer_sha256 == apks.publisher.certificate_sha256
    assert (inside.state / "apps" / "packages" / f"{PACKAGE}.apk").read_bytes() == apk.read_bytes()
    # What the posture's app inventory carries for MDM app admission (package, version, signer).
    assert kept.inventory() == [
        {"package": PACKAGE, "version_code": 1, "signer": apks.publisher.certificate_sha256}
    ]
    # The device outside the group: nothing offered, nothing installed, nothing downloaded.
    assert records(outside).installed == {}
    assert records(outside).catalogue == []
    assert not (outside.state / "portal" / "targets").exists() or not any(
        p.name.endswith(".apk") for p in (outside.state / "portal" / "targets").rglob("*")
    )
    listing = json.loads(outside.ok("apps", "--json").out)
    assert listing["apps"] == []

    # The admin sees the report beside the desired state; the MDM sees it in the posture.
    status = water_admin.ok("GET", f"/api/v1/portal/devices/{inside.device_id}/apps")
    assert [(i["package"], i["state"], i["version_code"]) for i in status["installations"]] == [
        (PACKAGE, "installed", 1)
    ]
    device = platform.ok("GET", f"/api/v1/devices/{inside.device_id}")
    assert PACKAGE in device["recent_checkins"][0]["posture"]["installed_apps"]
    assert water_admin.ok("GET", f"/api/v1/portal/devices/{outside.device_id}/apps")["installations"] == []

    # The listing says what is installed; a second check-in changes nothing and reports nothing new.
    listing = json.loads(inside.ok("apps", "list", "--json").out)
    assert [(a["package"], a["intent"], a["status"]) for a in listing["apps"]] == [
        (PACKAGE, "required", "installed")
    ]
    inside.ok("checkin")
    assert records(inside).installed[PACKAGE].installed_at == app.installed_at


def test_a_tampered_package_is_refused_retried_with_backoff_and_retried_once_more_by_the_admin(
    apks: ApkFactory,
    gateway: Gateway,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    fire_admin: Admin,
    tablets: Callable[[str], Tablet],
    portal_data: Path,
    clock: Clock,
) -> None:
    apk = apks.build(AppSpec())
    release = published(water_admin, apk)
    assign(water_admin, release["app_id"], "department", water.tenant_id)
    tablet = enrolled(tablets, "tablet", new_token(platform, water))
    stored = package_file(portal_data, release)
    original = stored.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01  # one byte changed, same length
    stored.write_bytes(bytes(tampered))
    backoff = InstallBackoff(base=60, cap=600, max_attempts=3)

    def agent() -> Agent:
        return tablet.agent(portal=installer(tablet, clock, rng=random.Random(7), backoff=backoff))

    check_in(agent())
    progress = records(tablet).progress[PACKAGE]
    assert progress.attempts == 1
    assert (progress.last_error or "").startswith("tampered"), progress.last_error
    assert PACKAGE not in records(tablet).installed
    assert progress.next_attempt_at is not None
    first_wait = progress.next_attempt_at - clock()
    assert dt.timedelta(seconds=30) <= first_wait <= dt.timedelta(seconds=60)

    check_in(agent())  # not due yet: no attempt
    assert records(tablet).progress[PACKAGE].attempts == 1
    clock.advance(first_wait + dt.timedelta(seconds=1))
    check_in(agent())
    progress = records(tablet).progress[PACKAGE]
    assert progress.attempts == 2
    assert progress.next_attempt_at is not None
    second_wait = progress.next_attempt_at - clock()
    assert dt.timedelta(seconds=60) <= second_wait <= dt.timedelta(seconds=120)
    clock.advance(second_wait + dt.timedelta(seconds=1))
    check_in(agent())
    progress = records(tablet).progress[PACKAGE]
    assert (progress.attempts, progress.gave_up) == (3, True)
    clock.advance(dt.timedelta(hours=5))
    check_in(agent())  # bounded: no more automatic attempts
    assert records(tablet).progress[PACKAGE].attempts == 3

    [seen] = water_admin.ok("GET", f"/api/v1/portal/devices/{tablet.device_id}/apps")["installations"]
    assert (seen["state"], seen["attempts"]) == ("failed", 3)
    assert seen["last_error"].startswith("tampered")
    retry = f"/api/v1/portal/devices/{tablet.device_id}/apps/{PACKAGE}/retry"
    assert fire_admin("POST", retry).status_code == 404

    stored.write_bytes(original)  # the portal's volume is repaired
    water_admin.ok("POST", retry)
    # A periodic check-in takes the change once the gateway has seen it (within about a second:
    # until then the gateway may answer the fetch from what it holds).
    gateway.wait_for_documents()
    check_in(agent())
    assert records(tablet).installed[PACKAGE].version_code == 1
    assert PACKAGE not in records(tablet).progress
    [seen] = water_admin.ok("GET", f"/api/v1/portal/devices/{tablet.device_id}/apps")["installations"]
    assert (seen["state"], seen["attempts"], seen["last_error"]) == ("installed", 0, None)
    # The retry was acted on once: the document still carries it, and nothing is installed again.
    installed_at = records(tablet).installed[PACKAGE].installed_at
    clock.advance(dt.timedelta(minutes=1))
    check_in(agent())
    assert records(tablet).installed[PACKAGE].installed_at == installed_at
    assert records(tablet).retries_seen == {PACKAGE: 1}


def test_a_rollback_and_a_freeze_are_refused_on_the_device_with_their_reason(
    apks: ApkFactory,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
    portal_data: Path,
    clock: Clock,
) -> None:
    tablet = enrolled(tablets, "tablet", new_token(platform, water))
    timestamp = portal_data / "repository" / "metadata" / "timestamp.json"
    old = timestamp.read_bytes()
    release = published(water_admin, apks.build(AppSpec()))
    assign(water_admin, release["app_id"], "department", water.tenant_id)
    tablet.ok("checkin")  # the device now trusts the newer timestamp, and installs
    assert PACKAGE in records(tablet).installed
    new = timestamp.read_bytes()
    timestamp.write_bytes(old)  # a mirror or a man in the middle serves the older catalogue
    tablet.ok("checkin")  # the MDM part of the check-in works; the apps part refuses
    kept = records(tablet)
    assert (kept.last_refusal or "").startswith("rollback refused"), kept.last_refusal
    refused = tablet("apps", "update", PACKAGE)
    assert refused.code == 6, refused.err
    assert "rollback refused" in refused.err
    timestamp.write_bytes(new)
    tablet.ok("checkin")
    assert records(tablet).last_refusal is None

    # The portal's clock two days behind: what it signs now expired yesterday for the device.
    clock.advance(dt.timedelta(days=-2))
    try:
        other = published(water_admin, apks.build(AppSpec(package=OTHER)))
    finally:
        clock.advance(dt.timedelta(days=2))
    assign(water_admin, other["app_id"], "department", water.tenant_id)
    tablet.ok("checkin")
    kept = records(tablet)
    assert sorted(kept.installed) == [PACKAGE], "nothing is installed from frozen metadata"
    assert (kept.last_refusal or "").startswith("freeze refused"), kept.last_refusal
    listing = tablet("apps")
    assert listing.code == 6
    assert listing.err.strip() == f"govmobile-device: {kept.last_refusal}"


def test_the_uninstall_intent_removes_the_app_and_its_data_space(
    apks: ApkFactory,
    gateway: Gateway,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
    clock: Clock,
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    required = assign(water_admin, release["app_id"], "department", water.tenant_id).json()
    tablet = enrolled(tablets, "tablet", new_token(platform, water))
    # The sandbox's real data spaces: the installer opens the app's at install, with its policy.
    spaces = AppSpaces(tablet.store.container())
    sandbox = InstallerSpaces(lambda: spaces, clock)
    check_in(tablet.agent(portal=installer(tablet, clock, spaces=sandbox)))
    assert PACKAGE in records(tablet).installed
    assert spaces.packages() == [PACKAGE]
    assert spaces.policy(PACKAGE) is not None  # the department's protective default
    spaces.put(PACKAGE, "inspection.txt", b"flood level 3.2 m", now=clock())

    water_admin.ok("DELETE", f"/api/v1/portal/assignments/{required['id']}")
    assert (
        assign(water_admin, release["app_id"], "department", water.tenant_id, "uninstall").status_code == 201
    )
    gateway.wait_for_documents()  # as above: a periodic check-in, once the gateway has seen the change
    check_in(tablet.agent(portal=installer(tablet, clock, spaces=sandbox)))
    assert records(tablet).installed == {}
    assert not (tablet.state / "apps" / "packages" / f"{PACKAGE}.apk").exists()
    assert spaces.packages() == []  # its space and key are gone with it
    assert not spaces.has_space(PACKAGE)
    [seen] = water_admin.ok("GET", f"/api/v1/portal/devices/{tablet.device_id}/apps")["installations"]
    assert seen["state"] == "removed"


def test_a_check_in_the_person_asks_for_follows_a_change_the_gateway_has_not_seen_yet(
    apks: ApkFactory,
    gateway: Gateway,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
    clock: Clock,
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    required = assign(water_admin, release["app_id"], "department", water.tenant_id).json()
    tablet = enrolled(tablets, "tablet", new_token(platform, water))
    check_in(tablet.agent(portal=installer(tablet, clock)))
    assert PACKAGE in records(tablet).installed
    gateway.wait_for_documents()
    check_in(tablet.agent(portal=installer(tablet, clock)))  # unchanged: the gateway holds the answer

    with gateway.not_syncing():
        water_admin.ok("DELETE", f"/api/v1/portal/assignments/{required['id']}")
        uninstall = assign(water_admin, release["app_id"], "department", water.tenant_id, "uninstall")
        assert uninstall.status_code == 201
        # A periodic check-in before the gateway has seen the change: the held answer (the bound
        # docs/device-protocol.md states), so the app stays for now.
        check_in(tablet.agent(portal=installer(tablet, clock)))
        assert PACKAGE in records(tablet).installed
        # The person asks for a check-in ("checkin", a sync button): the portal answers, at once.
        tablet.ok("checkin")
        assert records(tablet).installed == {}


def test_install_app_and_remove_app_commands_install_and_remove(
    apks: ApkFactory,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
) -> None:
    release = published(water_admin, apks.build(AppSpec()))
    assign(water_admin, release["app_id"], "department", water.tenant_id, "available")
    tablet = enrolled(tablets, "tablet", new_token(platform, water))
    tablet.ok("checkin")
    assert records(tablet).installed == {}, "an available app waits to be asked for"

    not_offered = send(platform, tablet.device_id, "install_app", {"app_id": OTHER})
    installing = send(platform, tablet.device_id, "install_app", {"app_id": PACKAGE})
    tablet.ok("checkin")
    refused = command_of(platform, not_offered)
    assert refused["state"] == "error"
    assert "not offered to this device" in json.dumps(refused)
    done = command_of(platform, installing)
    assert done["state"] == "acknowledged", done
    assert "version_code" in json.dumps(done)
    assert records(tablet).installed[PACKAGE].version_code == 1
    assert records(tablet).requested == [PACKAGE]

    removing = send(platform, tablet.device_id, "remove_app", {"app_id": PACKAGE})
    tablet.ok("checkin")
    assert command_of(platform, removing)["state"] == "acknowledged"
    assert records(tablet).installed == {}
    [seen] = water_admin.ok("GET", f"/api/v1/portal/devices/{tablet.device_id}/apps")["installations"]
    assert seen["state"] == "removed"


def test_the_apps_command_lists_requests_and_removes(
    apks: ApkFactory,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
) -> None:
    required = published(water_admin, apks.build(AppSpec()))
    available = published(water_admin, apks.build(AppSpec(package=OTHER)))
    assign(water_admin, required["app_id"], "department", water.tenant_id)
    assign(water_admin, available["app_id"], "department", water.tenant_id, "available")
    tablet = enrolled(tablets, "tablet", new_token(platform, water))

    listing = json.loads(tablet.ok("apps", "list", "--json").out)
    assert [(a["package"], a["intent"], a["status"]) for a in listing["apps"]] == [
        (PACKAGE, "required", "pending"),
        (OTHER, "available", "available"),
    ]
    assert tablet.ok("apps", "request", OTHER).out.strip() == f"installed {OTHER} version 1"
    assert sorted(records(tablet).installed) == [OTHER]
    tablet.ok("checkin")  # the required one comes on its own; the requested one stays
    assert sorted(records(tablet).installed) == [PACKAGE, OTHER]
    refused = tablet("apps", "remove", PACKAGE)
    assert refused.code == 2
    assert "required by your department" in refused.err
    assert tablet.ok("apps", "remove", OTHER).out.strip() == f"removed {OTHER}"
    tablet.ok("checkin")
    assert sorted(records(tablet).installed) == [PACKAGE], "a removed request is not installed again"
    status = json.loads(tablet.ok("status", "--json").out)
    assert [a["package"] for a in status["managed_apps"]["installed"]] == [PACKAGE]
    assert tablet("apps", "install", "cn.gov.made.up").code == 10


def test_an_installed_app_is_protected_by_policy_and_gone_after_a_selective_wipe(
    apks: ApkFactory,
    water: Department,
    platform: Admin,
    water_admin: Admin,
    tablets: Callable[[str], Tablet],
    clock: Clock,
) -> None:
    """Issue 12's promise on the device, with the real installer and the real sandbox together:
    the app the department requires installs at check-in into a data space of its own under the
    department's protective default; a copy to a personal app is refused; a selective wipe
    removes the app, its records and its data, and leaves the personal app and its data."""
    release = published(water_admin, apks.build(AppSpec()))
    assert assign(water_admin, release["app_id"], "department", water.tenant_id).status_code == 201
    tablet = enrolled(tablets, "tablet", new_token(platform, water))
    protection = DeviceProtection(tablet.store, tablet.profile, clock)

    def agent() -> Agent:
        sandbox = protection.installer_spaces()
        return tablet.agent(portal=installer(tablet, clock, spaces=sandbox), protection=protection)

    check_in(agent())
    assert PACKAGE in records(tablet).installed
    device = protection.tablet()
    device.install_personal("com.example.chat")
    assert device.is_managed(PACKAGE)
    assert device.write_file(PACKAGE, "inspection.txt", b"pier 2: cracks").allowed
    refused = device.copy(PACKAGE, "com.example.chat", "pier 2: cracks")
    assert (refused.allowed, refused.code) == (False, "clipboard_to_unmanaged")
    assert device.copy("com.example.chat", "com.example.chat", "holiday plans").allowed

    command = platform.ok(
        "POST", f"/api/v1/devices/{tablet.device_id}/commands", json={"type": "selective_wipe", "payload": {}}
    )
    check_in(agent())

    result = platform.ok("GET", f"/api/v1/commands/{command['id']}")
    assert result["state"] == "acknowledged", result
    assert f"app:{PACKAGE}" in result["result"]["result"]["receipt"]["destroyed"]
    assert PACKAGE not in records(tablet).installed
    assert not (tablet.state / "apps" / "packages" / f"{PACKAGE}.apk").exists()
    assert protection.spaces().packages() == []
    assert not protection.tablet().is_managed(PACKAGE)
    assert protection.tablet().personal_files("com.example.chat") == {"clipboard.txt": b"holiday plans"}
    assert "com.example.chat" in tablet.profile.load().installed_apps
    # As with a work profile removed: the required app does not come back until the device is
    # enrolled again, at a later check-in or by command.
    check_in(agent())
    assert PACKAGE not in records(tablet).installed
    outcome = tablet("apps", "install", PACKAGE)
    assert outcome.code == 2, outcome.err
    assert "enrolled again" in outcome.err
