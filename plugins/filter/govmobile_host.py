"""Filters about a host's facts, for the docker_host role's prechecks."""

from __future__ import annotations

from typing import Any


def mount_point_of(path: str, mounts: list[dict[str, Any]]) -> str:
    """The mount point holding a path (which may not exist yet): the longest mount point above it."""
    found = "/"
    for mount in mounts:
        point = str(mount["mount"]).rstrip("/") or "/"
        if (path.rstrip("/") + "/").startswith(point.rstrip("/") + "/") and len(point) > len(found):
            found = point
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"mount_point_of": mount_point_of}
