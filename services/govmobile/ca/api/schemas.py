"""Request and response bodies of the CA's API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from govmobile.ca.models import CertificatePublic


class SignRequest(BaseModel):
    profile: str = Field(description="device, service, admin or codesign")
    csr: str = Field(description="PKCS#10 request: PEM, or base64 DER", max_length=16 * 1024)
    device_id: str | None = Field(default=None, max_length=128)
    tenant_id: str | None = Field(default=None, max_length=128)
    common_name: str | None = Field(default=None, max_length=64)
    dns_names: list[str] = Field(default_factory=list, max_length=50)
    ip_addresses: list[str] = Field(default_factory=list, max_length=50)


class RenewRequest(BaseModel):
    certificate: str = Field(description="the current certificate, PEM", max_length=16 * 1024)
    csr: str = Field(description="a new PKCS#10 request for the successor", max_length=16 * 1024)


class RevokeRequest(BaseModel):
    serial: str = Field(max_length=64)
    reason: str | int = Field(default="unspecified", description="RFC 5280 reason name or code")


class AdminRevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=32)] | Annotated[StrictInt, Field(ge=0, le=10)] = Field(
        default="unspecified", description="RFC 5280 reason name (keyCompromise) or code"
    )


class IssuedCertificateResponse(BaseModel):
    serial: str
    sha256: str
    profile: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    certificate: str = Field(description="the new certificate, PEM")
    chain: list[str] = Field(description="issuing CA then root, PEM")


class RevocationResponse(BaseModel):
    serial: str
    revoked_at: dt.datetime
    reason: str
    crl_number: int


class CertificatePage(BaseModel):
    items: list[CertificatePublic]
    next_cursor: str | None = Field(description="pass as ?cursor= to get the next page")


class ExpiringProfile(BaseModel):
    profile: str
    within_7_days: int
    within_30_days: int = Field(description="the certificates expiring within 7 days included")


class ExpiringOverview(BaseModel):
    """Unrevoked certificates that expire soon; profiles with none are left out."""

    profiles: list[ExpiringProfile]
