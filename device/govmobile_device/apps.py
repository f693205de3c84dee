"""Government apps: the seam the app-portal and gateway issues fill.

The portal (a signed catalogue of the apps assigned to this device's person and groups) is not
part of this appliance version yet. ``AppPortal`` is what the agent needs from it; until it
exists, ``PortalNotAvailable`` says so plainly instead of pretending to succeed. An
``install_app`` command is kept as a pending install (shown by ``status``) and answered with
an error naming the reason, so the administrator sees it was not done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from govmobile_device.errors import NotAvailable

PORTAL_NOT_AVAILABLE = "the app portal is not available on this appliance version yet"


@dataclass(frozen=True)
class CatalogueEntry:
    app_id: str
    name: str
    version: str
    required: bool


class AppPortal(Protocol):
    async def catalogue(self) -> list[CatalogueEntry]:
        """The apps assigned to this device."""

    async def install(self, app_id: str, version: str | None) -> str:
        """Download, verify the signature of, and install an app; return the installed version."""


class PortalNotAvailable:
    async def catalogue(self) -> list[CatalogueEntry]:
        raise NotAvailable(f"{PORTAL_NOT_AVAILABLE}: there is no catalogue to show")

    async def install(self, app_id: str, version: str | None) -> str:
        raise NotAvailable(f"{PORTAL_NOT_AVAILABLE}: {app_id} cannot be installed")
