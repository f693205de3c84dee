"""What an enrolled device receives once, right after enrollment: the appliance's enrollment profile.

Today it holds the app portal's TUF root metadata (``root.json``), which the device keeps as the
trust anchor of every later portal update: python-tuf's client is bootstrapped from it and only
ever replaces it with a newer root signed by the old one. It travels over the device's first
mutual-TLS connection, verified against the CA root the device pinned at enrollment, so it is as
trustworthy as the enrollment itself. No portal on this appliance: ``portal`` is null.
"""

import base64
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from govmobile.mdm.service import Mdm
from govmobile.web.device_identity import PresentedCertificate
from govmobile.web.openapi import errors

ENROLLMENT_PROFILE_PATH = "/api/v1/device/enrollment-profile"
PORTAL_BASE_PATH = "/portal/v1"


class PortalProfile(BaseModel):
    base_path: str = Field(description="where the portal's device API is, on the gateway's public address")
    root: str = Field(description="the portal's TUF root metadata (root.json), base64 of its exact bytes")


class EnrollmentProfile(BaseModel):
    device_id: str
    portal: PortalProfile | None = Field(description="null: this appliance has no app portal")


def enrollment_profile_router(
    mdm: Mdm, presented_certificate: Callable[..., PresentedCertificate], *, portal_root: bytes | None
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/device", tags=["device protocol"])
    portal = (
        None
        if portal_root is None
        else PortalProfile(base_path=PORTAL_BASE_PATH, root=base64.b64encode(portal_root).decode())
    )

    @router.get("/enrollment-profile", response_model=EnrollmentProfile, responses=errors(400, 401, 403))
    async def enrollment_profile(
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> EnrollmentProfile:
        """The enrolled device's profile: the app portal's trust anchor, if there is a portal."""
        device = await run_in_threadpool(mdm.device_of, presented)
        return EnrollmentProfile(device_id=device.id, portal=portal)

    return router
