"""Install reports: the device reports its managed apps (``POST /portal/v1/installations``,
mutual TLS through the gateway), and an admin asks a device to retry a failed install
(``POST /api/v1/portal/devices/{id}/apps/{package}/retry``)."""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govmobile.core.accounts import Principal
from govmobile.portal.installations import MAX_REPORTED_APPS, AppReport, Installations
from govmobile.portal.models import InstallationState, PortalInstallation
from govmobile.web.device_identity import PresentedCertificate
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath, TenantQuery

#: An Android package name (the domain checks it again when the app is looked up).
PACKAGE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$"
Package = Annotated[str, Field(max_length=255, pattern=PACKAGE_PATTERN)]


class InstallationCountPublic(BaseModel):
    package: str
    state: InstallationState
    count: int


class InstallationOverview(BaseModel):
    counts: list[InstallationCountPublic] = Field(
        description="per app and state; pairs with none are left out"
    )


class AppInstallationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: Package
    state: Literal["installed", "failed", "removed", "pending"]
    version_code: int | None = Field(default=None, ge=0, le=2**63 - 1)
    attempts: int = Field(default=0, ge=0, le=1_000_000)
    last_error: str | None = Field(
        default=None, description="kept to its first 1,000 characters (the request's size limit bounds it)"
    )


class InstallationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(default=None, max_length=36, description="if given, the caller's own id")
    apps: list[AppInstallationReport] = Field(max_length=MAX_REPORTED_APPS)


class InstallationPublic(BaseModel):
    package: str
    state: InstallationState
    version_code: int | None
    attempts: int
    last_error: str | None
    reported_at: dt.datetime | None
    retry_generation: int = Field(description="how many retries an admin asked for")
    retry_requested_at: dt.datetime | None
    retry_requested_by: str | None

    @classmethod
    def of(cls, row: PortalInstallation) -> "InstallationPublic":
        return cls(
            package=row.package,
            state=row.state,
            version_code=row.version_code,
            attempts=row.attempts,
            last_error=row.last_error,
            reported_at=row.reported_at,
            retry_generation=row.retry_generation,
            retry_requested_at=row.retry_requested_at,
            retry_requested_by=row.retry_requested_by,
        )


class InstallationsAccepted(BaseModel):
    device_id: str
    recorded: int


def installation_device_router(
    installations: Installations, presented_certificate: Callable[..., PresentedCertificate]
) -> APIRouter:
    router = APIRouter(prefix="/portal/v1", tags=["portal device protocol"])

    @router.post("/installations", response_model=InstallationsAccepted, responses=errors(400, 401, 403, 422))
    async def report_installations(
        report: InstallationReport,
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> InstallationsAccepted:
        """The calling device's report on its managed apps: state, version, attempts, last error."""
        apps = [
            AppReport(a.package, InstallationState(a.state), a.version_code, a.attempts, a.last_error)
            for a in report.apps
        ]
        device_id, stored = await run_in_threadpool(installations.report, presented, report.device_id, apps)
        return InstallationsAccepted(device_id=device_id, recorded=len(stored))

    return router


def installation_admin_router(
    installations: Installations, authenticate: Callable[..., Principal]
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/portal", tags=["app portal"])

    @router.post(
        "/devices/{device_id}/apps/{package}/retry",
        response_model=InstallationPublic,
        responses=errors(401, 403, 404, 409),
    )
    def retry_installation(
        device_id: IdPath,
        package: Annotated[str, Path(max_length=255, pattern=PACKAGE_PATTERN)],
        admin: Annotated[Principal, Depends(authenticate)],
    ) -> InstallationPublic:
        """Have the device retry a failed install at its next check-in (once per request)."""
        return InstallationPublic.of(installations.request_retry(admin, device_id, package))

    @router.get(
        "/overview/installations", response_model=InstallationOverview, responses=errors(400, 401, 404)
    )
    def installation_overview(
        admin: Annotated[Principal, Depends(authenticate)], tenant_id: TenantQuery = None
    ) -> InstallationOverview:
        """Managed apps counted per app and state, as devices last reported them.

        A department admin counts their department's; naming another department is a 404."""
        counts = installations.counts(admin, tenant_id)
        return InstallationOverview(
            counts=[InstallationCountPublic(package=c.package, state=c.state, count=c.count) for c in counts]
        )

    return router
