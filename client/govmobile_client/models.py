"""What the admin API answers, as the client's own types.

These mirror the services' public shapes without importing them (STYLE rule 4): the client
depends on the API's JSON, never on a service's code. Unknown fields are ignored, so a newer
server that adds a field does not break an older client.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    AUDITOR = "auditor"


class TokenKind(enum.StrEnum):
    SESSION = "session"
    API = "api"


class DeviceState(enum.StrEnum):
    ENROLLED = "enrolled"
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


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"


class IdentityMode(enum.StrEnum):
    """How the gateway tells an intranet app who is calling."""

    #: A signed JWT in ``GovMobile-Assertion`` only.
    ASSERTION = "assertion"
    #: The assertion plus plain user and groups headers, for apps that cannot verify a JWT.
    ASSERTION_AND_HEADERS = "assertion_and_headers"


ItemT = TypeVar("ItemT")
CursorT = TypeVar("CursorT")


class Page(ApiModel, Generic[ItemT, CursorT]):
    """One page of a cursor list; pass ``next_cursor`` back for the next one (None: last page)."""

    items: list[ItemT]
    next_cursor: CursorT | None


# -- accounts ------------------------------------------------------------------------------


class IssuedToken(ApiModel):
    """A bearer token from a login or for automation; ``token`` is shown only once."""

    token: str
    id: str
    kind: TokenKind
    expires_at: dt.datetime


class Me(ApiModel):
    account_id: str
    username: str
    role: Role
    tenant_id: str | None


class ApiToken(ApiModel):
    id: str
    account_id: str
    kind: TokenKind
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class AdminAccount(ApiModel):
    id: str
    username: str
    role: Role
    tenant_id: str | None
    disabled: bool
    totp_enabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class TotpStarted(ApiModel):
    provisioning_uri: str


# -- tenants, people and groups ------------------------------------------------------------


class Tenant(ApiModel):
    id: str
    slug: str
    name: str
    max_devices: int | None
    created_at: dt.datetime


class Person(ApiModel):
    id: str
    tenant_id: str
    username: str
    display_name: str
    email: str | None
    disabled: bool
    created_at: dt.datetime


class Group(ApiModel):
    id: str
    tenant_id: str
    name: str
    description: str
    created_at: dt.datetime
    member_count: int


class PersonDetail(Person):
    groups: list[Group]


class GroupDetail(Group):
    members: list[Person]


# -- enrollment, devices, commands, policies -----------------------------------------------


class IssuedEnrollmentToken(ApiModel):
    """A new enrollment token; ``token`` and ``qr_payload`` are shown only in this answer."""

    id: str
    token: str
    qr_payload: str
    expires_at: dt.datetime
    max_uses: int


class EnrollmentToken(ApiModel):
    id: str
    tenant_id: str
    person_id: str
    group_id: str | None
    #: Set on a re-enrollment token: the one device it enrolls again.
    device_id: str | None = None
    max_uses: int
    uses: int
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    #: active, used, expired or revoked
    status: str


class Device(ApiModel):
    id: str
    tenant_id: str
    person_id: str
    serial_number: str
    model: str
    os_name: str
    os_version: str
    hardware_ids: dict[str, str]
    state: DeviceState
    compliant: bool | None
    compliance_reasons: list[str]
    noncompliant_since: dt.datetime | None
    lost_mode: bool
    lock_message: str | None
    last_location: dict[str, Any] | None
    enrolled_at: dt.datetime
    last_seen_at: dt.datetime | None
    cert_serial: str | None
    cert_not_after: dt.datetime | None
    work_container_wiped_at: dt.datetime | None


class DeviceEvent(ApiModel):
    at: dt.datetime
    actor: str
    change: str
    details: dict[str, Any]


class Checkin(ApiModel):
    at: dt.datetime
    compliant: bool
    reasons: list[str]
    posture: dict[str, Any]


class DeviceDetail(Device):
    #: Open commands, kept apart from the state the device has confirmed.
    pending_actions: list[str]
    history: list[DeviceEvent]
    recent_checkins: list[Checkin]


class CommandResult(ApiModel):
    status: str
    received_at: dt.datetime
    result: dict[str, Any]


class Command(ApiModel):
    id: str
    device_id: str
    tenant_id: str
    type: CommandType
    payload: dict[str, Any]
    state: CommandState
    priority: int
    created_at: dt.datetime
    created_by: str
    deadline: dt.datetime
    sent_at: dt.datetime | None
    closed_at: dt.datetime | None
    closed_reason: str | None
    bulk_id: str | None
    result: CommandResult | None = None


class BulkOutcome(ApiModel):
    """A bulk command's preview (``sent`` false) or its sending."""

    count: int
    bulk_id: str | None
    sent: bool


class AdmissionMode(enum.StrEnum):
    """Which installed apps a department's devices may have and stay compliant."""

    #: No app rule.
    OFF = "off"
    #: Only apps whose package id, or whose signer, is listed.
    ALLOWLIST = "allowlist"
    #: Any app but those whose package id, or whose signer, is listed.
    BLOCKLIST = "blocklist"


class AppAdmission(ApiModel):
    mode: AdmissionMode
    #: Android package ids, e.g. ``cn.gov.water.inspect``.
    packages: list[str]
    #: Lowercase hex SHA-256 of a signing certificate (DER), 64 characters.
    signers: list[str]


class Policy(ApiModel):
    tenant_id: str
    min_os_version: str | None
    require_encryption: bool
    require_passcode: bool
    forbid_rooted: bool
    app_admission: AppAdmission
    max_offline_hours: int | None
    block_intranet_when_noncompliant: bool
    lock_after_noncompliant_days: int | None
    checkin_interval_seconds: int
    #: 0 while the tenant runs on the defaults and never set a policy.
    version: int
    updated_at: dt.datetime
    updated_by: str


# -- audit and certificates ----------------------------------------------------------------


class AuditEvent(ApiModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    tenant_id: str | None
    action: str
    target: str
    details: dict[str, Any]
    hash: str


class AuditVerification(ApiModel):
    ok: bool
    events_checked: int
    first_broken_id: int | None
    reason: str


class Certificate(ApiModel):
    serial: str
    profile: str
    subject: str
    common_name: str
    device_id: str | None
    tenant_id: str | None
    sha256: str
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    status: CertificateStatus
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    renewed_from: str | None
    pem: str


class Revocation(ApiModel):
    serial: str
    revoked_at: dt.datetime
    reason: str
    crl_number: int


# -- gateway routes ------------------------------------------------------------------------


class Route(ApiModel):
    """An intranet app behind the gateway (``/apps/<name>/``, or its own host name)."""

    id: str
    name: str
    description: str
    host: str | None
    upstream_url: str
    #: Whether the route trusts a CA of its own for an HTTPS upstream; the PEM is never returned.
    upstream_ca_configured: bool
    #: Tenant ids (the API resolves slugs when a route is written).
    allowed_tenants: list[str]
    #: Group names; empty admits anyone of the allowed tenants.
    allowed_groups: list[str]
    require_compliance: bool
    identity_mode: IdentityMode
    user_header: str
    groups_header: str
    #: Requests per second per device.
    rate_limit: int
    websocket: bool
    connect_timeout_seconds: int
    read_timeout_seconds: int
    enabled: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str


# -- app portal ----------------------------------------------------------------------------


class ReleaseState(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"
    RETIRED = "retired"


class Track(enum.StrEnum):
    PILOT = "pilot"
    PRODUCTION = "production"


class Intent(enum.StrEnum):
    REQUIRED = "required"
    AVAILABLE = "available"
    UNINSTALL = "uninstall"


class TargetKind(enum.StrEnum):
    DEPARTMENT = "department"
    GROUP = "group"
    PERSON = "person"
    DEVICE = "device"


class AppKind(enum.StrEnum):
    ANDROID = "android"
    WEB = "web"


class PortalApp(ApiModel):
    id: str
    package: str
    #: The owning department; None: the platform's app.
    tenant_id: str | None
    #: android: releases are APKs; web: releases open a gateway route.
    kind: AppKind = AppKind.ANDROID
    #: Web apps: "available", or why no device can open it now (its gateway route as it is).
    availability: str | None = None
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


class Release(ApiModel):
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
    #: SHA-256 of each verified signer certificate.
    signers: list[str]
    #: The signature verifier's warnings, for the reviewer.
    warnings: list[str]
    state: ReleaseState
    track: Track | None
    uploaded_by: str
    uploaded_at: dt.datetime
    approved_by: str | None
    #: A web app's release: the gateway route it opens, the path under it, and the path on the gateway.
    route: str | None = None
    start_path: str | None = None
    url: str | None = None


class Protection(ApiModel):
    """An app protection policy; unset settings take the protective default."""

    clipboard_to_unmanaged: bool = False
    save_to_unmanaged: bool = False
    screenshots: bool = False
    pin_required: bool = False
    pin_max_attempts: int | None = None
    offline_block_after_seconds: int | None = None
    offline_wipe_after_seconds: int | None = None


class DepartmentRules(ApiModel):
    """A department's publishing rules and its default app protection."""

    second_approval: bool = False
    pilot_first: bool = False
    protection: Protection = Protection()


class Target(ApiModel):
    kind: TargetKind
    id: str


class Assignment(ApiModel):
    id: str
    tenant_id: str
    app_id: str
    package: str
    target: Target
    intent: Intent
    track: Track
    exclusions: list[Target]
    config: dict[str, Any]
    protection: dict[str, Any] | None
    remove_when_unassigned: bool
    created_at: dt.datetime
    created_by: str


class DesiredApp(ApiModel):
    package: str
    intent: Intent
    track: Track | None
    #: The release to install; None: none published on its track yet.
    version_code: int | None
    assignment_ids: list[str]
    kind: AppKind = AppKind.ANDROID
    #: A web app: the path it opens on the gateway.
    url: str | None = None


class UnavailableApp(ApiModel):
    """A web app assigned to a device that its gateway route does not let the device open."""

    package: str
    code: str
    reason: str


class AppConflict(ApiModel):
    package: str
    level: str
    reason: str
    assignment_ids: list[str]


class InstallationState(enum.StrEnum):
    INSTALLED = "installed"
    FAILED = "failed"
    REMOVED = "removed"
    #: An admin asked for a retry the device has not reported on yet.
    PENDING = "pending"


class Installation(ApiModel):
    """What a device last reported of one managed app, and the admin's retries."""

    package: str
    state: InstallationState
    version_code: int | None
    attempts: int
    last_error: str | None
    reported_at: dt.datetime | None
    retry_generation: int
    retry_requested_at: dt.datetime | None
    retry_requested_by: str | None


class DeviceApps(ApiModel):
    """What a device should have, from which assignments, its conflicts, and what it reported."""

    device_id: str
    apps: list[DesiredApp]
    conflicts: list[AppConflict]
    #: The last desired-state document issued; None: the device never fetched one.
    sequence: int | None
    issued_at: dt.datetime | None
    installations: list[Installation] = []
    #: Web apps assigned to the device whose route does not admit it, and why.
    unavailable: list[UnavailableApp] = []


DevicePage = Page[Device, str]
AuditPage = Page[AuditEvent, int]
CertificatePage = Page[Certificate, str]


# -- overview (the fleet in figures) ----------------------------------------------------------


class ReasonKind(enum.StrEnum):
    """The kind of rule a compliance reason names."""

    OS_VERSION = "os_version"
    NOT_ENCRYPTED = "not_encrypted"
    NO_PASSCODE = "no_passcode"
    ROOTED = "rooted"
    APP_ADMISSION = "app_admission"
    OFFLINE = "offline"


class LastSeen(enum.StrEnum):
    """How long ago a device in service last checked in."""

    UNDER_1_HOUR = "under_1_hour"
    UNDER_1_DAY = "under_1_day"
    UNDER_7_DAYS = "under_7_days"
    OLDER = "older"
    NEVER = "never"


class DeviceOverview(ApiModel):
    """Devices counted: all by state; those in service by compliance and last check-in."""

    total: int
    by_state: dict[DeviceState, int]
    in_service: int
    compliant: int
    noncompliant: int
    #: In service, not evaluated yet (first check-in pending).
    unknown: int
    #: Non-compliant devices per kind of reason (a device with two kinds counts in both).
    reasons: dict[ReasonKind, int]
    other_reasons: int
    last_seen: dict[LastSeen, int]


class EnrollmentDay(ApiModel):
    day: dt.date
    count: int


class EnrollmentOverview(ApiModel):
    time_zone: str
    days: list[EnrollmentDay]


class CommandCount(ApiModel):
    type: CommandType
    state: CommandState
    count: int


class CommandOverview(ApiModel):
    pending: list[CommandCount]
    failed: list[CommandCount]
    failed_since: dt.datetime


class ExpiringProfile(ApiModel):
    profile: str
    within_7_days: int
    #: The certificates expiring within 7 days included.
    within_30_days: int


class ExpiringCertificates(ApiModel):
    profiles: list[ExpiringProfile]


class InstallationCount(ApiModel):
    package: str
    state: InstallationState
    count: int


class InstallationOverview(ApiModel):
    counts: list[InstallationCount]
