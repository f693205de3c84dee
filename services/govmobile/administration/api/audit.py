"""The audit log: list and verify."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from govmobile.administration.api.schemas import AuditPage, AuditVerificationPublic
from govmobile.administration.audit_log import AuditLog, AuditQuery
from govmobile.core.accounts import Principal
from govmobile.core.audit import AuditEventPublic
from govmobile.web.openapi import errors
from govmobile.web.params import MomentQuery, TenantQuery


def audit_router(audit_log: AuditLog, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

    @router.get("", response_model=AuditPage, responses=errors(400, 404))
    def list_events(
        admin: Annotated[Principal, Depends(authenticate)],
        action: Annotated[str | None, Query(max_length=100)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        tenant_id: TenantQuery = None,
        since: MomentQuery = None,
        cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="an event id")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        """Newest first; pass next_cursor back as cursor for older events."""
        events = audit_log.events(
            admin,
            AuditQuery(
                action=action,
                actor=actor,
                tenant_id=tenant_id,
                since=since,
                before_id=cursor,
                limit=limit + 1,
            ),
        )
        page = events[:limit]
        return AuditPage(
            items=[AuditEventPublic.of(e) for e in page],
            next_cursor=page[-1].id if len(events) > limit else None,
        )

    @router.get("/verify", response_model=AuditVerificationPublic)
    def verify(admin: Annotated[Principal, Depends(authenticate)]) -> AuditVerificationPublic:
        """Recompute the hash chain from the first event and name the first broken link."""
        result = audit_log.verify(admin)
        return AuditVerificationPublic(
            ok=result.ok,
            events_checked=result.events_checked,
            first_broken_id=result.first_broken_id,
            reason=result.reason,
        )

    return router
