"""Web apps in the catalogue: registering one, drafting its entries, and whether it can open.

A web app is registered with its first entry, as an Android app is by its first upload, and
owned by that department (or the platform) from then on. Each entry (route and start path) is a
release: a draft, reviewed and published like an APK (``catalogue.Catalogue.approve`` / ``publish``
/ ``retire``, with the department's second approval and pilot rules), so changing what a
published web app opens needs the same review as a new APK. Every step checks the route against
the app's department (``web_entry.require_route``), reading it afresh from the gateway's table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlmodel import select

from govmobile.administration.changes import AuditedChanges
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import InvalidInput
from govmobile.portal.catalogue import (
    AppChanges,
    check_may_release,
    department_for_release,
    release_history,
    require_department,
)
from govmobile.portal.errors import KindMismatch
from govmobile.portal.manifest import MAX_ICON_BYTES, check_package_id, icon_media_type
from govmobile.portal.models import AppKind, PortalApp, PortalRelease
from govmobile.portal.releases import Release, ReleaseState, admit_upload
from govmobile.portal.web_apps import check_route, route_admissions
from govmobile.portal.web_entry import WebEntry, route_refusal, web_entry

AVAILABLE = "available"


@dataclass(frozen=True)
class WebAppSpec:
    """A web app's entry, and its catalogue fields (needed when it is registered; later, changes)."""

    package: str
    route: str
    start_path: str | None = None
    version_name: str | None = None
    texts: AppChanges = field(default_factory=AppChanges)
    icon: bytes | None = None


class WebCatalogue:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.changes = AuditedChanges(database, clock)

    def draft(self, principal: Principal, tenant_id: str | None, spec: WebAppSpec) -> PortalRelease:
        """A new draft entry of a web app (registering the app with its first one)."""
        principal.require_write()
        department = department_for_release(principal, tenant_id)
        entry = web_entry(spec.route, spec.start_path)  # refused before anything is read or written
        check_package_id(spec.package)
        media_type = _icon_type(spec.icon)
        with self.changes.by(principal) as change:
            session = change.session
            if department is not None:
                require_department(session, department)
            app = session.exec(select(PortalApp).where(PortalApp.package == spec.package)).first()
            changed = {k: v for k, v in vars(spec.texts).items() if v is not None}
            if spec.icon is not None:
                changed |= {"icon": spec.icon, "icon_media_type": media_type}
            if app is None:
                if not spec.texts.name_en:
                    raise InvalidInput(
                        "a new web app needs its English name (name_en)", code="invalid_web_app"
                    )
                app = PortalApp(
                    package=spec.package,
                    tenant_id=department,
                    kind=AppKind.WEB,
                    created_at=change.now,
                    created_by=change.actor,
                    **changed,
                )
                session.add(app)
                session.flush()
                change.record(
                    "portal.app.registered",
                    app.id,
                    tenant_id=department,
                    details={"package": app.package, "kind": AppKind.WEB.value},
                )
            else:
                check_may_release(principal, app, department)
                if app.kind is not AppKind.WEB:
                    raise KindMismatch(
                        f"{app.package} is an Android app; its releases are APKs, not web entries"
                    )
                if changed:
                    for key, value in changed.items():
                        setattr(app, key, value)
                    session.add(app)
                    shown = {k: v for k, v in changed.items() if k != "icon"}
                    change.record("portal.app.updated", app.id, tenant_id=app.tenant_id, details=shown)
            check_route(session, entry.route, app.tenant_id)
            history = release_history(session, app.id)
            version_code = max((r.version_code for r in history), default=0) + 1
            candidate = admit_upload(
                history,
                Release(
                    package=app.package,
                    version_code=version_code,
                    version_name=spec.version_name or str(version_code),
                    sha256=entry_digest(entry),
                    signers=frozenset(),
                    uploaded_by=change.actor,
                    web=entry,
                ),
            )
            row = PortalRelease(
                app_id=app.id,
                package=app.package,
                version_code=candidate.version_code,
                version_name=candidate.version_name[:200],
                min_sdk=0,
                size=0,
                sha256=candidate.sha256,
                signers="[]",
                state=candidate.state,
                uploaded_by=change.actor,
                uploaded_at=change.now,
                route_name=entry.route,
                start_path=entry.start_path,
            )
            session.add(row)
            session.flush()
            change.record(
                "portal.release.drafted",
                row.id,
                tenant_id=app.tenant_id,
                details={
                    "package": row.package,
                    "version_code": row.version_code,
                    "route": entry.route,
                    "start_path": entry.start_path,
                },
            )
        return row

    def availability(self, apps: Iterable[PortalApp]) -> dict[str, str]:
        """For each web app: ``available``, or why no device can open it now (its route as it is)."""
        web = [app for app in apps if app.kind is AppKind.WEB]
        if not web:
            return {}
        with self.database.session() as session:
            entries: dict[str, Release | None] = {}
            for app in web:
                history = release_history(session, app.id)
                live = [r for r in history if r.state is ReleaseState.PUBLISHED]
                entries[app.id] = live[0] if live else None
            routes = route_admissions(
                session, [r.web.route for r in entries.values() if r is not None and r.web is not None]
            )
        found: dict[str, str] = {}
        for app in web:
            release = entries[app.id]
            if release is None or release.web is None:
                found[app.id] = "no published entry yet"
                continue
            refusal = route_refusal(routes.get(release.web.route), release.web.route, app.tenant_id)
            found[app.id] = AVAILABLE if refusal is None else refusal.reason
        return found


def entry_digest(entry: WebEntry) -> str:
    """The SHA-256 of what a web release opens: its identity in the release rules and documents."""
    document = json.dumps({"route": entry.route, "start_path": entry.start_path}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def _icon_type(icon: bytes | None) -> str | None:
    if icon is None:
        return None
    media_type = icon_media_type(icon)
    if len(icon) > MAX_ICON_BYTES or media_type is None:
        raise InvalidInput("an icon is a PNG, WebP or JPEG image of at most 1 MiB", code="invalid_icon")
    return media_type
