"""Bodies of administration's API. Responses always use these public shapes, never table rows."""

from __future__ import annotations

import datetime as dt

from pydantic import MISSING, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from govmobile.core.accounts import ApiToken, Role, TokenKind
from govmobile.core.audit import AuditEventPublic


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=63)
    password: str = Field(max_length=1024)
    totp_code: str | None = Field(default=None, max_length=10)


class TokenIssued(BaseModel):
    token: str = Field(description="shown once; send as 'Authorization: Bearer <token>'")
    id: str
    kind: TokenKind
    expires_at: dt.datetime

    @classmethod
    def of(cls, secret: str, token: ApiToken) -> TokenIssued:
        return cls(token=secret, id=token.id, kind=token.kind, expires_at=token.expires_at)


class Me(BaseModel):
    account_id: str
    username: str
    role: Role
    tenant_id: str | None


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    ttl_days: StrictInt = Field(default=90, ge=1, le=366)


class TotpStarted(BaseModel):
    provisioning_uri: str


class TotpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=6, max_length=8, pattern=r"^[0-9]+$")


class AdminAccess(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled: StrictBool | MISSING = Field(default=MISSING, description="omit to leave as it is")
    unlock: StrictBool = Field(default=False, description="forget the account's failed logins")

    def disabled_or_none(self) -> bool | None:
        return None if self.disabled is MISSING else self.disabled


class AuditPage(BaseModel):
    items: list[AuditEventPublic]
    next_cursor: int | None


class AuditVerificationPublic(BaseModel):
    ok: bool
    events_checked: int
    first_broken_id: int | None
    reason: str
