"""The device protocol: check-in and wake-up long-poll (mutual TLS, through the gateway).

The check-in is served by a bare handler in front of FastAPI (see ``govmobile.web.fastpath``);
docs/device-protocol.md describes it, as it is not in the OpenAPI document.
"""

import asyncio
import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response

from govmobile.mdm.api.schemas import (
    CheckinResponse,
    CommandForDevice,
    DeviceStatus,
    PolicyForDevice,
    UnenrollResponse,
    WaitResponse,
)
from govmobile.mdm.checkin import CheckinOutcome, CheckinRequest
from govmobile.mdm.identity import (
    CLIENT_CERT_HEADER,
    GATEWAY_PROOF_HEADER,
    GatewayTrust,
    PresentedCertificate,
)
from govmobile.mdm.service import Mdm
from govmobile.mdm.wakeups import WakeupHub
from govmobile.web.fastpath import FastHandler

CHECKIN_PATH = "/api/v1/device/checkin"


def checkin_handler(mdm: Mdm, trust: GatewayTrust) -> FastHandler:
    """POST /api/v1/device/checkin as a bare handler (``govmobile.web.fastpath``): report posture
    and command results, then get compliance, policy and the next command."""

    async def checkin(headers: Headers, body: bytes) -> Response:
        presented = trust.certificate(headers.get(GATEWAY_PROOF_HEADER), headers.get(CLIENT_CERT_HEADER))
        request = CheckinRequest.model_validate_json(body)
        outcome = await run_in_threadpool(mdm.check_in, presented, request)
        return Response(checkin_response(outcome).model_dump_json(), media_type="application/json")

    return checkin


def checkin_response(outcome: CheckinOutcome) -> CheckinResponse:
    device, policy, command = outcome.device, outcome.policy, outcome.command
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
            id=command.id, type=command.type, payload=command.payload, deadline=command.deadline
        ),
        # Check in again at once while commands are flowing; otherwise on the policy's heartbeat.
        next_checkin_seconds=0 if command is not None else policy.checkin_interval_seconds,
    )


def device_protocol_routes(
    mdm: Mdm,
    hub: WakeupHub,
    presented_certificate: Callable[..., PresentedCertificate],
    *,
    long_poll_seconds: float,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/device", tags=["device protocol"])

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

    @router.post("/unenroll", response_model=UnenrollResponse)
    async def unenroll(
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> UnenrollResponse:
        """The device leaves: retired, its queue closed, its certificates revoked."""
        device = await run_in_threadpool(mdm.unenroll, presented)
        return UnenrollResponse(device_id=device.id, state=device.state.value)

    return router
