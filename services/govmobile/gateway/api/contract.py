"""The published API contracts: one OpenAPI document for the admin API (management listener) and
one for the device API (public listener), each merged from the services that serve it.

Every service generates its own document from its code; the gateway knows which of their paths
each listener passes on (the admin API's map is ``dataplane/admin_api.py``, which nginx's
management server is rendered from; the device listener's table follows ``nginx.conf.j2``) and what
it answers itself before a request reaches a service, so it is the one that can put them
together truthfully. The documents are built when first asked for and kept for a minute.
"""

import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from govmobile.core.errors import UnavailableDependency
from govmobile.gateway.dataplane.admin_api import ADMIN_API, Service, service_for
from govmobile.web.openapi import METHODS, Document, add_response, merge
from govmobile.web.openapi import errors as error_responses

ADMIN_PATH = "/api/admin-openapi.json"
DEVICE_PATH = "/api/device-openapi.json"
_DEVICE_CERTIFICATE = "deviceCertificate"


def _prefixed(*prefixes: str, but: Sequence[str] = ()) -> Callable[[str], bool]:
    return lambda path: path.startswith(prefixes) and not path.startswith(tuple(but))


def _admin_api(service: Service) -> Callable[[str], bool]:
    # Device endpoints reach the MDM here too, but without a certificate they can only refuse.
    return lambda path: service_for(path) is service and not path.startswith("/api/v1/device/")


#: Management listener: what nginx passes to which service (``dataplane/admin_api.py``).
ADMIN_LISTENER: dict[str, Callable[[str], bool]] = {
    prefix.service.value: _admin_api(prefix.service) for prefix in ADMIN_API
}
#: Public listener: what devices reach.
DEVICE_LISTENER: dict[str, Callable[[str], bool]] = {
    "mdm": _prefixed("/.well-known/est/", "/api/v1/device/"),
    "ca": _prefixed("/pki/", "/ocsp"),
    "control": lambda path: path == "/.well-known/jwks.json",
    "portal": _prefixed("/portal/v1/"),
}
#: Locations where nginx requires a verified device certificate (``require_certificate``).
CERTIFICATE_REQUIRED = _prefixed("/api/v1/device/", "/.well-known/est/simplereenroll", "/portal/v1/")

ADMIN_DESCRIPTION = (
    "The GovMobile admin API, as served on the gateway's management listener: the MDM (departments, "
    "people, groups, admins, enrollment tokens, devices, commands, policies, audit), the CA "
    "(/api/v1/certificates) and the gateway (/api/v1/routes). Every request but login carries "
    "'Authorization: Bearer <token>'. Every error is {error, message, details?}."
)
DEVICE_DESCRIPTION = (
    "The GovMobile device API, as served on the gateway's public listener: EST enrollment (RFC 7030), "
    "check-in, wake-ups and leaving, under mutual TLS with the device certificate; the CA's certificates, "
    "CRL and OCSP; the keys that verify identity assertions. Every error is {error, message, details?}."
)


@dataclass(frozen=True)
class ServiceDocuments:
    """Where each service's own document is read: ``name -> () -> document``."""

    sources: dict[str, Callable[[], Document]]

    @classmethod
    def over_http(
        cls, urls: dict[str, str], own: Callable[[], Document], *, verify: ssl.SSLContext | bool
    ) -> "ServiceDocuments":
        def fetch(base: str) -> Callable[[], Document]:
            def read() -> Document:
                try:
                    response = httpx.get(f"{base.rstrip('/')}/api/openapi.json", verify=verify, timeout=10)
                    response.raise_for_status()
                    document: Document = response.json()
                except (httpx.HTTPError, ValueError) as error:
                    raise UnavailableDependency(
                        f"a service's API description cannot be read ({base}); try again shortly"
                    ) from error
                return document

            return read

        return cls({**{name: fetch(url) for name, url in urls.items()}, "control": own})


class Contracts:
    """The two published documents, merged from the services' own and kept for ``ttl`` seconds."""

    def __init__(
        self,
        documents: ServiceDocuments,
        *,
        version: str,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.documents = documents
        self.version = version
        self.ttl = ttl
        self.clock = clock
        self._kept: tuple[float, Document, Document] | None = None
        self._lock = threading.Lock()

    def admin(self) -> Document:
        return self._current()[0]

    def device(self) -> Document:
        return self._current()[1]

    def _current(self) -> tuple[Document, Document]:
        with self._lock:
            if self._kept is not None and self.clock() - self._kept[0] < self.ttl:
                return self._kept[1], self._kept[2]
        own = {name: read() for name, read in self.documents.sources.items()}
        admin = merge(
            # A service the gateway is not configured for (the portal, before it is deployed) is left out.
            [(own[name], keep) for name, keep in ADMIN_LISTENER.items() if name in own],
            title="GovMobile admin API",
            version=self.version,
            description=ADMIN_DESCRIPTION,
        )
        device = merge(
            [(own[name], keep) for name, keep in DEVICE_LISTENER.items() if name in own],
            title="GovMobile device API",
            version=self.version,
            description=DEVICE_DESCRIPTION,
        )
        _what_the_gateway_answers(admin, device_api=False)
        _what_the_gateway_answers(device, device_api=True)
        with self._lock:
            self._kept = (self.clock(), admin, device)
        return admin, device


def _what_the_gateway_answers(document: Document, *, device_api: bool) -> None:
    """Answers nginx gives itself, before a request reaches a service."""
    if device_api:
        document["components"]["securitySchemes"][_DEVICE_CERTIFICATE] = {
            "type": "mutualTLS",
            "description": "the device certificate from EST enrollment, verified with its chain and the CRL",
        }
    for path, item in document["paths"].items():
        for operation in (item[method] for method in METHODS if method in item):
            # The path guard: dot segments, encoded dots, slashes, backslashes or NULs.
            add_response(operation, 400, "bad_request: the request path is not allowed (or another refusal)")
            add_response(operation, 502)
            if device_api and CERTIFICATE_REQUIRED(path):
                operation["security"] = [{_DEVICE_CERTIFICATE: []}]
                add_response(
                    operation,
                    401,
                    "client_certificate_required or certificate_refused (the gateway), "
                    "or the device is not known by this certificate (the MDM)",
                )


def contract_router(contracts: Contracts) -> APIRouter:
    router = APIRouter(tags=["contract"], responses=error_responses(503))

    @router.get(ADMIN_PATH)
    def admin_contract() -> JSONResponse:
        """The admin API's OpenAPI document (the management listener serves it at /api/openapi.json)."""
        return JSONResponse(contracts.admin())

    @router.get(DEVICE_PATH)
    def device_contract() -> JSONResponse:
        """The device API's OpenAPI document (the management listener serves it at this path)."""
        return JSONResponse(contracts.device())

    return router
