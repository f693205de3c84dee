"""The posture a compliant Android tablet reports at check-in, for benchmarks and tests alike."""

from __future__ import annotations

from typing import Any

COMPLIANT_POSTURE: dict[str, Any] = {
    "os_name": "android",
    "os_version": "14.0.2",
    "storage_encrypted": True,
    "passcode_set": True,
    "rooted": False,
    "installed_apps": [],
    "battery_percent": 80,
}
