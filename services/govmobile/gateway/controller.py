"""Keep the data plane in step with the database.

Every ``poll_interval`` the controller reads three fingerprints, each one indexed lookup: the
CA's CRL number, the routes, and the newest entry of the MDM's access-change feed.

- Access changes never reload nginx. A reload drops the fleet's idle keep-alive connections,
  and for a moment after it the old workers still take new connections and answer from what
  they knew. The controller writes them into nginx's shared memory instead
  (``dataplane.access_state``), which old and new workers share:
  - a new CRL: its serials join the set of certificates refused on *every request*, because a
    resumed TLS session never sees the CRL again;
  - a feed entry (a device locked, lost, wiped, retired, re-enrolled or made non-compliant; a
    person disabled or taken out of a group): the cached decisions of its certificates are
    retired, so the next request asks the control plane again.
- The CRL file nginx checks at the handshake is rewritten at once, but nginx re-reads it (a
  reload) at most once per ``crl_reload_seconds``: refusal does not wait for it.
- A route change re-renders the configuration and reloads nginx; cached decisions of every
  route are retired first.

This is how a revoked certificate or a locked device is refused within about a second. Access
being *granted* needs nothing: refusals are cached for a second only.

The fourth fingerprint is the database's desired-state generation (migration 0011), raised in
the same transaction as any change to what a device's desired-state document is resolved from.
nginx answers an unchanged desired-state fetch itself only under the generation it was last
told, so a change stops those answers within a poll. A generation that went *down* (a database
restored from a backup) could meet answers made under the same number before: every held answer
is retired then, and also before the first generation a new nginx is told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from govmobile.core.database import Database
from govmobile.gateway import readers
from govmobile.gateway.access_feed import AccessChange, AccessFeed, certificate_serials
from govmobile.gateway.dataplane.access_state import AccessStateRejected, DataPlaneAccess, revoked_serials
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
    documents: int


@dataclass
class SyncReport:
    crl_written: bool = False
    rendered: bool = False
    reloaded: bool = False
    crl_reloaded: bool = False
    refused: int = 0
    forgotten: int = 0
    decisions_retired: int = 0
    documents_generation: int | None = None
    skipped_routes: dict[str, str] = field(default_factory=dict)


class DataPlaneController:
    def __init__(
        self,
        database: Database,
        nginx: Nginx,
        layout: DataPlaneLayout,
        inputs: RenderInputs,
        access: DataPlaneAccess,
        *,
        root_crl_pem: Callable[[], bytes],
        ca_url: str,
        ca_verify: str | bool,
        on_routes: Callable[[list[Route]], None],
        on_rendered: Callable[[dict[str, str]], None] = lambda skipped: None,
        crl_reload_seconds: float = 60.0,
        feed: AccessFeed | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.nginx = nginx
        self.layout = layout
        self.inputs = inputs
        self.access = access
        self.root_crl_pem = root_crl_pem
        self.ca_url = ca_url.rstrip("/")
        self.ca_verify = ca_verify
        self.on_routes = on_routes
        self.on_rendered = on_rendered
        self.crl_reload_seconds = crl_reload_seconds
        self.feed = feed or AccessFeed()
        self.monotonic = monotonic
        #: Bumped at every configuration rendered (a route change, or nginx started).
        self.generation = 0
        self.crl_reloads = 0
        self._crl_number: int | None = None
        self._routes: str | None = None
        self._feed_top: int | None = None
        #: The CRL's serials, and what nginx (the process ``_pushed_to``) has been told of them.
        self._revoked: frozenset[str] = frozenset()
        self._pushed: frozenset[str] = frozenset()
        self._pushed_to: int | None = None
        #: Feed entries read but not yet resolved to certificates, and the certificates whose
        #: decisions must be retired; both kept until done, so that a failure loses none.
        self._changes: list[AccessChange] = []
        self._retire: set[str] = set()
        self._crl_file_loaded_at = 0.0
        self._crl_file_pending = False
        #: The desired-state generation in the database, and the one nginx was last told.
        self._documents = 0
        self._documents_pushed: int | None = None

    @property
    def documents_generation(self) -> int | None:
        """The desired-state generation nginx was last told (None: not yet, this nginx)."""
        return self._documents_pushed

    def sync(self) -> SyncReport:
        """Bring nginx up to date; safe to call as often as you like."""
        report = SyncReport()
        seen = self._fingerprints()
        if seen.crl_number != self._crl_number or not self.layout.crl.exists():
            self._take_crl(self._read_crl())
            self._crl_number = seen.crl_number
            report.crl_written = True
        if seen.routes != self._routes or self.nginx.pid is None:
            self._render(report)
            self._routes = seen.routes
        if seen.access_changes != self._feed_top or self.feed.watching:
            with self.database.engine.connect() as connection:
                self._changes += self.feed.read(connection)
                self._retire |= certificate_serials(connection, self._changes)
            self._changes = []
            self._feed_top = seen.access_changes
        self._documents = seen.documents
        try:
            self._push(report)
        finally:
            if (
                self._crl_file_pending
                and self.monotonic() - self._crl_file_loaded_at >= self.crl_reload_seconds
            ):
                self._reload_crl(report)
        return report

    def _render(self, report: SyncReport) -> None:
        with self.database.session() as session:
            routes = list_routes(session)
        self.on_routes(routes)
        if self.nginx.pid is not None:
            # The control plane decides with the new routes from now on: no decision cached under
            # the old ones may be used, by old workers or new.
            self.access.new_epoch()
        self.generation += 1
        text, skipped = render(self.inputs, self.layout, routes, generation=self.generation)
        for name, reason in skipped.items():
            log.error("route %s left out of the data plane: %s", name, reason)
        try:
            report.reloaded = self.nginx.apply(text)
        except ConfigurationRejected as rejected:
            log.error("nginx refused the rendered configuration; keeping the running one: %s", rejected)
            raise
        # Started or reloaded, nginx has read the current CRL file.
        self._crl_file_loaded_at, self._crl_file_pending = self.monotonic(), False
        report.rendered = True
        report.skipped_routes = skipped
        self.on_rendered(skipped)

    def _push(self, report: SyncReport) -> None:
        """Tell nginx what it does not know yet: all refusals after it started, else the news."""
        pid = self.nginx.pid
        if pid is None:
            return
        if pid != self._pushed_to:
            # A new nginx starts with empty shared memory (and no TLS session to resume).
            self._pushed, self._pushed_to = frozenset(), pid
            self._documents_pushed = None
        failures: list[AccessStateRejected] = []
        if self._documents != self._documents_pushed:
            try:
                if self._documents_pushed is None or self._documents < self._documents_pushed:
                    # Not told by this controller yet, or gone back: no answer held so far is used.
                    self.access.new_epoch()
                self.access.documents_generation(self._documents)
                self._documents_pushed = report.documents_generation = self._documents
            except AccessStateRejected as rejected:
                failures.append(rejected)
        if self._retire:
            # First: retiring decisions needs no room (nginx falls back to a new epoch).
            try:
                self.access.retire_decisions(sorted(self._retire))
                report.decisions_retired, self._retire = len(self._retire), set()
            except AccessStateRejected as rejected:
                failures.append(rejected)
        added, gone = self._revoked - self._pushed, self._pushed - self._revoked
        try:
            if gone:
                self.access.forget(sorted(gone))
                report.forgotten = len(gone)
            if added:
                self.access.refuse(sorted(added))
                report.refused = len(added)
            self._pushed = self._revoked
        except AccessStateRejected as rejected:
            failures.append(rejected)
            # Still refused per request by the control plane (apps) and the MDM (device API);
            # the handshake refuses it too once nginx has re-read the CRL, which it does now.
            if self._crl_file_pending:
                self._reload_crl(report)
        if failures:
            raise failures[0]

    def _reload_crl(self, report: SyncReport) -> None:
        self.nginx.reload()
        self.crl_reloads += 1
        self._crl_file_loaded_at, self._crl_file_pending = self.monotonic(), False
        report.crl_reloaded = True

    def _fingerprints(self) -> Fingerprints:
        with self.database.session() as session:
            crl_number = (
                session.execute(
                    select(readers.crl_state.c.number).where(readers.crl_state.c.id == 1)
                ).scalar()
                or 0
            )
            access_changes = session.execute(select(func.max(readers.access_changes.c.seq))).scalar() or 0
            generation = readers.desired_state_generation.c
            documents = session.execute(select(generation.value).where(generation.id == 1)).scalar() or 0
            return Fingerprints(
                int(crl_number), routes_fingerprint(session), int(access_changes), int(documents)
            )

    def _read_crl(self) -> bytes:
        with self.database.session() as session:
            der = session.execute(select(readers.crl_state.c.der).where(readers.crl_state.c.id == 1)).scalar()
        if not der:
            # The CA publishes its first CRL when asked for it.
            response = httpx.get(f"{self.ca_url}/pki/crl", verify=self.ca_verify, timeout=10)
            response.raise_for_status()
            der = response.content
        return bytes(der)

    def _take_crl(self, der: bytes) -> None:
        """Refuse what the CRL lists on every request, and give nginx's handshake the new file."""
        self._revoked = revoked_serials(der)
        issuing_crl = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
        # nginx checks a CRL for every level of the chain, so the root's CRL goes in too.
        tmp = self.layout.crl.with_suffix(".new")
        tmp.write_bytes(issuing_crl + self.root_crl_pem())
        tmp.replace(self.layout.crl)
        self._crl_file_pending = True
