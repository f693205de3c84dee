"""The device protocol's messages (docs/device-protocol.md), as the device sends and reads them.

What the device sends is strict (the server forbids unknown fields). What it reads ignores
fields it does not know, so that a newer server does not break an older agent; a command's
``type`` is a plain string for the same reason: an unknown type must be answered with an
error, not fail to parse.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EST_CACERTS = "/.well-known/est/cacerts"
EST_SIMPLEENROLL = "/.well-known/est/simpleenroll"
EST_SIMPLEREENROLL = "/.well-known/est/simplereenroll"
#: Renewal after expiry, within the CA's grace window: the old key signs the new CSR.
EST_EXPIRED_SIMPLEREENROLL = "/.well-known/est/expired/simplereenroll"
EXPIRED_CERT_HEADER = "GovMobile-Expired-Certificate"
POSSESSION_HEADER = "GovMobile-Possession-Signature"
CHECKIN = "/api/v1/device/checkin"
WAIT = "/api/v1/device/wait"
UNENROLL = "/api/v1/device/unenroll"
FACTS_HEADER = "GovMobile-Device-Facts"
#: At most this many results go in one check-in (the server refuses more).
MAX_RESULTS_PER_CHECKIN = 20
#: At most this many apps go in a posture, by package and in the inventory (the server refuses more).
MAX_INSTALLED_APPS = 500

ResultStatus = Literal["acknowledged", "error", "not_now"]


class _Sent(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Received(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Location(_Sent):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0)
    at: dt.datetime | None = None


class InstalledApp(_Sent):
    """One installed app, as MDM app admission judges it (docs/device-protocol.md)."""

    package: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$", max_length=255)
    version_code: int = Field(ge=0)
    #: Lowercase hex SHA-256 of the signing certificate's DER.
    signer: str = Field(pattern=r"^[0-9a-f]{64}$")


class Posture(_Sent):
    os_name: str = ""
    os_version: str = ""
    storage_encrypted: bool = False
    passcode_set: bool = False
    rooted: bool = False
    installed_apps: list[str] = Field(default_factory=list, max_length=MAX_INSTALLED_APPS)
    #: Package, version and signer of each installed app, one entry per package.
    app_inventory: list[InstalledApp] = Field(default_factory=list, max_length=MAX_INSTALLED_APPS)
    battery_percent: int | None = None
    location: Location | None = None
    agent_version: str = ""


class CommandResult(_Sent):
    """A device's answer to one command; the command id is the idempotency key."""

    command_id: str
    status: ResultStatus
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class CheckinRequest(_Sent):
    device_id: str | None = None
    posture: Posture
    results: list[CommandResult] = Field(default_factory=list)


class Command(_Received):
    id: str
    type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    deadline: dt.datetime | None = None


class DeviceStatus(_Received):
    id: str
    tenant_id: str
    state: str
    compliant: bool | None = None
    reasons: list[str] = Field(default_factory=list)
    lost_mode: bool = False
    lock_message: str | None = None
    cert_not_after: dt.datetime | None = None


class AppAdmission(_Received):
    #: off, allowlist or blocklist (a plain string: a newer server may add a mode).
    mode: str = "off"
    packages: list[str] = Field(default_factory=list)
    signers: list[str] = Field(default_factory=list)


class Policy(_Received):
    version: int = 0
    min_os_version: str | None = None
    require_encryption: bool = False
    require_passcode: bool = False
    forbid_rooted: bool = False
    app_admission: AppAdmission = Field(default_factory=AppAdmission)
    checkin_interval_seconds: int = Field(default=900, ge=1)


class CheckinResponse(_Received):
    device: DeviceStatus
    policy: Policy
    command: Command | None = None
    next_checkin_seconds: int = 0


class WaitResponse(_Received):
    wake: bool


class ErrorBody(_Received):
    """Every GovMobile service answers errors as ``{"error", "message", "details"?}``."""

    error: str
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
