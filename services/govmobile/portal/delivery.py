"""The device's side of the portal: its own desired state, the TUF metadata, and its packages.

Every request is from a device the gateway vouched for (``web.device_identity``); the certificate
must be bound to an enrolled device in the MDM's table and still usable in the CA's
(``core.certificate_status``), as the MDM checks it. A device gets only its own desired-state
document, and may download only the packages that document offers it; the download itself is
served by nginx (the answer here is an internal redirect), so packages never pass through Python.

The document's sequence grows whenever what the device should do changes, and also when the last
document is past half its lifetime, so that a device that polls never holds an expired one and
never receives the same sequence twice with different contents.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from securesystemslib.signer import Signer
from sqlalchemy import or_
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from govmobile.core.certificate_status import certificates, refuse_unusable
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import NotFound, PermissionDenied, Unauthenticated
from govmobile.portal.assignments import Intent
from govmobile.portal.desired_state import LIFETIME, build_desired_state, sign_desired_state
from govmobile.portal.models import (
    DesiredStateGeneration,
    PortalDeviceState,
    PortalInstallation,
    PortalRelease,
)
from govmobile.portal.readers import ENDED_STATES, devices
from govmobile.portal.releases import ReleaseState, Track
from govmobile.portal.targeting import DeviceRecord, resolve_device
from govmobile.portal.trust import RepositoryKeeper
from govmobile.web.device_identity import PresentedCertificate

#: A release's file in the repository: ``apps/<package>/<sha256>.<version code>.apk``.
_PACKAGE_FILE = re.compile(r"^apps/([A-Za-z0-9_.]{1,255})/([0-9a-f]{64})\.([0-9]{1,19})\.apk$")
#: Any other target (the desired-state key): hash-prefixed names of safe characters, no "..".
_OTHER_FILE = re.compile(r"^(?!apps/)[a-z0-9-]{1,32}/[0-9a-f]{64}\.[A-Za-z0-9_-]{1,64}\.json$")


#: Taken off the time the gateway may answer for a document: the gateway's clock may run a little
#: ahead of the portal's, and nginx reads its clock once per event-loop turn.
CLOCK_MARGIN = dt.timedelta(seconds=2)


@dataclass(frozen=True)
class Document:
    data: bytes
    sequence: int
    issued_at: dt.datetime
    #: The desired-state generation read before anything the document was resolved from.
    generation: int = 0
    #: How long the gateway may answer this document's unchanged fetches itself: until the portal
    #: would sign a new one (past half its lifetime) or the certificate expires, whichever is first.
    fresh_for: dt.timedelta = dt.timedelta(0)

    @property
    def etag(self) -> str:
        return f'"{self.sequence}"'


class Delivery:
    def __init__(
        self,
        database: Database,
        keeper: RepositoryKeeper,
        signer: Signer,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.keeper = keeper
        self.signer = signer
        self.clock = clock

    def device_of(self, presented: PresentedCertificate) -> DeviceRecord:
        with self.database.session() as session:
            return device_for_certificate(session, presented, self.clock())

    def desired_state(self, presented: PresentedCertificate, device_id: str) -> Document:
        """The calling device's signed desired-state document (for this device only)."""
        now = self.clock()
        # Most fetches find nothing changed: answered from a read, without taking the write lock.
        with self.database.session() as session:
            generation = desired_state_generation(session)
            device, not_after = self._caller(session, presented, device_id, now)
            unchanged = self._unchanged(session, device, now)
            if unchanged is not None:
                return self._tagged(unchanged, generation, not_after, now)
        for attempt in range(2):
            try:
                with self.database.transaction() as session:
                    generation = desired_state_generation(session)
                    device, not_after = self._caller(session, presented, device_id, now)
                    document = self._unchanged(session, device, now) or self._issue(session, device, now)
                    return self._tagged(document, generation, not_after, now)
            except IntegrityError:
                # Two first fetches of one device at once: the other inserted its row; read it now.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _caller(
        session: Session, presented: PresentedCertificate, device_id: str, now: dt.datetime
    ) -> tuple[DeviceRecord, dt.datetime | None]:
        device, not_after = _certified_device(session, presented, now)
        if device.id != device_id:
            raise PermissionDenied(
                "a device may read only its own desired state", code="certificate_of_another_device"
            )
        return device, not_after

    @staticmethod
    def _tagged(
        document: Document, generation: int, not_after: dt.datetime | None, now: dt.datetime
    ) -> Document:
        """The document with what the gateway needs to answer its unchanged fetches (see ``Document``)."""
        until = refresh_due(document.issued_at)
        if not_after is not None:
            until = min(until, not_after)
        fresh_for = max(until - now - CLOCK_MARGIN, dt.timedelta(0))
        return replace(document, generation=generation, fresh_for=fresh_for)

    @staticmethod
    def _unchanged(session: Session, device: DeviceRecord, now: dt.datetime) -> Document | None:
        """The stored document, if what the device should do is unchanged and it is not half-expired."""
        stored = session.get(PortalDeviceState, device.id)
        if stored is None or now >= refresh_due(stored.issued_at):
            return None
        apps = resolve_device(session, device)
        state = build_desired_state(
            device.id,
            apps.resolution,
            apps.live,
            sequence=stored.sequence,
            now=now,
            retries=retry_generations(session, device.id),
        )
        if state.content_digest() != stored.digest:
            return None
        return Document(stored.document, stored.sequence, stored.issued_at)

    def _issue(self, session: Session, device: DeviceRecord, now: dt.datetime) -> Document:
        """A new document with the next sequence, stored and signed."""
        apps = resolve_device(session, device)
        stored = session.get(PortalDeviceState, device.id)
        sequence = 1 if stored is None else stored.sequence + 1
        state = build_desired_state(
            device.id,
            apps.resolution,
            apps.live,
            sequence=sequence,
            now=now,
            retries=retry_generations(session, device.id),
        )
        digest = state.content_digest()
        data = sign_desired_state(state, self.signer)
        if stored is None:
            stored = PortalDeviceState(
                device_id=device.id,
                sequence=sequence,
                digest=digest,
                issued_at=state.issued,
                expires_at=state.expires,
                document=data,
            )
        else:
            stored.sequence, stored.digest, stored.document = sequence, digest, data
            stored.issued_at, stored.expires_at = state.issued, state.expires
        session.add(stored)
        session.flush()
        return Document(data, sequence, state.issued)

    def download(self, presented: PresentedCertificate, target: str) -> str:
        """The repository path of a file the calling device may download (nginx serves it)."""
        now = self.clock()
        other = _OTHER_FILE.fullmatch(target)
        package_file = _PACKAGE_FILE.fullmatch(target)
        with self.database.session() as session:
            device = device_for_certificate(session, presented, now)
            if other is not None:
                if not self.keeper.store.target_file(target).is_file():
                    raise NotFound("no such file in the repository")
                return target
            if package_file is None:
                raise NotFound("no such file in the repository")
            package, sha256, version_code = (
                package_file.group(1),
                package_file.group(2),
                int(package_file.group(3)),
            )
            release = session.exec(
                select(PortalRelease).where(
                    PortalRelease.package == package,
                    PortalRelease.sha256 == sha256,
                    PortalRelease.version_code == version_code,
                    PortalRelease.state == ReleaseState.PUBLISHED,
                    col(PortalRelease.route_name).is_(None),  # a web app has no file to fetch
                )
            ).first()
            offered = resolve_device(session, device).resolution.apps.get(package)
            if (
                release is None
                or offered is None
                or offered.intent is Intent.UNINSTALL
                or not _track_sees(offered.track, release.track)
            ):
                # The same answer for "not published" and "not yours": no oracle of other departments' apps.
                raise NotFound("this package is not offered to this device")
            return target

    def metadata(self, presented: PresentedCertificate, name: str) -> str:
        """A TUF metadata file for an enrolled device (every device shares one repository)."""
        with self.database.session() as session:
            device_for_certificate(session, presented, self.clock())
        path = self.keeper.metadata_file(name)
        if path is None:
            raise NotFound(f"no metadata {name}")
        return str(path)


def refresh_due(issued_at: dt.datetime) -> dt.datetime:
    """When a device's next fetch gets a newly signed document even if nothing changed: past half
    its lifetime, so that a device that polls never holds an expired one."""
    return issued_at + LIFETIME / 2


def desired_state_generation(session: Session) -> int:
    """The database's desired-state generation (migration 0011). Read before anything a document
    is resolved from: a change committed after this read raises it, so a document tagged with it
    is never older than what the tag says."""
    row = session.get(DesiredStateGeneration, 1)
    return 0 if row is None else int(row.value)


def retry_generations(session: Session, device_id: str) -> dict[str, int]:
    """The admin's retry requests for the device's apps: package → generation (only those asked for)."""
    rows = session.exec(
        select(PortalInstallation.package, PortalInstallation.retry_generation).where(
            PortalInstallation.device_id == device_id, PortalInstallation.retry_generation > 0
        )
    ).all()
    return {str(package): int(generation) for package, generation in rows}


def _track_sees(device_track: Track | None, release_track: Track | None) -> bool:
    if release_track is Track.PRODUCTION:
        return True
    return device_track is Track.PILOT and release_track is Track.PILOT


def device_for_certificate(
    session: Session, presented: PresentedCertificate, now: dt.datetime
) -> DeviceRecord:
    return _certified_device(session, presented, now)[0]


def _certified_device(
    session: Session, presented: PresentedCertificate, now: dt.datetime
) -> tuple[DeviceRecord, dt.datetime | None]:
    """The device the certificate is bound to, and when the certificate expires."""
    row = (
        session.connection()
        .execute(
            core_select(devices.c.id, devices.c.tenant_id, devices.c.person_id, devices.c.state).where(
                or_(
                    devices.c.cert_sha256 == presented.sha256,
                    devices.c.previous_cert_sha256 == presented.sha256,
                )
            )
        )
        .first()
    )
    if row is None:
        raise Unauthenticated(
            "this certificate is not bound to any device (replaced, revoked or never enrolled); enroll again",
            code="certificate_not_bound",
        )
    if row.state in ENDED_STATES:
        raise PermissionDenied(
            f"this device has been {row.state}; enroll it again", code=f"device_{row.state}"
        )
    record = (
        session.connection()
        .execute(
            core_select(certificates.c.revoked_at, certificates.c.not_after).where(
                certificates.c.sha256 == presented.sha256
            )
        )
        .first()
    )
    not_after = record.not_after if record else None
    refuse_unusable(record.revoked_at if record else None, not_after, now=now)
    return DeviceRecord(row.id, row.tenant_id, row.person_id, row.state), not_after
