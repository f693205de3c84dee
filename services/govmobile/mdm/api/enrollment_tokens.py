"""Admin API for enrollment tokens (the secret is shown once, with its QR payload)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends

from govmobile.core.accounts import Principal
from govmobile.mdm.api.schemas import EnrollmentTokenIssued
from govmobile.mdm.enrollment import EnrollmentTokenCreate, EnrollmentTokenPublic
from govmobile.mdm.registrar import Registrar
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath, TenantQuery


def enrollment_token_router(registrar: Registrar, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["enrollment tokens"])

    @router.post(
        "/enrollment-tokens",
        response_model=EnrollmentTokenIssued,
        status_code=201,
        responses=errors(400, 403, 404, 410),
    )
    def create_enrollment_token(
        body: EnrollmentTokenCreate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> EnrollmentTokenIssued:
        """A token for one person's device; the secret and QR payload are shown only in this answer."""
        issued = registrar.create_enrollment_token(admin, body)
        return EnrollmentTokenIssued(
            id=issued.token.id,
            token=issued.secret,
            qr_payload=issued.qr_payload,
            expires_at=issued.token.expires_at,
            max_uses=issued.token.max_uses,
        )

    @router.get("/enrollment-tokens", response_model=list[EnrollmentTokenPublic], responses=errors(404))
    def list_enrollment_tokens(
        admin: Annotated[Principal, Depends(authenticate)], tenant_id: TenantQuery = None
    ) -> list[EnrollmentTokenPublic]:
        now = registrar.clock()
        return [EnrollmentTokenPublic.of(t, now) for t in registrar.enrollment_tokens(admin, tenant_id)]

    @router.get("/enrollment-tokens/{token_id}", response_model=EnrollmentTokenPublic, responses=errors(404))
    def show_enrollment_token(
        token_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> EnrollmentTokenPublic:
        return EnrollmentTokenPublic.of(registrar.enrollment_token(admin, token_id), registrar.clock())

    @router.delete(
        "/enrollment-tokens/{token_id}", response_model=EnrollmentTokenPublic, responses=errors(403, 404, 409)
    )
    def revoke_enrollment_token(
        token_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> EnrollmentTokenPublic:
        return EnrollmentTokenPublic.of(registrar.revoke_enrollment_token(admin, token_id), registrar.clock())

    return router
