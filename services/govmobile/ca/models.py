"""The CA's tables: every certificate it issued, and the state of its CRL.

The CA is the only writer of these tables (ARCHITECTURE.md, data ownership).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from govmobile.core.database import UTCDateTime
from govmobile.core.errors import InvalidInput


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RevocationReason(int, enum.Enum):
    """RFC 5280 §5.3.1 CRLReason. ``certificateHold`` and ``removeFromCRL`` are not offered:
    revocation here is permanent."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    PRIVILEGE_WITHDRAWN = 9

    @property
    def label(self) -> str:
        """The RFC's camelCase name, e.g. ``keyCompromise``."""
        head, *rest = self.name.lower().split("_")
        return head + "".join(part.capitalize() for part in rest)

    @classmethod
    def parse(cls, value: str | int) -> RevocationReason:
        """Accept the RFC name (``keyCompromise``), snake case, or the numeric code."""
        for reason in cls:
            if value == reason.value or (
                isinstance(value, str)
                and value.replace("_", "").lower() in (reason.label.lower(), str(reason.value))
            ):
                return reason
        accepted = ", ".join(f"{r.label} ({r.value})" for r in cls)
        raise InvalidInput(
            f"unknown or unsupported revocation reason {str(value)[:40]!r}; use one of: {accepted}",
            code="invalid_reason",
        )


class CertificateBase(SQLModel):
    serial: str = Field(primary_key=True, max_length=40)
    profile: str = Field(max_length=16, index=True)
    subject: str = Field(max_length=1024)
    common_name: str = Field(max_length=255, index=True)
    device_id: str | None = Field(default=None, max_length=128, index=True)
    tenant_id: str | None = Field(default=None, max_length=128, index=True)
    #: SHA-256 of the DER certificate, lower-case hex: how other services name it.
    sha256: str = Field(max_length=64, unique=True, index=True)


class Certificate(CertificateBase, table=True):
    __tablename__ = "certificate"
    __table_args__ = (Index("ix_certificate_revoked_not_after", "revoked_at", "not_after"),)

    not_before: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    not_after: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    issued_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    issued_by: str = Field(max_length=200)
    renewed_from: str | None = Field(default=None, max_length=40)
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revocation_reason: int | None = None
    revoked_by: str | None = Field(default=None, max_length=200)
    pem: str = Field(sa_column=Column(Text, nullable=False))

    def status(self, now: dt.datetime) -> CertificateStatus:
        if self.revoked_at is not None:
            return CertificateStatus.REVOKED
        if self.not_after <= now:
            return CertificateStatus.EXPIRED
        return CertificateStatus.VALID


class CertificatePublic(CertificateBase):
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    status: CertificateStatus
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    renewed_from: str | None
    pem: str

    @classmethod
    def of(cls, certificate: Certificate, now: dt.datetime) -> CertificatePublic:
        reason = certificate.revocation_reason
        return cls(
            serial=certificate.serial,
            profile=certificate.profile,
            subject=certificate.subject,
            common_name=certificate.common_name,
            device_id=certificate.device_id,
            tenant_id=certificate.tenant_id,
            sha256=certificate.sha256,
            not_before=certificate.not_before,
            not_after=certificate.not_after,
            issued_at=certificate.issued_at,
            status=certificate.status(now),
            revoked_at=certificate.revoked_at,
            revocation_reason=RevocationReason(reason).label if reason is not None else None,
            renewed_from=certificate.renewed_from,
            pem=certificate.pem,
        )


class CrlState(SQLModel, table=True):
    """The current CRL. One row; its number only grows (RFC 5280 §5.2.3)."""

    __tablename__ = "crl_state"

    id: int = Field(default=1, primary_key=True)
    number: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    this_update: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    next_update: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: How many revocations the CRL covers; a mismatch means it must be regenerated.
    revoked_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    der: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
