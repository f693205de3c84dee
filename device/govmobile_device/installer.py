"""Installing, updating and removing managed apps from the signed desired state (issue 12, part 5).

At every check-in and wake-up (``converge``):

1. refresh the portal's TUF metadata (rollback and freeze refused), fetch the device's desired
   state (304 when unchanged) and accept it only through ``DesiredStateVerifier``;
2. ``uninstall`` apps are removed; ``required`` apps, and ``available`` ones the person asked for,
   are installed or updated when their next attempt is due; an installed managed app that no
   assignment gives the device any more is removed when its assignment said so; conflicts are
   left as they are;
3. a failed install is tried again with exponential backoff and jitter (``InstallBackoff``),
   at most ``max_attempts`` times; after that only an admin's retry (a new ``retry`` value in the
   document, acted on once) or a new version starts again;
4. the report (state, version, attempts, last error per app) goes to the portal when it changed.

Installing stands in for the tablet's package manager: the verified package file is kept in the
state directory, an update must be signed by the installed version's signer (as Android
requires), and the app's data space is opened through ``DataSpaces`` (the sandbox's seam). Nothing
is written to the records before the step it records has happened, and the records are saved
after every app, so a crash loses at most the step in progress.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from govmobile_device.apps import CatalogueEntry
from govmobile_device.desired_state import DesiredApp, DesiredState, DesiredStateVerifier
from govmobile_device.errors import AgentError, NotAvailable, TrustFailure, UsageError
from govmobile_device.installed_apps import (
    AppRecords,
    AppRecordStore,
    CatalogueApp,
    InstalledApp,
    InstallProgress,
)
from govmobile_device.portal import PortalClient, PortalConnection, PortalRefused, receive_anchor
from govmobile_device.state import DeviceIdentity

Clock = Callable[[], dt.datetime]
T = TypeVar("T")


class DataSpaces(Protocol):
    """Each managed app's encrypted data space (the sandbox's side of the seam, docs/portal.md)."""

    #: False when this agent cannot give apps data spaces of their own.
    provisioned: bool

    def open_space(self, package: str) -> None:
        """Create the app's data space and its key, at install."""

    def remove_space(self, package: str) -> None:
        """Destroy the app's data space and its key, at removal."""

    def apply_protection(self, entries: Iterable[Mapping[str, Any]]) -> object:
        """Give each app that has a space the protection policy of its entry (``package``,
        ``protection``) in the last verified desired-state document."""


class NoDataSpaces:
    """No sandbox in this agent: apps install, but get no data space of their own (``status`` says so)."""

    provisioned = False

    def open_space(self, package: str) -> None:
        return None

    def remove_space(self, package: str) -> None:
        return None

    def apply_protection(self, entries: Iterable[Mapping[str, Any]]) -> object:
        return None


@dataclass(frozen=True)
class InstallBackoff:
    """When a failed install is tried again: doubling from ``base`` to ``cap``, half of it random."""

    base: float = 30.0
    cap: float = 3600.0
    max_attempts: int = 8

    def delay(self, attempts: int, rng: random.Random) -> dt.timedelta:
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return dt.timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


class AppInstaller:
    """The agent's ``AppPortal`` backed by the real portal."""

    def __init__(
        self,
        records: AppRecordStore,
        portal_home: Path,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        backoff: InstallBackoff | None = None,
        spaces: DataSpaces | None = None,
        connect: Callable[[DeviceIdentity], PortalConnection] = PortalConnection,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.records = records
        self.home = portal_home
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.backoff = backoff or InstallBackoff()
        self.spaces: DataSpaces = spaces or NoDataSpaces()
        self._connect = connect
        self.log = log or (lambda text: None)

    # -- AppPortal -----------------------------------------------------------------------------

    async def catalogue(self, identity: DeviceIdentity) -> list[CatalogueEntry]:
        await asyncio.to_thread(self._session, identity, self._fetch_only, True)
        return self.entries()

    async def install(self, identity: DeviceIdentity, package: str) -> int:
        return await asyncio.to_thread(
            self._session, identity, lambda c, r: self._install_now(c, r, package), True
        )

    async def update(self, identity: DeviceIdentity, package: str | None = None) -> list[str]:
        return await asyncio.to_thread(
            self._session, identity, lambda c, r: self._update_now(c, r, package), True
        )

    async def remove(self, identity: DeviceIdentity, package: str, *, ordered: bool = False) -> bool:
        records = self.records.load()
        if package not in records.installed:
            records.requested = [p for p in records.requested if p != package]
            records.progress.pop(package, None)
            self.records.save(records)
            return False
        wanted = _catalogue_app(records, package)
        if not ordered and wanted is not None and wanted.intent == "required":
            raise UsageError(
                f"{package} is required by your department and would be installed again; ask your administrator"
            )
        self._remove(records, package)
        records.requested = [p for p in records.requested if p != package]
        self.records.save(records)
        # Best effort: the next check-in reports it when the portal cannot be reached now.
        try:
            await asyncio.to_thread(self._session, identity, lambda c, r: None, True)
        except AgentError as error:
            self.log(f"the removal of {package} will be reported later ({error.message})")
        return True

    async def converge(self, identity: DeviceIdentity, *, fresh: bool = False) -> None:
        await asyncio.to_thread(self._session, identity, self._converge, fresh)

    def installed_packages(self) -> list[str]:
        return sorted(self.records.load().installed)

    def inventory(self) -> list[dict[str, object]]:
        return self.records.load().inventory()

    def forget(self, package: str) -> None:
        records = self.records.load()
        if package in records.installed:
            self._remove(records, package)
            self.records.save(records)

    # -- for status and the command line --------------------------------------------------------

    def entries(self) -> list[CatalogueEntry]:
        records = self.records.load()
        entries = []
        for app in records.catalogue:
            if app.is_web:
                entries.append(_web_entry(app))
                continue
            installed = records.installed.get(app.package)
            progress = records.progress.get(app.package)
            entries.append(
                CatalogueEntry(
                    package=app.package,
                    intent=app.intent,
                    version_code=app.version_code,
                    version_name=app.version_name,
                    installed_version=installed.version_code if installed else None,
                    status=_status(app, installed, progress, app.package in records.requested),
                    attempts=progress.attempts if progress else 0,
                    last_error=progress.last_error if progress else None,
                )
            )
        return entries

    # -- one session with the portal -------------------------------------------------------------

    def _session(
        self, identity: DeviceIdentity, work: Callable[[PortalClient, AppRecords], T], fresh: bool = False
    ) -> T:
        """One connection: the desired state, ``work``, the protection policy and the report.

        ``fresh`` for what a person or an admin's command asked just now: the portal itself answers,
        so a change made the moment before is seen. The periodic convergence accepts the gateway's
        held answer, which trails a change by about a second (the next check-in takes it)."""
        connection = self._connect(identity)
        try:
            anchor = receive_anchor(connection, self.home, self.clock())
            client = PortalClient(connection, self.home, anchor)
            records = self.records.load()
            try:
                self._accept_desired_state(client, records, identity.device_id, fresh)
                result = work(client, records)
                # After the installs, so that a space opened just now gets its policy too.
                self.spaces.apply_protection(
                    [{"package": app.package, "protection": app.protection} for app in records.catalogue]
                )
            finally:
                self._report(client, records, identity.device_id)
                self.records.save(records)
            return result
        finally:
            connection.close()

    def _fetch_only(self, client: PortalClient, records: AppRecords) -> None:
        return None

    def _accept_desired_state(
        self, client: PortalClient, records: AppRecords, device_id: str, fresh: bool
    ) -> None:
        """Refresh TUF and take a newer desired state if there is one; refusals are kept for ``apps``."""
        if records.device_id != device_id:
            records.device_id, records.last_sequence, records.retries_seen = device_id, 0, {}
        try:
            client.refresh()
            data = client.desired_state(device_id, records.last_sequence, fresh=fresh)
            if data is not None:
                verifier = DesiredStateVerifier(client.desired_state_key(), device_id)
                state = verifier.verify(data, last_sequence=records.last_sequence, now=self.clock())
                _take(records, state)
        except TrustFailure as refused:
            # Rollback, freeze, a tampered or replayed document: nothing from this session is used.
            records.last_refusal = refused.message
            raise
        records.last_refusal = None

    def _converge(self, client: PortalClient, records: AppRecords) -> None:
        now = self.clock()
        if records.catalogue_expires is not None and now >= records.catalogue_expires:
            self.log("the desired state has expired and no newer one could be had; nothing is installed")
            return
        wanted = {app.package: app for app in records.catalogue}
        for app in records.catalogue:
            if app.is_web:
                continue  # opened through the gateway when the person chooses: nothing to install
            if app.intent == "uninstall":
                if app.package in records.installed:
                    self._remove(records, app.package)
                    self.records.save(records)
                records.progress.pop(app.package, None)
                continue
            self._honour_retry(records, app)
            if not self._wanted(records, app):
                continue
            installed = records.installed.get(app.package)
            if (
                installed is not None
                and app.version_code is not None
                and installed.version_code >= app.version_code
            ):
                records.progress.pop(app.package, None)
                continue
            progress = records.progress.get(app.package)
            if progress is not None and progress.version_code != app.version_code:
                progress = None  # a new version starts a new series of attempts
                records.progress.pop(app.package, None)
            if progress is not None and (
                progress.gave_up or (progress.next_attempt_at is not None and now < progress.next_attempt_at)
            ):
                continue
            self._attempt(client, records, app)
            self.records.save(records)
        for package in list(records.installed):
            unassigned = package not in wanted and package not in records.conflicts
            if unassigned and records.installed[package].remove_when_unassigned:
                self._remove(records, package)
                self.records.save(records)
        for package in list(records.progress):
            if package not in wanted:
                records.progress.pop(package)

    def _install_now(self, client: PortalClient, records: AppRecords, package: str) -> int:
        app = _catalogue_app(records, package)
        if app is None or app.intent == "uninstall":
            raise NotAvailable(f"{package} is not offered to this device by the app portal")
        if app.is_web:
            raise UsageError(
                f"{package} is a web app: there is nothing to install; open it with `govmobile-device open {app.url}`"
            )
        if app.intent == "available" and package not in records.requested:
            records.requested.append(package)
        installed = records.installed.get(package)
        if (
            installed is not None
            and app.version_code is not None
            and installed.version_code >= app.version_code
        ):
            return installed.version_code
        records.progress.pop(package, None)  # asked for now: a new series of attempts
        return self._attempt(client, records, app, raise_on_failure=True)

    def _update_now(self, client: PortalClient, records: AppRecords, package: str | None) -> list[str]:
        changed = []
        for name in sorted(records.installed) if package is None else [package]:
            app = _catalogue_app(records, name)
            installed = records.installed.get(name)
            if installed is None:
                raise UsageError(f"{name} is not installed; use `apps install {name}`")
            if app is None or app.intent == "uninstall" or app.version_code is None:
                continue
            if installed.version_code < app.version_code:
                records.progress.pop(name, None)
                self._attempt(client, records, app, raise_on_failure=package is not None)
                if records.installed[name].version_code == app.version_code:
                    changed.append(name)
        return changed

    # -- the steps -------------------------------------------------------------------------------

    def _wanted(self, records: AppRecords, app: CatalogueApp) -> bool:
        return app.intent == "required" or (app.intent == "available" and app.package in records.requested)

    def _honour_retry(self, records: AppRecords, app: CatalogueApp) -> None:
        """An admin's retry request not acted on yet: one new series of attempts, now."""
        if app.retry <= records.retries_seen.get(app.package, 0):
            return
        records.retries_seen[app.package] = app.retry
        progress = records.progress.get(app.package)
        if progress is not None:
            progress.gave_up = False
            progress.attempts = 0
            progress.next_attempt_at = None
        self.log(f"the administrator asked to retry installing {app.package}")

    def _attempt(
        self, client: PortalClient, records: AppRecords, app: CatalogueApp, *, raise_on_failure: bool = False
    ) -> int:
        progress = records.progress.get(app.package) or InstallProgress(
            package=app.package, version_code=app.version_code
        )
        records.progress[app.package] = progress
        try:
            self._install(client, records, app)
        except AgentError as error:
            now = self.clock()
            progress.attempts += 1
            progress.last_error = error.message[:1000]
            if progress.attempts >= self.backoff.max_attempts:
                progress.gave_up = True
                progress.next_attempt_at = None
                self.log(
                    f"installing {app.package} failed {progress.attempts} times; giving up: {error.message}"
                )
            else:
                progress.next_attempt_at = now + self.backoff.delay(progress.attempts, self.rng)
                self.log(
                    f"installing {app.package} failed (attempt {progress.attempts}): {error.message}; next try "
                    f"after {progress.next_attempt_at:%H:%M:%S} UTC"
                )
            if raise_on_failure:
                raise
            return records.installed[app.package].version_code if app.package in records.installed else 0
        records.progress.pop(app.package, None)
        return records.installed[app.package].version_code

    def _install(self, client: PortalClient, records: AppRecords, app: CatalogueApp) -> None:
        path, info = client.package(_desired(app))
        signers = info.unrecognized_fields.get("custom", {}).get("signers") or []
        if not isinstance(signers, list) or not signers or not all(isinstance(s, str) for s in signers):
            raise PortalRefused(
                f"the signed repository names no signer for {app.package}; it was not installed",
                code="no_signer",
            )
        signer = sorted(s.lower() for s in signers)[0]
        installed = records.installed.get(app.package)
        if installed is not None and installed.signer_sha256 != signer:
            raise PortalRefused(
                f"the update of {app.package} is signed by another key than the installed version; it was not "
                "installed (Android refuses such updates too)",
                code="signer_changed",
            )
        version_code = int(
            info.unrecognized_fields.get("custom", {}).get("version_code") or app.version_code or 0
        )
        self.records.keep_package(app.package, path)
        if installed is None:
            self.spaces.open_space(app.package)
        records.installed[app.package] = InstalledApp(
            package=app.package,
            version_code=version_code,
            version_name=app.version_name,
            signer_sha256=signer,
            sha256=info.hashes["sha256"],
            installed_at=self.clock(),
            remove_when_unassigned=app.remove_when_unassigned,
        )
        records.removed = [p for p in records.removed if p != app.package]
        self.log(f"installed {app.package} version {version_code}")

    def _remove(self, records: AppRecords, package: str) -> None:
        self.spaces.remove_space(package)
        self.records.drop_package(package)
        records.installed.pop(package, None)
        records.progress.pop(package, None)
        if package not in records.removed:
            records.removed.append(package)
        self.log(f"removed {package}")

    def _report(self, client: PortalClient, records: AppRecords, device_id: str) -> None:
        reports = records.reports()
        if reports == records.reported:
            return
        try:
            client.report(device_id, [r.model_dump() for r in reports])
        except AgentError as error:
            self.log(f"the install report will be sent later ({error.message})")
            return
        records.reported = reports
        records.removed = []


def _take(records: AppRecords, state: DesiredState) -> None:
    """Keep an accepted document: its sequence (never lower again) and its apps."""
    records.last_sequence = state.sequence
    records.catalogue_expires = state.expires
    records.conflicts = list(state.conflicts)
    records.catalogue = [
        CatalogueApp(
            package=a.package,
            intent=a.intent,
            track=a.track,
            version_code=a.version_code,
            version_name=a.version_name,
            target=a.target,
            sha256=a.sha256,
            config=a.config,
            protection=a.protection,
            remove_when_unassigned=a.remove_when_unassigned,
            retry=a.retry,
            url=a.url,
        )
        for a in state.apps
    ]
    # Records of apps the document no longer names are dropped by the next converge.


def _desired(app: CatalogueApp) -> DesiredApp:
    return DesiredApp(
        package=app.package,
        intent=app.intent,
        track=app.track,
        version_code=app.version_code,
        version_name=app.version_name,
        target=app.target,
        sha256=app.sha256,
        config=app.config,
        protection=app.protection,
        remove_when_unassigned=app.remove_when_unassigned,
        retry=app.retry,
    )


def _web_entry(app: CatalogueApp) -> CatalogueEntry:
    """A web app as ``apps`` lists it: where it opens; its gateway route decides, when it is opened,
    whether this device may."""
    status = "to remove" if app.intent == "uninstall" else "opens in the browser"
    return CatalogueEntry(
        package=app.package,
        intent=app.intent,
        version_code=app.version_code,
        version_name=app.version_name,
        installed_version=None,
        status=status,
        kind="web",
        url=app.url,
    )


def _catalogue_app(records: AppRecords, package: str) -> CatalogueApp | None:
    return next((a for a in records.catalogue if a.package == package), None)


def _status(
    app: CatalogueApp, installed: InstalledApp | None, progress: InstallProgress | None, requested: bool
) -> str:
    if app.intent == "uninstall":
        return "to remove" if installed else "not installed"
    if progress is not None and progress.gave_up:
        return "failed"
    if progress is not None and progress.last_error is not None:
        return "retrying"
    if installed is not None:
        if app.version_code is not None and installed.version_code < app.version_code:
            return "update available"
        return "installed"
    if app.intent == "available" and not requested:
        return "available"
    return "pending"
