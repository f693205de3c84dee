"""Wire the gateway's control plane (and the nginx it runs) from its settings."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.concurrency import run_in_threadpool

from govmobile import __version__
from govmobile.core.database import Database, utcnow
from govmobile.core.settings import load_settings
from govmobile.gateway.access_log import AccessLogSummariser
from govmobile.gateway.api.authorization import authorization_router
from govmobile.gateway.api.contract import Contracts, ServiceDocuments, contract_router
from govmobile.gateway.api.routes import intranet_app_router
from govmobile.gateway.assertions import AssertionIssuer, KeyRing
from govmobile.gateway.controller import DataPlaneController
from govmobile.gateway.dataplane.access_state import AccessStateRejected, DataPlaneAccess
from govmobile.gateway.dataplane.nginx import Nginx
from govmobile.gateway.dataplane.render import DataPlaneLayout, RenderInputs, Upstream
from govmobile.gateway.models import Route
from govmobile.gateway.routes import RouteAdministration
from govmobile.gateway.settings import GatewaySettings
from govmobile.web.app import configure_logging, harden
from govmobile.web.auth import BearerAuthenticator
from govmobile.web.background import BackgroundJobs
from govmobile.web.operations import operation_router

log = logging.getLogger("govmobile.gateway")


class RouteTable:
    """The routes the data plane was last rendered with, by name, for authorization, and which
    of them it had to leave out (so the routes API can say so)."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._left_out: dict[str, str] = {}
        self._lock = threading.Lock()

    def replace(self, routes: list[Route]) -> None:
        with self._lock:
            self._routes = {r.name: r for r in routes}

    def rendered(self, left_out: dict[str, str]) -> None:
        with self._lock:
            self._left_out = dict(left_out)

    def get(self, name: str) -> Route | None:
        with self._lock:
            return self._routes.get(name)

    def status(self, route: Route) -> str:
        """``live``, ``disabled``, ``pending`` (not rendered yet) or why it was left out."""
        with self._lock:
            if not route.enabled:
                return "disabled"
            if route.name in self._left_out:
                return f"unavailable: {self._left_out[route.name]}"
            rendered = self._routes.get(route.name)
            return "live" if rendered is not None and rendered.version == route.version else "pending"


def create_app(
    settings: GatewaySettings, *, database: Database | None = None, clock: Callable[[], dt.datetime] = utcnow
) -> FastAPI:
    """The control plane's FastAPI application; its lifespan runs nginx."""
    assert settings.gateway_secret is not None
    database = database or Database(settings.database_url)
    layout = DataPlaneLayout(settings.run_dir)
    layout.prepare()
    internal_secret = secrets.token_urlsafe(32)  # per start: only the nginx we render knows it
    keys = KeyRing(settings.keys_dir, rotation=dt.timedelta(hours=settings.key_rotation_hours), clock=clock)
    issuer = AssertionIssuer(
        keys, issuer=settings.issuer(), lifetime=dt.timedelta(seconds=settings.assertion_lifetime_seconds)
    )
    route_table = RouteTable()
    nginx = Nginx(layout, binary=settings.nginx_binary)
    internal_verify: str | bool = (
        str(settings.internal_ca_file) if settings.internal_ca_file.exists() else True
    )
    inputs = RenderInputs(
        public_hostname=settings.public_hostname,
        public_listen=settings.public_listen,
        management_listen=settings.management_listen,
        public_cert=settings.public_tls_cert,
        public_key=settings.public_tls_key,
        management_cert=settings.management_tls_cert,
        management_key=settings.management_tls_key,
        client_ca=settings.client_ca_file,
        internal_ca=settings.internal_ca_file,
        ca=Upstream.from_url("gm_ca", settings.ca_url),
        mdm=Upstream.from_url("gm_mdm", settings.mdm_url),
        control=Upstream.from_url("gm_control", f"http://{settings.listen_host}:{settings.listen_port}"),
        gateway_secret=settings.gateway_secret.get_secret_value(),
        internal_secret=internal_secret,
        decision_ttl=settings.decision_ttl_seconds,
        access_memory=settings.access_memory,
        decision_memory=settings.decision_memory,
        document_memory=settings.document_memory,
        modules_dir=settings.nginx_modules_dir,
        worker_processes=settings.worker_processes,
        max_body_size=settings.max_body_size,
        client_timeout=settings.client_timeout_seconds,
        log_to_stdout=settings.log_to_stdout,
        system_trust=settings.system_trust_file,
        portal=Upstream.from_url("gm_portal", settings.portal_url) if settings.portal_url else None,
        portal_files=settings.portal_files_dir,
        portal_max_upload=settings.portal_max_upload,
    )
    access = DataPlaneAccess(layout.access_socket, internal_secret)
    controller = DataPlaneController(
        database,
        nginx,
        layout,
        inputs,
        access,
        root_crl_pem=settings.root_crl_file.read_bytes,
        ca_url=settings.ca_url,
        ca_verify=internal_verify,
        on_routes=route_table.replace,
        on_rendered=route_table.rendered,
        crl_reload_seconds=settings.crl_reload_seconds,
    )
    summariser = AccessLogSummariser(layout.access_log, database, reopen=nginx.reopen_logs, clock=clock)
    registry = CollectorRegistry()
    decisions = Counter(
        "govmobile_gateway_decisions",
        "Authorization decisions made (cache misses), by code",
        ["code"],
        registry=registry,
    )
    errors = Counter(
        "govmobile_gateway_errors", "Control-plane requests refused or failed", ["code"], registry=registry
    )
    Gauge(
        "govmobile_gateway_generation", "Data-plane configuration generation", registry=registry
    ).set_function(lambda: controller.generation)
    Gauge("govmobile_gateway_reloads", "nginx reloads since start", registry=registry).set_function(
        lambda: nginx.reloads
    )
    Gauge(
        "govmobile_gateway_crl_reloads",
        "nginx reloads to re-read the CRL (at most one a minute)",
        registry=registry,
    ).set_function(lambda: controller.crl_reloads)

    def access_memory_free() -> float:
        try:
            return float(access.state()["access_free_bytes"])
        except AccessStateRejected:
            return float("nan")

    Gauge(
        "govmobile_gateway_access_memory_free_bytes",
        "Room left in nginx's shared memory for refused certificates and access versions",
        registry=registry,
    ).set_function(access_memory_free)

    async def keep_in_step() -> None:
        await run_in_threadpool(controller.sync)
        await run_in_threadpool(nginx.ensure_running)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(keys.current)
        try:
            await _first_sync(controller, attempts=settings.start_attempts)
        except BaseException:
            # nginx may have started before a later step failed: never leave it running alone.
            await run_in_threadpool(nginx.stop)
            raise
        jobs = BackgroundJobs()
        jobs.every(
            settings.poll_interval_seconds,
            keep_in_step,
            failure="could not bring the data plane up to date",
            logger=log,
        )
        jobs.every(
            settings.access_summary_seconds,
            lambda: run_in_threadpool(summariser.run_once),
            failure="could not summarise the access log",
            logger=log,
        )
        try:
            yield
        finally:
            # Only once no sync is in flight: a sync finishing after nginx.stop would find nginx
            # gone and start it again (see govmobile.web.background).
            await jobs.stop()
            try:
                await run_in_threadpool(summariser.run_once)
            finally:
                await run_in_threadpool(nginx.stop)

    app = FastAPI(
        title="GovMobile gateway control plane",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    harden(app, max_body_bytes=256 * 1024, on_error=lambda code: errors.labels(code=code).inc())
    app.include_router(
        authorization_router(database, issuer, route_table.get, internal_secret, decisions, clock)
    )
    app.include_router(
        intranet_app_router(
            RouteAdministration(database, clock), BearerAuthenticator(database, clock), route_table.status
        )
    )
    app.include_router(operation_router(database, registry))
    documents = ServiceDocuments.over_http(
        {"mdm": settings.mdm_url, "ca": settings.ca_url}
        | ({"portal": settings.portal_url} if settings.portal_url else {}),
        app.openapi,
        verify=ssl.create_default_context(cafile=internal_verify)
        if isinstance(internal_verify, str)
        else True,
    )
    app.include_router(contract_router(Contracts(documents, version=__version__)))

    @app.get(
        "/.well-known/jwks.json",
        tags=["identity"],
        responses={
            200: {"description": "a JSON Web Key Set (RFC 7517)", "content": {"application/json": {}}}
        },
    )
    def jwks() -> JSONResponse:
        """The keys that verify identity assertions (RFC 7517)."""
        return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    app.state.controller = controller
    app.state.nginx = nginx
    app.state.access = access
    app.state.summariser = summariser
    app.state.keys = keys
    return app


async def _first_sync(controller: DataPlaneController, *, attempts: int) -> None:
    """Start the data plane, waiting for the CA's first CRL if the CA is still starting.

    Gives up (and the process exits, to be restarted) after ``attempts`` seconds: without a CRL
    nginx must not serve devices at all."""
    for attempt in range(1, attempts + 1):
        try:
            await run_in_threadpool(controller.sync)
            return
        except (httpx.HTTPError, OSError) as error:
            if attempt == attempts:
                raise
            log.warning("data plane not started yet (%s); retrying", error)
            await asyncio.sleep(1)


def app_from_environment() -> FastAPI:
    settings = load_settings(GatewaySettings)
    configure_logging(settings.log_level)
    return create_app(settings)
