"""``run``: wake-ups through the long-poll, heartbeat, renewal while running, backoff, fatal refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from govmobile_device.agent import Agent
from govmobile_device.errors import CertificateRejected
from tests.device.conftest import Admin, Tablet, command_of, send, server_view
from tests.support.ca import Clock
from tests.support.gateway_stub import GatewayStub


class Running:
    """An agent's ``run`` in a thread of its own, as the long-running process would be."""

    def __init__(self, agent: Agent, heartbeat: float) -> None:
        self.agent = agent
        self.heartbeat = heartbeat
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self.agent.run(self._stop, heartbeat=self.heartbeat)
        except BaseException as error:
            self.error = error
        finally:
            await self.agent.aclose()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10)

    def halt(self) -> None:
        assert self._loop is not None
        assert self._stop is not None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=20)
        assert not self._thread.is_alive()

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()


@contextmanager
def running(
    device: Tablet, *, heartbeat: float, logs: list[str] | None = None, **options: object
) -> Iterator[Running]:
    log = logs.append if logs is not None else None
    # A short long-poll: the MDM finishes an open one before it shuts down after each test.
    agent = device.agent(wait_timeout=1.0, log=log, **options)
    process = Running(agent, heartbeat)
    process.start()
    try:
        yield process
    finally:
        process.halt()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_queued_command_wakes_the_device(enrolled: Tablet, platform: Admin) -> None:
    device_id = enrolled.device_id
    # A heartbeat far away: only the long-poll can bring the lock in time.
    with running(enrolled, heartbeat=600):
        eventually(lambda: server_view(platform, device_id)["state"] == "active")
        started = time.monotonic()
        send(platform, device_id, "lock", {"message": "Stolen?"})
        eventually(lambda: server_view(platform, device_id)["state"] == "locked")
        assert time.monotonic() - started < 5
        send(platform, device_id, "unlock")
        eventually(lambda: server_view(platform, device_id)["state"] == "active")
    assert enrolled.store.load_state().locked is False


def test_heartbeat_checks_in_again(enrolled: Tablet, gateway: GatewayStub) -> None:
    with running(enrolled, heartbeat=0.3):
        eventually(lambda: gateway.paths["/api/v1/device/checkin"] >= 3)


def test_renewal_while_running_moves_the_long_poll_to_the_new_certificate(
    enrolled: Tablet, platform: Admin, clock: Clock, gateway: GatewayStub
) -> None:
    device_id = enrolled.device_id
    enrolled.ok("checkin")
    old = enrolled.store.load_identity().certificate.serial_number
    clock.advance(dt.timedelta(days=21))
    logs: list[str] = []
    with running(enrolled, heartbeat=600, logs=logs):
        eventually(lambda: enrolled.store.load_identity().certificate.serial_number != old)
        new = enrolled.store.load_identity().certificate.serial_number
        # The old certificate is revoked once the new one is used; only a long-poll on the new
        # certificate can still deliver this wake-up, so send it once that long-poll is open.
        eventually(lambda: gateway.paths_by_serial[("/api/v1/device/wait", new)] >= 1)
        command = send(platform, device_id, "message", {"text": "after renewal"})
        eventually(lambda: command_of(platform, command)["state"] == "acknowledged")
    assert any("certificate renewed" in line for line in logs)


def test_backs_off_while_the_server_is_unreachable(enrolled: Tablet) -> None:
    identity = json.loads((enrolled.state / "identity.json").read_text())
    identity["server"] = "https://127.0.0.1:9"
    (enrolled.state / "identity.json").write_text(json.dumps(identity))
    before = (enrolled.state / "agent.json").read_bytes()
    logs: list[str] = []
    with running(enrolled, heartbeat=600, logs=logs) as process:
        eventually(lambda: sum("check-in failed" in line for line in logs) >= 3)
        assert not process.finished
    delays = [
        float(line.rsplit("next try in ", 1)[1].split()[0]) for line in logs if "check-in failed" in line
    ]
    assert delays[2] > delays[0]  # exponential, within its jitter
    assert (enrolled.state / "agent.json").read_bytes() == before


def test_a_refused_certificate_stops_the_agent(enrolled: Tablet, platform: Admin) -> None:
    enrolled.ok("checkin")
    platform.ok("POST", f"/api/v1/devices/{enrolled.device_id}/retire")
    with running(enrolled, heartbeat=600) as process:
        eventually(lambda: process.finished)
    assert isinstance(process.error, CertificateRejected)


def test_run_from_the_command_line(enrolled: Tablet, platform: Admin) -> None:
    outcome = enrolled.ok("run", "--for-seconds", "1", "--heartbeat", "0.3", "--wait-timeout", "2")
    assert "running for" in outcome.err
    assert "stopped" in outcome.err
    assert server_view(platform, enrolled.device_id)["state"] == "active"


def test_run_exits_with_the_refusals_code(enrolled: Tablet, platform: Admin) -> None:
    enrolled.ok("checkin")
    platform.ok("POST", f"/api/v1/devices/{enrolled.device_id}/retire")
    outcome = enrolled("run", "--heartbeat", "0.3", "--wait-timeout", "2")
    assert outcome.code == 7
    assert "device_retired" in outcome.err
