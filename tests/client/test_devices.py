"""Enrollment tokens, devices, commands and policies through the client."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from govmobile_client import AdmissionChange, BulkTarget, DeviceFilter, GovMobileClient, PolicyChange
from govmobile_client.errors import Conflict, InvalidRequest, NotConfigured, NotFound
from govmobile_client.models import AdmissionMode, AppAdmission, CommandState, CommandType, DeviceState
from tests.client.management import Appliance
from tests.support.client import make_login
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department

DeviceFactory = Callable[..., ScriptedDevice]


def enroll(client: GovMobileClient, department: Department, device_factory: DeviceFactory) -> ScriptedDevice:
    issued = client.enrollment_tokens.create(department.tenant_id, department.person_id)
    device = device_factory()
    answer = device.enroll(issued.token)
    assert answer.status_code == 200, answer.text
    return device


def test_an_enrollment_token_enrolls_one_device(
    client: GovMobileClient, water: Department, device_factory: DeviceFactory
) -> None:
    issued = client.enrollment_tokens.create(
        water.tenant_id, water.person_id, group_id=water.group_id, ttl_hours=2
    )
    assert issued.max_uses == 1
    qr = parse_qs(urlsplit(issued.qr_payload).query)
    assert qr["token"] == [issued.token]
    assert qr["server"] == ["https://gm.water.example"]
    assert len(qr["ca_sha256"][0]) == 64
    tablet = device_factory()
    assert tablet.enroll(issued.token).status_code == 200
    assert device_factory().enroll(issued.token).status_code == 401  # one-time
    listed = {t.id: t for t in client.enrollment_tokens.list(tenant_id=water.tenant_id)}
    assert (listed[issued.id].status, listed[issued.id].uses) == ("used", 1)
    device = client.devices.show(tablet.device_id)
    assert (device.state, device.serial_number, device.person_id) == (
        DeviceState.ENROLLED,
        tablet.serial_number,
        water.person_id,
    )
    assert device.history[0].change == "enrolled"


def test_a_revoked_enrollment_token_enrolls_nothing(
    client: GovMobileClient, water: Department, device_factory: DeviceFactory
) -> None:
    issued = client.enrollment_tokens.create(water.tenant_id, water.person_id)
    assert client.enrollment_tokens.revoke(issued.id).status == "revoked"
    assert client.enrollment_tokens.show(issued.id).revoked_at is not None
    refused = device_factory().enroll(issued.token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "token_revoked"


def test_device_pages_are_followed_to_the_end(
    client: GovMobileClient, water: Department, device_factory: DeviceFactory
) -> None:
    ids = sorted(enroll(client, water, device_factory).device_id for _ in range(3))
    first = client.devices.list(DeviceFilter(tenant_id=water.tenant_id), limit=2)
    assert [d.id for d in first.items] == ids[:2]
    assert first.next_cursor == ids[1]
    assert [d.id for d in client.devices.iterate(DeviceFilter(tenant_id=water.tenant_id), page_size=1)] == ids
    assert list(client.devices.iterate(DeviceFilter(state=DeviceState.ACTIVE))) == []
    tablet = client.devices.show(ids[0])
    assert [d.id for d in client.devices.iterate(DeviceFilter(q=tablet.serial_number.lower()))] == [ids[0]]


def test_commands_are_sent_listed_and_cancelled(client: GovMobileClient, enrolled: ScriptedDevice) -> None:
    lock = client.commands.send(enrolled.device_id, CommandType.LOCK, {"message": "Call IT"})
    assert (lock.state, lock.payload["message"]) == (CommandState.QUEUED, "Call IT")
    note = client.commands.send(enrolled.device_id, CommandType.MESSAGE, {"text": "hello"}, deadline_hours=1)
    assert client.devices.show(enrolled.device_id).pending_actions == ["lock", "message"]
    cancelled = client.commands.cancel(note.id)
    assert (cancelled.state, cancelled.closed_reason) == (
        CommandState.CANCELLED,
        "cancelled by admin:root-admin",
    )
    with pytest.raises(Conflict) as closed:
        client.commands.cancel(note.id)
    assert closed.value.code == "command_closed"
    assert [c.id for c in client.commands.list(enrolled.device_id)] == [note.id, lock.id]
    # the device pulls the lock and acknowledges it; the result shows on the command
    delivered = enrolled.checkin().json()["command"]
    assert delivered["id"] == lock.id
    enrolled.checkin(results=[{"command_id": lock.id, "status": "acknowledged", "result": {"ok": 1}}])
    done = client.commands.show(lock.id)
    assert done.state is CommandState.ACKNOWLEDGED
    assert done.result is not None
    assert (done.result.status, done.result.result) == ("acknowledged", {"ok": 1})
    assert client.devices.show(enrolled.device_id).state is DeviceState.LOCKED
    with pytest.raises(InvalidRequest) as bad:
        client.commands.send(enrolled.device_id, CommandType.MESSAGE, {"txt": "typo"})
    assert bad.value.code == "invalid_payload"


def test_bulk_commands_go_out_only_with_the_previewed_count(
    client: GovMobileClient, water: Department, device_factory: DeviceFactory
) -> None:
    for _ in range(2):
        enroll(client, water, device_factory)
    target = BulkTarget(tenant_id=water.tenant_id)
    assert client.commands.preview_bulk(target, CommandType.REFRESH_POLICY) == 2
    with pytest.raises(Conflict) as changed:
        client.commands.send_bulk(target, CommandType.REFRESH_POLICY, expected_count=3)
    assert changed.value.code == "count_changed"
    assert changed.value.details == {"count": 2}
    sent = client.commands.send_bulk(target, CommandType.REFRESH_POLICY, expected_count=2)
    assert (sent.sent, sent.count) == (True, 2)
    assert sent.bulk_id is not None
    assert (
        client.commands.preview_bulk(
            BulkTarget(tenant_id=water.tenant_id, compliant=True), CommandType.LOCATE
        )
        == 0
    )


def test_policies_change_only_what_is_set(client: GovMobileClient, water: Department) -> None:
    default = client.policies.show("water")
    assert (default.version, default.require_encryption) == (0, True)
    changed = client.policies.set("water", PolicyChange(min_os_version="14", require_passcode=False))
    assert (changed.version, changed.min_os_version, changed.require_passcode) == (1, "14", False)
    assert changed.require_encryption
    cleared = client.policies.set(
        water.tenant_id,
        PolicyChange(
            min_os_version=None,
            app_admission=AdmissionChange(
                mode=AdmissionMode.ALLOWLIST, packages=["gov.b", "gov.a"], signers=["AB" * 32]
            ),
        ),
    )
    assert (cleared.min_os_version, cleared.version) == (None, 2)
    assert cleared.app_admission == AppAdmission(
        mode=AdmissionMode.ALLOWLIST, packages=["gov.a", "gov.b"], signers=["ab" * 32]
    )
    with pytest.raises(InvalidRequest, match="min_os_version"):
        client.policies.set("water", PolicyChange(min_os_version="latest"))


def test_a_tenant_admin_cannot_reach_another_tenants_devices(
    appliance: Appliance,
    client: GovMobileClient,
    platform: Admin,
    water: Department,
    fire: Department,
    device_factory: DeviceFactory,
) -> None:
    theirs = enroll(client, fire, device_factory)
    mine = enroll(client, water, device_factory)
    lead = make_login(platform, "tenant_admin", water.tenant_id)
    with GovMobileClient(appliance.url, ca_file=appliance.ca_file) as water_admin:
        water_admin.auth.login(lead.username, lead.password)
        assert [d.id for d in water_admin.devices.iterate()] == [mine.device_id]
        for attempt in (
            lambda: water_admin.devices.show(theirs.device_id),
            lambda: water_admin.commands.send(theirs.device_id, CommandType.WIPE),
            lambda: water_admin.devices.retire(theirs.device_id),
            lambda: water_admin.policies.show("fire"),
            lambda: water_admin.enrollment_tokens.create(fire.tenant_id, fire.person_id),
        ):
            with pytest.raises(NotFound):
                attempt()
        water_admin.auth.logout()
        with pytest.raises(NotConfigured, match="log in first"):
            water_admin.devices.show(mine.device_id)
    assert client.devices.show(theirs.device_id).pending_actions == []


def test_a_retired_device_is_out_of_reach(client: GovMobileClient, enrolled: ScriptedDevice) -> None:
    retired = client.devices.retire(enrolled.device_id)
    assert retired.state is DeviceState.RETIRED
    with pytest.raises(Conflict, match="already retired"):
        client.devices.retire(enrolled.device_id)
    with pytest.raises(Conflict) as unreachable:
        client.commands.send(enrolled.device_id, CommandType.LOCK)
    assert unreachable.value.code == "device_unreachable"
    checkin = enrolled.checkin()
    assert checkin.status_code == 403, checkin.text  # told it was retired (its certificate is revoked)
    assert checkin.json()["error"] == "device_retired"
