"""The portal's device API, reached through the gateway with the device's certificate.

- ``GET /portal/v1/devices/{id}/desired-state``: the calling device's signed document (ETag);
  the gateway answers the unchanged fetches itself while the header ``GovMobile-Document-Cache``
  of the last answer holds (docs/portal.md);
- ``GET /portal/v1/metadata/{name}``: the TUF metadata (small files, answered here);
- ``GET /portal/v1/targets/{path}``: a package or the desired-state key. The portal only
  authorises; the answer is an ``X-Accel-Redirect`` to nginx's internal location over the
  repository's files, so nginx sends the file (with Range requests for resuming) and Python
  never streams a package.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from govmobile.portal.delivery import Delivery, Document
from govmobile.web.device_identity import PresentedCertificate
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath

DEVICE_ERRORS = (401, 403, 404)
DOCUMENT_MEDIA_TYPE = "application/vnd.govmobile.desired-state+dsse+json"
#: For the gateway's nginx only (it removes the header before the device sees it): what it needs
#: to answer this device's next unchanged fetches itself (docs/portal.md).
DOCUMENT_CACHE_HEADER = "GovMobile-Document-Cache"


def document_cache_value(device_id: str, document: Document) -> str:
    """``<device id> <generation> <seconds>``: the device the certificate was checked against, the
    desired-state generation the answer was made under, and how long it stays true at most."""
    seconds = int(document.fresh_for.total_seconds())
    return f"{device_id} {document.generation} {seconds}"


def portal_device_router(
    delivery: Delivery, presented_certificate: Callable[..., PresentedCertificate], *, internal_prefix: str
) -> APIRouter:
    router = APIRouter(prefix="/portal/v1", tags=["portal device protocol"])

    @router.get(
        "/devices/{device_id}/desired-state",
        responses={**errors(*DEVICE_ERRORS), 200: {"content": {DOCUMENT_MEDIA_TYPE: {}}}, 304: {}},
        response_class=Response,
    )
    async def desired_state(
        device_id: IdPath,
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
        if_none_match: Annotated[str | None, Header(max_length=64)] = None,
    ) -> Response:
        """This device's desired apps as a DSSE envelope signed by the portal's desired-state key."""
        document = await run_in_threadpool(delivery.desired_state, presented, device_id)
        headers = {
            "ETag": document.etag,
            "Cache-Control": "no-store",
            DOCUMENT_CACHE_HEADER: document_cache_value(device_id, document),
        }
        if if_none_match == document.etag:
            return Response(status_code=304, headers=headers)
        return Response(document.data, media_type=DOCUMENT_MEDIA_TYPE, headers=headers)

    @router.get("/metadata/{name}", response_class=FileResponse, responses=errors(*DEVICE_ERRORS))
    async def metadata(
        name: Annotated[str, Path(max_length=64, pattern=r"^[0-9]{0,19}\.?[a-z]{1,16}\.json$")],
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> FileResponse:
        """TUF metadata: ``root``, ``timestamp``, and the versioned ``N.snapshot`` / ``N.targets``."""
        path = await run_in_threadpool(delivery.metadata, presented, name)
        return FileResponse(path, media_type="application/json", headers={"Cache-Control": "no-store"})

    @router.get("/targets/{target:path}", response_class=Response, responses=errors(*DEVICE_ERRORS))
    async def target(
        target: Annotated[str, Path(max_length=400)],
        presented: Annotated[PresentedCertificate, Depends(presented_certificate)],
    ) -> Response:
        """A package offered to this device, or the desired-state key; sent by nginx."""
        allowed = await run_in_threadpool(delivery.download, presented, target)
        return Response(
            status_code=200,
            headers={"X-Accel-Redirect": f"{internal_prefix}/targets/{allowed}", "Cache-Control": "no-store"},
        )

    return router
