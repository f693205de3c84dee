"""Full wipe: confirm first, then destroy; a crash in between finishes the wipe at the next start."""

from __future__ import annotations

import pytest

from govmobile_device.state import FileStore
from tests.device.conftest import Admin, Department, Tablet, command_of, new_token, send, server_view
from tests.support.gateway_stub import GatewayStub


class Crash(BaseException):
    """Stands for the process dying: not an error the agent could catch and report."""


@pytest.fixture
def active(enrolled: Tablet, platform: Admin) -> Tablet:
    enrolled.ok("files", "put", "inspection.txt", stdin=b"bridge 14: cracks in pier 2")
    enrolled.ok("checkin")
    return enrolled


def assert_wiped(device: Tablet) -> None:
    left = sorted(p.name for p in device.state.iterdir() if not p.name.startswith("."))
    assert left == ["profile.json"], left  # the profile stands for the hardware; everything else is gone


def test_wipe_is_confirmed_then_everything_is_destroyed(active: Tablet, platform: Admin) -> None:
    device_id = active.device_id
    command = send(platform, device_id, "wipe")
    outcome = active("checkin")
    assert outcome.code == 11
    assert "wiped on its administrator's order" in outcome.err
    assert command_of(platform, command)["state"] == "acknowledged"
    view = server_view(platform, device_id)
    assert view["state"] == "wiped"
    assert_wiped(active)
    assert active("status").code == 3


def test_crash_after_confirming_finishes_the_wipe_on_next_start(
    active: Tablet, platform: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    device_id = active.device_id
    send(platform, device_id, "wipe")
    real_destroy = FileStore.destroy_all

    def crash(self: FileStore) -> None:
        raise Crash

    monkeypatch.setattr(FileStore, "destroy_all", crash)
    with pytest.raises(Crash):
        active("checkin")
    # The server has the confirmation; the device still has its state, and the marker.
    assert server_view(platform, device_id)["state"] == "wiped"
    assert (active.state / "WIPE-PENDING").exists()
    assert (active.state / "identity.json").exists()

    monkeypatch.setattr(FileStore, "destroy_all", real_destroy)
    outcome = active("status")
    assert outcome.code == 11, outcome.err
    assert_wiped(active)


def test_confirmation_lost_on_the_way_is_sent_again_before_wiping(
    active: Tablet, platform: Admin, gateway: GatewayStub
) -> None:
    device_id = active.device_id
    command = send(platform, device_id, "wipe")
    # The first check-in fetches the wipe; the second, carrying the confirmation, never arrives.
    gateway.checkin_faults = ["pass", "drop-before", "drop-before"]  # the first try and the retry
    outcome = active("checkin")
    assert outcome.code == 4
    assert (active.state / "WIPE-PENDING").exists()
    assert server_view(platform, device_id)["state"] == "active"
    assert command_of(platform, command)["state"] == "sent"

    outcome = active("checkin")
    assert outcome.code == 11, outcome.err
    assert server_view(platform, device_id)["state"] == "wiped"
    assert command_of(platform, command)["state"] == "acknowledged"
    assert_wiped(active)


def test_answer_lost_after_the_server_recorded_the_wipe(
    active: Tablet, platform: Admin, gateway: GatewayStub
) -> None:
    device_id = active.device_id
    send(platform, device_id, "wipe")
    gateway.checkin_faults = ["pass", "drop-after", "drop-after"]  # the first try and the retry
    assert active("checkin").code == 4
    assert server_view(platform, device_id)["state"] == "wiped"
    # Its certificate is revoked now; the refusal itself tells the device its confirmation landed.
    outcome = active("checkin")
    assert outcome.code == 11, outcome.err
    assert_wiped(active)


def test_a_device_can_enroll_again_after_a_wipe(active: Tablet, platform: Admin, water: Department) -> None:
    device_id = active.device_id
    send(platform, device_id, "wipe")
    assert active("checkin").code == 11
    assert active.enroll(new_token(platform, water)).code == 0
    assert active.device_id == device_id  # same serial number: the server re-enrolls the same device
    active.ok("checkin")
    assert server_view(platform, device_id)["state"] == "active"
    assert active.ok("files", "list").out == ""
