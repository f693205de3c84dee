"""The MDM's view of the CA: a narrow interface, and its adapter over the CA's RA API.

The MDM is a registration authority: it decides who may have a certificate, the CA signs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography import x509

from govmobile.core.errors import Conflict, Gone, InvalidInput, UnavailableDependency

log = logging.getLogger("govmobile.mdm.signer")


@dataclass(frozen=True)
class IssuedChain:
    serial: str
    sha256: str
    not_after: dt.datetime
    certificate_pem: str
    #: Issuing CA, then root.
    chain_pem: tuple[str, ...]

    def certificates(self) -> list[x509.Certificate]:
        return [
            x509.load_pem_x509_certificate(pem.encode()) for pem in (self.certificate_pem, *self.chain_pem)
        ]


class CertificateSigner(Protocol):
    def sign_device(self, csr_pem: str, *, device_id: str, tenant_id: str) -> IssuedChain: ...

    def renew(self, certificate_pem: str, csr_pem: str) -> IssuedChain: ...

    def revoke(self, serial: str, reason: str) -> None:
        """Revoke; a certificate that is already revoked counts as done."""

    def ca_certificates(self) -> list[x509.Certificate]:
        """The issuing CA and the root, for EST ``cacerts``."""


def revoke_quietly(signer: CertificateSigner, serial: str, reason: str) -> None:
    """Revoke now if the CA answers; otherwise the maintenance job revokes it later."""
    try:
        signer.revoke(serial, reason)
    except Exception:
        log.warning(
            "could not revoke certificate %s now; the maintenance job will retry", serial, exc_info=True
        )


class HttpCertificateSigner:
    """Calls the CA's registration-authority API with this MDM's RA name and secret."""

    def __init__(
        self,
        base_url: str,
        *,
        ra_name: str,
        ra_secret: str,
        verify: str | bool = True,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=(ra_name, ra_secret),
            verify=verify,
            transport=transport,
            timeout=timeout,
        )
        self._ca_certificates: list[x509.Certificate] | None = None
        self._lock = threading.Lock()

    def sign_device(self, csr_pem: str, *, device_id: str, tenant_id: str) -> IssuedChain:
        body = {"profile": "device", "csr": csr_pem, "device_id": device_id, "tenant_id": tenant_id}
        return _issued(self._call("POST", "/api/v1/ra/sign", json=body))

    def renew(self, certificate_pem: str, csr_pem: str) -> IssuedChain:
        return _issued(
            self._call("POST", "/api/v1/ra/renew", json={"certificate": certificate_pem, "csr": csr_pem})
        )

    def revoke(self, serial: str, reason: str) -> None:
        with contextlib.suppress(Conflict):  # already revoked: the goal is reached
            self._call("POST", "/api/v1/ra/revoke", json={"serial": serial, "reason": reason})

    def ca_certificates(self) -> list[x509.Certificate]:
        with self._lock:
            if self._ca_certificates is None:
                response = self._send("GET", "/pki/chain.pem")
                self._ca_certificates = x509.load_pem_x509_certificates(response.content)
            return list(self._ca_certificates)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        body: dict[str, Any] = response.json()
        return body

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UnavailableDependency(
                "the certificate authority cannot be reached; try again shortly"
            ) from exc
        if response.is_success:
            return response
        message = _message(response)
        if response.status_code in (400, 422):
            raise InvalidInput(message, code="certificate_refused")
        if response.status_code == 409:
            raise Conflict(message, code="certificate_conflict")
        if response.status_code in (404, 410):
            raise Gone(message, code="certificate_gone")
        # 401/403 mean the MDM's own RA credentials are wrong: an operator problem, not the device's.
        raise UnavailableDependency(
            "the certificate authority refused the MDM's request; the operator must check the RA configuration"
        )


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return f"the certificate authority answered {response.status_code}"


def _issued(body: dict[str, Any]) -> IssuedChain:
    return IssuedChain(
        serial=body["serial"],
        sha256=body["sha256"],
        not_after=dt.datetime.fromisoformat(body["not_after"]),
        certificate_pem=body["certificate"],
        chain_pem=tuple(body["chain"]),
    )
