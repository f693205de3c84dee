"""The MDM's tables: enrollment tokens, devices and their history, policies and commands."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from govmobile.core.database import EnumText, UTCDateTime, utcnow
from govmobile.core.ids import new_id
from govmobile.mdm.admission import AdmissionMode


class DeviceState(enum.StrEnum):
    """Lifecycle (ARCHITECTURE.md): what the device has confirmed, never what is merely queued."""

    ENROLLED = "enrolled"  # certificate issued, first check-in pending
    ACTIVE = "active"
    LOCKED = "locked"
    LOST = "lost"
    WIPED = "wiped"
    RETIRED = "retired"


class CommandType(enum.StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"
    WIPE = "wipe"
    SELECTIVE_WIPE = "selective_wipe"
    LOCATE = "locate"
    LOST_MODE_ON = "lost_mode_on"
    LOST_MODE_OFF = "lost_mode_off"
    MESSAGE = "message"
    INSTALL_APP = "install_app"
    REMOVE_APP = "remove_app"
    RENEW_CERTIFICATE = "renew_certificate"
    REFRESH_POLICY = "refresh_policy"


class CommandState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ERROR = "error"
    NOT_NOW = "not_now"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"

    @property
    def is_open(self) -> bool:
        """Still waiting for the device."""
        return self in (CommandState.QUEUED, CommandState.SENT, CommandState.NOT_NOW)


class EnrollmentToken(SQLModel, table=True):
    __tablename__ = "enrollment_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=36)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=36)
    group_id: str | None = Field(default=None, foreign_key="person_group.id", max_length=36)
    #: A re-enrollment token: it enrolls this device again, and no other.
    device_id: str | None = Field(default=None, foreign_key="device.id", max_length=36)
    #: SHA-256 of the secret; the secret itself is shown once and never stored.
    secret_hash: str = Field(max_length=64, unique=True)
    max_uses: int = 1
    uses: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=200)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_used_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Device(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("tenant_id", "serial_number", name="uq_device_tenant_serial"),
        Index("ix_device_tenant_last_seen", "tenant_id", "last_seen_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=36)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=36)
    #: The hardware serial number, which recognises a device that enrolls again.
    serial_number: str = Field(max_length=100)
    model: str = Field(default="", max_length=100)
    os_name: str = Field(default="", max_length=50)
    os_version: str = Field(default="", max_length=50)
    #: JSON: IMEI, Wi-Fi MAC and the like, as the device reported them.
    hardware_ids: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    state: DeviceState = Field(default=DeviceState.ENROLLED, sa_type=EnumText(DeviceState, 16), index=True)
    #: SHA-256 of the certificate bound to this device; only it authenticates the device.
    cert_sha256: str | None = Field(default=None, max_length=64, unique=True)
    cert_serial: str | None = Field(default=None, max_length=40)
    cert_not_after: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: The certificate being replaced by a renewal, accepted until the new one is first used.
    previous_cert_sha256: str | None = Field(default=None, max_length=64, unique=True)
    previous_cert_serial: str | None = Field(default=None, max_length=40)
    compliant: bool | None = Field(default=None, index=True)
    compliance_reasons: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    noncompliant_since: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    lost_mode: bool = False
    lock_message: str | None = Field(default=None, max_length=500)
    #: JSON of the latest posture report.
    posture: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    last_location: str | None = Field(default=None, sa_column=Column(Text))
    enrolled_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, index=True))
    checkin_count: int = 0
    work_container_wiped_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: Grows with every change the gateway must notice (state, compliance, certificate).
    revision: int = 0


class DeviceEvent(SQLModel, table=True):
    """The asset record's history: who changed what, when."""

    __tablename__ = "device_event"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True, max_length=36)
    tenant_id: str = Field(max_length=36)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=200)
    change: str = Field(max_length=100)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class DeviceCheckin(SQLModel, table=True):
    """Posture history, kept for a bounded time (see ``jobs``)."""

    __tablename__ = "device_checkin"
    __table_args__ = (Index("ix_device_checkin_device_at", "device_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", max_length=36)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    compliant: bool
    reasons: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    posture: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class Policy(SQLModel, table=True):
    """A tenant's compliance policy. One row per tenant; defaults apply when there is none."""

    tenant_id: str = Field(foreign_key="tenant.id", primary_key=True, max_length=36)
    min_os_version: str | None = Field(default=None, max_length=50)
    require_encryption: bool = True
    require_passcode: bool = True
    forbid_rooted: bool = True
    #: App admission (``admission``): off, or an allowlist or blocklist of the two JSON lists.
    app_admission_mode: AdmissionMode = Field(default=AdmissionMode.OFF, sa_type=EnumText(AdmissionMode, 16))
    #: JSON list of package ids, sorted.
    app_admission_packages: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    #: JSON list of signers (lowercase hex SHA-256 of the signing certificate), sorted.
    app_admission_signers: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    max_offline_hours: int | None = None
    #: Non-compliant devices reach MDM and portal to remediate, but not intranet apps.
    block_intranet_when_noncompliant: bool = True
    #: Queue a lock when a device stays non-compliant this many days (None: never).
    lock_after_noncompliant_days: int | None = None
    checkin_interval_seconds: int = 900
    version: int = 1
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_by: str = Field(default="system", max_length=200)


class Command(SQLModel, table=True):
    __table_args__ = (Index("ix_command_device_open", "device_id", "state", "priority", "seq"),)

    #: Insertion order: within a priority, commands are delivered oldest first.
    seq: int | None = Field(default=None, primary_key=True)
    #: The idempotency key: results are recorded per (device, command id).
    id: str = Field(default_factory=new_id, unique=True, max_length=36)
    device_id: str = Field(foreign_key="device.id", max_length=36)
    tenant_id: str = Field(max_length=36, index=True)
    type: CommandType = Field(sa_type=EnumText(CommandType, 32))
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    state: CommandState = Field(default=CommandState.QUEUED, sa_type=EnumText(CommandState, 16))
    priority: int = 10
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=200)
    deadline: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: The check-in number that reported "not now": the command waits for a later one.
    not_now_checkin: int | None = None
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_reason: str | None = Field(default=None, max_length=200)
    bulk_id: str | None = Field(default=None, max_length=36, index=True)


class CommandResult(SQLModel, table=True):
    __tablename__ = "command_result"

    device_id: str = Field(foreign_key="device.id", primary_key=True, max_length=36)
    command_id: str = Field(foreign_key="command.id", primary_key=True, max_length=36)
    status: str = Field(max_length=16)
    result: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    received_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class AccessChange(SQLModel, table=True):
    """A device lost access it may have had (locked, lost, wiped, retired, re-enrolled, became
    non-compliant, its person disabled or moved out of a group). The gateway watches this feed
    to drop its cached decisions at once; granting access needs no such haste."""

    __tablename__ = "access_change"

    seq: int | None = Field(default=None, primary_key=True)
    device_id: str | None = Field(default=None, max_length=36)
    person_id: str | None = Field(default=None, max_length=36)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    reason: str = Field(max_length=100)


class Wakeup(SQLModel, table=True):
    """A note that a device has something to fetch; read by every MDM process's wake-up hub."""

    seq: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=36)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
