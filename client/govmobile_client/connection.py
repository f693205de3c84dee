"""One HTTP connection to the appliance's admin API: base URL, TLS trust, bearer token, errors.

In the appliance, the gateway's management listener (``https://127.0.0.1:8443`` by default)
passes each admin-API path to the service that serves it, so one base URL reaches the whole
admin API. Which service that is, is the gateway's business (its map of the admin API,
``govmobile/gateway/dataplane/admin_api.py``, which the tests check every path here against).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from govmobile_client.errors import (
    ConnectionFailed,
    FileChanged,
    NotConfigured,
    TlsUntrusted,
    UnexpectedAnswer,
    api_error,
)
from govmobile_client.version import __version__

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")
_ARRAY: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[dict[str, Any]])
Params = Mapping[str, str | int | bool | dt.datetime | None]

DEFAULT_TIMEOUT = 30.0
#: How much of an uploaded file is read at a time: the file is never held in memory whole.
UPLOAD_CHUNK = 256 * 1024


class Connection:
    """Sends requests to one base URL and turns every failure into a ``ClientError``.

    TLS is always verified: against ``ca_file`` (the appliance's root CA certificate, and only
    it) when given, otherwise against the system's trust store. Plain ``http://`` is accepted
    only for loopback addresses, where a bearer token never crosses a network.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = _checked_base_url(base_url)
        self.token = token
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            verify=_trust(ca_file),
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": f"govmobile-client/{__version__}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    # -- calls that parse the answer ----------------------------------------------------------

    def call(
        self,
        model: type[ModelT],
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        authenticated: bool = True,
    ) -> ModelT:
        """Send a request and read the answer as ``model``."""
        response = self.request(method, path, params=params, body=body, authenticated=authenticated)
        return _read(response, method, path, model.model_validate_json)

    def call_list(
        self, model: type[ModelT], method: str, path: str, *, params: Params | None = None
    ) -> list[ModelT]:
        """Send a request whose answer is a JSON array of ``model``."""
        response = self.request(method, path, params=params)
        return _read(
            response,
            method,
            path,
            lambda raw: [model.model_validate(item) for item in _ARRAY.validate_json(raw)],
        )

    def call_empty(self, method: str, path: str, *, body: Any = None) -> None:
        """Send a request that answers with no content."""
        self.request(method, path, body=body)

    def upload(
        self, model: type[ModelT], path: str, file: Path, *, media_type: str, params: Params | None = None
    ) -> ModelT:
        """POST the file as the request body, streamed from disk chunk by chunk, and read the
        answer as ``model``. Its length is sent up front, so the server can refuse an oversized
        file before reading it."""
        try:
            size = file.stat().st_size
            opened = file.open("rb")
        except OSError as exc:
            raise NotConfigured(f"cannot read {file}: {exc.strerror or _reason(exc)}") from exc
        with opened:
            content = _chunks(opened, size, file)
            headers = {"Content-Type": media_type, "Content-Length": str(size)}
            response = self.request("POST", path, params=params, content=content, headers=headers)
        return _read(response, "POST", path, model.model_validate_json)

    # -- the raw request ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        authenticated: bool = True,
        content: Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The answer to a request, if it succeeded; otherwise the matching ``ClientError``.

        ``body`` is sent as JSON; ``content``, instead, as raw bytes as the iterator yields them."""
        headers = dict(headers or {})
        if authenticated:
            if not self.token:
                raise NotConfigured("no admin token: log in first, or give an API token")
            headers["Authorization"] = f"Bearer {self.token}"
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            if content is not None:
                response = self._http.request(method, path, params=query, content=content, headers=headers)
            else:
                response = self._http.request(method, path, params=query, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(
                f"{self.base_url} did not answer within {self.timeout:g} seconds", url=self.base_url
            ) from exc
        except httpx.ConnectError as exc:
            raise _connect_error(self.base_url, exc) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(
                f"the connection to {self.base_url} failed: {_reason(exc)}", url=self.base_url
            ) from exc
        if response.is_success:
            return response
        if response.is_redirect:
            raise UnexpectedAnswer(
                f"{method} {path} was redirected to {response.headers.get('location', '?')}; "
                "check the server URL (it should be the management listener, e.g. https://127.0.0.1:8443)",
                status=response.status_code,
            )
        raise _refusal(response)


def _chunks(opened: Any, size: int, file: Path) -> Iterator[bytes]:
    """The file's bytes in chunks; a file that changes length while sent is an error, not a
    request whose body disagrees with its Content-Length."""
    sent = 0
    while chunk := opened.read(UPLOAD_CHUNK):
        sent += len(chunk)
        if sent > size:
            break
        yield chunk
    if sent != size:
        raise FileChanged(
            f"{file} changed while it was being sent ({size} bytes, then {sent}); send it again"
        )


def segment(value: str) -> str:
    """An id as one path segment, escaped so that it can never reach another path."""
    if value.strip(".") == "":  # "", "." and ".." would otherwise be dot segments or nothing
        return "%2E" * len(value) or "%20"
    return quote(value, safe="")


def _checked_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL as exc:
        raise NotConfigured(f"{base_url!r} is not a valid server URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise NotConfigured(f"{base_url!r} is not a server URL; give one like https://127.0.0.1:8443")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise NotConfigured(
            f"refusing plain http to {url.host}: the admin token would cross the network unencrypted; "
            "use https:// (plain http is accepted only on loopback)"
        )
    return str(url).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _trust(ca_file: Path | None) -> ssl.SSLContext:
    """An SSL context that trusts the CA bundle alone, or the system store when there is none."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError as exc:
        raise NotConfigured(f"the CA bundle {ca_file} does not exist") from exc
    except (OSError, ssl.SSLError) as exc:
        raise NotConfigured(
            f"cannot read the CA bundle {ca_file} ({_reason(exc)}); it must hold PEM certificates"
        ) from exc


def _param(value: str | int | bool | dt.datetime) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"the time {value.isoformat()} needs a time zone; the API refuses naive times")
        return value.isoformat()
    return str(value)


def _connect_error(url: str, exc: httpx.ConnectError) -> ConnectionFailed:
    verification = _cause(exc, ssl.SSLCertVerificationError)
    if verification is not None:
        detail = getattr(verification, "verify_message", "") or _reason(verification)
        return TlsUntrusted(
            f"cannot reach {url}: its TLS certificate is not trusted ({detail}); "
            "use the appliance's root CA certificate as the CA bundle",
            url=url,
        )
    return ConnectionFailed(f"cannot reach {url}: {_reason(exc)}", url=url)


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _refusal(response: httpx.Response) -> Exception:
    """The error for a refusal, from the API's ``{"error", "message", "details"?}`` body."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str):
        details = body.get("details")
        return api_error(
            status, body["error"], body["message"], details if isinstance(details, dict) else None
        )
    phrase = response.reason_phrase or "error"
    return api_error(
        status,
        f"http_{status}",
        f"the server answered {status} {phrase} to {response.request.method} {response.request.url.path}",
    )


def _read(response: httpx.Response, method: str, path: str, read: Callable[[bytes], ResultT]) -> ResultT:
    try:
        return read(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UnexpectedAnswer(
            f"the answer to {method} {path} is not what the API promises ({where}: {first['msg']}); "
            "is the server URL the GovMobile management listener, and is the client the same version?",
            status=response.status_code,
        ) from exc
