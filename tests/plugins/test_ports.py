"""The service precheck's port logic (plugins/filter/govmobile_ports.py) and the listeners module, which reads
the listening sockets from /proc on a host that has no `ss`."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests.plugins.conftest import load_plugin

ports = load_plugin("filter/govmobile_ports.py")
listeners_module = load_plugin("modules/govmobile_listeners.py")


def listener(address: str, port: int, program: str = "nginx") -> dict:
    return {"address": address, "port": port, "program": program, "pid": 42}


@pytest.mark.parametrize(
    ("published", "listening", "own", "conflict"),
    [
        # The same address, the wildcard on either side, another address, another port.
        ("127.0.0.1:8443:8443", [listener("127.0.0.1", 8443)], [], True),
        ("127.0.0.1:8443:8443", [listener("0.0.0.0", 8443)], [], True),
        ("127.0.0.1:8443:8443", [listener("::", 8443)], [], True),
        ("8443:8443", [listener("10.0.0.5", 8443)], [], True),
        ("0.0.0.0:8443:8443", [listener("127.0.0.1", 8443)], [], True),
        ("127.0.0.1:8443:8443", [listener("10.0.0.5", 8443)], [], False),
        ("127.0.0.1:8443:8443", [listener("127.0.0.1", 443)], [], False),
        # The service's own container already publishes it: a re-run.
        ("127.0.0.1:8443:8443", [listener("127.0.0.1", 8443, "docker-proxy")], ["8443"], False),
        ("[::1]:443:8443", [listener("::1", 443)], [], True),
    ],
)
def test_port_conflicts(published: str, listening: list, own: list, conflict: bool) -> None:
    found = ports.port_conflicts([published], listening, own)
    assert bool(found) is conflict
    if conflict:
        assert found[0]["program"] in {"nginx", "docker-proxy"}
        assert found[0]["pid"] == 42


def test_a_malformed_published_port_is_refused() -> None:
    with pytest.raises(ValueError, match="address:port:container_port"):
        ports.port_conflicts(["8443"], [], [])


def test_container_host_ports_reads_docker_port_bindings() -> None:
    container = {
        "HostConfig": {
            "PortBindings": {
                "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "443"}],
                "8443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}],
                "9000/tcp": None,
            }
        }
    }
    assert ports.container_host_ports(container) == [443, 8443]
    assert ports.container_host_ports({"HostConfig": {"PortBindings": None}}) == []
    assert ports.container_host_ports(None) == []


@pytest.fixture
def listening() -> Iterator[tuple[str, int, int]]:
    """A real listening socket on IPv4 loopback and one on IPv6 loopback (when the kernel has it)."""
    with socket.socket() as v4:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        try:
            v6 = socket.socket(socket.AF_INET6)
            v6.bind(("::1", 0))
            v6.listen()
        except OSError:
            v6 = None
        try:
            yield "127.0.0.1", v4.getsockname()[1], (v6.getsockname()[1] if v6 else 0)
        finally:
            if v6:
                v6.close()


def test_the_listeners_module_finds_real_sockets_and_their_program(listening: tuple[str, int, int]) -> None:
    _, port, port6 = listening
    found = listeners_module.listeners()
    mine = [entry for entry in found if entry["port"] == port]
    assert mine == [
        {"address": "127.0.0.1", "port": port, "program": mine[0]["program"], "pid": mine[0]["pid"]}
    ]
    assert mine[0]["pid"] == os.getpid()
    if port6:
        assert {"address": "::1", "port": port6} in [
            {"address": e["address"], "port": e["port"]} for e in found
        ]
