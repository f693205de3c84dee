"""Once the gateway has refused a device, it keeps refusing it until access is given back (an
admin's action, or the device's own remediation) — also under load, with the machine's CPU
taken, and while nginx reloads underneath (issue 10, item 7: a 403, then a 200).

The cause was a decision cache keyed by a generation compiled into nginx's configuration: each
access change reloaded nginx, and for a moment after each reload the old workers still took new
connections and answered from the "allowed" they had cached under the old generation. Access
changes now live in shared memory that old and new workers share, and reload nothing.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.devices import GOOD_POSTURE, ScriptedDevice
from tests.support.gateway import DECISION_TIMEOUT, Gateway
from tests.support.mdm import Admin, Department
from tests.support.upstreams import RecordingUpstream

#: Refuse and give access back this many times: the defect showed once in a full run.
CYCLES = 20
#: Requests sent at once right after the first refusal, each on a new connection (any worker
#: may take it), that must all be refused.
FOLLOWING = 16
LOAD_THREADS = 4
#: How often another route changes, each change a reload of nginx.
RELOAD_EVERY = 1.0


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """Busy processes beside the gateway, one per core, as a full test run makes them."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(max(2, len(os.sched_getaffinity(0))))
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def route(name: str, upstream: str, tenant_id: str, rate_limit: int) -> dict[str, object]:
    return {"name": name, "upstream_url": upstream, "allowed_tenants": [tenant_id], "rate_limit": rate_limit}


@pytest.fixture
def busy_route(
    gateway: Gateway, management: Admin, water: Department, upstream: tuple[RecordingUpstream, str]
) -> None:
    """An app with room for the load (its rate limit never answers 429), and a second route
    whose changes keep nginx reloading."""
    with gateway.reloaded():
        management.ok("POST", "/api/v1/routes", json=route("busy", upstream[1], water.tenant_id, 10000))
        management.ok("POST", "/api/v1/routes", json=route("churn", upstream[1], water.tenant_id, 1))
    assert gateway.status_of("/apps/busy/") == 401


@pytest.fixture
def reloading(
    gateway: Gateway, management: Admin, water: Department, upstream: tuple[RecordingUpstream, str]
) -> Iterator[Callable[[], int]]:
    """Change the other route again and again: nginx reloads throughout the test. Yields how
    many reloads there have been since."""
    stop = threading.Event()
    reloads_before = gateway.app.state.nginx.reloads

    def churn() -> None:
        context = ssl.create_default_context(cafile=str(gateway.tls.root))
        headers = {"Authorization": f"Bearer {management.token}"}
        limit = 1
        while not stop.wait(RELOAD_EVERY):
            limit = limit % 50 + 1
            # A new connection each time: a reload closes idle keep-alive connections.
            # A slow answer on a starved machine is not this test's subject: wait for it.
            with httpx.Client(
                base_url=gateway.management_url, verify=context, headers=headers, timeout=DECISION_TIMEOUT
            ) as client:
                changed = client.put(
                    "/api/v1/routes/churn", json=route("churn", upstream[1], water.tenant_id, limit)
                )
            assert changed.status_code == 200, changed.text

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        yield lambda: int(gateway.app.state.nginx.reloads - reloads_before)
    finally:
        stop.set()
        thread.join(timeout=30)


#: What ``status`` answers when nginx closed the connection without an answer.
DROPPED = 0


def status(mobile: ScriptedDevice) -> int:
    """One request to the intranet app on a new TLS connection; ``DROPPED`` when nginx closed it
    unanswered. An old worker ending after a reload closes the connections it accepted whose
    request had not come yet (nginx's graceful shutdown; clients send again): nothing is let
    through, and on a starved machine the moment between accepting and reading grows."""
    with mobile.tls_client() as client:
        try:
            return client.get("/apps/busy/inbox").status_code
        except httpx.RemoteProtocolError:
            return DROPPED


def first(mobile: ScriptedDevice, wanted: int, timeout: float) -> None:
    """Ask until the answer is ``wanted``, without pausing: the moment right after matters."""
    deadline = time.monotonic() + timeout
    while status(mobile) != wanted:
        assert time.monotonic() < deadline, f"no {wanted} within {timeout} s"


@pytest.mark.usefixtures("cpu_hog", "busy_route")
def test_a_refusal_is_never_taken_back_while_the_gateway_is_busy(
    gateway: Gateway, mobile: ScriptedDevice, reloading: Callable[[], int]
) -> None:
    # Background load on the same device and route: requests in flight as access changes.
    seen: list[tuple[float, int]] = []  # (sent, status)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                seen.append((sent, status(mobile)))
            except httpx.HTTPError:
                seen.append((sent, DROPPED))

    with ThreadPoolExecutor(LOAD_THREADS) as pool, ThreadPoolExecutor(FOLLOWING) as burst:
        for _ in range(LOAD_THREADS):
            pool.submit(load)
        try:
            for cycle in range(CYCLES):
                first(mobile, 200, timeout=DECISION_TIMEOUT)
                noncompliant = mobile.checkin(posture={**GOOD_POSTURE, "passcode_set": False})
                assert noncompliant.json()["device"]["compliant"] is False
                first(mobile, 403, timeout=DECISION_TIMEOUT)
                refused_at = time.monotonic()
                following = list(burst.map(lambda _: status(mobile), range(FOLLOWING)))
                given_back = time.monotonic()
                # Every one refused (or dropped by a worker ending after a reload, never answered).
                assert set(following) <= {403, DROPPED}, f"cycle {cycle}: {following}"
                assert 403 in following, f"cycle {cycle}: {following}"
                # Nothing sent after the first refusal was let through, by any thread.
                slipped = [code for sent, code in seen if refused_at < sent < given_back and code == 200]
                assert not slipped, f"cycle {cycle}: {len(slipped)} requests let through after a refusal"
                assert mobile.checkin(posture=GOOD_POSTURE).json()["device"]["compliant"] is True
        finally:
            stop.set()
    assert {code for _, code in seen} <= {200, 403, DROPPED}
    assert reloading() >= CYCLES // 2  # nginx did reload throughout
