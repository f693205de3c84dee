"""The device's HTTP client to the gateway's public address, and nothing else.

Three kinds of TLS, never plain HTTP:

- ``bootstrap``: only for EST ``cacerts`` before anything is trusted. The server is not
  verified, which is why nothing secret is sent and the answer is checked against the pinned
  fingerprint before it is believed (RFC 7030 §4.1.1).
- ``pinned``: the server must present a certificate that chains to the pinned root and names
  the host; used to send the enrollment token.
- ``mutual``: the same, plus the device's certificate and key as TLS client credentials; used
  for everything after enrollment. The gateway verifies them and vouches for the device to the
  MDM (docs/device-protocol.md, "Trust").

Errors from the network, from TLS and from the server are translated here, once, into the
agent's own (errors.py), with a message a person can act on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import ssl
import tempfile
import urllib.parse
from types import TracebackType
from typing import Any, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ValidationError

from govmobile_device import __version__, pki
from govmobile_device.errors import (
    AgentError,
    CertificateRejected,
    DeviceLocked,
    ServerRefused,
    ServerUnreachable,
    TrustFailure,
    UsageError,
)
from govmobile_device.protocol import (
    CHECKIN,
    EST_CACERTS,
    EST_EXPIRED_SIMPLEREENROLL,
    EST_SIMPLEENROLL,
    EST_SIMPLEREENROLL,
    EXPIRED_CERT_HEADER,
    FACTS_HEADER,
    POSSESSION_HEADER,
    UNENROLL,
    WAIT,
    CheckinRequest,
    CheckinResponse,
    ErrorBody,
    WaitResponse,
)
from govmobile_device.state import DeviceIdentity

DEFAULT_TIMEOUT = 30.0
M = TypeVar("M", bound=BaseModel)
#: Refusals that mean "this certificate will not do": the gateway's (nginx answers 401
#: ``client_certificate_required`` or ``certificate_refused`` with its verification result, see
#: docs/gateway.md), and the MDM's when a certificate is no longer bound to a device.
CERTIFICATE_CODES = {
    "client_certificate_required": "the gateway needs a valid, unrevoked device certificate",
    "certificate_refused": "the gateway refused the device's certificate",
    "certificate_expired": "the device's certificate has expired",
    "certificate_revoked": "the device's certificate has been revoked",
    "certificate_not_bound": "the device's certificate is no longer valid for this device (revoked or replaced)",
    "no_client_certificate": "the gateway did not receive the device's certificate",
    "device_wiped": "the administrator has wiped this device",
    "device_retired": "the administrator has retired this device",
    "certificate_gone": "the certificate can no longer be renewed (expired past the grace window, or unknown)",
    "certificate_conflict": "the certificate can no longer be renewed (revoked)",
}
_ENROLL_AGAIN = "Ask your IT department for a new enrollment token and enroll again with --force."
# TLS alerts a server sends when it refuses the client's certificate (OpenSSL reason names).
_CERTIFICATE_ALERTS = {
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "certificate_expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "certificate_revoked",
    "TLSV1_ALERT_UNKNOWN_CA": "certificate_unknown_ca",
    "SSLV3_ALERT_BAD_CERTIFICATE": "certificate_bad",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate_bad",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "no_client_certificate",
}


def check_server_url(server: str) -> str:
    """The gateway's base URL, normalised; only https (the token and the device's data travel on it)."""
    parsed = urllib.parse.urlsplit(server.strip())
    if parsed.scheme != "https" or not parsed.hostname:
        raise UsageError(
            f"the server must be the gateway's https:// address (got {server!r}); plain HTTP is never used"
        )
    if parsed.query or parsed.fragment:
        raise UsageError(f"the server address must not carry a query or fragment: {server!r}")
    return urllib.parse.urlunsplit(("https", parsed.netloc, parsed.path.rstrip("/"), "", ""))


def server_context(root: x509.Certificate | None) -> ssl.SSLContext:
    """TLS 1.2+; the server verified against ``root`` alone (no system CAs), or not at all."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if root is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cadata=pki.pem(root))
    return context


def mutual_context(identity: DeviceIdentity) -> ssl.SSLContext:
    """Verify the server against the pinned root; present the device certificate and its chain."""
    context = server_context(identity.root)
    # ssl loads client credentials only from a file. The key is written there encrypted with a
    # one-time password that never touches the disk, and the file is removed once loaded.
    password = secrets.token_bytes(32)
    key_pem = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    descriptor, name = tempfile.mkstemp(prefix="govmobile-device-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pki.pem(identity.certificate, *identity.intermediates).encode() + key_pem)
        context.load_cert_chain(name, password=password)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    return context


class Gateway:
    """HTTP calls to the gateway; every failure becomes an AgentError."""

    def __init__(
        self,
        server: str,
        context: ssl.SSLContext,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.server = server
        self._client = httpx.AsyncClient(
            base_url=server,
            verify=context,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": f"govmobile-device/{__version__}"},
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def bootstrap(cls, server: str, **kwargs: Any) -> Gateway:
        return cls(server, server_context(None), **kwargs)

    @classmethod
    def pinned(cls, server: str, root: x509.Certificate, **kwargs: Any) -> Gateway:
        return cls(server, server_context(root), **kwargs)

    @classmethod
    def mutual(cls, identity: DeviceIdentity, **kwargs: Any) -> Gateway:
        return cls(identity.server, mutual_context(identity), **kwargs)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- EST (RFC 7030) ------------------------------------------------------------------------

    async def cacerts(self) -> list[x509.Certificate]:
        """§4.1: the CA certificates."""
        response = await self._request("GET", EST_CACERTS)
        return pki.read_certs_only(response.content)

    async def simpleenroll(self, csr: bytes, token: str, facts: dict[str, Any]) -> list[x509.Certificate]:
        """§4.2.1: the token as the HTTP Basic password; the device's facts in their header."""
        encoded = base64.urlsafe_b64encode(json.dumps(facts).encode()).decode().rstrip("=")
        response = await self._request(
            "POST",
            EST_SIMPLEENROLL,
            content=csr,
            headers={"Content-Type": "application/pkcs10", FACTS_HEADER: encoded},
            auth=("device", token),
        )
        return pki.read_certs_only(response.content)

    async def renew_expired(
        self, csr: bytes, expired: x509.Certificate, signature: bytes
    ) -> list[x509.Certificate]:
        """Renewal in the grace window: no client certificate (an expired one cannot pass TLS);
        the old key's signature over the new CSR proves the device still holds it."""
        response = await self._request(
            "POST",
            EST_EXPIRED_SIMPLEREENROLL,
            content=csr,
            headers={
                "Content-Type": "application/pkcs10",
                EXPIRED_CERT_HEADER: base64.b64encode(
                    expired.public_bytes(serialization.Encoding.DER)
                ).decode(),
                POSSESSION_HEADER: base64.b64encode(signature).decode(),
            },
        )
        return pki.read_certs_only(response.content)

    async def simplereenroll(self, csr: bytes) -> list[x509.Certificate]:
        """§4.2.2: renew with the current certificate (mutual TLS)."""
        response = await self._request(
            "POST", EST_SIMPLEREENROLL, content=csr, headers={"Content-Type": "application/pkcs10"}
        )
        return pki.read_certs_only(response.content)

    # -- device protocol ---------------------------------------------------------------------------

    async def checkin(self, request: CheckinRequest) -> CheckinResponse:
        response = await self._request(
            "POST",
            CHECKIN,
            content=request.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        return _parse(CheckinResponse, response, "check-in")

    async def wait(self, timeout: float) -> bool:
        """Long-poll: True when the server has something for the device."""
        response = await self._request(
            "GET",
            WAIT,
            params={"timeout": f"{timeout:g}"},
            timeout=httpx.Timeout(DEFAULT_TIMEOUT, read=timeout + 15),
        )
        return _parse(WaitResponse, response, "wake-up").wake

    async def unenroll(self) -> None:
        """Tell the appliance this device leaves: it retires the device and revokes its certificates."""
        await self._request("POST", UNENROLL)

    async def get(self, path: str) -> httpx.Response:
        """Any other resource behind the gateway (intranet apps under /apps/)."""
        return await self._request("GET", path)

    async def post_json(self, path: str, body: bytes) -> httpx.Response:
        """A JSON body to a service behind the gateway (the portal's protection-event reports)."""
        return await self._request("POST", path, content=body, headers={"Content-Type": "application/json"})

    # -- errors ------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await send_once_more_if_dropped(self._client, method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                f"{self.server} did not answer in time; try again later", cause="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise transport_error(self.server, exc) from exc
        if response.status_code >= 400:
            raise refusal(response)
        return response


async def send_once_more_if_dropped(
    client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """Send, and once more on a new connection if the server closed the kept-alive one without
    answering. nginx closes idle kept-alive connections when it reloads (the gateway reloads on
    every route, CRL or access change), and a request sent at that moment is dropped unread.
    Repeating is safe for a device whatever the cause: check-in results are idempotent by
    command id, and commands not yet acknowledged are offered again. A second drop is an error."""
    try:
        return await client.request(method, path, **kwargs)
    except httpx.RemoteProtocolError:
        return await client.request(method, path, **kwargs)


def transport_error(server: str, exc: BaseException) -> AgentError:
    """What a failed connection means: an untrusted server, a refused certificate, or no route."""
    tls = _ssl_cause(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return TrustFailure(
            f"the server at {server} is not trusted: its TLS certificate does not verify against the pinned "
            f"CA ({tls.verify_message}). Nothing was sent. Check the address; this may be an impostor server"
        )
    if tls is not None:
        reason = str(tls.reason or "")
        code = _CERTIFICATE_ALERTS.get(reason)
        if code is not None:
            what = CERTIFICATE_CODES.get(code, "the gateway refused the device's certificate")
            return CertificateRejected(
                f"{what} (TLS alert {reason.lower()}). {_ENROLL_AGAIN}", status=0, code=code
            )
        return ServerUnreachable(f"TLS with {server} failed ({reason or tls}); try again later", cause="tls")
    return ServerUnreachable(f"cannot reach {server} ({exc.__class__.__name__}: {exc}); try again later")


def refusal(response: httpx.Response) -> AgentError:
    """An error answer from the gateway or a service behind it."""
    status = response.status_code
    try:
        body = ErrorBody.model_validate_json(response.content)
        code, message, details = body.error, body.message, body.details
    except ValidationError:
        code, message, details = f"http_{status}", f"HTTP {status} {response.reason_phrase}".strip(), {}
    if status in (495, 496) or code in CERTIFICATE_CODES:
        said = message or CERTIFICATE_CODES.get(code, "the certificate was refused")
        return CertificateRejected(
            f"the appliance refused this device's certificate: {said} ({code}). {_ENROLL_AGAIN}",
            status=status,
            code=code,
            details=details,
        )
    if code == "device_locked":
        return DeviceLocked(f"{message} ({code})")
    if status >= 500 or status == 429:
        return ServerUnreachable(
            f"the appliance is unavailable right now ({status} {code}: {message}); try again later",
            cause=f"http_{status}",
        )
    return ServerRefused(f"{message} ({status} {code})", status=status, code=code, details=details)


def _parse(model: type[M], response: httpx.Response, what: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise ServerRefused(
            f"the server's {what} answer is not what the device protocol says; is the server address the "
            "GovMobile gateway?",
            status=response.status_code,
            code="unexpected_answer",
        ) from None


def _ssl_cause(exc: BaseException | None) -> ssl.SSLError | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
