"""The signing API for registration authorities (HTTP Basic: RA name and secret)."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from govmobile.ca.api.schemas import (
    IssuedCertificateResponse,
    RenewRequest,
    RevocationResponse,
    RevokeRequest,
    SignRequest,
)
from govmobile.ca.authority import Authority, IssuedCertificate, Revocation
from govmobile.ca.models import RevocationReason
from govmobile.ca.profiles import ProfileName, SubjectRequest
from govmobile.ca.registration import RegistrationAuthorities, RegistrationAuthority
from govmobile.core.errors import Unauthenticated

_basic = HTTPBasic(auto_error=False, realm="govmobile-ca")


def registration_router(authority: Authority, authorities: RegistrationAuthorities) -> APIRouter:
    router = APIRouter(prefix="/api/v1/ra", tags=["registration authorities"])

    def current_ra(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    ) -> RegistrationAuthority:
        if credentials is None:
            raise Unauthenticated(
                "registration authorities authenticate with HTTP Basic (RA name and secret)",
                code="ra_unauthenticated",
            )
        return authorities.authenticate(credentials.username, credentials.password)

    @router.post("/sign", response_model=IssuedCertificateResponse, status_code=201)
    def sign(
        body: SignRequest, ra: Annotated[RegistrationAuthority, Depends(current_ra)]
    ) -> IssuedCertificateResponse:
        """Sign a CSR with a profile this RA may use."""
        profile = ProfileName.parse(body.profile)
        ra.require_profile(profile)
        subject = SubjectRequest(
            device_id=body.device_id,
            tenant_id=body.tenant_id,
            common_name=body.common_name,
            dns_names=tuple(body.dns_names),
            ip_addresses=tuple(body.ip_addresses),
        )
        return issued_response(authority.sign(body.csr, profile.value, subject, actor=ra.actor))

    @router.post("/renew", response_model=IssuedCertificateResponse, status_code=201)
    def renew(
        body: RenewRequest, ra: Annotated[RegistrationAuthority, Depends(current_ra)]
    ) -> IssuedCertificateResponse:
        """Issue a successor for a current (or recently expired, never revoked) certificate."""
        issued = authority.renew(body.certificate, body.csr, actor=ra.actor, allowed=ra.profiles)
        return issued_response(issued)

    @router.post("/revoke", response_model=RevocationResponse)
    def revoke(
        body: RevokeRequest, ra: Annotated[RegistrationAuthority, Depends(current_ra)]
    ) -> RevocationResponse:
        """Revoke a certificate of a profile this RA may request."""
        reason = RevocationReason.parse(body.reason)
        return revocation_response(authority.revoke(body.serial, reason, actor=ra.actor, allowed=ra.profiles))

    return router


def issued_response(issued: IssuedCertificate) -> IssuedCertificateResponse:
    record = issued.record
    return IssuedCertificateResponse(
        serial=record.serial,
        sha256=record.sha256,
        profile=record.profile,
        subject=record.subject,
        not_before=record.not_before,
        not_after=record.not_after,
        certificate=record.pem,
        chain=issued.chain_pem(),
    )


def revocation_response(revocation: Revocation) -> RevocationResponse:
    record = revocation.certificate
    assert record.revoked_at is not None
    assert record.revocation_reason is not None
    return RevocationResponse(
        serial=record.serial,
        revoked_at=record.revoked_at,
        reason=RevocationReason(record.revocation_reason).label,
        crl_number=revocation.crl.number,
    )
