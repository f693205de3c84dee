"""Wire the portal service from its settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter
from starlette.concurrency import run_in_threadpool

from govmobile import __version__
from govmobile.core.database import Database, utcnow
from govmobile.core.settings import load_settings
from govmobile.portal.api.admin import UPLOAD_PATH, portal_admin_router
from govmobile.portal.api.device import portal_device_router
from govmobile.portal.api.installations import installation_admin_router, installation_device_router
from govmobile.portal.api.protection_events import protection_event_router
from govmobile.portal.catalogue import Catalogue
from govmobile.portal.delivery import Delivery
from govmobile.portal.installations import Installations
from govmobile.portal.packages import PackageLimits
from govmobile.portal.protection_reports import ProtectionReports
from govmobile.portal.settings import PortalSettings
from govmobile.portal.signatures import Apksigner, SignatureVerifier
from govmobile.portal.targeting import Targeting
from govmobile.portal.trust import PortalKeys, RepositoryKeeper
from govmobile.portal.web_catalogue import WebCatalogue
from govmobile.web.app import configure_logging, harden
from govmobile.web.auth import BearerAuthenticator
from govmobile.web.background import BackgroundJobs
from govmobile.web.device_identity import (
    CLIENT_CERT_HEADER,
    GATEWAY_PROOF_HEADER,
    GatewayTrust,
    PresentedCertificate,
)
from govmobile.web.operations import operation_router

DESCRIPTION = (
    "The app portal: the admin API for apps, releases (upload, review, publication), department "
    "rules and assignments (bearer tokens), and the device API (each device's signed desired state, "
    "the TUF repository's metadata, and package downloads that nginx serves; mutual TLS through the "
    "gateway)."
)


def create_app(
    settings: PortalSettings,
    *,
    database: Database | None = None,
    verifier: SignatureVerifier | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    """The portal's FastAPI application."""
    database = database or Database(settings.database_url)
    assert settings.gateway_secret is not None  # the settings refuse to load without it
    keys = PortalKeys.load(settings.keys_dir)
    keeper = RepositoryKeeper(settings.repository_dir, keys, clock, root_file=settings.root_file)
    with keeper.changing():
        pass  # a repository that cannot be created or loaded stops the start, not the first upload
    catalogue = Catalogue(
        database,
        keeper,
        verifier or Apksigner(settings.apksigner),
        incoming_dir=settings.incoming_dir,
        limits=PackageLimits(max_package_bytes=settings.max_package_bytes),
        clock=clock,
    )
    targeting = Targeting(database, clock)
    delivery = Delivery(database, keeper, keys.desired_state, clock)
    installations = Installations(database, clock)
    trust = GatewayTrust(settings.gateway_secret.get_secret_value())
    authenticate = BearerAuthenticator(database, clock)
    registry = CollectorRegistry()
    refused = Counter(
        "govmobile_portal_errors", "Requests refused or failed, by code", ["code"], registry=registry
    )

    def presented_certificate(request: Request) -> PresentedCertificate:
        return trust.certificate(
            request.headers.get(GATEWAY_PROOF_HEADER), request.headers.get(CLIENT_CERT_HEADER)
        )

    async def refresh() -> None:
        await run_in_threadpool(keeper.refresh)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = BackgroundJobs()
        jobs.every(
            settings.refresh_interval_seconds,
            refresh,
            failure="re-signing the TUF metadata failed",
            at_once=True,
        )
        try:
            yield
        finally:
            await jobs.stop()

    app = FastAPI(
        title="GovMobile app portal",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    harden(
        app,
        max_body_bytes=settings.max_body_bytes,
        on_error=lambda code: refused.labels(code=code).inc(),
        description=DESCRIPTION,
        streamed_bodies={UPLOAD_PATH: settings.max_package_bytes},
    )
    app.include_router(
        portal_admin_router(catalogue, targeting, authenticate, installations, WebCatalogue(database, clock))
    )
    app.include_router(installation_admin_router(installations, authenticate))
    app.include_router(installation_device_router(installations, presented_certificate))
    app.include_router(
        portal_device_router(delivery, presented_certificate, internal_prefix=settings.internal_files_prefix)
    )
    app.include_router(
        protection_event_router(delivery, ProtectionReports(database, clock), presented_certificate)
    )
    app.include_router(operation_router(database, registry))
    app.state.keeper = keeper
    return app


def app_from_environment() -> FastAPI:
    """Uvicorn factory: settings from the environment, read when a worker starts."""
    settings = load_settings(PortalSettings)
    configure_logging(settings.log_level)
    return create_app(settings)
