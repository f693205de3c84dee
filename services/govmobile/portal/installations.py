"""What devices report of their managed apps, and the admin's request to retry a failed install.

A device reports, per app, where it stands (installed, failed, removed, pending), the version it
has, how many attempts it made and its last error. The report is the calling device's own: its
identity is the certificate the gateway vouched for, and a report naming another device is
refused. Only apps of the device's department (or the platform's) can be reported, so a device
cannot fill the admin's view with names of its own invention; an error text is cut to
``MAX_ERROR_CHARS``, so a device cannot fill the database either.

A retry is an admin's change (audited, tenant-checked). It raises the app's retry generation,
which the device's desired-state document carries (``desired_state.AppState.retry``). The device
retries once for each generation it has not acted on yet, so neither a replayed document (the
sequence check refuses it anyway) nor a repeated report can make it reinstall in a loop; and a new
retry is accepted only once the device has reported the install failed again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, func, or_, select

from govmobile.administration.changes import AuditedChanges
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from govmobile.core.tenancy import tenant_id_of
from govmobile.portal.delivery import device_for_certificate
from govmobile.portal.models import InstallationState, PortalApp, PortalInstallation
from govmobile.portal.targeting import DeviceRecord, device_record
from govmobile.web.device_identity import PresentedCertificate

MAX_ERROR_CHARS = 1000
MAX_REPORTED_APPS = 500


@dataclass(frozen=True)
class InstallationCount:
    package: str
    state: InstallationState
    count: int


@dataclass(frozen=True)
class AppReport:
    """One app as the device reports it."""

    package: str
    state: InstallationState
    version_code: int | None
    attempts: int
    last_error: str | None


class Installations:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock
        self.changes = AuditedChanges(database, clock)

    def report(
        self, presented: PresentedCertificate, device_id: str | None, reports: Sequence[AppReport]
    ) -> tuple[str, list[PortalInstallation]]:
        """Record the calling device's report on its apps (its own only): its id and what is stored."""
        now = self.clock()
        if len(reports) > MAX_REPORTED_APPS:
            raise InvalidInput(f"a report names at most {MAX_REPORTED_APPS} apps", code="too_many_apps")
        packages = [r.package for r in reports]
        if len(set(packages)) != len(packages):
            raise InvalidInput("each app may appear once in a report", code="duplicate_package")
        with self.database.transaction() as session:
            device = device_for_certificate(session, presented, now)
            if device_id is not None and device_id != device.id:
                raise PermissionDenied(
                    "a device may report only its own apps", code="certificate_of_another_device"
                )
            unknown = sorted(set(packages) - _known_packages(session, device, packages))
            if unknown:
                shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
                raise InvalidInput(
                    f"not an app of this device's catalogue: {shown}; nothing of the report was recorded",
                    code="unknown_package",
                )
            stored = []
            for report in reports:
                row = session.get(PortalInstallation, (device.id, report.package)) or PortalInstallation(
                    device_id=device.id,
                    package=report.package,
                    tenant_id=device.tenant_id,
                    state=report.state,
                )
                row.state = report.state
                row.version_code = report.version_code
                row.attempts = report.attempts
                row.last_error = bounded(report.last_error)
                row.reported_at = now
                session.add(row)
                stored.append(row)
            session.flush()
            return device.id, stored

    def request_retry(self, principal: Principal, device_id: str, package: str) -> PortalInstallation:
        """Ask the device to retry a failed install at its next check-in (once per request)."""
        with self.changes.by(principal) as change:
            device = _visible_device(change.session, principal, device_id)
            row = change.session.get(PortalInstallation, (device.id, package))
            if row is None or row.state is not InstallationState.FAILED:
                state = "no report" if row is None else f"it is {row.state}"
                raise Conflict(
                    f"device {device_id} has no failed install of {package} to retry ({state})",
                    code="nothing_to_retry",
                )
            row.retry_generation += 1
            row.state = InstallationState.PENDING
            row.retry_requested_at = change.now
            row.retry_requested_by = change.actor
            change.session.add(row)
            change.session.flush()
            change.record(
                "portal.installation.retry_requested",
                f"{device.id}/{package}",
                tenant_id=device.tenant_id,
                details={"package": package, "generation": row.retry_generation},
            )
            return row

    def of_device(self, principal: Principal, device_id: str) -> list[PortalInstallation]:
        """What a device last reported of its apps, for the admin's status view."""
        with self.database.session() as session:
            device = _visible_device(session, principal, device_id)
            return list(
                session.exec(
                    select(PortalInstallation)
                    .where(PortalInstallation.device_id == device.id)
                    .order_by(col(PortalInstallation.package))
                ).all()
            )

    def counts(self, principal: Principal, tenant: str | None) -> list[InstallationCount]:
        """Installs counted per app and state, as devices last reported them (counted by the
        database), within the caller's department; naming another department is a NotFound."""
        with self.database.session() as session:
            tenant_id = tenant_id_of(session, tenant)
            if tenant_id is not None:
                principal.require_tenant(tenant_id, "tenant")
            scope = tenant_id or principal.tenant_scope()
            statement = (
                select(PortalInstallation.package, PortalInstallation.state, func.count())
                .group_by(PortalInstallation.package, PortalInstallation.state)
                .order_by(PortalInstallation.package, PortalInstallation.state)
            )
            if scope is not None:
                statement = statement.where(PortalInstallation.tenant_id == scope)
            return [
                InstallationCount(package, InstallationState(state), count)
                for package, state, count in session.exec(statement).all()
            ]


def bounded(error: str | None) -> str | None:
    """An error text as stored: at most ``MAX_ERROR_CHARS`` characters, marked when cut."""
    if error is None or len(error) <= MAX_ERROR_CHARS:
        return error
    return error[: MAX_ERROR_CHARS - 1] + "…"


def _visible_device(session: Session, principal: Principal, device_id: str) -> DeviceRecord:
    device = device_record(session, device_id)
    if device is None or not principal.can_see_tenant(device.tenant_id):
        raise NotFound(f"no device {device_id}")
    return device


def _known_packages(session: Session, device: DeviceRecord, packages: Sequence[str]) -> set[str]:
    if not packages:
        return set()
    rows = session.exec(
        select(PortalApp.package).where(
            col(PortalApp.package).in_(sorted(set(packages))),
            or_(col(PortalApp.tenant_id).is_(None), PortalApp.tenant_id == device.tenant_id),
        )
    ).all()
    return set(rows)
