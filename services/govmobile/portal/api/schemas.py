"""What the portal's API takes and answers (the tables never leave the service as they are)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from govmobile.portal.api.installations import InstallationPublic
from govmobile.portal.assignments import Intent
from govmobile.portal.models import AppKind, PortalApp, PortalAssignment, PortalRelease
from govmobile.portal.protection import MAX_OFFLINE, MAX_PIN_ATTEMPTS
from govmobile.portal.releases import ReleaseState, Track
from govmobile.portal.targeting import DeviceApps
from govmobile.portal.web_entry import MAX_START_PATH, WebEntry

ID = Field(max_length=36)
MAX_OFFLINE_SECONDS = int(MAX_OFFLINE.total_seconds())


class AppPublic(BaseModel):
    id: str
    package: str
    tenant_id: str | None = Field(description="the owning department; null: the platform's app")
    name_en: str
    name_zh: str
    description_en: str
    description_zh: str
    category: str
    publisher: str
    icon_media_type: str | None
    icon_base64: str | None
    kind: AppKind = Field(description="android: releases are APKs; web: releases open a gateway route")
    availability: str | None = Field(
        default=None,
        description="web apps: 'available', or why no device can open it now (its route as the gateway has it)",
    )
    created_at: dt.datetime
    created_by: str

    @classmethod
    def of(cls, app: PortalApp, availability: str | None = None) -> AppPublic:
        return cls(
            **app.model_dump(exclude={"icon"}),
            icon_base64=base64.b64encode(app.icon).decode() if app.icon else None,
            availability=availability,
        )


class AppUpdate(BaseModel):
    model_config = {"extra": "forbid"}

    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    name_zh: str | None = Field(default=None, max_length=200)
    description_en: str | None = Field(default=None, max_length=4000)
    description_zh: str | None = Field(default=None, max_length=4000)
    category: str | None = Field(default=None, max_length=64)
    publisher: str | None = Field(default=None, max_length=200)


class ReleasePublic(BaseModel):
    id: str
    app_id: str
    package: str
    version_code: int
    version_name: str
    min_sdk: int
    target_sdk: int | None
    permissions: list[str]
    size: int
    sha256: str
    signers: list[str] = Field(description="SHA-256 of each verified signer certificate")
    warnings: list[str] = Field(description="the signature verifier's warnings, for the reviewer")
    state: ReleaseState
    track: Track | None
    uploaded_by: str
    uploaded_at: dt.datetime
    approved_by: str | None
    route: str | None = Field(default=None, description="a web app's release: the gateway route it opens")
    start_path: str | None = Field(default=None, description="a web app's release: the path under the route")
    url: str | None = Field(default=None, description="a web app's release: the path it opens on the gateway")

    @classmethod
    def of(cls, row: PortalRelease) -> ReleasePublic:
        values = row.model_dump(exclude={"route_name"})
        for name in ("permissions", "signers", "warnings"):
            values[name] = json.loads(values[name])
        if row.route_name is not None:
            values["route"] = row.route_name
            values["url"] = WebEntry(row.route_name, row.start_path or "").url
        return cls(**values)


class WebAppCreate(BaseModel):
    """A web app's entry (a draft release) and, when it is new, its catalogue fields."""

    model_config = {"extra": "forbid"}

    package: str = Field(min_length=3, max_length=255, description="a package-like id, e.g. cn.gov.water.oa")
    route: str = Field(min_length=1, max_length=32, description="the gateway route it opens (/apps/<route>/)")
    start_path: str = Field(default="", max_length=MAX_START_PATH, description="a path under the route")
    version_name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    name_zh: str | None = Field(default=None, max_length=200)
    description_en: str | None = Field(default=None, max_length=4000)
    description_zh: str | None = Field(default=None, max_length=4000)
    category: str | None = Field(default=None, max_length=64)
    publisher: str | None = Field(default=None, max_length=200)
    icon_base64: str | None = Field(default=None, max_length=1_400_000, description="PNG, WebP or JPEG")


class PublishRequest(BaseModel):
    model_config = {"extra": "forbid"}

    track: Track = Track.PRODUCTION


class ProtectionDocument(BaseModel):
    """The app protection policy (every setting optional; the protective default otherwise)."""

    model_config = {"extra": "forbid"}

    clipboard_to_unmanaged: StrictBool = False
    save_to_unmanaged: StrictBool = False
    screenshots: StrictBool = False
    pin_required: StrictBool = False
    pin_max_attempts: StrictInt | None = Field(default=None, ge=1, le=MAX_PIN_ATTEMPTS)
    offline_block_after_seconds: StrictInt | None = Field(default=None, ge=60, le=MAX_OFFLINE_SECONDS)
    offline_wipe_after_seconds: StrictInt | None = Field(default=None, ge=60, le=MAX_OFFLINE_SECONDS)


class DepartmentRulesDocument(BaseModel):
    model_config = {"extra": "forbid"}

    second_approval: StrictBool = False
    pilot_first: StrictBool = False
    protection: ProtectionDocument = Field(default_factory=ProtectionDocument)


class TargetRef(BaseModel):
    model_config = {"extra": "forbid"}

    kind: str = Field(pattern="^(department|group|person|device)$")
    id: str = ID


class AssignmentCreate(BaseModel):
    model_config = {"extra": "forbid"}

    app_id: str = ID
    tenant_id: str | None = Field(
        default=None, max_length=36, description="platform admins name the department"
    )
    target: TargetRef
    intent: Intent
    track: Track = Track.PRODUCTION
    exclusions: list[TargetRef] = Field(default_factory=list, max_length=100)
    config: dict[str, StrictStr | StrictInt | StrictBool] = Field(default_factory=dict)
    protection: ProtectionDocument | None = None
    remove_when_unassigned: StrictBool = True


class AssignmentPublic(BaseModel):
    id: str
    tenant_id: str
    app_id: str
    package: str
    target: TargetRef
    intent: Intent
    track: Track
    exclusions: list[TargetRef]
    config: dict[str, Any]
    protection: dict[str, Any] | None
    remove_when_unassigned: bool
    created_at: dt.datetime
    created_by: str

    @classmethod
    def of(cls, row: PortalAssignment) -> AssignmentPublic:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            app_id=row.app_id,
            package=row.package,
            target=TargetRef(kind=row.target_kind, id=row.target_id),
            intent=row.intent,
            track=row.track,
            exclusions=[TargetRef(kind=k, id=i) for k, i in json.loads(row.exclusions)],
            config=json.loads(row.config),
            protection=json.loads(row.protection) if row.protection else None,
            remove_when_unassigned=row.remove_when_unassigned,
            created_at=row.created_at,
            created_by=row.created_by,
        )


class DesiredAppPublic(BaseModel):
    package: str
    intent: Intent
    track: Track | None
    version_code: int | None = Field(
        description="the release to install; null: none published on its track yet"
    )
    assignment_ids: list[str]
    kind: AppKind = AppKind.ANDROID
    url: str | None = Field(default=None, description="a web app: the path it opens on the gateway")


class UnavailablePublic(BaseModel):
    package: str
    code: str
    reason: str = Field(description="why the app's gateway route does not let this device open it")


class ConflictPublic(BaseModel):
    package: str
    level: str
    reason: str
    assignment_ids: list[str]


class DeviceAppsPublic(BaseModel):
    device_id: str
    apps: list[DesiredAppPublic]
    conflicts: list[ConflictPublic]
    sequence: int | None = Field(description="the last desired-state document issued; null: never fetched")
    issued_at: dt.datetime | None
    unavailable: list[UnavailablePublic] = Field(
        default_factory=list,
        description="web apps assigned to the device that their gateway route does not admit it to",
    )
    installations: list[InstallationPublic] = Field(
        default_factory=list, description="what the device last reported of each managed app"
    )

    @classmethod
    def of(cls, found: DeviceApps) -> DeviceAppsPublic:
        apps = []
        for package, app in sorted(found.resolution.apps.items()):
            release = found.live.get((package, app.track)) if app.track is not None else None
            web = release.web if release else None
            apps.append(
                DesiredAppPublic(
                    package=package,
                    intent=app.intent,
                    track=app.track,
                    version_code=release.version_code if release else None,
                    assignment_ids=list(app.assignment_ids),
                    kind=AppKind.ANDROID if web is None else AppKind.WEB,
                    url=None if web is None else web.url,
                )
            )
        conflicts = [
            ConflictPublic(
                package=c.package,
                level=c.level.name.lower(),
                reason=c.reason,
                assignment_ids=list(c.assignment_ids),
            )
            for c in sorted(found.resolution.conflicts.values(), key=lambda c: c.package)
        ]
        return cls(
            device_id=found.device.id,
            apps=apps,
            conflicts=conflicts,
            sequence=found.sequence,
            issued_at=found.issued_at,
            unavailable=[
                UnavailablePublic(package=package, code=refusal.code, reason=refusal.reason)
                for package, refusal in sorted(found.unavailable.items())
            ],
        )
