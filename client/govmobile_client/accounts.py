"""Logging in, API tokens for automation, and admin accounts."""

from __future__ import annotations

from collections.abc import Sequence

from govmobile_client.connection import Connection, segment
from govmobile_client.errors import missing
from govmobile_client.models import AdminAccount, ApiToken, IssuedToken, Me, Role, TotpStarted


class Auth:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def login(self, username: str, password: str, totp_code: str | None = None) -> IssuedToken:
        """Exchange credentials for a session token, which this client then uses."""
        body = {"username": username, "password": password, "totp_code": totp_code or None}
        issued = self._connection.call(
            IssuedToken, "POST", "/api/v1/auth/login", body=body, authenticated=False
        )
        self._connection.token = issued.token
        return issued

    def logout(self) -> None:
        """Revoke the token this client carries, and forget it."""
        self._connection.call_empty("POST", "/api/v1/auth/logout")
        self._connection.token = None

    def me(self) -> Me:
        """Who the token belongs to: account, role and tenant."""
        return self._connection.call(Me, "GET", "/api/v1/auth/me")

    def start_totp(self) -> TotpStarted:
        """Begin TOTP enrollment; confirm with a code from the authenticator to turn it on."""
        return self._connection.call(TotpStarted, "POST", "/api/v1/auth/totp")

    def confirm_totp(self, code: str) -> None:
        self._connection.call_empty("POST", "/api/v1/auth/totp/confirm", body={"code": code})


class ApiTokens:
    """Long-lived tokens that act as the admin who made them, for scripts."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, name: str, *, ttl_days: int = 90) -> IssuedToken:
        body = {"name": name, "ttl_days": ttl_days}
        return self._connection.call(IssuedToken, "POST", "/api/v1/tokens", body=body)

    def list(self) -> Sequence[ApiToken]:
        """The caller's own tokens, session tokens included, newest first."""
        return self._connection.call_list(ApiToken, "GET", "/api/v1/tokens")

    def revoke(self, token_id: str) -> ApiToken:
        return self._connection.call(ApiToken, "DELETE", f"/api/v1/tokens/{segment(token_id)}")


class Admins:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(
        self, username: str, password: str, role: Role, *, tenant_id: str | None = None
    ) -> AdminAccount:
        """A new admin; a tenant admin or tenant auditor names its tenant, a platform admin does not."""
        body = {"username": username, "password": password, "role": role.value, "tenant_id": tenant_id}
        return self._connection.call(AdminAccount, "POST", "/api/v1/admins", body=body)

    def list(self) -> Sequence[AdminAccount]:
        return self._connection.call_list(AdminAccount, "GET", "/api/v1/admins")

    def disable(self, account_id: str) -> AdminAccount:
        return self._set_access(account_id, {"disabled": True})

    def enable(self, account_id: str) -> AdminAccount:
        return self._set_access(account_id, {"disabled": False})

    def unlock(self, account_id: str) -> AdminAccount:
        """Clear a lockout after repeated failed logins."""
        return self._set_access(account_id, {"unlock": True})

    def resolve(self, reference: str) -> AdminAccount:
        """An account by username or id, among those the caller may see."""
        for account in self.list():
            if reference in (account.username, account.id):
                return account
        raise missing(f"no admin account {reference!r} that you may see")

    def _set_access(self, account_id: str, body: dict[str, bool]) -> AdminAccount:
        return self._connection.call(
            AdminAccount, "PATCH", f"/api/v1/admins/{segment(account_id)}", body=body
        )
