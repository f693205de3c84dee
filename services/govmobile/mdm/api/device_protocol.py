"""The device protocol: check-in and wake-up long-poll (mutual TLS, through the gateway).

The check-in is served by a bare handler in front of FastAPI (see ``govmobile.web.fastpath``);
its :class:`~govmobile.web.fastpath.FastRoute` describes it in the OpenAPI document.
"""

import asyncio
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
from govmobile.mdm.policies import AdmissionPublic
from govmobile.mdm.service import Mdm
from govmobile.mdm.wakeups import WakeupHub
from govmobile.web.device_identity import (
    CLIENT_CERT_HEADER,
    GATEWAY_PROOF_HEADER,
    GatewayTrust,
    PresentedCertificate,
)
from govmobile.web.fastpath import FastRoute
from govmobile.web.openapi import errors

CHECKIN_PATH = "/api/v1/device/checkin"
#: Refusals of every endpoint that needs the device's certificate: no proof or certificate from
#: the gateway, a certificate bound to no device (401), a wiped or retired device (403).
DEVICE_ERRORS = (400, 401, 403)


def checkin_route(mdm: Mdm, trust: GatewayTrust) -> FastRoute:
    """POST /api/v1/device/checkin as a bare handler (``govmobile.web.fastpath``)."""

    async def checkin(headers: Headers, body: bytes) -> Response:
        presented = trust.certificate(headers.get(GATEWAY_PROOF_HEADER), headers.get(CLIENT_CERT_HEADER))
        request = CheckinRequest.model_validate_json(body)
        outcome = await run_in_threadpool(mdm.check_in, presented, request)
        return Response(checkin_response(outcome).model_dump_json(), media_type="application/json")

    return FastRoute(
        method="POST",
        path=CHECKIN_PATH,
        handler=checkin,
        request_model=CheckinRequest,
        response_model=CheckinResponse,
        summary="Check in",
        description=(
            "Report posture and command results, then get compliance, policy and the next command, "
            "in one transaction: results first (all validated before any is applied), then posture, "
            "then the next command. A result for a command already answered is 409 "
            "result_already_recorded, for a closed one 409 command_closed, for an unknown one 404 "
            "unknown_command_id; details.command_ids names them (drop those and check in again). "
            "device_id, when sent, must be the certificate's (403 certificate_of_another_device)."
        ),
        tags=("device protocol",),
        error_statuses=(*DEVICE_ERRORS, 404, 409),
    )


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
            app_admission=AdmissionPublic.of(policy),
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


def device_protocol_router(
    mdm: Mdm,
    hub: WakeupHub,
    presented_certificate: Callable[..., PresentedCertificate],
    *,
    long_poll_seconds: float,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/device", tags=["device protocol"])

    @router.get("/wait", response_model=WaitResponse, responses=errors(*DEVICE_ERRORS))
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

    @router.post("/unenroll", response_model=UnenrollResponse, responses=errors(*DEVICE_ERRORS))
    async def unenroll(
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> UnenrollResponse:
        """The device leaves: retired, its queue closed, its certificates revoked."""
        device = await run_in_threadpool(mdm.unenroll, presented)
        return UnenrollResponse(device_id=device.id, state=device.state.value)

    return router
