"""Check-in mechanics: results delivered exactly once, retries after lost answers, closed commands, faults."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from govmobile_device.errors import StateError
from govmobile_device.protocol import CommandResult
from tests.device.conftest import Admin, Tablet, command_of, send, server_view
from tests.support.gateway_stub import GatewayStub


@pytest.fixture
def active(enrolled: Tablet) -> Tablet:
    enrolled.ok("checkin")
    return enrolled


def pending(device: Tablet) -> list[str]:
    return [r.command_id for r in device.store.load_state().pending_results]


def test_a_result_the_server_already_has_is_dropped(active: Tablet, platform: Admin) -> None:
    command = send(platform, active.device_id, "message", {"text": "once"})
    active.ok("checkin")
    assert command_of(platform, command)["state"] == "acknowledged"
    # A device that lost the answer sends the result again: 409 result_already_recorded.
    state = active.store.load_state()
    state.pending_results.append(CommandResult(command_id=command, status="acknowledged"))
    active.store.save_state(state)
    outcome = active.ok("checkin")
    assert f"already had or no longer wants results for {command}" in outcome.err
    assert pending(active) == []
    assert [m.text for m in active.store.load_state().messages] == ["once"]  # carried out once


def test_lost_answer_then_retry(active: Tablet, platform: Admin, gateway: GatewayStub) -> None:
    command = send(platform, active.device_id, "lock", {"message": "Held"})
    # The round that delivers the lock acknowledgement reaches the server, its answer is lost,
    # and so is the answer to the agent's immediate second try.
    gateway.checkin_faults = ["pass", "drop-after", "drop-after"]
    failed = active("checkin")
    assert failed.code == 4
    assert "try again later" in failed.err
    assert server_view(platform, active.device_id)["state"] == "locked"
    assert pending(active) == [command]  # kept: the device cannot know the server has it
    active.ok("checkin")
    assert pending(active) == []
    assert active.store.load_state().locked is True


def test_one_lost_answer_is_recovered_at_once(active: Tablet, platform: Admin, gateway: GatewayStub) -> None:
    command = send(platform, active.device_id, "lock", {"message": "Held"})
    gateway.checkin_faults = ["pass", "drop-after"]
    active.ok("checkin")  # the second try repeats the acknowledgement, which the server already has
    assert server_view(platform, active.device_id)["state"] == "locked"
    assert pending(active) == []
    assert command not in [c["id"] for c in platform.ok("GET", f"/api/v1/devices/{active.device_id}/commands")
                           if c["state"] != "acknowledged"]  # fmt: skip


def test_a_command_cancelled_before_its_result_arrives(
    active: Tablet, platform: Admin, gateway: GatewayStub
) -> None:
    command = send(platform, active.device_id, "message", {"text": "never mind"})
    gateway.checkin_faults = ["pass", "drop-before", "drop-before"]  # the first try and the retry
    assert active("checkin").code == 4
    platform.ok("POST", f"/api/v1/commands/{command}/cancel")
    outcome = active.ok("checkin")
    assert "no longer wants" in outcome.err
    assert pending(active) == []
    assert command_of(platform, command)["state"] == "cancelled"


def test_many_commands_flow_in_one_checkin(active: Tablet, platform: Admin) -> None:
    ids = [send(platform, active.device_id, "message", {"text": f"notice {n}"}) for n in range(25)]
    active.ok("checkin")
    assert {command_of(platform, c)["state"] for c in ids} == {"acknowledged"}
    assert len(active.store.load_state().messages) == 25


def test_server_unreachable_keeps_state(active: Tablet) -> None:
    identity = json.loads((active.state / "identity.json").read_text())
    identity["server"] = "https://127.0.0.1:9"
    (active.state / "identity.json").write_text(json.dumps(identity))
    before = (active.state / "agent.json").read_bytes()
    outcome = active("--timeout", "3", "checkin")
    assert outcome.code == 4
    assert "cannot reach https://127.0.0.1:9" in outcome.err
    assert "Traceback" not in outcome.err
    assert (active.state / "agent.json").read_bytes() == before


@pytest.mark.parametrize("name", ["agent.json", "identity.json", "keystore/keystore.json"])
def test_a_damaged_state_file_is_reported_and_left_alone(active: Tablet, name: str) -> None:
    path = active.state / name
    path.write_bytes(path.read_bytes()[:40])
    damaged = path.read_bytes()
    outcome = active("checkin")
    assert outcome.code == 8
    assert str(path) in outcome.err
    assert "damaged" in outcome.err
    assert "Traceback" not in outcome.err
    assert path.read_bytes() == damaged


def test_a_missing_agent_state_is_not_silently_recreated(active: Tablet, platform: Admin) -> None:
    send(platform, active.device_id, "lock")
    active.ok("checkin")
    (active.state / "agent.json").unlink()
    outcome = active("files", "list")
    assert outcome.code == 8
    assert "will not start without it" in outcome.err


def test_a_bad_profile_is_explained(active: Tablet) -> None:
    (active.state / "profile.json").write_text(json.dumps({"serial_number": "X1", "roted": True}))
    outcome = active("checkin")
    assert outcome.code == 8
    assert "roted" in outcome.err
    assert "Extra inputs are not permitted" in outcome.err


def test_status_without_enrollment(device: Tablet) -> None:
    outcome = device("status")
    assert outcome.code == 3
    assert "no device is enrolled" in outcome.err


def test_without_a_portal_apps_say_so_and_intranet_apps_are_the_gateways(active: Tablet) -> None:
    # This suite's appliance has no portal: its enrollment profile names none.
    apps = active("apps")
    assert apps.code == 10
    assert "this appliance has no app portal" in apps.err
    # Asked at enrollment and remembered: check-ins do not ask the MDM again for a day.
    assert (active.state / "portal" / "no-portal").is_file()
    install = active("install", "gov.water.floodreport")
    assert install.code == 10
    # Intranet apps go through the gateway's /apps/ routes; the stub has none and the MDM says so.
    opened = active("open", "floodreport/")
    assert opened.code == 5
    assert "404" in opened.err


def test_unenroll_tells_the_appliance_then_destroys_everything(active: Tablet, platform: Admin) -> None:
    device_id = active.device_id
    active.ok("files", "put", "a.txt", stdin=b"x")
    assert active("unenroll").code == 2
    outcome = active.ok("unenroll", "--yes")
    assert "the appliance retired the device and revoked its certificate" in outcome.out
    assert sorted(p.name for p in active.state.iterdir() if not p.name.startswith(".")) == ["profile.json"]
    assert active("checkin").code == 3
    # The appliance's side: retired, its certificate revoked, and who did it in the audit log.
    view = server_view(platform, device_id)
    assert view["state"] == "retired"
    unenrolled = platform.ok("GET", "/api/v1/audit", params={"action": "device.unenrolled"})["items"]
    assert [e["actor"] for e in unenrolled if e["target"] == f"device:{device_id}"] == [f"device:{device_id}"]
    revoked = platform.ok("GET", "/api/v1/audit", params={"action": "certificate.revoked"})["items"]
    reasons = [e["details"]["reason"] for e in revoked if e["details"]["device_id"] == device_id]
    assert reasons == ["cessationOfOperation"]


def test_unenroll_destroys_nothing_when_the_appliance_cannot_be_told(active: Tablet, platform: Admin) -> None:
    device_id = active.device_id
    identity = json.loads((active.state / "identity.json").read_text())
    identity["server"] = "https://127.0.0.1:9"
    (active.state / "identity.json").write_text(json.dumps(identity))
    before = sorted(p.name for p in active.state.iterdir())
    refused = active("--timeout", "3", "unenroll", "--yes")
    assert refused.code == 4
    assert "Nothing was destroyed" in refused.err
    assert "--local-only" in refused.err
    assert sorted(p.name for p in active.state.iterdir()) == before
    # Told to go ahead without the appliance: destroyed, and the admin is asked to retire it.
    local = active.ok("unenroll", "--yes", "--local-only")
    assert "ask your administrator to retire the device" in local.out
    assert server_view(platform, device_id)["state"] == "active"


def test_unenroll_of_a_device_the_admin_retired_already(active: Tablet, platform: Admin) -> None:
    platform.ok("POST", f"/api/v1/devices/{active.device_id}/retire")
    outcome = active.ok("unenroll", "--yes")
    assert "no longer accepts this device" in outcome.out
    assert sorted(p.name for p in active.state.iterdir() if not p.name.startswith(".")) == ["profile.json"]


def test_one_process_at_a_time(active: Tablet, platform: Admin) -> None:
    # `run` in one terminal, `checkin` in another: the second waits instead of racing on agent.json.
    store = active.store
    handle = store.try_lock()
    assert handle is not None
    assert active.store.try_lock() is None
    send(platform, active.device_id, "lock", {"message": "held"})
    releasing = threading.Timer(0.5, store.unlock, args=(handle,))
    releasing.start()
    started = time.monotonic()
    active.ok("checkin")
    assert time.monotonic() - started >= 0.4
    releasing.join()
    assert active.store.load_state().locked is True

    held = active.store.try_lock()
    assert held is not None
    try:
        with pytest.raises(StateError, match="another govmobile-device process"):
            asyncio.run(_check_in_within(active, 0.2))
    finally:
        active.store.unlock(held)


async def _check_in_within(device: Tablet, timeout: float) -> None:
    agent = device.agent()
    try:
        async with agent.exclusive(timeout=timeout):
            pass
    finally:
        await agent.aclose()
