"""Keep the data plane in step with the database.

Every ``poll_interval`` the controller reads three fingerprints, each one indexed lookup: the
CA's CRL number, the routes, and the newest entry of the MDM's access-change feed (a device
locked, lost, wiped, retired, re-enrolled or made non-compliant; a person disabled or taken out
of a group). A new CRL is written for nginx; a route change re-renders the configuration; any of
the three bumps the *generation* in the decision cache key and reloads nginx, so cached
decisions are forgotten at once instead of after their TTL. This is how a revoked certificate
or a locked device is refused within about a second, not five. Enrollments, check-ins and
access being *granted* need no reload: the cache's TTL takes care of those.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from govmobile.core.database import Database
from govmobile.gateway import readers
from govmobile.gateway.dataplane.nginx import ConfigurationRejected, Nginx
from govmobile.gateway.dataplane.render import DataPlaneLayout, RenderInputs, render
from govmobile.gateway.models import Route
from govmobile.gateway.routes import list_routes, routes_fingerprint

log = logging.getLogger("govmobile.gateway.controller")


@dataclass(frozen=True)
class Fingerprints:
    crl_number: int
    routes: str
    access_changes: int


@dataclass
class SyncReport:
    crl_written: bool = False
    rendered: bool = False
    reloaded: bool = False
    skipped_routes: dict[str, str] = field(default_factory=dict)


class DataPlaneController:
    def __init__(
        self,
        database: Database,
        nginx: Nginx,
        layout: DataPlaneLayout,
        inputs: RenderInputs,
        *,
        root_crl_pem: Callable[[], bytes],
        ca_url: str,
        ca_verify: str | bool,
        on_routes: Callable[[list[Route]], None],
        on_rendered: Callable[[dict[str, str]], None] = lambda skipped: None,
    ) -> None:
        self.database = database
        self.nginx = nginx
        self.layout = layout
        self.inputs = inputs
        self.root_crl_pem = root_crl_pem
        self.ca_url = ca_url.rstrip("/")
        self.ca_verify = ca_verify
        self.on_routes = on_routes
        self.on_rendered = on_rendered
        self.generation = 0
        self._seen: Fingerprints | None = None
        self.last_change: dt.datetime | None = None

    def sync(self) -> SyncReport:
        """Bring nginx up to date; safe to call as often as you like."""
        report = SyncReport()
        seen = self._fingerprints()
        if seen == self._seen and self.nginx.pid is not None:
            return report
        previous, self._seen = self._seen, seen
        if previous is None or seen.crl_number != previous.crl_number or not self.layout.crl.exists():
            self._write_crl()
            report.crl_written = True
        with self.database.session() as session:
            routes = list_routes(session)
        self.on_routes(routes)
        self.generation += 1
        text, skipped = render(self.inputs, self.layout, routes, generation=self.generation)
        for name, reason in skipped.items():
            log.error("route %s left out of the data plane: %s", name, reason)
        try:
            report.reloaded = self.nginx.apply(text)
        except ConfigurationRejected as rejected:
            self._seen = previous  # try again at the next poll
            log.error("nginx refused the rendered configuration; keeping the running one: %s", rejected)
            raise
        report.rendered = True
        report.skipped_routes = skipped
        self.on_rendered(skipped)
        return report

    def _fingerprints(self) -> Fingerprints:
        with self.database.session() as session:
            crl_number = (
                session.execute(
                    select(readers.crl_state.c.number).where(readers.crl_state.c.id == 1)
                ).scalar()
                or 0
            )
            access_changes = session.execute(select(func.max(readers.access_changes.c.seq))).scalar() or 0
            return Fingerprints(int(crl_number), routes_fingerprint(session), int(access_changes))

    def _write_crl(self) -> None:
        with self.database.session() as session:
            der = session.execute(select(readers.crl_state.c.der).where(readers.crl_state.c.id == 1)).scalar()
        if not der:
            # The CA publishes its first CRL when asked for it.
            response = httpx.get(f"{self.ca_url}/pki/crl", verify=self.ca_verify, timeout=10)
            response.raise_for_status()
            der = response.content
        issuing_crl = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
        # nginx checks a CRL for every level of the chain, so the root's CRL goes in too.
        tmp = self.layout.crl.with_suffix(".new")
        tmp.write_bytes(issuing_crl + self.root_crl_pem())
        tmp.replace(self.layout.crl)
