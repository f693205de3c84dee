"""Filters for the admin API's lists, and the target of a bulk command.

Every field is optional; ``None`` means "do not filter on this". Ids, not names: resolve a
tenant slug, a username or a group name first (``tenants.show``, ``people.resolve``,
``groups.resolve``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from govmobile_client.models import CertificateStatus, DeviceState


@dataclass(frozen=True)
class DeviceFilter:
    tenant_id: str | None = None
    state: DeviceState | None = None
    compliant: bool | None = None
    group_id: str | None = None
    person_id: str | None = None
    last_seen_before: dt.datetime | None = None
    last_seen_after: dt.datetime | None = None
    #: Text in the serial number, the model, or the person's username or name.
    q: str | None = None

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    #: Exactly as the log names it, e.g. ``admin:alice`` or ``device:<id>``.
    actor: str | None = None
    tenant_id: str | None = None
    since: dt.datetime | None = None

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CertificateFilter:
    serial: str | None = None
    #: Text in the subject.
    q: str | None = None
    device_id: str | None = None
    tenant_id: str | None = None
    profile: str | None = None
    status: CertificateStatus | None = None
    expiring_before: dt.datetime | None = None

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BulkTarget:
    """Which devices a bulk command reaches: a group, a filter, or both (within a tenant)."""

    tenant_id: str | None = None
    group_id: str | None = None
    state: DeviceState | None = None
    compliant: bool | None = None

    def body(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
