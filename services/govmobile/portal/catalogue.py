"""The catalogue: uploading releases, reviewing and publishing them, and the apps they belong to.

An upload is received outside any database transaction (a 100 MB package must not hold
SQLite's write lock while it streams in): it is spooled and hashed (``uploads``), inspected
(``packages``), and only then is the release checked against the app's history and written,
with its audit event, in one transaction. The package file is moved to its final, content-
addressed name in the repository's targets directory as the last step before the commit, so a
refused or interrupted upload leaves nothing behind, and a release that is not published is on
disk but listed nowhere: no device can fetch it.

Publishing and retiring change the TUF repository (``trust``) inside the same transaction, so a
failed signature rolls the release's state back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from govmobile.administration.changes import AuditedChanges, Change
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import NotFound, PermissionDenied
from govmobile.core.tenancy import Tenant
from govmobile.portal.errors import KindMismatch, PackageOwnedElsewhere
from govmobile.portal.models import AppKind, PortalApp, PortalRelease, PortalReviewPolicy
from govmobile.portal.packages import InspectedPackage, PackageLimits, inspect_package
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import (
    Release,
    ReviewPolicy,
    Track,
    admit_upload,
    approve,
    check_owner,
    publish,
    retire,
)
from govmobile.portal.repository import package_target_path, stored_target_name
from govmobile.portal.signatures import SignatureVerifier
from govmobile.portal.trust import RepositoryKeeper
from govmobile.portal.uploads import keep_package, spool_upload
from govmobile.portal.web_apps import check_route
from govmobile.portal.web_entry import WebEntry


@dataclass(frozen=True)
class AppChanges:
    """What an admin may change about an app (the rest comes from its packages)."""

    name_en: str | None = None
    name_zh: str | None = None
    description_en: str | None = None
    description_zh: str | None = None
    category: str | None = None
    publisher: str | None = None


@dataclass(frozen=True)
class DepartmentRules:
    review: ReviewPolicy
    protection: ProtectionPolicy


class Catalogue:
    def __init__(
        self,
        database: Database,
        keeper: RepositoryKeeper,
        verifier: SignatureVerifier,
        *,
        incoming_dir: Path,
        limits: PackageLimits,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.keeper = keeper
        self.verifier = verifier
        self.incoming_dir = incoming_dir
        self.limits = limits
        self.changes = AuditedChanges(database, clock)

    # --- Uploads -------------------------------------------------------------------------------

    def upload(self, principal: Principal, tenant_id: str | None, chunks: Iterable[bytes]) -> PortalRelease:
        """Receive, inspect and admit a package as a draft release of its app."""
        principal.require_write()
        department = self._department_for_upload(principal, tenant_id)
        with spool_upload(chunks, self.incoming_dir, self.limits.max_package_bytes) as spooled:
            inspected = inspect_package(
                spooled.path, self.verifier, limits=self.limits, size=spooled.size, sha256=spooled.sha256
            )
            with self.changes.by(principal) as change:
                release = self._admit(change, principal, department, inspected)
                target = self.keeper.store.target_file(
                    stored_target_name(
                        package_target_path(release.package, release.version_code), release.sha256
                    )
                )
                # Content-addressed: an identical file already there (a retired twin) is the same bytes.
                keep_package(spooled, target)
        return release

    def _department_for_upload(self, principal: Principal, tenant_id: str | None) -> str | None:
        return department_for_release(principal, tenant_id)

    def _admit(
        self, change: Change, principal: Principal, department: str | None, inspected: InspectedPackage
    ) -> PortalRelease:
        session = change.session
        manifest = inspected.manifest
        app = session.exec(select(PortalApp).where(PortalApp.package == manifest.package)).first()
        if department is not None:
            require_department(session, department)
        if app is None:
            app = PortalApp(
                package=manifest.package,
                tenant_id=department,
                name_en=_label(manifest.labels, ("en", "")) or manifest.package,
                name_zh=_label(manifest.labels, ("zh-CN", "zh", "zh-TW", "zh-HK")),
                icon_media_type=manifest.icon.media_type if manifest.icon else None,
                icon=manifest.icon.data if manifest.icon else None,
                created_at=change.now,
                created_by=change.actor,
            )
            session.add(app)
            session.flush()
            change.record(
                "portal.app.registered", app.id, tenant_id=department, details={"package": app.package}
            )
        else:
            _check_may_release(principal, app, department)
            if app.kind is not AppKind.ANDROID:
                raise KindMismatch(
                    f"{app.package} is a web app: it has no packages; give it a new entry instead"
                )
        history = [_release(row) for row in _history(session, app.id)]
        candidate = Release(
            package=manifest.package,
            version_code=manifest.version_code,
            version_name=manifest.version_name,
            sha256=inspected.sha256,
            signers=inspected.signers,
            uploaded_by=change.actor,
        )
        admitted = admit_upload(history, candidate)
        row = PortalRelease(
            app_id=app.id,
            package=admitted.package,
            version_code=admitted.version_code,
            version_name=admitted.version_name,
            min_sdk=manifest.min_sdk,
            target_sdk=manifest.target_sdk,
            permissions=json.dumps(list(manifest.permissions)),
            size=inspected.size,
            sha256=inspected.sha256,
            signers=json.dumps(sorted(inspected.signers)),
            warnings=json.dumps(list(inspected.signature.warnings)),
            state=admitted.state,
            uploaded_by=change.actor,
            uploaded_at=change.now,
        )
        session.add(row)
        session.flush()
        change.record(
            "portal.release.uploaded",
            row.id,
            tenant_id=app.tenant_id,
            details={"package": row.package, "version_code": row.version_code, "sha256": row.sha256},
        )
        return row

    # --- Review and publication ----------------------------------------------------------------

    def approve(self, principal: Principal, release_id: str) -> PortalRelease:
        with self.changes.by(principal) as change:
            row, app = self._release_for_change(change.session, principal, release_id)
            rules = department_rules(change.session, app.tenant_id)
            if row.route_name is not None:  # the route may have changed since the draft
                check_route(change.session, row.route_name, app.tenant_id)
            approved = approve(_release(row), change.actor, rules.review)
            _apply(row, approved)
            change.session.add(row)
            change.record("portal.release.approved", row.id, tenant_id=app.tenant_id, details=_facts(row))
        return row

    def publish(self, principal: Principal, release_id: str, track: Track) -> PortalRelease:
        with self.changes.by(principal) as change:
            row, app = self._release_for_change(change.session, principal, release_id)
            rules = department_rules(change.session, app.tenant_id)
            history = [_release(r) for r in _history(change.session, app.id)]
            published = publish(history, _release(row), track, rules.review)
            if row.route_name is not None:
                check_route(change.session, row.route_name, app.tenant_id)
            _apply(row, published)
            change.session.add(row)
            change.session.flush()
            change.record(
                "portal.release.published",
                row.id,
                tenant_id=app.tenant_id,
                details={**_facts(row), "track": track},
            )
            if row.route_name is not None:
                return row  # a web app's entry travels in desired states only: no file to list in TUF
            with self.keeper.changing() as repository:
                repository.add_target(
                    package_target_path(row.package, row.version_code),
                    row.size,
                    row.sha256,
                    {
                        "package": row.package,
                        "version_code": row.version_code,
                        "version_name": row.version_name,
                        "signers": json.loads(row.signers),
                    },
                )
        return row

    def retire(self, principal: Principal, release_id: str) -> PortalRelease:
        with self.changes.by(principal) as change:
            row, app = self._release_for_change(change.session, principal, release_id)
            was_live = row.state == "published"
            _apply(row, retire(_release(row)))
            change.session.add(row)
            change.session.flush()
            change.record("portal.release.retired", row.id, tenant_id=app.tenant_id, details=_facts(row))
            if was_live and row.route_name is None:
                with self.keeper.changing() as repository:
                    repository.remove_target(package_target_path(row.package, row.version_code))
        return row

    def _release_for_change(
        self, session: Session, principal: Principal, release_id: str
    ) -> tuple[PortalRelease, PortalApp]:
        row = session.get(PortalRelease, release_id)
        app = session.get(PortalApp, row.app_id) if row is not None else None
        if row is None or app is None or not _may_see(principal, app):
            raise NotFound(f"no release {release_id}")
        _check_may_release(principal, app, app.tenant_id)
        return row, app

    # --- Reading -------------------------------------------------------------------------------

    def apps(self, principal: Principal) -> list[PortalApp]:
        """The apps the caller may see: their department's and the platform's."""
        with self.database.session() as session:
            statement = select(PortalApp).order_by(col(PortalApp.package))
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(
                    (col(PortalApp.tenant_id) == scope) | col(PortalApp.tenant_id).is_(None)
                )
            return list(session.exec(statement).all())

    def app(self, principal: Principal, app_id: str) -> PortalApp:
        with self.database.session() as session:
            return visible_app(session, principal, app_id)

    def releases(self, principal: Principal, app_id: str) -> list[PortalRelease]:
        with self.database.session() as session:
            app = visible_app(session, principal, app_id)
            return _history(session, app.id)

    def release(self, principal: Principal, release_id: str) -> PortalRelease:
        with self.database.session() as session:
            row = session.get(PortalRelease, release_id)
            if row is None:
                raise NotFound(f"no release {release_id}")
            visible_app(session, principal, row.app_id)
            return row

    def update_app(self, principal: Principal, app_id: str, changes: AppChanges) -> PortalApp:
        with self.changes.by(principal) as change:
            app = visible_app(change.session, principal, app_id)
            _check_may_release(principal, app, app.tenant_id)
            values = {k: v for k, v in vars(changes).items() if v is not None}
            for key, value in values.items():
                setattr(app, key, value)
            change.session.add(app)
            change.record("portal.app.updated", app.id, tenant_id=app.tenant_id, details=values)
        return app

    # --- A department's rules ------------------------------------------------------------------

    def rules(self, principal: Principal, tenant_id: str) -> DepartmentRules:
        principal.require_tenant(tenant_id, "department")
        with self.database.session() as session:
            return department_rules(session, tenant_id)

    def set_rules(self, principal: Principal, tenant_id: str, rules: DepartmentRules) -> DepartmentRules:
        principal.require_tenant(tenant_id, "department")
        with self.changes.by(principal) as change:
            require_department(change.session, tenant_id)
            row = change.session.get(PortalReviewPolicy, tenant_id)
            if row is None:
                row = PortalReviewPolicy(tenant_id=tenant_id, updated_at=change.now, updated_by=change.actor)
            row.second_approval = rules.review.second_approval
            row.pilot_first = rules.review.pilot_first
            row.protection = json.dumps(rules.protection.to_document())
            row.updated_at = change.now
            row.updated_by = change.actor
            change.session.add(row)
            change.record(
                "portal.rules.set",
                tenant_id,
                tenant_id=tenant_id,
                details={
                    "second_approval": rules.review.second_approval,
                    "pilot_first": rules.review.pilot_first,
                    "protection": rules.protection.to_document(),
                },
            )
        return rules


def department_for_release(principal: Principal, tenant_id: str | None) -> str | None:
    """The department a new release is for: the caller's own, or the one a platform admin names."""
    scope = principal.tenant_scope()
    if scope is None:
        return tenant_id  # a platform admin uploads for a department, or for the platform (None)
    if tenant_id is not None and tenant_id != scope:
        raise NotFound("no such department")
    return scope


def department_rules(session: Session, tenant_id: str | None) -> DepartmentRules:
    """A department's review policy and default protection (the defaults for the platform and until set)."""
    row = session.get(PortalReviewPolicy, tenant_id) if tenant_id is not None else None
    if row is None:
        return DepartmentRules(ReviewPolicy(), ProtectionPolicy())
    protection = (
        ProtectionPolicy.from_document(json.loads(row.protection)) if row.protection else ProtectionPolicy()
    )
    return DepartmentRules(ReviewPolicy(row.second_approval, row.pilot_first), protection)


def require_department(session: Session, tenant_id: str) -> None:
    """A department named by a platform admin must exist (a tenant admin's always does)."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFound("no such department")


def visible_app(session: Session, principal: Principal, app_id: str) -> PortalApp:
    """An app by id, if the caller may see it (another department's is 'not found')."""
    app = session.get(PortalApp, app_id)
    if app is None or not _may_see(principal, app):
        raise NotFound(f"no app {app_id}")
    return app


def release_histories(session: Session, packages: Iterable[str]) -> dict[str, list[Release]]:
    """The domain's view of the releases of ``packages``, for resolving devices' documents."""
    wanted = sorted(set(packages))
    histories: dict[str, list[Release]] = {package: [] for package in wanted}
    if not wanted:
        return histories
    rows = session.exec(select(PortalRelease).where(col(PortalRelease.package).in_(wanted))).all()
    for row in rows:
        histories[row.package].append(_release(row))
    return histories


def _may_see(principal: Principal, app: PortalApp) -> bool:
    return app.tenant_id is None or principal.can_see_tenant(app.tenant_id)


def check_may_release(principal: Principal, app: PortalApp, department: str | None) -> None:
    """Only the owning department (or a platform admin acting for it) releases an app."""
    _check_may_release(principal, app, department)


def release_history(session: Session, app_id: str) -> list[Release]:
    """The domain's view of an app's releases, newest first."""
    return [_release(row) for row in _history(session, app_id)]


def _check_may_release(principal: Principal, app: PortalApp, department: str | None) -> None:
    """Only the owning department (or a platform admin acting for it) releases an app."""
    if app.tenant_id is None:
        if principal.tenant_scope() is not None:
            raise PermissionDenied("this app belongs to the platform; only a platform admin may change it")
        if department is not None:
            raise PackageOwnedElsewhere("this package id is registered to the platform, not to a department")
        return
    check_owner(app.tenant_id, department or "")


def _history(session: Session, app_id: str) -> list[PortalRelease]:
    statement = select(PortalRelease).where(PortalRelease.app_id == app_id)
    return list(session.exec(statement.order_by(col(PortalRelease.version_code).desc())).all())


def _release(row: PortalRelease) -> Release:
    return Release(
        package=row.package,
        version_code=row.version_code,
        version_name=row.version_name,
        sha256=row.sha256,
        signers=frozenset(json.loads(row.signers)),
        uploaded_by=row.uploaded_by,
        state=row.state,
        approved_by=row.approved_by,
        track=row.track,
        was_published=row.was_published,
        piloted=row.piloted,
        web=None if row.route_name is None else WebEntry(row.route_name, row.start_path or ""),
    )


def _apply(row: PortalRelease, release: Release) -> None:
    row.state = release.state
    row.approved_by = release.approved_by
    row.track = release.track
    row.was_published = release.was_published
    row.piloted = release.piloted


def _facts(row: PortalRelease) -> dict[str, Any]:
    facts: dict[str, Any] = {"package": row.package, "version_code": row.version_code, "sha256": row.sha256}
    if row.route_name is not None:
        facts["route"], facts["start_path"] = row.route_name, row.start_path
    return facts


def _label(labels: dict[str, str], locales: tuple[str, ...]) -> str:
    for locale in locales:
        if labels.get(locale):
            return labels[locale][:200]
    return ""
