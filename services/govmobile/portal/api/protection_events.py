"""``POST /portal/v1/devices/{id}/protection-events``: a device reports the denials its agent enforced.

Authenticated like the rest of the device API (the gateway's proof and a certificate bound to an
enrolled device); a device reports only for itself. The body is bounded: at most
``MAX_EVENTS_PER_REPORT`` events, each field with a length and a form, so a device cannot write
arbitrary text into the audit log.
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from starlette.concurrency import run_in_threadpool

from govmobile.core.times import IsoTime
from govmobile.portal.delivery import Delivery
from govmobile.portal.protection_reports import (
    MAX_EVENTS_PER_REPORT,
    MAX_REASON,
    ProtectionReports,
    ReportedEvent,
)
from govmobile.web.device_identity import PresentedCertificate
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath

_PACKAGE = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$"


class ProtectionEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[0-9a-f]{32}$", description="chosen by the device: a repeated id is recorded once"
    )
    package: str = Field(max_length=255, pattern=_PACKAGE)
    action: Literal["copy", "save_as", "screenshot", "open", "unlock"]
    outcome: Literal["denied", "data_wiped"]
    code: str = Field(pattern=r"^[a-z_]{1,64}$")
    reason: str = Field(
        max_length=MAX_REASON, pattern=r"^[^\x00-\x1f\x7f]*$", description="no control characters"
    )
    occurred_at: IsoTime = Field(description="the device's time, with a time zone")
    destination: str | None = Field(
        default=None,
        max_length=255,
        pattern=rf"{_PACKAGE}|^personal$",
        description="the app or place refused",
    )

    @field_validator("occurred_at")
    @classmethod
    def _with_time_zone(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with a time zone, e.g. 2027-01-31T08:00:00Z")
        return value


class ProtectionReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[ProtectionEventIn] = Field(max_length=MAX_EVENTS_PER_REPORT)
    dropped: StrictInt = Field(
        default=0, ge=0, le=1_000_000, description="events the device's full queue dropped"
    )


class ProtectionReportPublic(BaseModel):
    recorded: int
    duplicates: int


def protection_event_router(
    delivery: Delivery, reports: ProtectionReports, presented_certificate: Callable[..., PresentedCertificate]
) -> APIRouter:
    router = APIRouter(prefix="/portal/v1", tags=["portal device protocol"])

    @router.post(
        "/devices/{device_id}/protection-events",
        response_model=ProtectionReportPublic,
        responses=errors(401, 403, 422),
    )
    async def report_protection_events(
        device_id: IdPath,
        report: ProtectionReportIn,
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> ProtectionReportPublic:
        """Record the calling device's protection events (denials, data wipes) in the audit log."""
        device = await run_in_threadpool(delivery.device_of, presented)
        events = [ReportedEvent(**event.model_dump()) for event in report.events]
        outcome = await run_in_threadpool(reports.record, device, device_id, events, dropped=report.dropped)
        return ProtectionReportPublic(recorded=outcome.recorded, duplicates=outcome.duplicates)

    return router
