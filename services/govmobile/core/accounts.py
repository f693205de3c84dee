"""Admin accounts, their roles, and the bearer tokens they authenticate with.

Roles:

- ``platform_admin``: everything, every tenant.
- ``tenant_admin``: everything inside one tenant (department), nothing outside it.
- ``auditor``: reads everything in its scope (one tenant, or all when it has none), including
  the audit log; changes nothing.

Passwords are hashed with argon2id. Tokens are 256-bit random strings shown once; only their
SHA-256 is stored, so a copy of the database does not let anyone log in.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass, field

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import ConfigDict, field_validator
from sqlalchemy import BigInteger, Column
from sqlmodel import Field, Session, SQLModel, select

from govmobile.core.database import EnumText, UTCDateTime, utcnow
from govmobile.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from govmobile.core.ids import new_id
from govmobile.core.logins import LoginThrottle
from govmobile.core.tenancy import Tenant  # noqa: F401 - admin_account.tenant_id names its table: load it wherever accounts are

TOKEN_PREFIX = "gmt_"  # noqa: S105 - a public prefix, not a secret
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,62}$")
_hasher = PasswordHasher()


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    AUDITOR = "auditor"


class TokenKind(enum.StrEnum):
    SESSION = "session"  # from a login; short-lived
    API = "api"  # for automation; long-lived, revocable


class AdminAccountBase(SQLModel):
    username: str = Field(
        index=True,
        unique=True,
        max_length=63,
        schema_extra={"json_schema_extra": {"pattern": _USERNAME.pattern}},
    )
    role: Role = Field(sa_column=Column(EnumText(Role, 32), nullable=False))
    #: The only tenant a tenant admin (or a tenant auditor) may see.
    tenant_id: str | None = Field(default=None, foreign_key="tenant.id", index=True)

    @field_validator("username")
    @classmethod
    def _username_shape(cls, value: str) -> str:
        if not _USERNAME.match(value):
            raise ValueError(
                "username must be 2-63 lower-case letters, digits or . _ @ -, starting with a letter or digit"
            )
        return value


class AdminAccountCreate(AdminAccountBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict

    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class AdminAccount(AdminAccountBase, table=True):
    __tablename__ = "admin_account"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    password_hash: str
    totp_secret: str | None = None
    #: A TOTP secret shown to the admin but not yet confirmed with a code.
    pending_totp_secret: str | None = None
    #: The TOTP time step last used to log in: a code is accepted once (RFC 6238 §5.2).
    totp_last_step: int | None = Field(default=None, sa_column=Column(BigInteger))
    disabled: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    last_login_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class AdminAccountPublic(AdminAccountBase):
    id: str
    disabled: bool
    totp_enabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    @classmethod
    def of(cls, account: AdminAccount) -> AdminAccountPublic:
        return cls(
            id=account.id,
            username=account.username,
            role=account.role,
            tenant_id=account.tenant_id,
            disabled=account.disabled,
            totp_enabled=account.totp_secret is not None,
            created_at=account.created_at,
            last_login_at=account.last_login_at,
        )


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    account_id: str = Field(foreign_key="admin_account.id", index=True)
    kind: TokenKind = Field(sa_column=Column(EnumText(TokenKind, 16), nullable=False))
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ApiTokenPublic(SQLModel):
    id: str
    account_id: str
    kind: TokenKind
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the domain sees it."""

    account_id: str
    username: str
    role: Role
    tenant_id: str | None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"admin:{self.username}"

    def tenant_scope(self) -> str | None:
        """The one tenant this caller is confined to, or None for every tenant."""
        if self.role is Role.PLATFORM_ADMIN:
            return None
        return self.tenant_id

    def can_see_tenant(self, tenant_id: str | None) -> bool:
        scope = self.tenant_scope()
        return scope is None or scope == tenant_id

    def require_tenant(self, tenant_id: str | None, what: str = "resource") -> None:
        """Refuse another tenant's data as if it did not exist (no existence oracle)."""
        if not self.can_see_tenant(tenant_id):
            raise NotFound(f"no such {what}")

    def require_write(self) -> None:
        if self.role is Role.AUDITOR:
            raise PermissionDenied("auditors have read-only access")

    def require_platform_admin(self) -> None:
        if self.role is not Role.PLATFORM_ADMIN:
            raise PermissionDenied("this action needs a platform admin")

    @classmethod
    def of(cls, account: AdminAccount) -> Principal:
        return cls(account.id, account.username, Role(account.role), account.tenant_id)


@dataclass(frozen=True)
class LoginPolicy:
    session_ttl: dt.timedelta = dt.timedelta(hours=8)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def hash_password(password: str) -> str:
    """argon2id hash of a password, checked for minimum length first."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def hash_token(secret: str) -> str:
    """SHA-256 of a bearer token; tokens carry 256 bits of randomness, so no salt is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_admin_account(session: Session, data: AdminAccountCreate) -> AdminAccount:
    """Create an admin account; a tenant admin must name its tenant, a platform admin must not."""
    if data.role is Role.TENANT_ADMIN and data.tenant_id is None:
        raise InvalidInput("a tenant admin needs a tenant_id")
    if data.role is Role.PLATFORM_ADMIN and data.tenant_id is not None:
        raise InvalidInput("a platform admin is not bound to a tenant; omit tenant_id")
    if session.exec(select(AdminAccount).where(AdminAccount.username == data.username)).first():
        raise Conflict(f"username {data.username!r} is taken")
    account = AdminAccount(
        username=data.username,
        role=data.role,
        tenant_id=data.tenant_id,
        password_hash=hash_password(data.password),
    )
    session.add(account)
    session.flush()
    return account


@dataclass(frozen=True)
class VerifiedLogin:
    """Credentials that matched: the account, and the TOTP time step the code was for."""

    account_id: str
    totp_step: int | None


def verify_credentials(
    session: Session, username: str, password: str, totp_code: str | None, *, now: dt.datetime
) -> VerifiedLogin | None:
    """Whether username, password and one-time code match a usable account; changes nothing.

    Run outside any write transaction: hashing takes tens of milliseconds. Every failure looks
    the same, and an unknown name costs the same time as a real one.
    """
    account = session.exec(select(AdminAccount).where(AdminAccount.username == username)).first()
    if account is None:
        _burn_time(password)  # the same time as a real check, so timing does not reveal usernames
        return None
    if not _verify_password(account.password_hash, password) or account.disabled:
        return None
    if account.totp_secret is None:
        return VerifiedLogin(account.id, None)
    step = totp_step(account.totp_secret, totp_code, now)
    return None if step is None else VerifiedLogin(account.id, step)


def confirm_login(session: Session, verified: VerifiedLogin, *, now: dt.datetime) -> AdminAccount | None:
    """In the write transaction: the account logs in, unless it was disabled meanwhile or its
    one-time code was already used (a code logs in once, RFC 6238 §5.2)."""
    account = session.get(AdminAccount, verified.account_id)
    if account is None or account.disabled:
        return None
    if verified.totp_step is not None:
        if account.totp_last_step is not None and verified.totp_step <= account.totp_last_step:
            return None
        account.totp_last_step = verified.totp_step
    account.last_login_at = now
    session.add(account)
    return account


def totp_step(secret: str, code: str | None, now: dt.datetime) -> int | None:
    """The time step a TOTP code is valid for (within one step of now), or None."""
    if not code or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def issue_token(
    session: Session,
    account: AdminAccount,
    *,
    kind: TokenKind,
    expires_at: dt.datetime,
    name: str = "",
) -> tuple[str, ApiToken]:
    """Create a bearer token for an account; the secret is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        account_id=account.id,
        kind=kind,
        name=name,
        token_hash=hash_token(secret),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return secret, token


def resolve_token(session: Session, secret: str, *, now: dt.datetime) -> Principal:
    """The principal a bearer token stands for, if the token is live and its account usable."""
    refusal = Unauthenticated("the bearer token is invalid, expired or revoked; log in again")
    if not secret.startswith(TOKEN_PREFIX):
        raise refusal
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(secret))).first()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise refusal
    account = session.get(AdminAccount, token.account_id)
    if account is None or account.disabled:
        raise refusal
    return Principal.of(account)


def revoke_token(session: Session, principal: Principal, token_id: str, *, now: dt.datetime) -> ApiToken:
    """Revoke one of the caller's tokens (a platform admin may revoke anyone's)."""
    token = session.get(ApiToken, token_id)
    if token is None or (
        token.account_id != principal.account_id and principal.role is not Role.PLATFORM_ADMIN
    ):
        raise NotFound("no such token")
    if token.revoked_at is not None:
        raise Conflict("this token is already revoked")
    token.revoked_at = now
    session.add(token)
    return token


def _verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _burn_time(password: str) -> None:
    _verify_password(_dummy_hash(), password)
