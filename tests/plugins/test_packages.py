"""What the docker_host role installs (plugins/filter/govmobile_packages.py), from dpkg's view of the host."""

from __future__ import annotations

import pytest

from tests.plugins.conftest import load_plugin

packages = load_plugin("filter/govmobile_packages.py")

ENGINE = ["docker.io"]
PYTHON = ["python3-requests", "python3-cryptography"]


def test_dpkg_status_reads_dpkg_query_lines() -> None:
    lines = [
        "docker.io half-configured",
        "python3-requests installed",
        "python3-cryptography not-installed",
        "",
    ]
    assert packages.dpkg_status(lines) == {
        "docker.io": "half-configured",
        "python3-requests": "installed",
        "python3-cryptography": "not-installed",
    }


@pytest.mark.parametrize(
    ("status", "engine_found", "expected"),
    [
        # A bare host: everything.
        ({}, False, ["docker.io", *PYTHON]),
        # Debian's engine and the libraries installed: nothing.
        (
            {"docker.io": "installed", "python3-requests": "installed", "python3-cryptography": "installed"},
            True,
            [],
        ),
        # An engine from elsewhere (docker-ce): used as it is; the libraries still come.
        ({"docker.io": "not-installed"}, True, PYTHON),
        # Interrupted inside dpkg: dockerd may exist, but the package is unfinished, so it is installed again.
        (
            {"docker.io": "half-installed", "python3-requests": "installed"},
            True,
            ["docker.io", "python3-cryptography"],
        ),
        ({"docker.io": "unpacked", "python3-requests": "unpacked"}, True, ["docker.io", *PYTHON]),
        # Removed but its configuration kept: installed again when no engine is found.
        ({"docker.io": "config-files"}, False, ["docker.io", *PYTHON]),
    ],
)
def test_packages_to_install(status: dict, engine_found: bool, expected: list) -> None:
    assert packages.packages_to_install(status, ENGINE, PYTHON, engine_found) == expected
