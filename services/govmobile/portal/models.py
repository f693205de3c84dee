"""The portal's tables: apps, releases, review policies, assignments and each device's document.

JSON lists and maps (permissions, signers, exclusions, configurations, protection policies) are
stored as text, as the MDM stores its policies: they are read whole and never queried inside.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

from govmobile.core.database import EnumText, UTCDateTime
from govmobile.core.ids import new_id
from govmobile.portal.assignments import Intent
from govmobile.portal.releases import ReleaseState, Track


class AppKind(StrEnum):
    ANDROID = "android"
    WEB = "web"


class PortalApp(SQLModel, table=True):
    """An app in the catalogue. Its package id belongs to one department (or to the platform: None)."""

    __tablename__ = "portal_app"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    package: str = Field(max_length=255, unique=True)
    tenant_id: str | None = Field(default=None, foreign_key="tenant.id", index=True, max_length=36)
    name_en: str = Field(max_length=200)
    name_zh: str = Field(default="", max_length=200)
    description_en: str = Field(default="", max_length=4000)
    description_zh: str = Field(default="", max_length=4000)
    category: str = Field(default="", max_length=64)
    publisher: str = Field(default="", max_length=200)
    icon_media_type: str | None = Field(default=None, max_length=32)
    icon: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    #: ``android`` (releases are APKs) or ``web`` (releases are entries that open a gateway route).
    kind: AppKind = Field(default=AppKind.ANDROID, sa_type=EnumText(AppKind, 16))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=200)


class PortalRelease(SQLModel, table=True):
    """One uploaded APK of an app and where it is in review and publication."""

    __tablename__ = "portal_release"
    __table_args__ = (Index("ix_portal_release_app_version", "app_id", "version_code"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    app_id: str = Field(foreign_key="portal_app.id", max_length=36)
    package: str = Field(max_length=255)
    version_code: int = Field(sa_column=Column(BigInteger, nullable=False))
    version_name: str = Field(max_length=200)
    min_sdk: int
    target_sdk: int | None = None
    #: JSON list of the permissions the manifest asks for.
    permissions: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)
    #: JSON list of the SHA-256 of each verified signer certificate.
    signers: str = Field(sa_column=Column(Text, nullable=False))
    #: JSON list of apksigner's warnings, shown to reviewers.
    warnings: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    state: ReleaseState = Field(default=ReleaseState.DRAFT, sa_type=EnumText(ReleaseState, 16))
    track: Track | None = Field(default=None, sa_type=EnumText(Track, 16))
    was_published: bool = False
    piloted: bool = False
    uploaded_by: str = Field(max_length=200)
    uploaded_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    approved_by: str | None = Field(default=None, max_length=200)
    #: A web app's release: the gateway route it opens (by name; the gateway owns the route) and
    #: the path under it. None for an APK.
    route_name: str | None = Field(default=None, max_length=32)
    start_path: str | None = Field(default=None, max_length=500)


class PortalReviewPolicy(SQLModel, table=True):
    """A department's publishing rules and its default app protection policy."""

    __tablename__ = "portal_review_policy"

    tenant_id: str = Field(foreign_key="tenant.id", primary_key=True, max_length=36)
    second_approval: bool = False
    pilot_first: bool = False
    #: JSON protection policy (``ProtectionPolicy.to_document``); None: the protective default.
    protection: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_by: str = Field(max_length=200)


class PortalAssignment(SQLModel, table=True):
    """One app given to one target of one department."""

    __tablename__ = "portal_assignment"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=36)
    app_id: str = Field(foreign_key="portal_app.id", index=True, max_length=36)
    package: str = Field(max_length=255)
    #: department, group, person or device.
    target_kind: str = Field(max_length=16)
    target_id: str = Field(max_length=36)
    intent: Intent = Field(sa_type=EnumText(Intent, 16))
    track: Track = Field(default=Track.PRODUCTION, sa_type=EnumText(Track, 16))
    #: JSON list of {"kind": ..., "id": ...}.
    exclusions: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    #: JSON map of the app's managed configuration.
    config: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    protection: str | None = Field(default=None, sa_column=Column(Text))
    remove_when_unassigned: bool = True
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=200)


class PortalDeviceState(SQLModel, table=True):
    """The last desired-state document issued to a device: its sequence only grows."""

    __tablename__ = "portal_device_state"

    # The foreign key to device.id is the schema's (migration 0007), not the model's: the portal's
    # process does not load the MDM's tables, and SQLAlchemy would fail to order a flush around
    # a table it cannot find (tests/migrations/test_models_per_process.py). Comparisons of the
    # schema with the models know (migrations.env_models.SCHEMA_ONLY_FOREIGN_KEYS).
    device_id: str = Field(primary_key=True, max_length=36)
    sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: ``DesiredState.content_digest``: a new sequence is issued when what the device should do changes.
    digest: str = Field(max_length=64)
    issued_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    document: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DesiredStateGeneration(SQLModel, table=True):
    """One number the database raises whenever anything a desired-state document is resolved
    from changes (triggers of migration 0011, in the writer's own transaction; no code writes it).

    The portal tags each answer with the value it read first; the gateway answers an unchanged
    fetch itself only while the value is still the same (docs/portal.md)."""

    __tablename__ = "desired_state_generation"

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class InstallationState(StrEnum):
    """Where a managed app stands on a device, as the device last reported it."""

    INSTALLED = "installed"
    FAILED = "failed"
    REMOVED = "removed"
    PENDING = "pending"


class PortalInstallation(SQLModel, table=True):
    """A device's last report on one app, and the admin's requests to retry a failed install.

    ``retry_generation`` only grows: the desired-state document carries it, and the device retries
    once per generation it has not yet acted on, so a replayed request cannot loop an install."""

    __tablename__ = "portal_installation"

    # Like PortalDeviceState's: the key to device.id is the schema's (migration 0008).
    device_id: str = Field(primary_key=True, max_length=36)
    package: str = Field(primary_key=True, max_length=255)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=36)
    state: InstallationState = Field(sa_type=EnumText(InstallationState, 16))
    version_code: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    reported_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    retry_generation: int = 0
    retry_requested_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    retry_requested_by: str | None = Field(default=None, max_length=200)
