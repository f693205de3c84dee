"""Wake-up long-polls return when a command is queued, and coalesce."""

from __future__ import annotations

import threading
import time

import httpx

from tests.mdm.conftest import Admin
from tests.mdm.test_queue import queue
from tests.support.devices import ScriptedDevice


def test_long_poll_times_out_quietly(enrolled: ScriptedDevice) -> None:
    enrolled.checkin()
    started = time.monotonic()
    response = enrolled.client.get(
        "/api/v1/device/wait", params={"timeout": 0.5}, headers=enrolled.identity()
    )
    assert response.json() == {"wake": False}
    assert time.monotonic() - started >= 0.45


def test_queueing_a_command_wakes_the_waiting_device(
    enrolled: ScriptedDevice, platform: Admin, mdm_url: str
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

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)
    queue(platform, enrolled, "lock")
    waiter.join(timeout=25)
    assert outcome["body"] == {"wake": True}
    assert float(outcome["seconds"]) < 5  # type: ignore[arg-type]


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
