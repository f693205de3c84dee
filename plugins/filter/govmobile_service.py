"""Filters of the service role: a service definition (data) turned into the container it asks for."""

from __future__ import annotations

from typing import Any


def unknown_keys(definition: dict[str, Any], allowed: list[str]) -> list[str]:
    """The keys of a definition that the role does not take (so a typo cannot pass unseen)."""
    return [key for key in definition if key not in allowed]


def container_environment(environment: dict[str, Any] | None) -> dict[str, str]:
    """Docker takes environment values as strings only."""
    return {key: str(value) for key, value in (environment or {}).items()}


def container_mounts(volumes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The definition's volumes as docker_container's mounts (the role's own keys left out)."""
    return [
        {
            "type": volume["type"],
            "source": volume["source"],
            "target": volume["target"],
            "read_only": bool(volume.get("read_only", False)),
        }
        for volume in volumes or []
    ]


def container_networks(networks: list[dict[str, Any]] | None, names: dict[str, str]) -> list[dict[str, Any]]:
    """The definition's logical networks as Docker networks, with their aliases."""
    return [
        {"name": names[network["name"]], "aliases": list(network.get("aliases") or [])}
        for network in networks or []
    ]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "unknown_keys": unknown_keys,
            "container_environment": container_environment,
            "container_mounts": container_mounts,
            "container_networks": container_networks,
        }
