"""What can go wrong when talking to the appliance, as the client reports it.

The hierarchy::

    ClientError                     anything the client reports on purpose
    ├── NotConfigured               no usable server URL, CA bundle or token (or file to send)
    ├── FileChanged                 a file changed while it was being uploaded
    ├── AmbiguousReference          a name matches several things; use the id
    ├── ConnectionFailed            the server could not be reached or did not answer in time
    │   └── TlsUntrusted            it answered with a certificate the CA bundle does not vouch for
    ├── UnexpectedAnswer            it answered, but not with what the API promises
    └── ApiError                    it refused, with ``{"error", "message", "details"?}``
        ├── InvalidRequest          400, 413, 422: the request is malformed or breaks a rule
        ├── Unauthenticated         401: no, wrong, expired or revoked credentials
        ├── PermissionDenied        403: the role does not allow it
        ├── NotFound                404: it does not exist, or belongs to another tenant
        ├── Conflict                409: it clashes with the current state (or a quota)
        ├── Gone                    410: it existed but can no longer be used
        ├── Throttled               429: too many attempts; ``retry_after`` says when to try again
        └── ServerError             5xx: the service failed; the message carries a reference

Every message is one line a person can act on. httpx's exceptions never escape: they are
translated at the boundary with ``raise ... from exc``, so the cause stays available for
debugging without reaching the user.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of every error the client raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfigured(ClientError):
    """The client lacks what it needs to make the call (server URL, token, CA bundle)."""


class FileChanged(ClientError):
    """A file being uploaded grew or shrank while it was sent; nothing was kept by the server."""


class AmbiguousReference(ClientError):
    """A name (username, group name) matches more than one thing; the id is needed."""


class ConnectionFailed(ClientError):
    """The server could not be reached: refused, unresolvable, timed out, or TLS failed."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class TlsUntrusted(ConnectionFailed):
    """The server's certificate did not verify against the configured CA bundle."""


class UnexpectedAnswer(ClientError):
    """The server answered something the API does not promise (not JSON, wrong shape)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApiError(ClientError):
    """The API refused the request; carries the error body's fields."""

    def __init__(
        self, message: str, *, status: int, code: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        #: The stable machine-readable code, e.g. ``not_found``, ``count_changed``.
        self.code = code
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.message} ({self.status} {self.code})"


class InvalidRequest(ApiError):
    pass


class Unauthenticated(ApiError):
    pass


class PermissionDenied(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class Gone(ApiError):
    pass


class Throttled(ApiError):
    @property
    def retry_after(self) -> int | None:
        """Seconds to wait before trying again, when the server said."""
        value = self.details.get("retry_after_seconds")
        return value if isinstance(value, int) else None


class ServerError(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: InvalidRequest,
    422: InvalidRequest,
    429: Throttled,
}


def api_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> ApiError:
    """The exception for an error answer with this status."""
    if status >= 500:
        return ServerError(message, status=status, code=code, details=details)
    return _BY_STATUS.get(status, ApiError)(message, status=status, code=code, details=details)


def missing(message: str) -> NotFound:
    """A not-found found by the client itself (a name that matched nothing), shaped like the API's."""
    return NotFound(message, status=404, code="not_found")
