"""The audit log: list and verify."""

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from govmobile.core.accounts import Principal
from govmobile.core.audit import AuditEventPublic
from govmobile.mdm.administration import Administration, AuditQuery
from govmobile.mdm.api.schemas import AuditPage, AuditVerificationPublic


def audit_routes(administration: Administration, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

    @router.get("", response_model=AuditPage)
    def list_events(
        admin: Annotated[Principal, Depends(authenticate)],
        action: str | None = None,
        actor: str | None = None,
        tenant_id: str | None = None,
        since: dt.datetime | None = None,
        cursor: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        """Newest first; pass next_cursor back as cursor for older events."""
        events = administration.audit_events(
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
        result = administration.verify_audit(admin)
        return AuditVerificationPublic(
            ok=result.ok,
            events_checked=result.events_checked,
            first_broken_id=result.first_broken_id,
            reason=result.reason,
        )

    return router
