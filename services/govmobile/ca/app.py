"""Wire the CA service from its settings."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from govmobile import __version__
from govmobile.ca.api.certificates import certificate_router
from govmobile.ca.api.publication import publication_router
from govmobile.ca.api.registration import registration_router
from govmobile.ca.authority import Authority, AuthorityPolicy
from govmobile.ca.csr import KeyPolicy
from govmobile.ca.hierarchy import CaLayout, load_issuer
from govmobile.ca.metrics import CaMetrics
from govmobile.ca.ocsp import OcspResponder
from govmobile.ca.profiles import ProfileName, default_profiles
from govmobile.ca.registration import RegistrationAuthorities
from govmobile.ca.settings import AuthoritySettings, CAServiceSettings
from govmobile.ca.store import SqlCertificateStore
from govmobile.core.database import Database, utcnow
from govmobile.core.settings import load_settings
from govmobile.web.app import configure_logging, harden
from govmobile.web.auth import BearerAuthenticator
from govmobile.web.background import BackgroundJobs
from govmobile.web.operations import operation_router

log = logging.getLogger("govmobile.ca")


def build_authority(
    settings: AuthoritySettings, database: Database, clock: Callable[[], dt.datetime] = utcnow
) -> Authority:
    """The authority with its issuer loaded from the CA directory."""
    passphrase = settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None
    issuer = load_issuer(CaLayout(settings.ca_dir), passphrase=passphrase)
    days = dt.timedelta(days=1)
    profiles = default_profiles(
        {
            ProfileName.DEVICE: settings.device_validity_days * days,
            ProfileName.SERVICE: settings.service_validity_days * days,
            ProfileName.ADMIN: settings.admin_validity_days * days,
            ProfileName.CODESIGN: settings.codesign_validity_days * days,
        }
    )
    base = settings.public_base_url.rstrip("/") if settings.public_base_url else None
    policy = AuthorityPolicy(
        organisation=settings.organisation,
        renewal_grace=settings.renewal_grace_days * days,
        crl_lifetime=dt.timedelta(hours=settings.crl_lifetime_hours),
        crl_refresh_margin=dt.timedelta(hours=settings.crl_refresh_margin_hours),
        crl_url=f"{base}/pki/crl" if base else None,
        ocsp_url=f"{base}/ocsp" if base else None,
        key_policy=KeyPolicy(
            approved_curves=frozenset(settings.approved_curves), min_rsa_bits=settings.min_rsa_bits
        ),
    )
    return Authority(issuer, SqlCertificateStore(database), profiles, policy, clock)


def create_app(
    settings: CAServiceSettings,
    *,
    database: Database | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    """The CA's FastAPI application."""
    database = database or Database(settings.database_url)
    authority = build_authority(settings, database, clock)
    registration_authorities = RegistrationAuthorities(
        {name: secret.get_secret_value() for name, secret in settings.ra_secrets.items()},
        settings.ra_profiles,
    )
    metrics = CaMetrics(database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(authority.refresh_crl_if_due)
        jobs = BackgroundJobs()
        # Regenerates before nextUpdate, and after a revocation whose CRL was lost to a crash.
        jobs.every(
            settings.crl_check_interval_seconds,
            lambda: run_in_threadpool(authority.refresh_crl_if_due),
            failure="could not refresh the CRL; will retry",
            logger=log,
        )
        try:
            yield
        finally:
            await jobs.stop()

    app = FastAPI(
        title="GovMobile certificate authority",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    harden(app, max_body_bytes=settings.max_body_bytes, on_error=metrics.count_error)
    app.include_router(registration_router(authority, registration_authorities))
    app.include_router(certificate_router(authority, BearerAuthenticator(database, clock)))
    app.include_router(publication_router(authority, OcspResponder(authority.issuer, authority.store.get)))
    app.include_router(operation_router(database, metrics.registry))
    return app


def app_from_environment() -> FastAPI:
    """Uvicorn factory: settings from the environment, read when a worker starts."""
    settings = load_settings(CAServiceSettings)
    configure_logging(settings.log_level)
    return create_app(settings)
