"""Domain errors shared by every service.

The hierarchy::

    GovMobileError                  anything the domain refuses
    ├── InvalidInput                the request is malformed or breaks a rule (bad PEM, weak key)
    ├── NotFound                    the thing does not exist, or the caller may not know it does
    ├── Conflict                    the request clashes with current state (already revoked)
    ├── Unauthenticated             no or wrong credentials
    ├── PermissionDenied            authenticated, but the role or tenant does not allow it
    ├── QuotaExceeded               a configured limit (tenant's device quota) is reached
    ├── Gone                        the thing existed but can no longer be used (expired token)
    ├── Throttled                   too many attempts from this caller; retry after a while
    └── UnavailableDependency       another service or the database cannot be reached

Each error carries a ``public_message`` that a client may see: it says what was wrong and what to
do, and never holds a secret, a stack trace or another tenant's data. The internal cause, when
there is one, is chained with ``raise ... from exc`` and only logged. Errors carry no status
codes: each service maps them to responses in exactly one place (``govmobile.web.errors``).
"""

from __future__ import annotations


class GovMobileError(Exception):
    """Base of every error the domain raises on purpose."""

    #: Short, stable machine-readable code, e.g. ``invalid_csr``.
    code: str = "error"

    def __init__(
        self, public_message: str, *, code: str | None = None, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(public_message)
        self.public_message = public_message
        #: Structured facts a client may act on (ids it sent, never secrets or other tenants' data).
        self.details = details or {}
        if code is not None:
            self.code = code


class InvalidInput(GovMobileError):
    code = "invalid_input"


class NotFound(GovMobileError):
    code = "not_found"


class Conflict(GovMobileError):
    code = "conflict"


class Unauthenticated(GovMobileError):
    code = "unauthenticated"


class PermissionDenied(GovMobileError):
    code = "permission_denied"


class QuotaExceeded(GovMobileError):
    code = "quota_exceeded"


class Gone(GovMobileError):
    code = "gone"


class Throttled(GovMobileError):
    """Refused for a while to slow guessing down; ``retry_after`` says when to try again."""

    code = "too_many_attempts"

    def __init__(self, public_message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(public_message, code=code, details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after


class UnavailableDependency(GovMobileError):
    code = "unavailable"


class ConfigurationError(Exception):
    """Start-up refuses to run: a setting is missing, insecure or inconsistent.

    Not a ``GovMobileError``: it never reaches a client, it stops the process with a message.
    """
