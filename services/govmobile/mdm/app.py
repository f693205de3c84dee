"""Wire the MDM service from its settings."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request

from govmobile import __version__
from govmobile.administration.accounts import AdminAccounts
from govmobile.administration.api.accounts import account_router
from govmobile.administration.api.audit import audit_router
from govmobile.administration.api.directory import directory_router
from govmobile.administration.audit_log import AuditLog
from govmobile.administration.directory import Directory
from govmobile.administration.sessions import Sessions
from govmobile.core.accounts import LoginPolicy
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import ConfigurationError
from govmobile.core.logins import LoginThrottle
from govmobile.core.settings import load_settings
from govmobile.mdm.api.device_protocol import checkin_route, device_protocol_router
from govmobile.mdm.api.devices import device_router
from govmobile.mdm.api.enrollment import est_router
from govmobile.mdm.api.enrollment_profile import enrollment_profile_router
from govmobile.mdm.api.enrollment_tokens import enrollment_token_router
from govmobile.mdm.api.overview import overview_router
from govmobile.mdm.jobs import Maintenance, maintenance_pass
from govmobile.mdm.lifecycle import access_lost
from govmobile.mdm.metrics import MdmMetrics
from govmobile.mdm.overview import FleetOverview
from govmobile.mdm.registrar import Registrar
from govmobile.mdm.service import Mdm
from govmobile.mdm.settings import MdmSettings
from govmobile.mdm.signer import CertificateSigner, HttpCertificateSigner
from govmobile.mdm.wakeups import WakeupHub
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
    "The MDM: the admin API for departments, people, groups, admins, enrollment tokens, devices, "
    "commands, policies and the audit log (bearer tokens), and the device protocol (EST enrollment, "
    "check-in, wake-ups; mutual TLS through the gateway). Behind the gateway's management listener, "
    "/api/openapi.json is the whole admin API and /api/device-openapi.json the device API."
)


def build_signer(settings: MdmSettings) -> HttpCertificateSigner:
    assert settings.ca_ra_secret is not None  # the settings refuse to load without it
    verify: str | bool = str(settings.tls_ca_file) if settings.tls_ca_file else True
    return HttpCertificateSigner(
        settings.ca_url,
        ra_name=settings.ca_ra_name,
        ra_secret=settings.ca_ra_secret.get_secret_value(),
        verify=verify,
    )


def create_app(
    settings: MdmSettings,
    *,
    database: Database | None = None,
    signer: CertificateSigner | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    """The MDM's FastAPI application."""
    database = database or Database(settings.database_url)
    signer = signer or build_signer(settings)
    assert settings.gateway_secret is not None
    mdm = Mdm(database, signer, clock=clock)
    registrar = Registrar(database, signer, server_url=settings.public_url, clock=clock)
    sessions = Sessions(
        database,
        login_policy=LoginPolicy(
            session_ttl=dt.timedelta(hours=settings.session_hours),
            throttle=LoginThrottle(
                window=dt.timedelta(minutes=settings.login_window_minutes),
                per_source=settings.login_max_failures_per_source,
                per_source_and_name=settings.login_max_failures,
                name_under_attack=settings.login_name_under_attack_failures,
            ),
        ),
        clock=clock,
    )
    accounts = AdminAccounts(database, clock=clock)
    # The MDM hears of people who lose access (disabled, out of a group) in the same transaction.
    directory = Directory(database, access_lost=access_lost, clock=clock)
    audit_log = AuditLog(database)
    trust = GatewayTrust(settings.gateway_secret.get_secret_value())
    hub = WakeupHub(database, poll_interval=settings.wakeup_poll_seconds)
    maintenance = Maintenance(
        database, signer, checkin_retention=dt.timedelta(days=settings.checkin_retention_days), clock=clock
    )
    metrics = MdmMetrics(database)
    metrics.long_polls.set_function(hub.waiting)
    authenticate = BearerAuthenticator(database, clock)

    def presented_certificate(request: Request) -> PresentedCertificate:
        return trust.certificate(
            request.headers.get(GATEWAY_PROOF_HEADER), request.headers.get(CLIENT_CERT_HEADER)
        )

    def client_address(request: Request) -> str:
        """The client's address: as the gateway saw it when the gateway vouches for the request
        (it overwrites X-Forwarded-For), else the peer's (anything else could be forged)."""
        if trust.vouches(request.headers.get(GATEWAY_PROOF_HEADER)):
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded
        return request.client.host if request.client else ""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = BackgroundJobs()
        jobs.every(hub.poll_interval, hub.poll_once, failure="wake-up poll failed; retrying", at_once=True)
        jobs.every(
            settings.maintenance_interval_seconds,
            lambda: maintenance_pass(maintenance),
            failure="maintenance pass failed",
        )
        try:
            yield
        finally:
            await jobs.stop()

    app = FastAPI(
        title="GovMobile MDM",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    harden(
        app,
        max_body_bytes=settings.max_body_bytes,
        on_error=metrics.count_error,
        fast_routes=[checkin_route(mdm, trust)],
        description=DESCRIPTION,
    )
    app.include_router(account_router(sessions, accounts, authenticate, client_address))
    app.include_router(directory_router(directory, authenticate))
    app.include_router(device_router(mdm, authenticate))
    app.include_router(overview_router(FleetOverview(database, clock=clock), authenticate))
    app.include_router(audit_router(audit_log, authenticate))
    app.include_router(enrollment_token_router(registrar, authenticate))
    app.include_router(est_router(registrar, presented_certificate))
    app.include_router(
        device_protocol_router(mdm, hub, presented_certificate, long_poll_seconds=settings.long_poll_seconds)
    )
    app.include_router(
        enrollment_profile_router(
            mdm, presented_certificate, portal_root=read_portal_root(settings.portal_root_file)
        )
    )
    app.include_router(operation_router(database, metrics.registry))
    app.state.mdm = mdm
    app.state.maintenance = maintenance
    return app


def read_portal_root(path: Path | None) -> bytes | None:
    """The portal's root.json to hand devices, read once at start; a file that is not one stops the start."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
        signed = json.loads(data)["signed"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"the portal's root metadata {path} cannot be read: {exc}") from exc
    if not isinstance(signed, dict) or signed.get("_type") != "root":
        raise ConfigurationError(f"{path} is not TUF root metadata (its signed part is not of type root)")
    return data


def app_from_environment() -> FastAPI:
    """Uvicorn factory: settings from the environment, read when a worker starts."""
    settings = load_settings(MdmSettings)
    configure_logging(settings.log_level)
    return create_app(settings)
