"""A deploy refuses, with a clear message and before changing anything, where it cannot work."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import appliance

pytestmark = pytest.mark.deploy


@pytest.fixture
def unchanged() -> Iterator[None]:
    """The deployment's containers are the same, and not restarted, after the test."""
    before = appliance.deployment_containers()
    yield
    assert appliance.deployment_containers() == before


def refused(*args: str) -> str:
    run = appliance.govmobile("deploy", *args)
    assert run.returncode != 0, run.output[-3000:]
    assert run.recap()["changed"] == 0, run.changed_tasks()
    return run.output


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"docker_host_supported_os": {"Plan9": "4"}}, "is not supported: GovMobile runs on Plan9 4"),
        ({"docker_host_min_memory_mb": 100_000_000}, "GovMobile needs at least 100000000 MiB"),
        ({"docker_host_min_disk_gb": 1_000_000}, "GovMobile needs at least 1000000 GiB"),
        ({"docker_host_min_version": "99.0"}, "is too old (running); GovMobile needs 99.0 or newer"),
    ],
    ids=["os", "memory", "disk", "docker-version"],
)
def test_an_unsuitable_host_is_refused(variables: dict, message: str) -> None:
    output = refused("-e", json.dumps(variables))
    assert message in " ".join(output.split()), output[-3000:]


@pytest.mark.usefixtures("unchanged")
def test_a_taken_port_is_refused() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        output = refused("-e", json.dumps({"ca_published_ports": [f"127.0.0.1:{port}:8001"]}))
    assert f"port {port} on 127.0.0.1 is already taken by another program" in " ".join(output.split())


@pytest.mark.usefixtures("unchanged")
def test_missing_inventory_variables_are_refused(tmp_path: Path) -> None:
    inventory = (appliance.ROOT / "inventory" / "all-in-one.yml").read_text()
    lines = [line for line in inventory.splitlines() if "govmobile_public_hostname:" not in line]
    incomplete = tmp_path / "incomplete.yml"
    incomplete.write_text("\n".join(lines) + "\n")
    output = " ".join(refused("-i", str(incomplete)).split())
    assert "govmobile_public_hostname (DNS name: MISSING)" in output
