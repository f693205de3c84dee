"""``govmobile-admin app ...`` against the real CA, MDM and portal behind the management listener,
with real APKs built by aapt and apksigner, on SQLite and PostgreSQL: publishing with a second
admin's review, assignment to a group, a device's status, and what a hostile or careless admin
meets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.admin_cli.conftest import Terminal, table_rows
from tests.client.management import Appliance
from tests.support.apks import ApkFactory, AppSpec
from tests.support.client import Login, make_login
from tests.support.mdm import Admin, Department

PACKAGE = "cn.gov.example.inspect"


def labelled(output: str) -> dict[str, str]:
    """``label: value`` lines back as a dict."""
    pairs = (line.split(":", 1) for line in output.splitlines() if ":" in line)
    return {label.strip(): value.strip() for label, value in pairs}


def logged_in(tmp_path: Path, appliance: Appliance, login: Login) -> Terminal:
    """A terminal of its own for ``login``, logged in."""
    terminal = Terminal(tmp_path / login.username / "admin.json")
    terminal.login(appliance, login)
    return terminal


def test_an_apk_is_uploaded_reviewed_by_a_second_admin_published_and_assigned_to_a_group(
    tmp_path: Path,
    portal_appliance: Appliance,
    platform: Admin,
    water: Department,
    apks: ApkFactory,
    portal_device_factory: Any,
) -> None:
    uploader = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    reviewer = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    rules = uploader.json("app", "rules", "--second-approval", "--pilot-first")
    assert (rules["second_approval"], rules["pilot_first"]) == (True, True)
    shown_rules = labelled(uploader.ok("app", "rules", "water"))
    assert (shown_rules["second approval"], shown_rules["pilot first"], shown_rules["clipboard out"]) == (
        "yes",
        "yes",
        "no",
    )

    apk = apks.build(AppSpec())
    shown = uploader.ok("app", "upload", str(apk))
    assert labelled(shown)["state"] == "draft"
    assert "next: govmobile-admin app approve" in shown
    release = uploader.json("app", "releases", PACKAGE)[0]
    assert (release["package"], release["version_code"], release["state"]) == (PACKAGE, 1, "draft")
    assert release["signers"] == [apks.publisher.certificate_sha256]

    # The uploader cannot approve their own release; the second admin can.
    refusal = uploader.refused("app", "approve", release["id"])
    assert "another admin" in refusal or "second" in refusal, refusal
    assert uploader.json("app", "release", release["id"])["state"] == "draft"
    assert reviewer.ok("app", "approve", release["id"]).startswith(f"approved {PACKAGE} 1.0 (1)")

    # Pilot first: production is refused until the release has been on pilot.
    uploader.refused("app", "publish", release["id"], "--track", "production")
    uploader.ok("app", "publish", release["id"], "--track", "pilot")
    published = uploader.json("app", "publish", release["id"], "--track", "production")
    assert (published["state"], published["track"]) == ("published", "production")

    apps = table_rows(uploader.ok("app", "list"))
    assert [(a["PACKAGE"], a["NAME"]) for a in apps] == [(PACKAGE, "Field Inspection")]
    shown_app = uploader.json("app", "show", PACKAGE)
    assert shown_app["app"]["name_zh"] == "现场检查"
    assert [r["state"] for r in shown_app["releases"]] == ["published"]

    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    inside = portal_device_factory(water)
    assignment = uploader.json("app", "assign", PACKAGE, "--group", "field-staff", "--intent", "required")
    assert assignment["target"] == {"kind": "group", "id": water.group_id}
    assert (assignment["intent"], assignment["track"]) == ("required", "production")
    listed = table_rows(uploader.ok("app", "assignments"))
    assert [(a["ID"], a["PACKAGE"], a["INTENT"]) for a in listed] == [(assignment["id"], PACKAGE, "required")]

    status = uploader.json("app", "status", inside.id)
    assert [(a["package"], a["intent"], a["version_code"]) for a in status["apps"]] == [
        (PACKAGE, "required", 1)
    ]
    assert status["sequence"] is None  # the device has not fetched its document yet
    assert inside.desired_state().status_code == 200
    text = uploader.ok("app", "status", inside.id)
    assert "sequence 1" in text
    assert table_rows(text.split("\n\n", 1)[1])[0]["ASSIGNMENTS"] == assignment["id"]

    uploader.ok("app", "unassign", assignment["id"], "--yes")
    assert uploader.json("app", "status", inside.id)["apps"] == []

    events = platform.ok("GET", "/api/v1/audit", params={"tenant_id": water.tenant_id, "limit": 100})["items"]
    actions = {(e["action"], e["target"]) for e in events}
    for expected in (
        ("portal.release.uploaded", release["id"]),
        ("portal.release.approved", release["id"]),
        ("portal.release.published", release["id"]),
        ("portal.assignment.created", assignment["id"]),
        ("portal.assignment.removed", assignment["id"]),
    ):
        assert expected in actions, expected
    approved = next(e for e in events if e["action"] == "portal.release.approved")
    assert approved["actor"] != next(e for e in events if e["action"] == "portal.release.uploaded")["actor"]

    uploader.ok("app", "retire", release["id"], "--yes")
    assert uploader.json("app", "release", release["id"])["state"] == "retired"


def test_a_file_that_is_not_an_apk_is_refused_in_one_line_and_nothing_is_kept(
    tmp_path: Path, portal_appliance: Appliance, platform: Admin, water: Department
) -> None:
    admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    not_an_apk = tmp_path / "report.pdf.apk"
    not_an_apk.write_bytes(b"%PDF-1.7\n" + b"\x00" * 4096)
    message = admin.refused("app", "upload", str(not_an_apk))
    assert message == "the file is not an Android package (it does not start like a zip archive)"
    assert admin.json("app", "list") == []
    # No such file: a usage error of its own, before anything is sent.
    missing = admin.run("app", "upload", str(tmp_path / "nowhere.apk"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.output


def test_a_department_admin_does_not_see_another_departments_apps(
    tmp_path: Path,
    portal_appliance: Appliance,
    platform: Admin,
    water: Department,
    fire: Department,
    apks: ApkFactory,
) -> None:
    water_admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    fire_admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", fire.tenant_id))
    release = water_admin.json("app", "upload", str(apks.build(AppSpec())))

    assert fire_admin.json("app", "list") == []
    for command in (
        ("app", "show", release["app_id"]),
        ("app", "releases", release["app_id"]),
        ("app", "release", release["id"]),
        ("app", "approve", release["id"]),
        ("app", "retire", release["id"], "--yes"),
    ):
        assert "no " in fire_admin.refused(*command).lower(), command
    assert (
        fire_admin.refused("app", "show", PACKAGE)
        == f"no app with the package id {PACKAGE!r} that you may see"
    )
    # Assigning it to their own group is no way in either.
    assert fire_admin.refused(
        "app", "assign", release["app_id"], "--group", "field-staff", "--intent", "required"
    )
    assert water_admin.json("app", "release", release["id"])["state"] == "draft"
    assert fire_admin.refused("app", "rules", "water").startswith("no ")


def test_assign_needs_exactly_one_target(
    tmp_path: Path, portal_appliance: Appliance, platform: Admin, water: Department
) -> None:
    admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    expected = "name exactly one target: --department, --group, --person or --device"
    assert admin.refused("app", "assign", PACKAGE, "--intent", "required") == expected
    assert (
        admin.refused("app", "assign", PACKAGE, "--intent", "required", "--group", "a", "--device", "b")
        == expected
    )


def test_a_failed_install_shows_its_attempts_and_error_and_is_retried_once(
    tmp_path: Path,
    portal_appliance: Appliance,
    platform: Admin,
    water: Department,
    fire: Department,
    apks: ApkFactory,
    portal_device_factory: Any,
) -> None:
    admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", water.tenant_id))
    release = admin.json("app", "upload", str(apks.build(AppSpec())))
    admin.ok("app", "approve", release["id"])
    admin.ok("app", "publish", release["id"])
    admin.ok("app", "assign", PACKAGE, "--department", "water", "--intent", "required")
    device = portal_device_factory(water)
    assert "what the device reported" not in admin.ok("app", "status", device.id)
    # Nothing failed yet: nothing to retry.
    assert admin.refused("app", "retry", device.id, PACKAGE).startswith(f"device {device.id} has no failed")

    error = "tampered: the package does not match its signed hash"
    reported = device.http.post(
        "/portal/v1/installations",
        json={"apps": [{"package": PACKAGE, "state": "failed", "attempts": 3, "last_error": error}]},
        headers=device.device.identity(),
    )
    assert reported.status_code == 200, reported.text
    text = admin.ok("app", "status", device.id)
    (row,) = table_rows(text.split("what the device reported:\n", 1)[1].split("\n\n", 1)[0])
    assert (row["PACKAGE"], row["STATE"], row["ATTEMPTS"], row["LAST ERROR"]) == (
        PACKAGE,
        "failed",
        "3",
        error,
    )
    assert f"next: govmobile-admin app retry {device.id} PACKAGE" in text

    # Another department's admin: no such device for them, and nothing is asked of it.
    fire_admin = logged_in(tmp_path, portal_appliance, make_login(platform, "tenant_admin", fire.tenant_id))
    assert fire_admin.refused("app", "retry", device.id, PACKAGE).startswith("no ")
    assert admin.ok("app", "retry", device.id, PACKAGE) == (
        f"asked device {device.id} to retry {PACKAGE} (retry 1, after 3 failed attempts);"
        " it does at its next check-in\n"
    )
    (installation,) = admin.json("app", "status", device.id)["installations"]
    assert (installation["state"], installation["retry_generation"]) == ("pending", 1)
    # Asked once: again before the device has reported is refused, and changes nothing.
    assert "no failed install" in admin.refused("app", "retry", device.id, PACKAGE)
    assert admin.json("app", "status", device.id)["installations"][0]["retry_generation"] == 1
    # A path for a package: a usage error before anything is sent.
    hostile = admin.run("app", "retry", device.id, "../../apps")
    assert hostile.exit_code == 2
    assert "'../../apps' is not a package id" in hostile.stderr
    assert "Traceback" not in hostile.output
