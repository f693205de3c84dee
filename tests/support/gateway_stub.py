"""A TEST STAND-IN for the gateway's device listener. It is not the gateway.

The real gateway (nginx, built by its own issue) terminates mutual TLS on 443, checks the
client certificate's chain and the CRL, and forwards to the MDM with ``Client-Cert`` (the URL-escaped
PEM nginx writes) and ``GovMobile-Gateway-Proof: <secret>``, headers it always overwrites.
Until it exists, this small asyncio proxy does the same on loopback so that the device agent
is exercised over real mutual-TLS sockets:

- TLS 1.2+ with a server certificate from the test CA; a client certificate is requested and,
  when sent, must chain to the trusted CA (otherwise the handshake fails, as with nginx's
  ``ssl_verify_client``). Requests without one (EST enrollment) are forwarded without
  ``Client-Cert``; the MDM refuses them on device endpoints.
- Validity is checked against a clock tests can move, and revocation against the CA's CRL
  (fetched from ``crl_url``, at most every ``crl_max_age`` seconds, signature checked). A refused
  or missing certificate gets what nginx answers (docs/gateway.md): ``401
  {"error": "client_certificate_required", "message": "... (got: FAILED:certificate revoked)"}``.
  A certificate is required everywhere but on the enrollment paths and ``/pki/``.
- An expired certificate is refused everywhere, as nginx does; renewal in the grace window
  goes to ``/.well-known/est/expired/simplereenroll`` without a client certificate.
- Client-supplied ``Client-Cert`` and ``GovMobile-Gateway-Proof`` headers are dropped.

HTTP/1.1 with Content-Length or chunked bodies, keep-alive, nothing more. Run it in a thread
(``GatewayStub.serving()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from govmobile.web.device_identity import client_cert_header

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the handshake checks chain and signatures, the stub
# checks dates itself (see the module docstring).
_NO_CHECK_TIME = 0x200000
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}
_IDENTITY_HEADERS = {"client-cert", "govmobile-gateway-proof"}
REENROLL_PATH = "/.well-known/est/simplereenroll"
CHECKIN_PATH = "/api/v1/device/checkin"
#: Where the gateway serves requests without a client certificate (docs/gateway.md).
OPEN_PATHS = (
    "/.well-known/est/cacerts",
    "/.well-known/est/simpleenroll",
    "/.well-known/est/expired/simplereenroll",
    "/pki/",
    "/ocsp",
    "/.well-known/jwks.json",
)
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class _BadRequest(Exception):
    pass


class GatewayStub:
    """Mutual-TLS terminating reverse proxy for tests; see the module docstring."""

    def __init__(
        self,
        upstream: str,
        *,
        gateway_secret: str,
        certificate_chain_pem: bytes,
        key_pem: bytes,
        trusted_ca_pem: bytes,
        crl_url: str | None = None,
        crl_max_age: float = 1.0,
        clock: Callable[[], dt.datetime] = utcnow,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.gateway_secret = gateway_secret
        self.crl_url = crl_url
        self.crl_max_age = crl_max_age
        self.clock = clock
        self.host = host
        self.port = port
        self._trusted = x509.load_pem_x509_certificates(trusted_ca_pem)
        self._context = _server_context(certificate_chain_pem, key_pem, trusted_ca_pem)
        self._revoked: set[int] = set()
        self._crl_loaded_at = -float("inf")
        self._crl_lock: asyncio.Lock | None = None
        self._client: httpx.AsyncClient | None = None  # for the CRL only
        self._upstream: _UpstreamPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.requests = 0
        self.paths: Counter[str] = Counter()
        #: Requests by path and the serial number of the client certificate they came with.
        self.paths_by_serial: Counter[tuple[str, int | None]] = Counter()
        self.refused: list[str] = []
        #: Faults for tests, applied to the next check-ins in order: "pass" lets one through,
        #: "drop-before" closes the connection without forwarding (the MDM never sees it),
        #: "drop-after" forwards and then closes without answering (the MDM acted, the answer is lost).
        self.checkin_faults: list[str] = []
        #: For tests that play a newer server: rewrites the JSON answer to a check-in.
        self.rewrite_checkin: Callable[[dict[str, object]], dict[str, object]] | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # -- running ---------------------------------------------------------------------------

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until ``stop`` (or cancellation)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._crl_lock = asyncio.Lock()
        self._client = httpx.AsyncClient(timeout=30.0)
        self._upstream = _UpstreamPool(self.upstream)
        server = await asyncio.start_server(self._connection, self.host, self.port, ssl=self._context)
        self.port = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            # Handlers may be waiting on the MDM (a long-poll): cancel them rather than wait.
            for handler in list(self._handlers):
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()
            await self._upstream.close()
            await self._client.aclose()

    def start(self) -> str:
        """Serve in a background thread; return the base URL."""
        started = threading.Event()

        def target() -> None:
            asyncio.run(self.serve(started.set))

        self._thread = threading.Thread(target=target, name="gateway-stub", daemon=True)
        self._thread.start()
        if not started.wait(20):
            raise RuntimeError("the gateway stub did not start")
        return self.url

    def request_stop(self) -> None:
        """Ask ``serve`` to finish (from any thread)."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                raise RuntimeError("the gateway stub did not stop within 60 s")

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        url = self.start()
        try:
            yield url
        finally:
            self.stop()

    def refresh_crl(self) -> None:
        """Fetch the CRL now (from a test's thread)."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._load_crl(force=True), self._loop).result(timeout=30)

    # -- connections -------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        ssl_object = writer.get_extra_info("ssl_object")
        der: bytes | None = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        serial = x509.load_der_x509_certificate(der).serial_number if der is not None else None
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as problem:
                    await _respond(
                        writer, 400, [], _error_body("bad_request", str(problem)), keep_alive=False
                    )
                    break
                if request is None:
                    break
                self.requests += 1
                self.paths[request.path] += 1
                self.paths_by_serial[(request.path, serial)] += 1
                fault = (
                    self.checkin_faults.pop(0)
                    if request.path == CHECKIN_PATH and self.checkin_faults
                    else None
                )
                if fault == "drop-before":
                    break
                status, headers, body = await self._forward(request, der)
                if fault == "drop-after":
                    break
                if request.path == CHECKIN_PATH and status == 200 and self.rewrite_checkin is not None:
                    body = json.dumps(self.rewrite_checkin(json.loads(body))).encode()
                await _respond(writer, status, headers, body, keep_alive=request.keep_alive)
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            self._handlers.discard(handler)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _forward(
        self, request: _Request, der: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        verify = "NONE" if der is None else await self._verify(der, request.path)
        if verify != "SUCCESS" and not request.path.startswith(OPEN_PATHS):
            self.refused.append(verify)
            message = f"this address needs a valid, unrevoked device certificate (got: {verify})"
            return (
                401,
                [("Content-Type", "application/json")],
                _error_body("client_certificate_required", message),
            )
        headers = [
            (name, value)
            for name, value in request.headers
            if name.lower() not in _HOP_BY_HOP and name.lower() not in _IDENTITY_HEADERS
        ]
        if der is not None and verify == "SUCCESS":
            headers.append(("Client-Cert", client_cert_header(der)))
        headers.append(("GovMobile-Gateway-Proof", self.gateway_secret))
        assert self._upstream is not None
        try:
            return await self._upstream.request(request.method, request.target, headers, request.body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as problem:
            return 502, [("Content-Type", "application/json")], _error_body("bad_gateway", str(problem))

    async def _verify(self, der: bytes, path: str) -> str:
        """What nginx puts in ``$ssl_client_verify`` once the chain has verified in the handshake."""
        certificate = x509.load_der_x509_certificate(der)
        now = self.clock()
        if now < certificate.not_valid_before_utc:
            return "FAILED:certificate is not yet valid"
        await self._load_crl(force=False)
        if certificate.serial_number in self._revoked:
            return "FAILED:certificate revoked"
        if now > certificate.not_valid_after_utc:
            return "FAILED:certificate has expired"
        return "SUCCESS"

    async def _load_crl(self, *, force: bool) -> None:
        if self.crl_url is None:
            return
        assert self._crl_lock is not None
        assert self._client is not None
        async with self._crl_lock:
            if not force and time.monotonic() - self._crl_loaded_at < self.crl_max_age:
                return
            try:
                response = await self._client.get(self.crl_url)
                response.raise_for_status()
                crl = x509.load_der_x509_crl(response.content)
            except (httpx.HTTPError, ValueError):
                return  # keep the last CRL; the real gateway alerts on a stale one
            issuer = next((c for c in self._trusted if c.subject == crl.issuer), None)
            if issuer is None or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                return
            self._revoked = {entry.serial_number for entry in crl}
            self._crl_loaded_at = time.monotonic()


class _UpstreamPool:
    """Keep-alive HTTP/1.1 connections to the MDM (plain HTTP on loopback).

    A few dozen lines instead of an HTTP client library: the stub forwards every device
    request, and a general-purpose pool cost more CPU than the MDM itself under load.
    """

    #: Connections idle longer than this are not reused (uvicorn closes them after 5 s).
    MAX_IDLE = 3.0

    def __init__(self, base_url: str, size: int = 64) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"the stub forwards to a plain http:// upstream, not {base_url!r}")
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.authority = parsed.netloc
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._gate = asyncio.Semaphore(size)

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        async with self._gate:
            reader, writer = await self._connection()
            try:
                lines = [f"{method} {target} HTTP/1.1", f"Host: {self.authority}"]
                lines += [f"{name}: {value}" for name, value in headers]
                lines.append(f"Content-Length: {len(body)}")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                status, response_headers, response_body, reusable = await _read_response(reader)
            except BaseException:
                writer.close()
                raise
            if reusable:
                self._idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
            return status, response_headers, response_body

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < self.MAX_IDLE and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle = []


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers: list[tuple[str, str]] = []
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    fields = {name.lower(): value.lower() for name, value in headers}
    if "chunked" in fields.get("transfer-encoding", ""):
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(fields.get("content-length", "0") or "0"))
    kept = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP]
    return status, kept, body, fields.get("connection") != "close"


def _server_context(chain_pem: bytes, key_pem: bytes, trusted_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as directory:
        chain, key = Path(directory) / "chain.pem", Path(directory) / "key.pem"
        chain.write_bytes(chain_pem)
        key.write_bytes(key_pem)
        context.load_cert_chain(chain, key)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=trusted_pem.decode())
    context.verify_flags |= _NO_CHECK_TIME  # type: ignore[assignment]
    return context


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as partial:
        if not partial.partial.strip():
            return None
        raise _BadRequest("incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise _BadRequest("request head too large") from None
    if len(head) > MAX_HEAD:
        raise _BadRequest("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise _BadRequest("malformed request line") from None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    fields = {name.lower(): value for name, value in headers}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(fields.get("content-length", "0") or "0")
        if length > MAX_BODY:
            raise _BadRequest("body too large")
        body = await reader.readexactly(length) if length else b""
    keep_alive = version == "HTTP/1.1" and fields.get("connection", "").lower() != "close"
    return _Request(method, target, headers, body, keep_alive)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return body
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > MAX_BODY:
            raise _BadRequest("body too large")


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    keep_alive: bool,
) -> None:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "SSL Certificate Error" if status == 495 else "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}).encode()


# -- certificates for the stub ---------------------------------------------------------------


def issue_server_certificate(
    ca_url: str,
    ra: tuple[str, str],
    *,
    dns_names: tuple[str, ...] = ("localhost",),
    ip_addresses: tuple[str, ...] = ("127.0.0.1",),
) -> tuple[bytes, bytes, bytes]:
    """A service certificate for the stub from the CA's RA API: (chain PEM, key PEM, CA PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway-stub")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    response = httpx.post(
        f"{ca_url}/api/v1/ra/sign",
        json={
            "profile": "service",
            "csr": csr,
            "dns_names": list(dns_names),
            "ip_addresses": list(ip_addresses),
        },
        auth=ra,
        timeout=30,
    )
    response.raise_for_status()
    issued = response.json()
    chain = (issued["certificate"] + issued["chain"][0]).encode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, key_pem, "".join(issued["chain"]).encode()
