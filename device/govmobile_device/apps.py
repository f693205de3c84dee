"""Government apps: what the agent needs from the app portal (``AppPortal``), whatever backs it.

``installer.AppInstaller`` is the real one: TUF, the signed desired state, installs with retries
and reports. ``PortalNotAvailable`` stands for an agent given no portal at all (the fleet
simulator's devices): it says so plainly instead of pretending to succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from govmobile_device.errors import NotAvailable
from govmobile_device.state import DeviceIdentity

PORTAL_NOT_AVAILABLE = "the app portal is not available to this agent"


class NoPortal(NotAvailable):
    """There is no app portal to ask (none on this appliance, or none given to this agent)."""


@dataclass(frozen=True)
class CatalogueEntry:
    """An app of the device's desired state, and where it stands on the device."""

    package: str
    intent: str
    version_code: int | None
    version_name: str | None
    installed_version: int | None
    status: str
    attempts: int = 0
    last_error: str | None = None
    #: ``android`` or ``web``; a web app opens ``url`` through the gateway and is never installed.
    kind: str = "android"
    url: str | None = None


class AppPortal(Protocol):
    async def catalogue(self, identity: DeviceIdentity) -> list[CatalogueEntry]:
        """The apps the desired state offers this device (fetched and verified now when reachable)."""

    async def install(self, identity: DeviceIdentity, package: str) -> int:
        """Download, verify and install a required or available app now; return its version code."""

    async def update(self, identity: DeviceIdentity, package: str | None = None) -> list[str]:
        """Bring installed apps (or one) up to the desired state's version now; return what changed."""

    async def remove(self, identity: DeviceIdentity, package: str, *, ordered: bool = False) -> bool:
        """Uninstall a managed app (``ordered``: by the administrator, even a required one)."""

    async def converge(self, identity: DeviceIdentity, *, fresh: bool = False) -> None:
        """At check-in or wake-up: required apps in, uninstalled apps out, due retries, the report
        (``fresh``: following every change committed so far, not the gateway's held answer)."""

    def installed_packages(self) -> list[str]:
        """The managed apps installed on this device."""

    def inventory(self) -> list[dict[str, object]]:
        """The posture's app inventory: ``{"package", "version_code", "signer"}`` per installed app."""

    def forget(self, package: str) -> None:
        """Remove a managed app here without asking the portal (a selective wipe); the next
        report to the portal says it is gone."""


class PortalNotAvailable:
    async def catalogue(self, identity: DeviceIdentity) -> list[CatalogueEntry]:
        raise NoPortal(f"{PORTAL_NOT_AVAILABLE}: there is no catalogue to show")

    async def install(self, identity: DeviceIdentity, package: str) -> int:
        raise NoPortal(f"{PORTAL_NOT_AVAILABLE}: {package} cannot be installed")

    async def update(self, identity: DeviceIdentity, package: str | None = None) -> list[str]:
        raise NoPortal(f"{PORTAL_NOT_AVAILABLE}: nothing can be updated")

    async def remove(self, identity: DeviceIdentity, package: str, *, ordered: bool = False) -> bool:
        return False

    async def converge(self, identity: DeviceIdentity, *, fresh: bool = False) -> None:
        return None

    def installed_packages(self) -> list[str]:
        return []

    def inventory(self) -> list[dict[str, object]]:
        return []

    def forget(self, package: str) -> None:
        return None
