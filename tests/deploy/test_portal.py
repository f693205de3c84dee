"""The deployed app portal end to end: a real signed APK is uploaded through the gateway's
management listener, approved by a second admin, published and assigned as required to a group;
a device in the group finds it in its signed desired state and downloads it through the gateway
(nginx sends the file from the portal's volume, resuming with Range), while a device outside the
group never sees it and cannot fetch it by its URL. The TUF metadata devices trust comes from the
root the controller made, which stays on the controller.

The admins use govmobile-admin (`app upload`, `approve`, `publish`, `assign`, `status`); one
device is enrolled and served with curl and openssl, one is the device agent, which installs the
app at its check-in through TUF."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import appliance, clients
from tests.support.apks import ApkFactory, AppSpec

pytestmark = pytest.mark.deploy


def logged_in(workdir: Path, username: str, password: str) -> clients.Admin:
    admin = clients.Admin(workdir)
    login = admin.run(
        "login", "--server", clients.MANAGEMENT_URL, "--ca-file", str(appliance.ROOT_CERTIFICATE),
        "--username", username, "--password-stdin", stdin=password + "\n",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    return admin


def download(device: clients.CurlDevice, path: str, out: Path, *extra: str) -> int:
    done = clients.curl("--cert", str(device.certificate), "--key", str(device.key), "--output", str(out),
                        "--write-out", "%{http_code}", *extra, f"{clients.PUBLIC_URL}{path}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.timeout(600)
def test_a_published_app_reaches_its_group_through_the_gateway_and_no_one_else(
    tmp_path: Path, apks: ApkFactory
) -> None:
    first = logged_in(tmp_path / "admin", "admin", clients.ADMIN_PASSWORD_FILE.read_text().strip())
    slug = f"roads-{secrets.token_hex(3)}"
    first.department(slug, "li", "inspectors")
    first("person", "create", "wang", "--tenant", slug, "--name", "Wang")
    # A second admin of the department, who reviews what the first uploads.
    reviewer_password = secrets.token_urlsafe(18)
    first("admin", "create", f"reviewer-{slug}", "--role", "tenant_admin", "--tenant", slug,
          "--password-stdin", stdin=reviewer_password + "\n")  # fmt: skip
    reviewer = logged_in(tmp_path / "reviewer", f"reviewer-{slug}", reviewer_password)
    first("app", "rules", slug, "--second-approval")

    package = f"cn.gov.{slug.replace('-', '')}.inspect"
    apk = apks.build(AppSpec(package=package))
    release = first("app", "upload", str(apk), "--tenant", slug, "--json").json()
    assert release["sha256"] == hashlib.sha256(apk.read_bytes()).hexdigest()
    refused = first.run("app", "approve", release["id"])
    assert refused.returncode == 2, refused  # not by its uploader
    reviewer("app", "approve", release["id"])
    assert (
        first("app", "publish", release["id"], "--track", "production", "--json").json()["state"]
        == "published"
    )
    first(
        "app", "assign", release["app_id"], "--tenant", slug, "--group", "inspectors", "--intent", "required"
    )

    inside = enroll(first, tmp_path / "inside", slug, "li", "inspectors")
    outside = enroll(first, tmp_path / "outside", slug, "wang", None)

    # The device in the group: its signed desired state names the release; the package comes
    # from nginx, whole and resumed, byte for byte.
    status, body = inside.get(f"/portal/v1/devices/{inside.device_id}/desired-state")
    assert status == 200, body
    document = decode_envelope(body)
    (app,) = document["apps"]
    assert (app["package"], app["intent"], app["sha256"]) == (package, "required", release["sha256"])
    target = (
        f"/portal/v1/targets/{app['target'].rsplit('/', 1)[0]}/{release['sha256']}.{app['version_code']}.apk"
    )
    assert download(inside, target, tmp_path / "got.apk") == 200
    assert (tmp_path / "got.apk").read_bytes() == apk.read_bytes()
    assert download(inside, target, tmp_path / "rest.apk", "--header", "Range: bytes=1000-") == 206
    assert (tmp_path / "rest.apk").read_bytes() == apk.read_bytes()[1000:]

    # The device outside the group: nothing offered, and the package's URL is not found.
    status, body = outside.get(f"/portal/v1/devices/{outside.device_id}/desired-state")
    assert status == 200, body
    assert decode_envelope(body)["apps"] == []
    assert download(outside, target, tmp_path / "refused") == 404
    assert (tmp_path / "refused").read_bytes() != apk.read_bytes()
    # Nor may it read the other device's desired state.
    status, _ = outside.get(f"/portal/v1/devices/{inside.device_id}/desired-state")
    assert status == 403

    # TUF: the timestamp devices poll is signed by the key the controller's root names, and the
    # root the portal serves is the controller's; the root key never left the controller.
    status, body = inside.get("/portal/v1/metadata/root.json")
    assert status == 200
    controller_root = json.loads((appliance.SECRETS / "portal" / "root.json").read_text())
    assert json.loads(body)["signed"] == controller_root["signed"]
    status, body = inside.get("/portal/v1/metadata/timestamp.json")
    assert status == 200
    timestamp_key = controller_root["signed"]["roles"]["timestamp"]["keyids"][0]
    assert [s["keyid"] for s in json.loads(body)["signatures"]] == [timestamp_key]
    # The device agent in the group, enrolled pinning the root: it learns the portal's TUF root
    # from its enrollment profile and installs the required app at its check-in, verified
    # through TUF; the admin sees the report.
    agent = clients.Device(tmp_path / "agent")
    agent_id = agent.enroll(
        str(first("token", "create", "--tenant", slug, "--person", "li", "--json").json()["token"])
    )
    agent("checkin")
    installed = agent("status", "--json").json()["managed_apps"]["installed"]
    assert [(a["package"], a["sha256"]) for a in installed] == [(package, release["sha256"])]
    reports = first("app", "status", agent_id, "--json").json()["installations"]
    assert [(r["package"], r["state"]) for r in reports] == [(package, "installed")]

    # What the admin sees for each device.
    assert [a["package"] for a in first("app", "status", inside.device_id, "--json").json()["apps"]] == [
        package
    ]
    assert first("app", "status", outside.device_id, "--json").json()["apps"] == []

    in_container = subprocess.run(
        ["docker", "exec", "govmobile-portal", "sh", "-c", "ls -R /run/secrets /var/lib/govmobile/portal"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "root-key" not in in_container
    assert "passphrase" not in in_container


@pytest.mark.timeout(600)
def test_on_the_device_tampering_and_rollback_are_refused_and_a_selective_wipe_takes_the_apps(
    tmp_path: Path, apks: ApkFactory
) -> None:
    """What the device agent refuses and enforces on the deployed appliance: someone with the
    portal's storage (a mirror, a disk, a man in the middle) changes one byte of a package, then
    serves an older catalogue; the department's protective default refuses a copy to a personal
    app; a selective wipe takes the managed apps and their data and leaves the personal app."""
    admin = logged_in(tmp_path / "admin", "admin", clients.ADMIN_PASSWORD_FILE.read_text().strip())
    slug = f"bridges-{secrets.token_hex(3)}"
    admin.department(slug, "zhao", "inspectors")
    prefix = f"cn.gov.{slug.replace('-', '')}"
    inspect, report = f"{prefix}.inspect", f"{prefix}.report"
    metadata = portal_volume() / "repository" / "metadata"

    publish_to_group(admin, apks.build(AppSpec(package=inspect)), slug, "inspectors")
    agent = clients.Device(tmp_path / "agent")
    agent_id = agent.enroll(
        str(admin("token", "create", "--tenant", slug, "--person", "zhao", "--json").json()["token"])
    )
    agent("checkin")
    assert installed(agent) == [inspect]

    # The department's protective default: government text does not reach a personal app.
    agent("app", "install-personal", "com.example.chat")
    notes = tmp_path / "notes.txt"
    notes.write_bytes("桥墩 2, 裂缝".encode())
    agent("app", "write", inspect, "inspection.txt", str(notes))
    refused = agent.run(
        "app", "copy", "--from", inspect, "--to", "com.example.chat", "--text", "pier 2", "--json"
    )
    assert refused.returncode == 12, refused
    assert refused.json()["code"] == "clipboard_to_unmanaged"
    agent("app", "copy", "--from", "com.example.chat", "--to", "com.example.chat", "--text", "holiday plans")

    # One byte of the next package changed on the portal's volume: refused on the device, and
    # the admin sees why.
    older_timestamp = (metadata / "timestamp.json").read_bytes()
    release = publish_to_group(admin, apks.build(AppSpec(package=report)), slug, "inspectors")
    stored = next((portal_volume() / "repository" / "targets").rglob(f"{release['sha256']}.*.apk"))
    original = stored.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    stored.write_bytes(bytes(tampered))
    agent("checkin")  # the device's part of the check-in works; the package is refused
    assert installed(agent) == [inspect]
    (failure,) = [
        i
        for i in admin("app", "status", agent_id, "--json").json()["installations"]
        if i["package"] == report
    ]
    assert (failure["state"], failure["attempts"]) == ("failed", 1)
    assert failure["last_error"].startswith("tampered"), failure

    # An older catalogue served again: a rollback, refused with its reason.
    newer_timestamp = (metadata / "timestamp.json").read_bytes()
    (metadata / "timestamp.json").write_bytes(older_timestamp)
    try:
        rolled_back = agent.run("apps")
        assert rolled_back.returncode == 6, rolled_back
        assert "rollback refused" in rolled_back.stderr
    finally:
        (metadata / "timestamp.json").write_bytes(newer_timestamp)

    # The volume repaired, the admin asks for a retry and the device installs the real package.
    stored.write_bytes(original)
    admin("app", "retry", agent_id, report)
    agent("checkin")
    assert installed(agent) == sorted([inspect, report])

    # Selective wipe: the managed apps and their data go, the personal app stays.
    admin("command", "send", agent_id, "selective_wipe", "--yes")
    agent("checkin")
    listing = agent("app", "list", "--json").json()
    assert listing["managed"] == []
    assert "com.example.chat" in listing["personal"]
    assert installed(agent) == []
    gone = agent.run("app", "read", inspect, "inspection.txt")
    assert gone.returncode != 0, gone
    assert "桥墩" not in gone.stdout
    assert not list((agent.state / "apps").rglob("*.apk"))
    (wipe,) = [
        c for c in admin("command", "list", agent_id, "--json").json() if c["type"] == "selective_wipe"
    ]
    assert wipe["state"] == "acknowledged", wipe
    # The refused copy was reported by the device and is in the audit log.
    denials = admin(
        "audit", "list", "--action", "portal.protection.denied", "--tenant", slug, "--json"
    ).json()["items"]
    assert [(e["actor"], e["target"], e["details"]["code"]) for e in denials] == [
        (f"device:{agent_id}", f"app:{inspect}", "clipboard_to_unmanaged")
    ], denials


def publish_to_group(admin: clients.Admin, apk: Path, slug: str, group: str) -> dict[str, Any]:
    """Upload, approve, publish to production and assign as required to ``group``; the release."""
    release: dict[str, Any] = admin("app", "upload", str(apk), "--tenant", slug, "--json").json()
    admin("app", "approve", release["id"])
    admin("app", "publish", release["id"], "--track", "production")
    admin("app", "assign", release["app_id"], "--tenant", slug, "--group", group, "--intent", "required")
    return release


def installed(agent: clients.Device) -> list[str]:
    return sorted(a["package"] for a in agent("status", "--json").json()["managed_apps"]["installed"])


def portal_volume() -> Path:
    """Where the portal's volume lives on this host (the attacker with the storage in these tests)."""
    return Path(
        appliance.docker("volume", "inspect", "--format", "{{.Mountpoint}}", "govmobile_portal").strip()
    )


def enroll(
    admin: clients.Admin, workdir: Path, slug: str, person: str, group: str | None
) -> clients.CurlDevice:
    workdir.mkdir()
    args = ["token", "create", "--tenant", slug, "--person", person, "--json"] + (
        ["--group", group] if group else []
    )
    token = str(admin(*args).json()["token"])
    device = clients.CurlDevice.enroll(workdir, token, f"PORTAL-{workdir.name}-{slug}")
    assert device.checkin()["device"]["state"] == "active"
    return device


def decode_envelope(body: str) -> dict[str, Any]:
    """The desired-state document inside its DSSE envelope (the signature is the agent's to check;
    the portal's API tests verify it)."""
    envelope = json.loads(body)
    payload: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return payload
