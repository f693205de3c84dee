"""Per-tenant compliance policies."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import MISSING, BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from sqlmodel import Session

from govmobile.core.errors import InvalidInput
from govmobile.mdm.admission import AdmissionDocument, AdmissionMode
from govmobile.mdm.compliance import admission_of, version_key
from govmobile.mdm.models import Policy


class PolicyUpdate(BaseModel):
    """Fields an admin may set; omitted ones keep their value, and ``null`` clears a limit
    (``min_os_version``, ``max_offline_hours``, ``lock_after_noncompliant_days``). The other
    fields always have a value, so ``null`` is refused for them."""

    model_config = ConfigDict(extra="forbid")

    min_os_version: str | MISSING | None = Field(default=MISSING, max_length=50)
    require_encryption: StrictBool | MISSING = MISSING
    require_passcode: StrictBool | MISSING = MISSING
    forbid_rooted: StrictBool | MISSING = MISSING
    #: The whole app admission at once: mode, packages and signers.
    app_admission: AdmissionDocument | MISSING = MISSING
    max_offline_hours: StrictInt | MISSING | None = Field(default=MISSING, ge=1, le=24 * 365)
    block_intranet_when_noncompliant: StrictBool | MISSING = MISSING
    lock_after_noncompliant_days: StrictInt | MISSING | None = Field(default=MISSING, ge=1, le=365)
    checkin_interval_seconds: StrictInt | MISSING = Field(default=MISSING, ge=60, le=86400)

    @field_validator("min_os_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and value and version_key(value) == (-1,):
            raise ValueError("min_os_version must contain a version number such as 14 or 13.1.2")
        return value or None


class AdmissionPublic(BaseModel):
    mode: AdmissionMode
    packages: list[str]
    signers: list[str] = Field(description="lowercase hex SHA-256 of each signing certificate (DER)")

    @classmethod
    def of(cls, policy: Policy) -> AdmissionPublic:
        """The policy's admission; every check-in's answer carries it, so it is read once per policy."""
        return _admission_public(
            AdmissionMode(policy.app_admission_mode),
            policy.app_admission_packages,
            policy.app_admission_signers,
        )


@functools.lru_cache(maxsize=256)
def _admission_public(mode: AdmissionMode, packages: str, signers: str) -> AdmissionPublic:
    # Stored sorted (set_policy), so read as they are. Shared: nothing changes an answer's model.
    return AdmissionPublic(mode=mode, packages=json.loads(packages), signers=json.loads(signers))


class PolicyPublic(BaseModel):
    tenant_id: str
    min_os_version: str | None
    require_encryption: bool
    require_passcode: bool
    forbid_rooted: bool
    app_admission: AdmissionPublic
    max_offline_hours: int | None
    block_intranet_when_noncompliant: bool
    lock_after_noncompliant_days: int | None
    checkin_interval_seconds: int
    version: int
    updated_at: dt.datetime
    updated_by: str

    @classmethod
    def of(cls, policy: Policy) -> PolicyPublic:
        return cls(**policy.model_dump(), app_admission=AdmissionPublic.of(policy))


class PolicyCache:
    """Policies read at check-in, kept for a few seconds.

    Check-ins read their tenant's policy every time; a change made through the admin API
    reaches devices at most ``ttl`` seconds later (in every MDM process).
    """

    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[float, Policy]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, tenant_id: str) -> Policy:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is not None and now - entry[0] < self.ttl:
                return entry[1]
        policy = policy_for(session, tenant_id)
        if policy in session:
            session.expunge(policy)  # kept across sessions, read-only
        with self._lock:
            self._entries[tenant_id] = (now, policy)
        return policy

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._entries.pop(tenant_id, None)


def policy_for(session: Session, tenant_id: str) -> Policy:
    """The tenant's policy, or the defaults when none was ever set (not stored)."""
    return session.get(Policy, tenant_id) or Policy(tenant_id=tenant_id, version=0)


def audit_details(update: PolicyUpdate, before: Policy) -> dict[str, Any]:
    """What a policy update changed, for its audit event: the fields as sent, except the app
    admission, recorded as its mode and the entries added and removed (not whole lists)."""
    details = update.model_dump(mode="json", exclude_unset=True, exclude={"app_admission"})
    if isinstance(update.app_admission, AdmissionDocument):
        old = admission_of(before)
        new = update.app_admission
        details["app_admission"] = {
            "mode": new.mode.value,
            "previous_mode": old.mode.value,
            "packages_added": sorted(set(new.packages) - old.packages),
            "packages_removed": sorted(old.packages - set(new.packages)),
            "signers_added": sorted(set(new.signers) - old.signers),
            "signers_removed": sorted(old.signers - set(new.signers)),
        }
    return details


def set_policy(
    session: Session, tenant_id: str, update: PolicyUpdate, *, actor: str, now: dt.datetime
) -> Policy:
    """Change a tenant's policy; devices pick it up at their next check-in."""
    changes = update.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("the policy update changes nothing; send at least one field", code="empty_update")
    policy = session.get(Policy, tenant_id) or Policy(tenant_id=tenant_id, version=0)
    changes.pop("app_admission", None)  # three columns, set below from the validated document
    for key, value in changes.items():
        setattr(policy, key, value)
    if isinstance(update.app_admission, AdmissionDocument):
        policy.app_admission_mode = update.app_admission.mode
        policy.app_admission_packages = json.dumps(update.app_admission.packages)
        policy.app_admission_signers = json.dumps(update.app_admission.signers)
    policy.version += 1
    policy.updated_at = now
    policy.updated_by = actor
    session.add(policy)
    session.flush()
    return policy
