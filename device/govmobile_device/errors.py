"""Everything that can go wrong, as the agent tells it to a person.

Foreign exceptions (httpx, ssl, cryptography, pydantic, OSError) are translated into these at the
boundary where they happen (``raise ... from exc``), so the command line prints a message and an
exit code, never a traceback::

    AgentError                   exit code
     ├── UsageError                  2   bad arguments or input (options, QR payload, file names)
     ├── NotEnrolled                 3   the state directory holds no enrolled device
     ├── AlreadyEnrolled             3   enroll refused: this device is enrolled (use --force)
     ├── ServerUnreachable           4   network down, timeout, 5xx: nothing changed, retry later
     ├── ServerRefused               5   the server answered with an error (its code and message)
     │    └── CertificateRejected    7   certificate expired, revoked or no longer bound: renew or enroll again
     ├── TrustFailure                6   the server's CA is not the pinned one, or its TLS does not verify
     ├── StateError                  8   a state file is damaged or the keystore cannot be opened
     ├── DeviceLocked                9   the device is locked by its administrator
     ├── NotAvailable               10   a feature this appliance version does not offer yet
     ├── DeviceWiped                11   the administrator wiped this device; its state is gone
     └── ProtectionDenied           12   a managed app's protection policy refused the action

Exit code 1 is left for bugs (an unexpected exception, reported without its traceback unless
``--debug`` is given).
"""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """Base class: ``message`` is shown to the person at the device as it is."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(AgentError):
    exit_code = 2


class NotEnrolled(AgentError):
    exit_code = 3


class AlreadyEnrolled(AgentError):
    exit_code = 3


class ServerUnreachable(AgentError):
    """The request may not have reached the server: safe to retry. ``cause`` says how it failed
    (``timeout``, ``connection``, ``tls`` or ``http_<status>``), for counting, not for people."""

    exit_code = 4

    def __init__(self, message: str, *, cause: str = "connection") -> None:
        super().__init__(message)
        self.cause = cause


class ServerRefused(AgentError):
    """The server answered with an error: ``status``, and its ``code`` and ``details``."""

    exit_code = 5

    def __init__(
        self, message: str, *, status: int, code: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or {}

    def command_ids(self) -> list[str]:
        """The command ids a 404/409 answer to a check-in names (``details.command_ids``)."""
        ids = self.details.get("command_ids")
        return [str(i) for i in ids] if isinstance(ids, list) else []


class CertificateRejected(ServerRefused):
    """The device's certificate is refused (expired, revoked, replaced, or the device wiped/retired)."""

    exit_code = 7


class TrustFailure(AgentError):
    exit_code = 6


class StateError(AgentError):
    exit_code = 8


class DeviceLocked(AgentError):
    exit_code = 9


class NotAvailable(AgentError):
    exit_code = 10


class DeviceWiped(AgentError):
    exit_code = 11


class ProtectionDenied(AgentError):
    exit_code = 12
