"""Compliance: a device's posture measured against its tenant's policy.

Pure functions; evaluated at every check-in (posture rules) and by the periodic job (time
offline). A non-compliant device still reaches the MDM and the app portal to remediate; the
gateway keeps it out of intranet apps when the policy says so.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from govmobile.core.times import IsoTime
from govmobile.mdm.admission import (
    MAX_INVENTORY,
    Admission,
    AdmissionMode,
    InstalledApp,
    duplicate_packages,
)
from govmobile.mdm.models import Policy


class Location(BaseModel):
    # Infinity and NaN are not positions (and would not survive being stored as JSON).
    model_config = ConfigDict(allow_inf_nan=False)

    latitude: StrictFloat = Field(ge=-90, le=90)
    longitude: StrictFloat = Field(ge=-180, le=180)
    accuracy_m: StrictFloat | None = Field(default=None, ge=0, le=10**7)
    at: IsoTime | None = None


AppId = Annotated[str, Field(min_length=1, max_length=200)]


class Posture(BaseModel):
    """What a device reports about itself at check-in (fields a newer agent adds are ignored)."""

    os_name: str = Field(default="", max_length=50)
    os_version: str = Field(default="", max_length=50)
    storage_encrypted: StrictBool = False
    passcode_set: StrictBool = False
    rooted: StrictBool = False
    installed_apps: list[AppId] = Field(default_factory=list, max_length=MAX_INVENTORY)
    #: Package, version code and signer of each app (newer agents; ``admission`` says what an
    #: agent without it is judged by).
    app_inventory: list[InstalledApp] = Field(default_factory=list, max_length=MAX_INVENTORY)
    battery_percent: StrictInt | None = Field(default=None, ge=0, le=100)
    location: Location | None = None
    agent_version: str = Field(default="", max_length=50)

    @field_validator("app_inventory")
    @classmethod
    def _one_entry_per_app(cls, inventory: list[InstalledApp]) -> list[InstalledApp]:
        duplicates = duplicate_packages(inventory)
        if duplicates:
            raise ValueError(
                f"app_inventory lists {', '.join(duplicates[:5])} more than once; one entry per app"
            )
        return inventory

    def essentials(self) -> str:
        """The posture without what changes at almost every check-in (battery, position), as
        canonical JSON: history keeps a report only when this part changes."""
        return self.model_dump_json(exclude={"battery_percent", "location"})


@dataclass(frozen=True)
class Compliance:
    compliant: bool
    reasons: tuple[str, ...]


def evaluate(policy: Policy, posture: Posture) -> Compliance:
    """The posture rules of the policy, each failed one named in plain words."""
    reasons: list[str] = []
    if policy.min_os_version and version_key(posture.os_version) < version_key(policy.min_os_version):
        reasons.append(
            f"OS version {posture.os_version or 'unknown'} is older than the required {policy.min_os_version}"
        )
    if policy.require_encryption and not posture.storage_encrypted:
        reasons.append("storage is not encrypted")
    if policy.require_passcode and not posture.passcode_set:
        reasons.append("no passcode is set")
    if policy.forbid_rooted and posture.rooted:
        reasons.append("the device is rooted or jailbroken")
    if policy.app_admission_mode != AdmissionMode.OFF:
        reasons += admission_of(policy).reasons(posture.installed_apps, posture.app_inventory)
    return Compliance(not reasons, tuple(reasons))


def admission_of(policy: Policy) -> Admission:
    """The policy's app admission rule."""
    return _admission(
        AdmissionMode(policy.app_admission_mode), policy.app_admission_packages, policy.app_admission_signers
    )


@functools.lru_cache(maxsize=256)
def _admission(mode: AdmissionMode, packages: str, signers: str) -> Admission:
    # Read once per distinct policy, not at every check-in: a 1000-entry list costs about 0.4 ms
    # to parse, and the policy cache hands every check-in the same strings (their hash is kept).
    return Admission(mode, frozenset(json.loads(packages)), frozenset(json.loads(signers)))


def offline_reason(policy: Policy, last_seen_at: dt.datetime | None, now: dt.datetime) -> str | None:
    """Why a device is non-compliant for having been away too long, if it is."""
    if policy.max_offline_hours is None or last_seen_at is None:
        return None
    away = now - last_seen_at
    if away > dt.timedelta(hours=policy.max_offline_hours):
        return f"offline for {away.total_seconds() / 3600:.0f} h, longer than the allowed {policy.max_offline_hours} h"
    return None


class ReasonKind(enum.StrEnum):
    """What kind of rule a compliance reason names: what the overview counts devices by.

    The reasons themselves are sentences with the device's own values in them (its OS version,
    its hours offline, an app's package), so counting by sentence would give one bar per device.
    """

    OS_VERSION = "os_version"
    NOT_ENCRYPTED = "not_encrypted"
    NO_PASSCODE = "no_passcode"
    ROOTED = "rooted"
    APP_ADMISSION = "app_admission"
    OFFLINE = "offline"


#: Text that only a reason of each kind holds (SQL ``LIKE`` patterns, matched against the stored
#: JSON list of reasons): they follow the sentences ``evaluate``, ``offline_reason`` and
#: ``Admission.reasons`` write, and a test checks that every such sentence has exactly one kind.
#: Package ids hold no spaces, so an app's name cannot fake a kind; an OS version the device
#: reports could add a kind to a device that is already non-compliant for its OS version (the
#: count is an overview, not evidence: the device's page shows the sentences).
REASON_PATTERNS: dict[ReasonKind, tuple[str, ...]] = {
    ReasonKind.OS_VERSION: ("% is older than the required %",),
    ReasonKind.NOT_ENCRYPTED: ("%storage is not encrypted%",),
    ReasonKind.NO_PASSCODE: ("%no passcode is set%",),
    ReasonKind.ROOTED: ("%the device is rooted or jailbroken%",),
    ReasonKind.APP_ADMISSION: (
        "% is not admitted: %",
        "% is blocked: the blocklist %",
        "% more app% break the %",
    ),
    ReasonKind.OFFLINE: ("%offline for % longer than the allowed %",),
}


def version_key(version: str) -> tuple[int, ...]:
    """``"14.0.1"`` → ``(14, 0, 1)``; anything unparsable counts as oldest."""
    parts = re.findall(r"\d+", version)
    return tuple(int(p) for p in parts) if parts else (-1,)
