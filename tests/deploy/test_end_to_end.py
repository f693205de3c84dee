"""The deployed appliance end to end, with its real clients only: an admin sets up a department
and an intranet app with govmobile-admin; a device enrolled with curl + openssl and one with the
device agent reach the demo office app through the gateway, which verifies who they are; then
non-compliance, a lock and a revocation shut them out within seconds, and the audit chain holds.

The same commands, by hand, are docs/walkthrough.md."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import clients

pytestmark = pytest.mark.deploy

# The gateway's promise (docs/gateway.md): a revocation or a lock is refused within 5 s.
WITHIN = 5.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("end-to-end")


@pytest.fixture(scope="module")
def admin(workdir: Path) -> Iterator[clients.Admin]:
    admin = clients.Admin(workdir)
    login = admin.login()
    assert login.returncode == 0, login.stderr
    assert "as admin (platform_admin)" in login.stdout
    yield admin
    admin.run("logout")


@pytest.mark.timeout(600)
def test_a_device_reaches_the_demo_app_through_the_gateway_until_it_is_shut_out(
    admin: clients.Admin, workdir: Path
) -> None:
    # The admin: a department, a person in a group, the demo app as a route for that group.
    slug = f"water-{secrets.token_hex(3)}"
    admin.department(slug, "ana", "field-staff")
    if admin.run("route", "show", "oa").returncode == 0:  # left by an earlier run on this host
        admin("route", "delete", "oa", "--yes")
    admin("route", "create", "--name", "oa", "--upstream", clients.OFFICE_UPSTREAM,
          "--tenant", slug, "--group", "field-staff", "--websocket")  # fmt: skip

    # A device written by others enrolls over EST with curl and openssl; its chain verifies.
    (workdir / "curl").mkdir()
    other = clients.CurlDevice.enroll(
        workdir / "curl", admin.enrollment_token(slug, "ana", "field-staff"), f"CURL-{slug}"
    )
    verified = clients.openssl("verify", "-CAfile", str(clients.appliance.ROOT_CERTIFICATE),
                               "-untrusted", str(other.chain), str(other.certificate))  # fmt: skip
    assert verified.strip().endswith(": OK")
    assert other.checkin()["device"]["state"] == "active"

    # The device agent enrolls, pinning the root, checks in and opens the demo app: the app
    # verified the gateway's assertion and knows the person, the group and the device.
    device = clients.Device(workdir / "agent")
    device_id = device.enroll(admin.enrollment_token(slug, "ana", "field-staff"))
    assert "active, compliant" in device("checkin").stdout
    caller = device("open", "/apps/oa/whoami").json()
    assert caller == {"user": "ana", "groups": ["field-staff"], "device_id": device_id, "tenant": slug}
    status, body = other.get("/apps/oa/whoami")
    assert status == 200, body
    assert f'"device_id":"{other.device_id}"' in body
    # A WebSocket through the gateway: the app greets the person the assertion names, and echoes.
    greeting, echo = other.websocket("/apps/oa/live", "approve document 2")
    assert greeting["hello"] == "ana"
    assert echo == {"from": "ana", "echo": "approve document 2"}

    # Non-compliant (rooted): the app is refused, the MDM is still reachable to remediate.
    device.set_posture(rooted=True)
    reported = device("checkin").stdout
    assert "active, NOT compliant" in reported
    assert "rooted" in reported
    refused, _ = clients.wait_for(
        lambda: (r := device.run("open", "/apps/oa/whoami")).returncode != 0 and r,
        WITHIN,
        "non-compliance refused",
    )
    assert "device_noncompliant" in refused.stderr, refused.stderr
    assert device.run("checkin").returncode == 0
    device.set_posture(rooted=False)
    assert "active, compliant" in device("checkin").stdout
    clients.wait_for(
        lambda: device.run("open", "/apps/oa/whoami").returncode == 0, WITHIN, "compliance allowed"
    )

    # A lock: the agent runs it at its check-in and refuses to open apps itself ...
    admin("command", "send", device_id, "lock", "--message", "Call the IT desk")
    device("checkin")
    locked = device.run("open", "/apps/oa/whoami")
    assert locked.returncode == 9, locked
    assert "Call the IT desk" in locked.stderr
    # ... and the gateway refuses a locked device's certificate within seconds of the lock.
    admin("command", "send", other.device_id, "lock", "--message", "Call the IT desk")
    assert other.obey() == ["lock"]
    (_, body), took = clients.wait_for(
        lambda: (r := other.get("/apps/oa/whoami"))[0] == 403 and r, WITHIN, "the locked device refused"
    )
    assert '"error":"device_locked"' in body, body
    assert took < WITHIN
    # Unlocked: allowed again.
    admin("command", "send", device_id, "unlock")
    device("checkin")
    clients.wait_for(lambda: device.run("open", "/apps/oa/whoami").returncode == 0, WITHIN, "unlock allowed")
    admin("command", "send", other.device_id, "unlock")
    assert other.obey() == ["unlock"]
    clients.wait_for(lambda: other.get("/apps/oa/whoami")[0] == 200, WITHIN, "the unlocked device allowed")

    # A revoked certificate is refused in the TLS layer (nginx's CRL) within seconds.
    listed = admin("cert", "list", "--device", other.device_id, "--json").json()
    (serial,) = [c["serial"] for c in listed["items"] if c["status"] == "valid"]
    admin("cert", "revoke", serial, "--reason", "keyCompromise", "--yes")
    (_, body), took = clients.wait_for(
        lambda: (r := other.get("/apps/oa/whoami"))[0] == 401 and r, WITHIN, "the revoked certificate refused"
    )
    assert '"error":"certificate_refused"' in body, body
    assert "revoked" in body, body
    assert took < WITHIN
    # The agent's device, not revoked, is still in.
    assert device("open", "/apps/oa/whoami").json()["device_id"] == device_id

    # Every step above is in the audit log, and its hash chain is intact.
    verified_chain = admin("audit", "verify")
    assert "audit chain intact" in verified_chain.stdout
