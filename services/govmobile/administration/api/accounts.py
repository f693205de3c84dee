"""Login, tokens, TOTP and admin accounts."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from govmobile.administration.accounts import AdminAccounts
from govmobile.administration.api.schemas import (
    AdminAccess,
    ApiTokenCreate,
    LoginRequest,
    Me,
    TokenIssued,
    TotpConfirm,
    TotpStarted,
)
from govmobile.administration.sessions import Sessions
from govmobile.core.accounts import AdminAccountCreate, AdminAccountPublic, ApiTokenPublic, Principal
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath


def account_router(
    sessions: Sessions,
    accounts: AdminAccounts,
    authenticate: Callable[..., Principal],
    client_address: Callable[..., str],
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["accounts"])

    @router.post("/auth/login", response_model=TokenIssued, responses=errors(401, 429))
    def login(body: LoginRequest, source: Annotated[str, Depends(client_address)]) -> TokenIssued:
        """Exchange username, password (and TOTP code) for a session token.

        Every wrong credential gets the same 401. Failed logins are throttled by address and by
        username, never by locking the account: 429 with Retry-After (see docs/admin-api.md)."""
        secret, token = sessions.login(body.username, body.password, body.totp_code, source=source)
        return TokenIssued.of(secret, token)

    @router.post("/auth/logout", status_code=204)
    def logout(request: Request, admin: Annotated[Principal, Depends(authenticate)]) -> Response:
        """Revoke the token this request carries."""
        sessions.logout(admin, request.headers["authorization"].partition(" ")[2].strip())
        return Response(status_code=204)

    @router.get("/auth/me", response_model=Me)
    def me(admin: Annotated[Principal, Depends(authenticate)]) -> Me:
        return Me(
            account_id=admin.account_id, username=admin.username, role=admin.role, tenant_id=admin.tenant_id
        )

    @router.post("/auth/totp", response_model=TotpStarted)
    def start_totp(admin: Annotated[Principal, Depends(authenticate)]) -> TotpStarted:
        """Begin TOTP enrollment: scan the URI, then confirm with a code."""
        return TotpStarted(provisioning_uri=sessions.start_totp(admin))

    @router.post("/auth/totp/confirm", status_code=204, responses=errors(400, 409))
    def confirm_totp(body: TotpConfirm, admin: Annotated[Principal, Depends(authenticate)]) -> Response:
        sessions.confirm_totp(admin, body.code)
        return Response(status_code=204)

    @router.post("/tokens", response_model=TokenIssued, status_code=201)
    def create_token(body: ApiTokenCreate, admin: Annotated[Principal, Depends(authenticate)]) -> TokenIssued:
        """An API token for automation, acting as you."""
        secret, token = sessions.create_api_token(admin, body.name, body.ttl_days)
        return TokenIssued.of(secret, token)

    @router.get("/tokens", response_model=list[ApiTokenPublic])
    def list_tokens(admin: Annotated[Principal, Depends(authenticate)]) -> list[ApiTokenPublic]:
        return [
            ApiTokenPublic.model_validate(t, from_attributes=True) for t in sessions.list_api_tokens(admin)
        ]

    @router.delete("/tokens/{token_id}", response_model=ApiTokenPublic, responses=errors(404, 409))
    def revoke_token(token_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> ApiTokenPublic:
        return ApiTokenPublic.model_validate(sessions.revoke_api_token(admin, token_id), from_attributes=True)

    @router.post(
        "/admins", response_model=AdminAccountPublic, status_code=201, responses=errors(400, 403, 404, 409)
    )
    def create_admin(
        body: AdminAccountCreate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> AdminAccountPublic:
        return AdminAccountPublic.of(accounts.create_admin(admin, body))

    @router.get("/admins", response_model=list[AdminAccountPublic])
    def list_admins(admin: Annotated[Principal, Depends(authenticate)]) -> list[AdminAccountPublic]:
        return [AdminAccountPublic.of(a) for a in accounts.list_admins(admin)]

    @router.patch("/admins/{account_id}", response_model=AdminAccountPublic, responses=errors(403, 404, 409))
    def change_access(
        account_id: IdPath, body: AdminAccess, admin: Annotated[Principal, Depends(authenticate)]
    ) -> AdminAccountPublic:
        """Disable, enable or unlock an account."""
        return AdminAccountPublic.of(
            accounts.set_admin_access(admin, account_id, disabled=body.disabled_or_none(), unlock=body.unlock)
        )

    return router
