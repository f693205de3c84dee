"""The app protection policy: what a managed app's data may do once it is on the device.

Set per assignment or as a department's default, and enforced by the device agent in the work
container (issue 12, "Sandbox and app protection"). The default is the protective one that a
government department expects without configuring anything: government data does not leave
managed apps (no clipboard to unmanaged apps, no "save as" to unmanaged places, no screenshots);
no app PIN and no offline limit until a department asks for them.

When several policies apply to one app (two group assignments at the same level), the *strictest*
of them applies, setting by setting, as Intune does for conflicting app protection settings: a
permission is granted only if every policy grants it, and every limit takes its smallest value.
That merge is well defined and never weaker than any policy that applies, so it is not a conflict
for an admin to resolve (unlike app configuration, which cannot be merged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from govmobile.portal.errors import InvalidAssignment

MAX_PIN_ATTEMPTS = 100
_Limit = TypeVar("_Limit", int, dt.timedelta)
MAX_OFFLINE = dt.timedelta(days=366)


@dataclass(frozen=True)
class ProtectionPolicy:
    #: May data be copied from the app to unmanaged (personal) apps?
    clipboard_to_unmanaged: bool = False
    #: May the app "save as" or share to unmanaged places?
    save_to_unmanaged: bool = False
    #: May the screen be captured while the app shows?
    screenshots: bool = False
    #: Must the app be opened with its own PIN?
    pin_required: bool = False
    #: Wrong PINs in a row before the app's data is wiped; None never wipes.
    pin_max_attempts: int | None = None
    #: How long the device may stay without checking in before the app is blocked, then wiped.
    offline_block_after: dt.timedelta | None = None
    offline_wipe_after: dt.timedelta | None = None

    def __post_init__(self) -> None:
        if self.pin_max_attempts is not None:
            if not self.pin_required:
                raise InvalidAssignment("a PIN attempt limit needs pin_required")
            if not 1 <= self.pin_max_attempts <= MAX_PIN_ATTEMPTS:
                raise InvalidAssignment(f"pin_max_attempts must be between 1 and {MAX_PIN_ATTEMPTS}")
        for name in ("offline_block_after", "offline_wipe_after"):
            value = getattr(self, name)
            if value is not None and not dt.timedelta(minutes=1) <= value <= MAX_OFFLINE:
                raise InvalidAssignment(f"{name} must be between one minute and {MAX_OFFLINE.days} days")
        if self.offline_wipe_after is not None and (
            self.offline_block_after is None or self.offline_wipe_after < self.offline_block_after
        ):
            raise InvalidAssignment(
                "offline_wipe_after needs offline_block_after, and may not come before it"
            )

    def strictest(self, other: ProtectionPolicy) -> ProtectionPolicy:
        """The policy that is at least as strict as both, setting by setting."""
        return ProtectionPolicy(
            clipboard_to_unmanaged=self.clipboard_to_unmanaged and other.clipboard_to_unmanaged,
            save_to_unmanaged=self.save_to_unmanaged and other.save_to_unmanaged,
            screenshots=self.screenshots and other.screenshots,
            pin_required=self.pin_required or other.pin_required,
            pin_max_attempts=_smallest(self.pin_max_attempts, other.pin_max_attempts),
            offline_block_after=_smallest(self.offline_block_after, other.offline_block_after),
            offline_wipe_after=_smallest(self.offline_wipe_after, other.offline_wipe_after),
        )

    def to_document(self) -> dict[str, Any]:
        """The policy as JSON for the signed desired-state document (durations in whole seconds)."""
        return {
            "clipboard_to_unmanaged": self.clipboard_to_unmanaged,
            "save_to_unmanaged": self.save_to_unmanaged,
            "screenshots": self.screenshots,
            "pin_required": self.pin_required,
            "pin_max_attempts": self.pin_max_attempts,
            "offline_block_after_seconds": _seconds(self.offline_block_after),
            "offline_wipe_after_seconds": _seconds(self.offline_wipe_after),
        }

    @classmethod
    def from_document(cls, document: Any) -> ProtectionPolicy:
        """Read a policy from JSON, strictly: unknown keys and wrong types are refused."""
        if not isinstance(document, dict):
            raise InvalidAssignment("a protection policy must be an object")
        known = set(cls().to_document())
        unknown = set(document) - known
        if unknown:
            raise InvalidAssignment(
                f"unknown protection policy settings: {', '.join(sorted(map(str, unknown)))}"
            )
        flags = {}
        for name in ("clipboard_to_unmanaged", "save_to_unmanaged", "screenshots", "pin_required"):
            value = document.get(name, getattr(cls, name))
            if not isinstance(value, bool):
                raise InvalidAssignment(f"{name} must be true or false")
            flags[name] = value
        return cls(
            **flags,
            pin_max_attempts=_whole(document.get("pin_max_attempts"), "pin_max_attempts"),
            offline_block_after=_duration(
                document.get("offline_block_after_seconds"), "offline_block_after_seconds"
            ),
            offline_wipe_after=_duration(
                document.get("offline_wipe_after_seconds"), "offline_wipe_after_seconds"
            ),
        )


def _smallest(a: _Limit | None, b: _Limit | None) -> _Limit | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _seconds(value: dt.timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _whole(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAssignment(f"{name} must be a whole number")
    return value


def _duration(value: Any, name: str) -> dt.timedelta | None:
    seconds = _whole(value, name)
    if seconds is None:
        return None
    if abs(seconds) > MAX_OFFLINE.total_seconds():
        # Refused before timedelta is built: a huge number would overflow it (a 500, not an answer).
        raise InvalidAssignment(f"{name} must be between one minute and {MAX_OFFLINE.days} days")
    return dt.timedelta(seconds=seconds)
