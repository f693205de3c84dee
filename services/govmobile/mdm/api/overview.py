"""Admin API: the fleet in figures, for the console's overview (counted by the database)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from govmobile.core.accounts import Principal
from govmobile.mdm.api.schemas import (
    CommandOverviewPublic,
    DeviceOverviewPublic,
    EnrollmentDay,
    EnrollmentOverviewPublic,
)
from govmobile.mdm.overview import MAX_ENROLLMENT_DAYS, FleetOverview
from govmobile.web.openapi import errors
from govmobile.web.params import TenantQuery

TimeZoneQuery = Annotated[
    str, Query(min_length=1, max_length=64, description="an IANA time zone, e.g. Asia/Shanghai")
]
DaysQuery = Annotated[int, Query(ge=1, le=MAX_ENROLLMENT_DAYS)]


def overview_router(overview: FleetOverview, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/overview", tags=["overview"])

    @router.get("/devices", response_model=DeviceOverviewPublic, responses=errors(400, 404))
    def device_overview(
        admin: Annotated[Principal, Depends(authenticate)], tenant_id: TenantQuery = None
    ) -> DeviceOverviewPublic:
        """Devices by state, compliance (with the kinds of reasons) and last check-in.

        A department admin gets their department's figures; naming another department is a 404."""
        return DeviceOverviewPublic.of(overview.devices(admin, tenant_id))

    @router.get("/enrollments", response_model=EnrollmentOverviewPublic, responses=errors(400, 404))
    def enrollment_overview(
        admin: Annotated[Principal, Depends(authenticate)],
        tenant_id: TenantQuery = None,
        days: DaysQuery = 30,
        time_zone: TimeZoneQuery = "UTC",
    ) -> EnrollmentOverviewPublic:
        """Devices enrolled per day over the last ``days`` days, today included, in ``time_zone``."""
        counted = overview.enrollments(admin, tenant_id, days=days, zone=time_zone)
        return EnrollmentOverviewPublic(
            time_zone=time_zone, days=[EnrollmentDay(day=d.day, count=d.count) for d in counted]
        )

    @router.get("/commands", response_model=CommandOverviewPublic, responses=errors(400, 404))
    def command_overview(
        admin: Annotated[Principal, Depends(authenticate)],
        tenant_id: TenantQuery = None,
        failed_days: DaysQuery = 7,
    ) -> CommandOverviewPublic:
        """Commands still waiting for their device, and those that failed in the last ``failed_days`` days."""
        return CommandOverviewPublic.of(overview.commands(admin, tenant_id, failed_days=failed_days))

    return router
