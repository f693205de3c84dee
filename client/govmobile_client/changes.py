"""Partial updates: only the fields you set are sent, so ``None`` can mean "clear this".

``TenantChange(max_devices=None)`` removes a department's device limit and keeps its name;
``TenantChange(name="Water Resources")`` renames it and keeps the limit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govmobile_client.models import AdmissionMode


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def body(self) -> dict[str, Any]:
        """The fields that were set, as JSON."""
        return self.model_dump(mode="json", exclude_unset=True)

    def is_empty(self) -> bool:
        return not self.model_fields_set


class TenantChange(Change):
    name: str | None = None
    #: None removes the limit.
    max_devices: int | None = Field(default=None, ge=0)


class PersonChange(Change):
    display_name: str | None = None
    email: str | None = None
    disabled: bool | None = None


class AdmissionChange(Change):
    """A department's app admission, as a whole: the mode and both lists (empty lists allowed)."""

    mode: AdmissionMode
    #: Required, both, so that a partial dump of a ``PolicyChange`` still carries them.
    packages: list[str]
    signers: list[str]


class PolicyChange(Change):
    #: None (or "") drops the minimum.
    min_os_version: str | None = None
    require_encryption: bool | None = None
    require_passcode: bool | None = None
    forbid_rooted: bool | None = None
    #: The whole app admission (mode and lists) replaces the current one.
    app_admission: AdmissionChange | None = None
    max_offline_hours: int | None = None
    block_intranet_when_noncompliant: bool | None = None
    lock_after_noncompliant_days: int | None = None
    checkin_interval_seconds: int | None = None
