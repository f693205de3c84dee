"""The portal's admin API: apps, releases (upload, review, publish, retire), department rules,
assignments and what each device should have."""

import base64
from collections.abc import Callable, Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request, Response

from govmobile.core.accounts import Principal
from govmobile.core.errors import InvalidInput
from govmobile.portal.api.installations import InstallationPublic
from govmobile.portal.api.schemas import (
    AppPublic,
    AppUpdate,
    AssignmentCreate,
    AssignmentPublic,
    DepartmentRulesDocument,
    DeviceAppsPublic,
    PublishRequest,
    ReleasePublic,
    WebAppCreate,
)
from govmobile.portal.catalogue import AppChanges, Catalogue, DepartmentRules
from govmobile.portal.installations import Installations
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import ReviewPolicy
from govmobile.portal.targeting import AssignmentSpec, Targeting
from govmobile.portal.web_catalogue import WebAppSpec, WebCatalogue
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath, IdQuery

UPLOAD_PATH = "/api/v1/portal/releases"
APK_MEDIA_TYPE = "application/vnd.android.package-archive"

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "the APK itself, streamed (no multipart); refused as soon as it passes the size limit",
        "content": {APK_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def portal_admin_router(
    catalogue: Catalogue,
    targeting: Targeting,
    authenticate: Callable[..., Principal],
    installations: Installations,
    web_catalogue: WebCatalogue,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/portal", tags=["app portal"])

    @router.post(
        "/releases",
        response_model=ReleasePublic,
        status_code=201,
        responses=errors(400, 401, 403, 404, 409, 413, 503),
        openapi_extra=_UPLOAD_BODY,
    )
    async def upload_release(
        request: Request, admin: Annotated[Principal, Depends(authenticate)], tenant_id: IdQuery = None
    ) -> ReleasePublic:
        """Upload an APK as a draft release of its app (the app is registered by its first upload)."""
        stream = request.stream().__aiter__()

        async def next_chunk() -> bytes | None:
            try:
                return await stream.__anext__()
            except StopAsyncIteration:
                return None

        def chunks() -> Iterator[bytes]:
            # The upload is written to disk in a worker thread, chunk by chunk as it arrives.
            while (chunk := anyio.from_thread.run(next_chunk)) is not None:
                if chunk:
                    yield chunk

        row = await anyio.to_thread.run_sync(catalogue.upload, admin, tenant_id, chunks())
        return ReleasePublic.of(row)

    @router.get("/apps", response_model=list[AppPublic], responses=errors(401))
    def list_apps(admin: Annotated[Principal, Depends(authenticate)]) -> list[AppPublic]:
        """The apps of the caller's department and the platform's (every app for a platform admin)."""
        apps = catalogue.apps(admin)
        availability = web_catalogue.availability(apps)
        return [AppPublic.of(app, availability.get(app.id)) for app in apps]

    @router.get("/apps/{app_id}", response_model=AppPublic, responses=errors(401, 404))
    def show_app(app_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> AppPublic:
        app = catalogue.app(admin, app_id)
        return AppPublic.of(app, web_catalogue.availability([app]).get(app.id))

    @router.post(
        "/web-apps",
        response_model=ReleasePublic,
        status_code=201,
        responses=errors(400, 401, 403, 404, 409),
    )
    def draft_web_app(
        body: WebAppCreate, admin: Annotated[Principal, Depends(authenticate)], tenant_id: IdQuery = None
    ) -> ReleasePublic:
        """A web app's entry (the gateway route it opens and a start path under it) as a draft
        release, reviewed and published like an APK; the app is registered by its first entry."""
        spec = WebAppSpec(
            package=body.package,
            route=body.route,
            start_path=body.start_path,
            version_name=body.version_name,
            texts=AppChanges(
                name_en=body.name_en,
                name_zh=body.name_zh,
                description_en=body.description_en,
                description_zh=body.description_zh,
                category=body.category,
                publisher=body.publisher,
            ),
            icon=_icon(body.icon_base64),
        )
        return ReleasePublic.of(web_catalogue.draft(admin, tenant_id, spec))

    @router.patch("/apps/{app_id}", response_model=AppPublic, responses=errors(401, 403, 404, 409))
    def update_app(
        app_id: IdPath, body: AppUpdate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> AppPublic:
        """Names, descriptions, category and publisher (the rest comes from the packages)."""
        return AppPublic.of(catalogue.update_app(admin, app_id, AppChanges(**body.model_dump())))

    @router.get("/apps/{app_id}/releases", response_model=list[ReleasePublic], responses=errors(401, 404))
    def list_releases(
        app_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> list[ReleasePublic]:
        return [ReleasePublic.of(row) for row in catalogue.releases(admin, app_id)]

    @router.get("/releases/{release_id}", response_model=ReleasePublic, responses=errors(401, 404))
    def show_release(release_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> ReleasePublic:
        return ReleasePublic.of(catalogue.release(admin, release_id))

    @router.post(
        "/releases/{release_id}/approve", response_model=ReleasePublic, responses=errors(401, 403, 404, 409)
    )
    def approve_release(
        release_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> ReleasePublic:
        """draft → approved; where the department requires it, by another admin than the uploader."""
        return ReleasePublic.of(catalogue.approve(admin, release_id))

    @router.post(
        "/releases/{release_id}/publish", response_model=ReleasePublic, responses=errors(401, 403, 404, 409)
    )
    def publish_release(
        release_id: IdPath, body: PublishRequest, admin: Annotated[Principal, Depends(authenticate)]
    ) -> ReleasePublic:
        """approved → published on a track (or a pilot release promoted to production); signed into TUF."""
        return ReleasePublic.of(catalogue.publish(admin, release_id, body.track))

    @router.post(
        "/releases/{release_id}/retire", response_model=ReleasePublic, responses=errors(401, 403, 404, 409)
    )
    def retire_release(
        release_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> ReleasePublic:
        """Out of the catalogue: no longer listed in TUF, so devices refuse it from now on."""
        return ReleasePublic.of(catalogue.retire(admin, release_id))

    @router.get(
        "/departments/{tenant_id}/rules", response_model=DepartmentRulesDocument, responses=errors(401, 404)
    )
    def show_rules(
        tenant_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> DepartmentRulesDocument:
        return _rules_document(catalogue.rules(admin, tenant_id))

    @router.put(
        "/departments/{tenant_id}/rules",
        response_model=DepartmentRulesDocument,
        responses=errors(400, 401, 403, 404),
    )
    def set_rules(
        tenant_id: IdPath, body: DepartmentRulesDocument, admin: Annotated[Principal, Depends(authenticate)]
    ) -> DepartmentRulesDocument:
        """Second-admin approval, pilot before production, and the default app protection policy."""
        rules = DepartmentRules(
            ReviewPolicy(body.second_approval, body.pilot_first),
            ProtectionPolicy.from_document(body.protection.model_dump()),
        )
        return _rules_document(catalogue.set_rules(admin, tenant_id, rules))

    @router.post(
        "/assignments", response_model=AssignmentPublic, status_code=201, responses=errors(400, 401, 403, 404)
    )
    def create_assignment(
        body: AssignmentCreate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> AssignmentPublic:
        spec = AssignmentSpec(
            app_id=body.app_id,
            tenant_id=body.tenant_id,
            target_kind=body.target.kind,
            target_id=body.target.id,
            intent=body.intent,
            track=body.track,
            exclusions=tuple((e.kind, e.id) for e in body.exclusions),
            config=body.config,
            protection=body.protection.model_dump() if body.protection else None,
            remove_when_unassigned=body.remove_when_unassigned,
        )
        return AssignmentPublic.of(targeting.assign(admin, spec))

    @router.get("/assignments", response_model=list[AssignmentPublic], responses=errors(401, 404))
    def list_assignments(
        admin: Annotated[Principal, Depends(authenticate)], app_id: IdQuery = None
    ) -> list[AssignmentPublic]:
        return [AssignmentPublic.of(row) for row in targeting.assignments(admin, app_id)]

    @router.delete("/assignments/{assignment_id}", status_code=204, responses=errors(401, 403, 404))
    def delete_assignment(
        assignment_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> Response:
        """Remove an assignment: devices it reached uninstall the app where it says so."""
        targeting.unassign(admin, assignment_id)
        return Response(status_code=204)

    @router.get("/devices/{device_id}/apps", response_model=DeviceAppsPublic, responses=errors(401, 404))
    def device_apps(
        device_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> DeviceAppsPublic:
        """What a device should have, from which assignments, its conflicts, and what it reported."""
        found = targeting.device_apps(admin, device_id)
        reported = [InstallationPublic.of(row) for row in installations.of_device(admin, device_id)]
        return DeviceAppsPublic.of(found).model_copy(update={"installations": reported})

    return router


def _icon(encoded: str | None) -> bytes | None:
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error, and the ValueError of a string that is not ASCII at all
        raise InvalidInput("icon_base64 is not base64", code="invalid_icon") from None


def _rules_document(rules: DepartmentRules) -> DepartmentRulesDocument:
    return DepartmentRulesDocument.model_validate(
        {
            "second_approval": rules.review.second_approval,
            "pilot_first": rules.review.pilot_first,
            "protection": rules.protection.to_document(),
        }
    )
