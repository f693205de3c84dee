"""Wake-up long-polls return when a command is queued, and coalesce."""

from __future__ import annotations

import threading
import time

import httpx

from tests.mdm.test_queue import queue
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin


def test_long_poll_times_out_quietly(enrolled: ScriptedDevice) -> None:
    enrolled.checkin()
    started = time.monotonic()
    response = enrolled.client.get(
        "/api/v1/device/wait", params={"timeout": 0.5}, headers=enrolled.identity()
    )
    assert response.json() == {"wake": False}
    assert time.monotonic() - started >= 0.45


def long_polls_held(http: httpx.Client) -> float:
    """What the MDM's metrics say about the long-polls it holds now."""
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("govmobile_mdm_long_polls "):
            return float(line.split()[-1])
    raise AssertionError("the MDM publishes no govmobile_mdm_long_polls")


def test_queueing_a_command_wakes_the_waiting_device(
    enrolled: ScriptedDevice, platform: Admin, mdm_url: str, http: httpx.Client
) -> None:
    enrolled.checkin()
    outcome: dict[str, object] = {}

    def wait() -> None:
        with httpx.Client(base_url=mdm_url, timeout=30) as own:
            started = time.monotonic()
            outcome["body"] = own.get(
                "/api/v1/device/wait", params={"timeout": 20}, headers=enrolled.identity()
            ).json()
            outcome["seconds"] = time.monotonic() - started

    assert long_polls_held(http) == 0
    waiter = threading.Thread(target=wait)
    waiter.start()
    # Queue only once the MDM holds the long-poll: queued earlier, the command would be found
    # pending at once and the wake-up itself would go untested.
    deadline = time.monotonic() + 20
    while long_polls_held(http) < 1:
        assert time.monotonic() < deadline, "the MDM never held the long-poll"
        time.sleep(0.02)
    queue(platform, enrolled, "lock")
    waiter.join(timeout=25)
    assert not waiter.is_alive()
    assert outcome["body"] == {"wake": True}
    assert float(outcome["seconds"]) < 15  # type: ignore[arg-type]  # woken, not timed out at 20 s
    assert long_polls_held(http) == 0


def test_pending_commands_wake_at_once(enrolled: ScriptedDevice, platform: Admin) -> None:
    enrolled.checkin()
    queue(platform, enrolled, "message", text="one")
    queue(platform, enrolled, "message", text="two")
    started = time.monotonic()
    assert enrolled.client.get(
        "/api/v1/device/wait", params={"timeout": 10}, headers=enrolled.identity()
    ).json() == {"wake": True}
    assert time.monotonic() - started < 2


def test_wait_needs_the_gateway_identity(enrolled: ScriptedDevice) -> None:
    response = enrolled.client.get("/api/v1/device/wait", params={"timeout": 1})
    assert response.status_code == 401
