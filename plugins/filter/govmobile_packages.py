"""Filters about Debian packages, for the docker_host role."""

from __future__ import annotations

from typing import Any

#: dpkg states of a package that an interrupted installation left behind (dpkg(1), "PACKAGE STATES").
UNFINISHED = {"half-installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"}


def dpkg_status(lines: list[str]) -> dict[str, str]:
    """`dpkg-query --show --showformat '${Package} ${db:Status-Status}\\n'` lines as {package: state}."""
    status = {}
    for line in lines:
        package, _, state = line.strip().partition(" ")
        if package:
            status[package] = state.strip()
    return status


def packages_to_install(
    status: dict[str, str], engine_packages: list[str], other_packages: list[str], engine_found: bool
) -> list[str]:
    """What to install: the other packages that are not installed, and Docker Engine's packages
    when no engine is found or when an interrupted installation left one of them unfinished.

    An engine installed some other way (Docker's own docker-ce packages, say) is used as it is:
    docker.io would conflict with it.
    """
    unfinished_engine = any(status.get(package) in UNFINISHED for package in engine_packages)
    wanted = (engine_packages if not engine_found or unfinished_engine else []) + other_packages
    return [package for package in wanted if status.get(package) != "installed"]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"dpkg_status": dpkg_status, "packages_to_install": packages_to_install}
