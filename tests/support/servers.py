"""Run an ASGI application on a real loopback socket for the duration of a test."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

#: Ports handed out for servers that must know theirs in advance: below Linux's ephemeral range
#: (32768-60999), so that no outgoing connection of the busy test run takes one between the
#: probe and the server's bind (seen in CI: "address already in use").
_FIXED_PORTS = range(20000, 32768)


def free_port() -> int:
    """A TCP port nothing listens on right now (for servers that must know theirs in advance)."""
    for port in random.sample(_FIXED_PORTS, 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


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
