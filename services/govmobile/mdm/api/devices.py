"""Admin API for devices, commands and policies."""

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from govmobile.core.accounts import Principal
from govmobile.core.errors import InvalidInput
from govmobile.mdm.api.schemas import (
    BulkCommandRequest,
    BulkCommandResponse,
    CheckinPublic,
    CommandCreate,
    CommandPublic,
    DeviceDetail,
    DeviceEventPublic,
    DevicePage,
    DevicePublic,
)
from govmobile.mdm.lifecycle import DeviceQuery
from govmobile.mdm.models import DeviceState
from govmobile.mdm.policies import PolicyPublic, PolicyUpdate
from govmobile.mdm.service import BulkTarget, Mdm
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath, IdQuery, MomentQuery, TenantPath, TenantQuery


def device_router(mdm: Mdm, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["devices"])

    @router.get("/devices", response_model=DevicePage, responses=errors(400, 404))
    def list_devices(
        admin: Annotated[Principal, Depends(authenticate)],
        tenant_id: TenantQuery = None,
        state: DeviceState | None = None,
        compliant: bool | None = None,
        group_id: IdQuery = None,
        person_id: IdQuery = None,
        last_seen_before: MomentQuery = None,
        last_seen_after: MomentQuery = None,
        q: Annotated[str | None, Query(max_length=100, description="serial number, model or person")] = None,
        cursor: Annotated[str | None, Query(max_length=36)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> DevicePage:
        """Devices you may see, filtered, one page at a time (pass next_cursor back as cursor)."""
        for moment in (last_seen_before, last_seen_after):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput("last_seen_before/after need a time zone, e.g. 2027-01-01T00:00:00Z")
        query = DeviceQuery(
            tenant_id=tenant_id,
            state=state,
            compliant=compliant,
            group_id=group_id,
            person_id=person_id,
            last_seen_before=last_seen_before,
            last_seen_after=last_seen_after,
            text=q,
            after_id=cursor,
            limit=limit + 1,
        )
        devices = mdm.list_devices(admin, query)
        page = devices[:limit]
        return DevicePage(
            items=[DevicePublic.of(d) for d in page],
            next_cursor=page[-1].id if len(devices) > limit else None,
        )

    @router.get("/devices/{device_id}", response_model=DeviceDetail, responses=errors(404))
    def show_device(device_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> DeviceDetail:
        """A device with its pending actions, history and recent check-ins."""
        detail = mdm.device_detail(admin, device_id)
        return DeviceDetail(
            **DevicePublic.of(detail["device"]).model_dump(),
            pending_actions=detail["pending_actions"],
            history=[DeviceEventPublic.of(e) for e in detail["history"]],
            recent_checkins=[CheckinPublic.of(c) for c in detail["checkins"]],
        )

    @router.post("/devices/{device_id}/retire", response_model=DevicePublic, responses=errors(403, 404, 409))
    def retire_device(device_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> DevicePublic:
        """Take a device out of service: its queue is cleared and its certificate revoked."""
        return DevicePublic.of(mdm.retire_device(admin, device_id))

    @router.post(
        "/devices/{device_id}/commands",
        response_model=CommandPublic,
        status_code=201,
        responses=errors(400, 403, 404, 409),
    )
    def send_command(
        device_id: IdPath, body: CommandCreate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> CommandPublic:
        """Queue a command; the device is woken and pulls it at its next check-in."""
        deadline = dt.timedelta(hours=body.deadline_hours) if body.deadline_hours else None
        return CommandPublic.of(mdm.send_command(admin, device_id, body.type, body.payload, deadline))

    @router.get("/devices/{device_id}/commands", response_model=list[CommandPublic], responses=errors(404))
    def device_commands(
        device_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> list[CommandPublic]:
        return [CommandPublic.of(c) for c in mdm.device_commands(admin, device_id)]

    @router.get("/commands/{command_id}", response_model=CommandPublic, responses=errors(404))
    def show_command(command_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> CommandPublic:
        command, result = mdm.command_detail(admin, command_id)
        return CommandPublic.of(command, result)

    @router.post(
        "/commands/{command_id}/cancel", response_model=CommandPublic, responses=errors(403, 404, 409)
    )
    def cancel_command(
        command_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> CommandPublic:
        """Withdraw a command the device has not acknowledged yet."""
        return CommandPublic.of(mdm.cancel_command(admin, command_id))

    @router.post("/commands/bulk", response_model=BulkCommandResponse, responses=errors(400, 403, 404, 409))
    def bulk_command(
        body: BulkCommandRequest, admin: Annotated[Principal, Depends(authenticate)]
    ) -> BulkCommandResponse:
        """Preview how many devices a command would reach, then send it with the previewed count."""
        target = BulkTarget(
            body.target.tenant_id, body.target.group_id, body.target.state, body.target.compliant
        )
        kind = body.type
        if body.preview:
            return BulkCommandResponse(count=mdm.bulk_preview(admin, target), bulk_id=None, sent=False)
        if body.expected_count is None:
            raise InvalidInput(
                "sending a bulk command needs expected_count, the count from its preview",
                code="preview_first",
            )
        deadline = dt.timedelta(hours=body.deadline_hours) if body.deadline_hours else None
        bulk_id, count = mdm.bulk_send(
            admin, target, kind, body.payload, expected_count=body.expected_count, deadline=deadline
        )
        return BulkCommandResponse(count=count, bulk_id=bulk_id, sent=True)

    @router.get("/tenants/{tenant}/policy", response_model=PolicyPublic, responses=errors(404))
    def show_policy(tenant: TenantPath, admin: Annotated[Principal, Depends(authenticate)]) -> PolicyPublic:
        return PolicyPublic.of(mdm.policy(admin, tenant))

    @router.patch("/tenants/{tenant}/policy", response_model=PolicyPublic, responses=errors(400, 403, 404))
    def set_policy(
        tenant: TenantPath, body: PolicyUpdate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> PolicyPublic:
        """Change the compliance policy; devices get it at their next check-in."""
        return PolicyPublic.of(mdm.set_policy(admin, tenant, body))

    return router
