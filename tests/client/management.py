"""The gateway's management listener, as the admin API's clients see it, for tests.

In the appliance, ``https://127.0.0.1:8443`` passes each admin-API path to the service the map
of the admin API names (``govmobile.gateway.dataplane.admin_api``), with a service certificate
from the appliance CA. Here a small reverse proxy routes by the same map in front of the test CA
and MDM, over real TLS with a service certificate that the test CA signs through its
registration-authority API, as deployment does. The gateway's own routes API is not behind it
(its tests use the real gateway): a request for it is answered 502, as nginx answers for a
service that is down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.types import Receive, Scope, Send

from govmobile.gateway.dataplane.admin_api import Service, service_for
from tests.support.ca import DEPLOY_SECRET
from tests.support.pki import csr_pem
from tests.support.servers import serving

_HOP_BY_HOP = {b"host", b"connection", b"content-length", b"transfer-encoding", b"keep-alive"}


@dataclass(frozen=True)
class Appliance:
    """Where an admin points the client: one base URL and the root to verify it with."""

    url: str
    ca_file: Path


class ManagementListener:
    """Pure ASGI reverse proxy: each path to the service the admin API's map names."""

    def __init__(self, services: dict[Service, str]) -> None:
        self.services = services
        self._upstream: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert scope["type"] == "http"
        assert self._upstream is not None
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        service = service_for(scope["path"])
        if service is None or service not in self.services:
            await _answer(send, 404 if service is None else 502)
            return
        url = self.services[service] + scope["raw_path"].decode()
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        answer = await self._upstream.request(scope["method"], url, headers=headers, content=body)
        content = await answer.aread()
        answer_headers = [
            (k, v)
            for k, v in answer.headers.raw
            if k.lower() not in _HOP_BY_HOP and k.lower() != b"content-encoding"
        ]
        answer_headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": answer_headers})
        await send({"type": "http.response.body", "body": content})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._upstream = httpx.AsyncClient(timeout=60)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._upstream is not None:
                    await self._upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int) -> None:
    """What nginx answers itself: nothing served here (404), or the service is down (502)."""
    error, message = {
        404: ("not_found", "nothing is served at this address"),
        502: ("upstream_unavailable", "the service behind this address is not answering; try again shortly"),
    }[status]
    body = json.dumps({"error": error, "message": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


def service_certificate(ca_url: str, directory: Path) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 from the CA's RA API; returns (chain file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    answer = httpx.post(
        f"{ca_url}/api/v1/ra/sign",
        json={"profile": "service", "csr": csr_pem(key, common_name="x"), "ip_addresses": ["127.0.0.1"]},
        auth=("deploy", DEPLOY_SECRET),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    issued = answer.json()
    chain = directory / "management.crt"
    chain.write_text(issued["certificate"] + "".join(issued["chain"][:1]))
    key_file = directory / "management.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    return chain, key_file


@contextmanager
def management_listener(
    ca_url: str, mdm_url: str, root: Path, directory: Path, *, portal_url: str | None = None
) -> Iterator[Appliance]:
    """The listener in front of CA and MDM (and the portal, when its URL is given)."""
    certificate, key = service_certificate(ca_url, directory)
    services = {Service.CA: ca_url, Service.MDM: mdm_url}
    if portal_url is not None:
        services[Service.PORTAL] = portal_url
    with serving(
        ManagementListener(services),
        ssl_certfile=str(certificate),
        ssl_keyfile=str(key),
    ) as url:
        yield Appliance(url, root)
