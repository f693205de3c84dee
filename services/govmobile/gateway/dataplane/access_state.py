"""What the control plane writes into nginx's shared memory, without a reload: the certificates
refused on every request, and access versions that retire cached decisions.

nginx takes these changes on a unix socket in its private run directory, served by
``lua/govmobile_gateway.lua``, which also says how they are used. Every worker, old or new,
sees a change as soon as it is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
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


class DataPlaneAccess:
    """A client of nginx's access-change socket."""

    def __init__(self, socket: Path, internal_secret: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket)),
            base_url="http://gateway-data-plane",
            headers={"GovMobile-Internal": internal_secret},
            timeout=timeout,
        )

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

    def state(self) -> dict[str, Any]:
        """The epoch and the shared memory left, for metrics and tests."""
        response = self._get()
        return dict(json.loads(response.text))

    def close(self) -> None:
        self._client.close()

    def _get(self) -> httpx.Response:
        try:
            response = self._client.get("/access")
        except httpx.HTTPError as error:
            raise AccessStateRejected(f"nginx's access socket: {error}") from error
        if response.status_code != 200:
            raise AccessStateRejected(f"nginx answered {response.status_code}: {response.text[:300]}")
        return response

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
        try:
            response = self._client.post("/access", content="\n".join(lines).encode())
        except httpx.HTTPError as error:
            raise AccessStateRejected(f"nginx's access socket: {error}") from error
        if response.status_code == 507:
            failed = response.text.count("\n") + 1
            raise AccessStateRejected(
                f"nginx's shared memory is full: {failed} of {len(lines)} changes not applied "
                "(raise GOVMOBILE_GATEWAY_ACCESS_MEMORY)"
            )
        if response.status_code != 200:
            raise AccessStateRejected(f"nginx answered {response.status_code}: {response.text[:300]}")
