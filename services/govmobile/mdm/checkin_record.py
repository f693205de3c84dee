"""What a check-in writes about a device, decided once for both of its write paths.

A check-in is written either by ``checkin.heartbeat`` (a few Core SQL statements, for the common
check-in that changes nothing but posture and last-seen) or by ``checkin.check_in`` (ORM objects,
for everything else). Both apply the ``CheckinRecord`` computed here and decide no value of their
own; tests/mdm/test_checkin_paths.py holds them to the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from govmobile.mdm.compliance import Compliance, Posture


@dataclass(frozen=True)
class StoredPosture:
    """What the device's row says before the check-in (the parts the record depends on)."""

    posture: str
    compliant: bool | None
    os_name: str
    os_version: str
    lost_mode: bool


@dataclass(frozen=True)
class CheckinRecord:
    """The device row's new values after a check-in, and its posture history row if any."""

    posture: str
    compliant: bool
    compliance_reasons: str
    os_name: str
    os_version: str
    last_seen_at: dt.datetime
    #: The position to store, or None to keep the stored one: only a lost device's counts.
    last_location: str | None
    #: A compliance change is an event in the device's history and a change the gateway notices.
    compliance_changed: bool
    #: Stored when the compliance changed: since when the device has been non-compliant.
    noncompliant_since: dt.datetime | None
    #: Whether the posture history gets a row (``history_row``).
    history: bool

    def history_row(self, device_id: str) -> dict[str, Any]:
        """The ``device_checkin`` row's values (posture history)."""
        return {
            "device_id": device_id,
            "at": self.last_seen_at,
            "compliant": self.compliant,
            "reasons": self.compliance_reasons,
            "posture": self.posture,
        }


def record_checkin(
    stored: StoredPosture, posture: Posture, compliance: Compliance, *, now: dt.datetime
) -> CheckinRecord:
    """What a check-in reporting ``posture``, judged ``compliance``, writes about the device."""
    compliance_changed = stored.compliant != compliance.compliant
    return CheckinRecord(
        posture=posture.model_dump_json(),
        compliant=compliance.compliant,
        compliance_reasons=json.dumps(list(compliance.reasons)),
        os_name=posture.os_name or stored.os_name,
        os_version=posture.os_version or stored.os_version,
        last_seen_at=now,
        last_location=(
            posture.location.model_dump_json() if stored.lost_mode and posture.location is not None else None
        ),
        compliance_changed=compliance_changed,
        noncompliant_since=None if compliance.compliant else now,
        # History records changes, not heartbeats: last_seen_at already says the device is alive,
        # and battery level or position alone are not a change worth a history row.
        history=compliance_changed or posture.essentials() != _essentials(stored.posture),
    )


def _essentials(stored_posture: str) -> str:
    try:
        return Posture.model_validate_json(stored_posture).essentials()
    except ValidationError:
        return ""
