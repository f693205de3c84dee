"""What the control plane writes into nginx's shared memory, without a reload: the certificates
refused on every request, and access versions that retire cached decisions.

nginx takes these changes on a unix socket in its private run directory, served by
``lua/govmobile_gateway.lua``, which also says how they are used. Every worker, old or new,
sees a change as soon as it is written.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography import x509

#: Lines per request to nginx (its control location takes up to 4 MiB).
_BATCH = 20_000


class AccessStateRejected(Exception):
    """nginx could not apply access changes (no room left, or it is not running)."""


def nginx_serial(serial: int | str) -> str:
    """A certificate serial as nginx's ``$ssl_client_serial`` shows it: upper-case hex, two digits
    per byte of the DER integer's magnitude (OpenSSL's ``i2a_ASN1_INTEGER``)."""
    value = serial if isinstance(serial, int) else int(serial, 16)
    text = format(value, "X")
    return text if len(text) % 2 == 0 else "0" + text


def revoked_serials(crl_der: bytes) -> frozenset[str]:
    """The serials a CRL lists, as nginx names them."""
    return frozenset(nginx_serial(entry.serial_number) for entry in x509.load_der_x509_crl(crl_der))


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, closed again if connecting fails (nginx may be restarting)."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("gateway-data-plane", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            unix.settimeout(self.timeout)
            unix.connect(str(self._path))
        except OSError:
            unix.close()
            raise
        self.sock = unix


class DataPlaneAccess:
    """A client of nginx's access-change socket (one connection a call: calls are rare)."""

    def __init__(self, socket_path: Path, internal_secret: str, *, timeout: float = 10.0) -> None:
        self._path = socket_path
        self._secret = internal_secret
        self._timeout = timeout

    def refuse(self, serials: Iterable[str], reason: str = "revoked") -> None:
        """Refuse these certificates on every request from now on."""
        self._send(f"refuse {serial} {reason}" for serial in serials)

    def forget(self, serials: Iterable[str]) -> None:
        """Stop refusing these (they left the CRL: expired long ago)."""
        self._send(f"forget {serial}" for serial in serials)

    def retire_decisions(self, serials: Iterable[str]) -> None:
        """Cached decisions for these certificates are no longer used (their access changed)."""
        self._send(f"bump {serial}" for serial in serials)

    def new_epoch(self) -> None:
        """No cached decision is used any more (the routes changed)."""
        self._send(["epoch"])

    def documents_generation(self, generation: int) -> None:
        """The desired-state generation now: only the portal's answers made under it are used."""
        self._send([f"documents {generation}"])

    def state(self) -> dict[str, Any]:
        """The epoch and the shared memory left, for metrics and tests."""
        status, text = self._request("GET")
        if status != 200:
            raise AccessStateRejected(f"nginx answered {status}: {text[:300]}")
        return dict(json.loads(text))

    def _request(self, method: str, body: bytes | None = None) -> tuple[int, str]:
        connection = _UnixConnection(self._path, self._timeout)
        try:
            connection.request(method, "/access", body=body, headers={"GovMobile-Internal": self._secret})
            response = connection.getresponse()
            return response.status, response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as error:
            raise AccessStateRejected(f"nginx's access socket: {error}") from error
        finally:
            connection.close()

    def _send(self, lines: Iterable[str]) -> None:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == _BATCH:
                self._post(batch)
                batch = []
        if batch:
            self._post(batch)

    def _post(self, lines: list[str]) -> None:
        status, text = self._request("POST", "\n".join(lines).encode())
        if status == 507:
            raise AccessStateRejected(
                f"nginx's shared memory is full: {text.strip().count(chr(10)) + 1} of {len(lines)} changes "
                "not applied (raise GOVMOBILE_GATEWAY_ACCESS_MEMORY)"
            )
        if status != 200:
            raise AccessStateRejected(f"nginx answered {status}: {text[:300]}")
