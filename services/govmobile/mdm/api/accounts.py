"""Login, tokens, TOTP and admin accounts."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from govmobile.core.accounts import AdminAccountCreate, AdminAccountPublic, ApiTokenPublic, Principal
from govmobile.mdm.administration import Administration
from govmobile.mdm.api.schemas import (
    AdminAccess,
    ApiTokenCreate,
    LoginRequest,
    Me,
    TokenIssued,
    TotpConfirm,
    TotpStarted,
)


def account_routes(administration: Administration, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["accounts"])

    @router.post("/auth/login", response_model=TokenIssued)
    def login(body: LoginRequest) -> TokenIssued:
        """Exchange username, password (and TOTP code) for a session token."""
        secret, token = administration.login(body.username, body.password, body.totp_code)
        return TokenIssued.of(secret, token)

    @router.post("/auth/logout", status_code=204)
    def logout(request: Request, admin: Annotated[Principal, Depends(authenticate)]) -> Response:
        """Revoke the token this request carries."""
        administration.logout(admin, request.headers["authorization"].partition(" ")[2].strip())
        return Response(status_code=204)

    @router.get("/auth/me", response_model=Me)
    def me(admin: Annotated[Principal, Depends(authenticate)]) -> Me:
        return Me(
            account_id=admin.account_id, username=admin.username, role=admin.role, tenant_id=admin.tenant_id
        )

    @router.post("/auth/totp", response_model=TotpStarted)
    def start_totp(admin: Annotated[Principal, Depends(authenticate)]) -> TotpStarted:
        """Begin TOTP enrollment: scan the URI, then confirm with a code."""
        return TotpStarted(provisioning_uri=administration.start_totp(admin))

    @router.post("/auth/totp/confirm", status_code=204)
    def confirm_totp(body: TotpConfirm, admin: Annotated[Principal, Depends(authenticate)]) -> Response:
        administration.confirm_totp(admin, body.code)
        return Response(status_code=204)

    @router.post("/tokens", response_model=TokenIssued, status_code=201)
    def create_token(body: ApiTokenCreate, admin: Annotated[Principal, Depends(authenticate)]) -> TokenIssued:
        """An API token for automation, acting as you."""
        secret, token = administration.create_api_token(admin, body.name, body.ttl_days)
        return TokenIssued.of(secret, token)

    @router.get("/tokens", response_model=list[ApiTokenPublic])
    def list_tokens(admin: Annotated[Principal, Depends(authenticate)]) -> list[ApiTokenPublic]:
        return [
            ApiTokenPublic.model_validate(t, from_attributes=True)
            for t in administration.list_api_tokens(admin)
        ]

    @router.delete("/tokens/{token_id}", response_model=ApiTokenPublic)
    def revoke_token(token_id: str, admin: Annotated[Principal, Depends(authenticate)]) -> ApiTokenPublic:
        return ApiTokenPublic.model_validate(
            administration.revoke_api_token(admin, token_id), from_attributes=True
        )

    @router.post("/admins", response_model=AdminAccountPublic, status_code=201)
    def create_admin(
        body: AdminAccountCreate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> AdminAccountPublic:
        return AdminAccountPublic.of(administration.create_admin(admin, body))

    @router.get("/admins", response_model=list[AdminAccountPublic])
    def list_admins(admin: Annotated[Principal, Depends(authenticate)]) -> list[AdminAccountPublic]:
        return [AdminAccountPublic.of(a) for a in administration.list_admins(admin)]

    @router.patch("/admins/{account_id}", response_model=AdminAccountPublic)
    def change_access(
        account_id: str, body: AdminAccess, admin: Annotated[Principal, Depends(authenticate)]
    ) -> AdminAccountPublic:
        """Disable, enable or unlock an account."""
        return AdminAccountPublic.of(
            administration.set_admin_access(admin, account_id, disabled=body.disabled, unlock=body.unlock)
        )

    return router
