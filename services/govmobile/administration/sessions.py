"""Signing in: logins (counted against the throttles), session and API tokens, one-time codes (TOTP)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyotp
from sqlmodel import Session, col, select

from govmobile.administration.changes import AuditedChanges, anyone
from govmobile.core import audit, logins
from govmobile.core.accounts import (
    AdminAccount,
    ApiToken,
    LoginPolicy,
    Principal,
    TokenKind,
    confirm_login,
    hash_token,
    issue_token,
    revoke_token,
    totp_step,
    verify_credentials,
)
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import Conflict, InvalidInput, Unauthenticated
from govmobile.core.logins import UNKNOWN_SOURCE


class Sessions:
    """How admins sign in and out, and the tokens and one-time codes that let them."""

    def __init__(
        self, database: Database, *, login_policy: LoginPolicy, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.database = database
        self.login_policy = login_policy
        self.clock = clock
        self.changes = AuditedChanges(database, clock)

    def login(
        self, username: str, password: str, totp_code: str | None, *, source: str = UNKNOWN_SOURCE
    ) -> tuple[str, ApiToken]:
        """Check credentials and return a session token (the secret is shown once).

        ``source`` is the client's address as the gateway saw it. The attempt is counted before
        the password is checked (see ``govmobile.core.logins``), and forgotten if it succeeds.
        """
        now = self.clock()
        throttle = self.login_policy.throttle
        source = logins.source_key(source)
        with self.database.transaction() as session:
            reservation = logins.reserve_attempt(
                session, source=source, username=username, now=now, throttle=throttle
            )
        with self.database.session() as session:
            verified = verify_credentials(session, username, password, totp_code, now=now)
        with self.database.transaction() as session:
            account = None if verified is None else confirm_login(session, verified, now=now)
            if account is not None:
                logins.attempt_succeeded(session, reservation, source=source, username=username)
                secret, token = issue_token(
                    session,
                    account,
                    kind=TokenKind.SESSION,
                    expires_at=now + self.login_policy.session_ttl,
                    name="login",
                )
                audit.record(
                    session,
                    actor=f"admin:{account.username}",
                    action="admin.login",
                    target=f"admin:{account.id}",
                    tenant_id=account.tenant_id,
                    details={"source": source},
                    now=now,
                )
                return secret, token
            # Committed, not rolled back: the reservation stays, as a failure.
            audit.record(
                session,
                actor="anonymous",
                action="admin.login_failed",
                target=f"username:{username[:63]}",
                details={"source": source},
                now=now,
            )
            reached = logins.now_throttled(
                session, source=source, username=username, now=now, throttle=throttle
            )
            if reached is not None:
                audit.record(
                    session,
                    actor="anonymous",
                    action="admin.login_throttled",
                    target=f"username:{username[:63]}",
                    details={"source": source, "limit": reached},
                    now=now,
                )
        raise Unauthenticated("invalid username, password or one-time code")

    def logout(self, principal: Principal, token_secret: str) -> None:
        """Revoke the token the caller signed in with."""
        now = self.clock()
        with self.database.transaction() as session:
            token = session.exec(
                select(ApiToken).where(ApiToken.token_hash == hash_token(token_secret))
            ).first()
            if token is not None and token.revoked_at is None:
                token.revoked_at = now
                session.add(token)

    # -- API tokens -------------------------------------------------------------------------------

    def create_api_token(self, principal: Principal, name: str, ttl_days: int) -> tuple[str, ApiToken]:
        """A long-lived token for automation, acting as the caller."""
        with self.changes.by(principal, anyone) as change:
            account = _account(change.session, principal)
            secret, token = issue_token(
                change.session,
                account,
                kind=TokenKind.API,
                expires_at=change.now + dt.timedelta(days=ttl_days),
                name=name,
            )
            change.record(
                "api_token.created",
                f"api_token:{token.id}",
                tenant_id=principal.tenant_id,
                details={"name": name, "ttl_days": ttl_days},
            )
            return secret, token

    def list_api_tokens(self, principal: Principal) -> list[ApiToken]:
        """The caller's own tokens, newest first."""
        with self.database.session() as session:
            statement = select(ApiToken).where(ApiToken.account_id == principal.account_id)
            return list(session.exec(statement.order_by(col(ApiToken.created_at).desc())).all())

    def revoke_api_token(self, principal: Principal, token_id: str) -> ApiToken:
        """Revoke one of the caller's tokens (any in reach, for a platform admin)."""
        with self.changes.by(principal, anyone) as change:
            token = revoke_token(change.session, principal, token_id, now=change.now)
            change.record("api_token.revoked", f"api_token:{token.id}", tenant_id=principal.tenant_id)
            return token

    # -- one-time codes -----------------------------------------------------------------------------

    def start_totp(self, principal: Principal) -> str:
        """A new TOTP secret for the caller, active once confirmed with a code."""
        secret = pyotp.random_base32()
        with self.database.transaction() as session:
            account = _account(session, principal)
            account.pending_totp_secret = secret
            session.add(account)
        return pyotp.TOTP(secret).provisioning_uri(name=principal.username, issuer_name="GovMobile")

    def confirm_totp(self, principal: Principal, code: str) -> None:
        """Turn the pending TOTP secret on, if the code matches it."""
        with self.changes.by(principal, anyone) as change:
            account = _account(change.session, principal)
            pending = account.pending_totp_secret
            if pending is None:
                raise Conflict("start TOTP enrollment first", code="no_pending_totp")
            step = totp_step(pending, code, change.now)
            if step is None:
                raise InvalidInput(
                    "the one-time code does not match; check the authenticator's clock", code="bad_totp"
                )
            account.totp_secret = pending
            account.pending_totp_secret = None
            account.totp_last_step = step  # the confirming code cannot log in as well
            change.session.add(account)
            change.record("admin.totp_enabled", f"admin:{account.id}", tenant_id=account.tenant_id)


def _account(session: Session, principal: Principal) -> AdminAccount:
    account = session.get(AdminAccount, principal.account_id)
    if account is None:
        raise Unauthenticated("your account no longer exists")
    return account
