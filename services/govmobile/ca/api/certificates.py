"""Admin API: list, search, show and revoke certificates (bearer token, tenant-scoped)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from govmobile.ca.api.registration import revocation_response
from govmobile.ca.api.schemas import (
    AdminRevokeRequest,
    CertificatePage,
    ExpiringOverview,
    ExpiringProfile,
    RevocationResponse,
)
from govmobile.ca.authority import Authority, CertificateQuery
from govmobile.ca.models import CertificatePublic, CertificateStatus, RevocationReason
from govmobile.core.accounts import Principal
from govmobile.core.errors import InvalidInput
from govmobile.web.openapi import errors
from govmobile.web.params import IdQuery, MomentQuery, TenantQuery


def certificate_router(authority: Authority, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/certificates", tags=["certificates"])

    @router.get("", response_model=CertificatePage, responses=errors(400, 404))
    def list_certificates(
        admin: Annotated[Principal, Depends(authenticate)],
        serial: Annotated[str | None, Query(max_length=64)] = None,
        q: Annotated[str | None, Query(max_length=100, description="text in the subject")] = None,
        device_id: IdQuery = None,
        tenant_id: TenantQuery = None,
        profile: Annotated[str | None, Query(max_length=32)] = None,
        status: CertificateStatus | None = None,
        expiring_before: MomentQuery = None,
        cursor: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> CertificatePage:
        """Certificates visible to the caller, ordered by serial, one page at a time."""
        if expiring_before is not None and expiring_before.tzinfo is None:
            raise InvalidInput("expiring_before needs a time zone, e.g. 2027-01-01T00:00:00Z")
        query = CertificateQuery(
            serial=serial,
            text=q,
            device_id=device_id,
            tenant_id=tenant_id,
            profile=profile,
            status=status,
            expiring_before=expiring_before,
            tenant_scope=admin.tenant_scope(),
            after_serial=cursor,
            limit=limit + 1,
        )
        records = authority.find_certificates(query)
        now = authority.clock()
        page = records[:limit]
        return CertificatePage(
            items=[CertificatePublic.of(r, now) for r in page],
            next_cursor=page[-1].serial if len(records) > limit else None,
        )

    # Before "/{serial}", which would otherwise take "expiring" for a serial number.
    @router.get("/expiring", response_model=ExpiringOverview, responses=errors(400, 404))
    def expiring_certificates(
        admin: Annotated[Principal, Depends(authenticate)], tenant_id: TenantQuery = None
    ) -> ExpiringOverview:
        """Valid certificates that expire within 7 and 30 days, counted per profile.

        A department admin counts their department's; naming another department is a 404."""
        counts = authority.expiry_overview(tenant_id, tenant_scope=admin.tenant_scope())
        return ExpiringOverview(
            profiles=[
                ExpiringProfile(
                    profile=c.profile, within_7_days=c.within_7_days, within_30_days=c.within_30_days
                )
                for c in counts
            ]
        )

    @router.get("/{serial}", response_model=CertificatePublic, responses=errors(400, 404))
    def show_certificate(
        serial: Annotated[str, Path(max_length=64, description="hex")],
        admin: Annotated[Principal, Depends(authenticate)],
    ) -> CertificatePublic:
        """One certificate by serial."""
        record = authority.get_certificate(serial, tenant_scope=admin.tenant_scope())
        return CertificatePublic.of(record, authority.clock())

    @router.post(
        "/{serial}/revoke", response_model=RevocationResponse, responses=errors(400, 403, 404, 409, 503)
    )
    def revoke_certificate(
        serial: Annotated[str, Path(max_length=64, description="hex")],
        body: AdminRevokeRequest,
        admin: Annotated[Principal, Depends(authenticate)],
    ) -> RevocationResponse:
        """Revoke a certificate; the CRL is republished before this returns."""
        admin.require_write()
        reason = RevocationReason.parse(body.reason)
        revocation = authority.revoke(serial, reason, actor=admin.actor, tenant_scope=admin.tenant_scope())
        return revocation_response(revocation)

    return router
