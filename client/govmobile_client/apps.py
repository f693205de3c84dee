"""The app portal: apps and their releases, department rules, assignments, and a device's apps.

Every path is under ``/api/v1/portal/`` on the management listener, which passes it to the
portal service. Uploads stream the APK from disk: a 100 MB package is never in memory.

Paths are written out whole: tests/gateway/test_admin_api_map.py reads them from this source and
checks that the gateway passes each to a service that serves it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from govmobile_client.connection import Connection, segment
from govmobile_client.errors import missing
from govmobile_client.models import (
    Assignment,
    DepartmentRules,
    DeviceApps,
    Installation,
    Intent,
    PortalApp,
    Protection,
    Release,
    Target,
    TargetKind,
    Track,
)

APK_MEDIA_TYPE = "application/vnd.android.package-archive"


class Apps:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def list(self) -> Sequence[PortalApp]:
        """Your department's apps and the platform's (every app, for a platform admin)."""
        return self._connection.call_list(PortalApp, "GET", "/api/v1/portal/apps")

    def show(self, app_id: str) -> PortalApp:
        return self._connection.call(PortalApp, "GET", f"/api/v1/portal/apps/{segment(app_id)}")

    def resolve(self, reference: str) -> PortalApp:
        """An app by id, or by package id (package ids always hold a dot; app ids never do)."""
        if "." not in reference:
            return self.show(reference)
        for app in self.list():
            if app.package == reference:
                return app
        raise missing(f"no app with the package id {reference!r} that you may see")

    def update(
        self,
        app_id: str,
        *,
        name_en: str | None = None,
        name_zh: str | None = None,
        description_en: str | None = None,
        description_zh: str | None = None,
        category: str | None = None,
        publisher: str | None = None,
    ) -> PortalApp:
        """Change the texts an admin owns (the rest comes from the packages); None keeps a field."""
        given = {
            "name_en": name_en,
            "name_zh": name_zh,
            "description_en": description_en,
            "description_zh": description_zh,
            "category": category,
            "publisher": publisher,
        }
        body = {key: value for key, value in given.items() if value is not None}
        return self._connection.call(PortalApp, "PATCH", f"/api/v1/portal/apps/{segment(app_id)}", body=body)


class Releases:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def upload(self, apk: Path, *, tenant_id: str | None = None) -> Release:
        """Send an APK, streamed from disk, as a draft release of its app (registered by its
        first upload). Platform admins name the department with ``tenant_id`` (None: the
        platform's own app)."""
        return self._connection.upload(
            Release,
            "/api/v1/portal/releases",
            apk,
            media_type=APK_MEDIA_TYPE,
            params={"tenant_id": tenant_id},
        )

    def create_web(
        self,
        package: str,
        route: str,
        *,
        start_path: str = "",
        tenant_id: str | None = None,
        version_name: str | None = None,
        name_en: str | None = None,
        name_zh: str | None = None,
        description_en: str | None = None,
        description_zh: str | None = None,
        category: str | None = None,
        publisher: str | None = None,
        icon: Path | None = None,
    ) -> Release:
        """A web app's entry (the gateway route it opens, a start path under it) as a draft
        release; its first entry registers the app (give ``name_en`` then). Reviewed and
        published like an APK; the route alone says who may open it."""
        given: dict[str, Any] = {
            "package": package,
            "route": route,
            "start_path": start_path,
            "version_name": version_name,
            "name_en": name_en,
            "name_zh": name_zh,
            "description_en": description_en,
            "description_zh": description_zh,
            "category": category,
            "publisher": publisher,
            "icon_base64": base64.b64encode(icon.read_bytes()).decode() if icon is not None else None,
        }
        body = {key: value for key, value in given.items() if value is not None}
        return self._connection.call(
            Release, "POST", "/api/v1/portal/web-apps", body=body, params={"tenant_id": tenant_id}
        )

    def list(self, app_id: str) -> Sequence[Release]:
        """An app's releases, newest first."""
        return self._connection.call_list(Release, "GET", f"/api/v1/portal/apps/{segment(app_id)}/releases")

    def show(self, release_id: str) -> Release:
        return self._connection.call(Release, "GET", f"/api/v1/portal/releases/{segment(release_id)}")

    def approve(self, release_id: str) -> Release:
        """draft → approved; where the department requires it, by an admin other than the uploader."""
        return self._connection.call(
            Release, "POST", f"/api/v1/portal/releases/{segment(release_id)}/approve"
        )

    def publish(self, release_id: str, track: Track = Track.PRODUCTION) -> Release:
        """approved → published on a track (or a pilot release promoted to production)."""
        return self._connection.call(
            Release,
            "POST",
            f"/api/v1/portal/releases/{segment(release_id)}/publish",
            body={"track": track.value},
        )

    def retire(self, release_id: str) -> Release:
        """Out of the catalogue for good: devices refuse it from now on."""
        return self._connection.call(Release, "POST", f"/api/v1/portal/releases/{segment(release_id)}/retire")


class DepartmentAppRules:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def show(self, tenant_id: str) -> DepartmentRules:
        """Second-admin approval, pilot before production, and the default app protection."""
        return self._connection.call(
            DepartmentRules, "GET", f"/api/v1/portal/departments/{segment(tenant_id)}/rules"
        )

    def set(self, tenant_id: str, rules: DepartmentRules) -> DepartmentRules:
        """Replace a department's rules (read them first to change one setting)."""
        return self._connection.call(
            DepartmentRules,
            "PUT",
            f"/api/v1/portal/departments/{segment(tenant_id)}/rules",
            body=rules.model_dump(mode="json"),
        )


class Assignments:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(
        self,
        app_id: str,
        target: Target | tuple[TargetKind, str],
        intent: Intent,
        *,
        track: Track = Track.PRODUCTION,
        exclusions: Iterable[Target | tuple[TargetKind, str]] = (),
        tenant_id: str | None = None,
        config: dict[str, str | int | bool] | None = None,
        protection: Protection | None = None,
        remove_when_unassigned: bool = True,
    ) -> Assignment:
        """Assign an app to a department, group, person or device, minus the exclusions.

        Platform admins name the department the assignment belongs to with ``tenant_id``."""
        body: dict[str, Any] = {
            "app_id": app_id,
            "tenant_id": tenant_id,
            "target": _target(target),
            "intent": intent.value,
            "track": track.value,
            "exclusions": [_target(e) for e in exclusions],
            "config": config or {},
            "protection": protection.model_dump(mode="json") if protection else None,
            "remove_when_unassigned": remove_when_unassigned,
        }
        return self._connection.call(Assignment, "POST", "/api/v1/portal/assignments", body=body)

    def list(self, *, app_id: str | None = None) -> Sequence[Assignment]:
        return self._connection.call_list(
            Assignment, "GET", "/api/v1/portal/assignments", params={"app_id": app_id}
        )

    def remove(self, assignment_id: str) -> None:
        """Devices it reached uninstall the app where the assignment says so."""
        self._connection.call_empty("DELETE", f"/api/v1/portal/assignments/{segment(assignment_id)}")

    def device_apps(self, device_id: str) -> DeviceApps:
        """What a device should have, from which assignments, and its conflicts."""
        return self._connection.call(DeviceApps, "GET", f"/api/v1/portal/devices/{segment(device_id)}/apps")

    def retry_install(self, device_id: str, package: str) -> Installation:
        """Have the device try a failed install again at its next check-in (once per request:
        asked again before the device reports, it is refused as ``Conflict``)."""
        return self._connection.call(
            Installation, "POST", f"/api/v1/portal/devices/{segment(device_id)}/apps/{segment(package)}/retry"
        )


def _target(target: Target | tuple[TargetKind, str]) -> dict[str, str]:
    kind, target_id = (target.kind, target.id) if isinstance(target, Target) else target
    return {"kind": TargetKind(kind).value, "id": target_id}
