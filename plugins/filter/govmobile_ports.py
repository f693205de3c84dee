"""Filters about published ports, for the service role's precheck."""

from __future__ import annotations

from typing import Any

WILDCARDS = {"0.0.0.0", "::", ""}


def published_port(published: str) -> dict[str, Any]:
    """Docker's 'address:port:container_port' ([v6]:port:container_port) or 'port:container_port'
    as {address, port}."""
    head, separator, _container_port = str(published).rpartition(":")
    address, _, host_port = head.rpartition(":")
    if not separator or not host_port.isdigit():
        raise ValueError(
            f"a published port is address:port:container_port or port:container_port, not {published!r}"
        )
    return {"address": address.strip("[]") or "0.0.0.0", "port": int(host_port)}


def port_conflicts(
    published_ports: list[str], listeners: list[dict[str, Any]], own_ports: list[int | str]
) -> list[dict[str, Any]]:
    """The published ports that another program already listens on.

    A port is taken when something listens on it on the same address or on a wildcard address,
    or when the service wants a wildcard address and anything listens on the port. Ports that
    the service's own container publishes already (a re-run) are not conflicts.
    """
    own = {int(port) for port in own_ports}
    conflicts = []
    for published in published_ports:
        wanted = published_port(published)
        if wanted["port"] in own:
            continue
        for listener in listeners:
            if int(listener["port"]) != wanted["port"]:
                continue
            if (
                listener["address"] in WILDCARDS
                or wanted["address"] in WILDCARDS
                or listener["address"] == wanted["address"]
            ):
                conflicts.append(
                    {
                        "port": wanted["port"],
                        "address": wanted["address"],
                        "program": listener.get("program", "unknown"),
                        "pid": listener.get("pid", 0),
                    }
                )
                break
    return conflicts


def container_host_ports(container: dict[str, Any] | None) -> list[int]:
    """The host ports a container (Docker's /containers/<name>/json) publishes."""
    if not container:
        return []
    bindings = (container.get("HostConfig") or {}).get("PortBindings") or {}
    return sorted(
        {int(b["HostPort"]) for found in bindings.values() for b in found or [] if b.get("HostPort")}
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "port_conflicts": port_conflicts,
            "container_host_ports": container_host_ports,
        }
