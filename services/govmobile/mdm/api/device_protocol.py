"""The device protocol: check-in and wake-up long-poll (mutual TLS, through the gateway)."""

import asyncio
import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from govmobile.mdm.api.schemas import (
    CheckinResponse,
    CommandForDevice,
    DeviceStatus,
    PolicyForDevice,
    WaitResponse,
)
from govmobile.mdm.checkin import CheckinRequest
from govmobile.mdm.identity import PresentedCertificate
from govmobile.mdm.service import Mdm
from govmobile.mdm.wakeups import WakeupHub


def device_protocol_routes(
    mdm: Mdm,
    hub: WakeupHub,
    presented_certificate: Callable[..., PresentedCertificate],
    *,
    long_poll_seconds: float,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/device", tags=["device protocol"])

    @router.post("/checkin", response_model=CheckinResponse)
    def checkin(
        body: CheckinRequest, presented: Annotated[PresentedCertificate, Depends(presented_certificate)]
    ) -> CheckinResponse:
        """Report posture and command results, then get compliance, policy and the next command."""
        outcome = mdm.check_in(presented, body)
        device, policy = outcome.device, outcome.policy
        command = outcome.command
        return CheckinResponse(
            device=DeviceStatus(
                id=device.id,
                tenant_id=device.tenant_id,
                state=device.state,
                compliant=outcome.compliance.compliant,
                reasons=list(outcome.compliance.reasons),
                lost_mode=device.lost_mode,
                lock_message=device.lock_message,
                cert_not_after=device.cert_not_after,
            ),
            policy=PolicyForDevice(
                version=policy.version,
                min_os_version=policy.min_os_version,
                require_encryption=policy.require_encryption,
                require_passcode=policy.require_passcode,
                forbid_rooted=policy.forbid_rooted,
                admitted_apps_only=policy.admitted_apps_only,
                admitted_apps=json.loads(policy.admitted_apps),
                checkin_interval_seconds=policy.checkin_interval_seconds,
            ),
            command=None
            if command is None
            else CommandForDevice(
                id=command.id,
                type=command.type,
                payload=command.payload,
                deadline=command.deadline,
            ),
            # Check in again at once while commands are flowing; otherwise on the policy's heartbeat.
            next_checkin_seconds=0 if command is not None else policy.checkin_interval_seconds,
        )

    @router.get("/wait", response_model=WaitResponse)
    async def wait(
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
        timeout: Annotated[float | None, Query(gt=0, le=300)] = None,
    ) -> WaitResponse:
        """Long-poll: returns as soon as something is queued for this device, or at the timeout."""
        device = await run_in_threadpool(mdm.device_of, presented)
        with hub.listen(device.id) as woken:
            if await run_in_threadpool(mdm.has_pending, device):
                return WaitResponse(wake=True)
            try:
                await asyncio.wait_for(woken.wait(), min(timeout or long_poll_seconds, long_poll_seconds))
            except TimeoutError:
                return WaitResponse(wake=False)
            return WaitResponse(wake=True)

    return router
