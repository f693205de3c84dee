"""What the portal's API takes and answers (the tables never leave the service as they are)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from govmobile.portal.api.installations import InstallationPublic
from govmobile.portal.assignments import Intent
from govmobile.portal.models import PortalApp, PortalAssignment, PortalRelease
from govmobile.portal.protection import MAX_OFFLINE, MAX_PIN_ATTEMPTS
from govmobile.portal.releases import ReleaseState, Track
from govmobile.portal.targeting import DeviceApps

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
    created_at: dt.datetime
    created_by: str

    @classmethod
    def of(cls, app: PortalApp) -> AppPublic:
        return cls(
            **app.model_dump(exclude={"icon"}),
            icon_base64=base64.b64encode(app.icon).decode() if app.icon else None,
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

    @classmethod
    def of(cls, row: PortalRelease) -> ReleasePublic:
        values = row.model_dump()
        for name in ("permissions", "signers", "warnings"):
            values[name] = json.loads(values[name])
        return cls(**values)


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
    installations: list[InstallationPublic] = Field(
        default_factory=list, description="what the device last reported of each managed app"
    )

    @classmethod
    def of(cls, found: DeviceApps) -> DeviceAppsPublic:
        apps = []
        for package, app in sorted(found.resolution.apps.items()):
            release = found.live.get((package, app.track)) if app.track is not None else None
            apps.append(
                DesiredAppPublic(
                    package=package,
                    intent=app.intent,
                    track=app.track,
                    version_code=release.version_code if release else None,
                    assignment_ids=list(app.assignment_ids),
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
        )
