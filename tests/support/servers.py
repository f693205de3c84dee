"""Run an ASGI application on a real loopback socket for the duration of a test."""

from __future__ import annotations

import fcntl
import json
import os
import random
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

#: Ports handed out for servers that must know theirs in advance: below Linux's ephemeral range
#: (32768-60999), so that no outgoing connection of the busy test run takes one between the
#: probe and the server's bind (seen in CI: "address already in use").
_FIXED_PORTS = range(20000, 32768)
#: Who holds which of them: {port: pid}, shared by every test run of this user on the machine.
_RESERVATIONS = Path(tempfile.gettempdir()) / f"govmobile-test-ports-{os.getuid()}.json"


def free_port() -> int:
    """A TCP port nothing listens on (for servers that must know theirs in advance).

    Probing alone is not enough: the port is free again between the probe and the server's bind,
    so the next call (the gateway asks for three in a row) or another test run on this machine
    could be handed the same one. Each port is therefore reserved for the life of this process in
    a file every run consults under a lock; reservations of processes that have ended lapse."""
    with _RESERVATIONS.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reserved = _live_reservations()
        for port in random.sample(_FIXED_PORTS, 200):
            if port in reserved:
                continue
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            reserved[port] = os.getpid()
            _RESERVATIONS.write_text(json.dumps(reserved))
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _live_reservations() -> dict[int, int]:
    try:
        held = {int(port): int(pid) for port, pid in json.loads(_RESERVATIONS.read_text()).items()}
    except (OSError, ValueError):
        return {}
    alive = {pid for pid in set(held.values()) if Path(f"/proc/{pid}").exists()}
    return {port: pid for port, pid in held.items() if pid in alive}


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for the duration of the block.

    The socket stays bound but never listens, so connecting is refused and no other program
    (another test run on the machine) can start listening there in the meantime, as it could on
    a port that was merely free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def serving(app: Any, *, port: int = 0, **config: Any) -> Iterator[str]:
    """Start uvicorn on 127.0.0.1 (a free port unless given) in a thread; yield its base URL."""
    # Like production (govmobile.web.server): the client's address is never taken from headers.
    config.setdefault("proxy_headers", False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config)
    )
    thread = threading.Thread(target=server.run, name="test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if config.get("ssl_certfile") else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        # A server still shutting down would go on using what the test tears down next (its
        # database, the ports it holds): fail here, where the cause is.
        if thread.is_alive():
            raise RuntimeError(f"the test server on port {port} did not stop within 60 s")
