"""The app protection policy on the device, and the rules that enforce it (pure functions).

The portal sends each managed app's policy in the device's signed desired-state document (its
JSON form is ``govmobile.portal.protection.ProtectionPolicy.to_document``). This module reads
that form, strictly, and decides every question the simulated tablet (``tablet.py``) asks:
may this copy, this "save as", this screenshot happen; may the app open now; what does a PIN
attempt lead to. Nothing here touches a file, a clock or the network: the answers depend only
on the arguments, so a table of cases tests them (tests/device/test_protection_rules.py).

Each answer is a ``Verdict``: allowed or not, a stable ``code``, a reason a person can read,
and whether the app's data must now be wiped. The direction of the rules, as Intune's app
protection and Android Enterprise's work profile have them:

- data may always flow *into* managed apps, and between managed apps; the policy governs only
  what leaves a managed app for an unmanaged (personal) one;
- limits on time offline count from the last successful check-in: past the first the app is
  blocked until the device checks in, past the second its data is wiped;
- a wrong PIN counts; at the limit the app's data is wiped (the app stays installed, empty).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

MAX_PIN_ATTEMPTS = 100
MAX_OFFLINE = dt.timedelta(days=366)
#: After unlocking with its PIN, an app stays open this long before it asks again.
PIN_SESSION = dt.timedelta(minutes=30)
_FLAGS = ("clipboard_to_unmanaged", "save_to_unmanaged", "screenshots", "pin_required")
_KNOWN = {*_FLAGS, "pin_max_attempts", "offline_block_after_seconds", "offline_wipe_after_seconds"}


class PolicyInvalid(ValueError):
    """A protection policy the agent cannot enforce as written (it then applies the default)."""


@dataclass(frozen=True)
class AppPolicy:
    """One managed app's protection, as the portal states it; the defaults are the protective ones."""

    clipboard_to_unmanaged: bool = False
    save_to_unmanaged: bool = False
    screenshots: bool = False
    pin_required: bool = False
    pin_max_attempts: int | None = None
    offline_block_after: dt.timedelta | None = None
    offline_wipe_after: dt.timedelta | None = None

    def __post_init__(self) -> None:
        if self.pin_max_attempts is not None and not (
            self.pin_required and 1 <= self.pin_max_attempts <= MAX_PIN_ATTEMPTS
        ):
            raise PolicyInvalid(f"pin_max_attempts needs pin_required and 1-{MAX_PIN_ATTEMPTS} attempts")
        for limit in (self.offline_block_after, self.offline_wipe_after):
            if limit is not None and not dt.timedelta(minutes=1) <= limit <= MAX_OFFLINE:
                raise PolicyInvalid("offline limits must be between one minute and 366 days")
        if self.offline_wipe_after is not None and (
            self.offline_block_after is None or self.offline_wipe_after < self.offline_block_after
        ):
            raise PolicyInvalid("offline_wipe_after needs offline_block_after, and may not come before it")

    @classmethod
    def from_document(cls, document: Any) -> AppPolicy:
        """The policy from its JSON form; unknown settings and wrong types are refused."""
        if not isinstance(document, dict):
            raise PolicyInvalid("a protection policy must be an object")
        unknown = set(document) - _KNOWN
        if unknown:
            raise PolicyInvalid(f"unknown protection settings: {', '.join(sorted(map(str, unknown)))[:200]}")
        flags: dict[str, bool] = {}
        for name in _FLAGS:
            value = document.get(name, False)
            if not isinstance(value, bool):
                raise PolicyInvalid(f"{name} must be true or false")
            flags[name] = value
        return cls(
            **flags,
            pin_max_attempts=_whole(document.get("pin_max_attempts"), "pin_max_attempts"),
            offline_block_after=_seconds(document.get("offline_block_after_seconds"), "offline_block_after"),
            offline_wipe_after=_seconds(document.get("offline_wipe_after_seconds"), "offline_wipe_after"),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in _FLAGS},
            "pin_max_attempts": self.pin_max_attempts,
            "offline_block_after_seconds": _as_seconds(self.offline_block_after),
            "offline_wipe_after_seconds": _as_seconds(self.offline_wipe_after),
        }


class Action(enum.StrEnum):
    """What an app (or the person) tries to do; the names travel in denial reports."""

    COPY = "copy"
    SAVE_AS = "save_as"
    SCREENSHOT = "screenshot"
    OPEN = "open"
    UNLOCK = "unlock"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: Stable, for scripts and the audit log: ``allowed``, ``clipboard_to_unmanaged``, ...
    code: str
    reason: str
    #: The app's data must be wiped now (PIN attempts used up, or offline past the wipe limit).
    wipe: bool = False


@dataclass(frozen=True)
class PinState:
    """An app's PIN as the tablet keeps it: set or not, wrong attempts in a row, last unlock."""

    is_set: bool = False
    failures: int = 0
    unlocked_at: dt.datetime | None = None


def decide_copy(source: AppPolicy | None, *, target_managed: bool) -> Verdict:
    """Copy from ``source`` (None: an unmanaged app) to an app that is managed or not."""
    if source is None:
        return Verdict(True, "allowed", "the source is a personal app: its data is not governed")
    if target_managed:
        return Verdict(True, "allowed", "from a managed app to a managed app")
    if source.clipboard_to_unmanaged:
        return Verdict(True, "allowed", "the policy lets this app's data be pasted into personal apps")
    return Verdict(
        False,
        "clipboard_to_unmanaged",
        "the protection policy forbids pasting this government app's data into a personal app",
    )


def decide_save(source: AppPolicy | None, *, destination_managed: bool) -> Verdict:
    """ "Save as" or share from ``source`` to a place that is managed (another app's space) or not."""
    if source is None:
        return Verdict(True, "allowed", "the source is a personal app: its data is not governed")
    if destination_managed:
        return Verdict(True, "allowed", "saved inside managed storage")
    if source.save_to_unmanaged:
        return Verdict(True, "allowed", "the policy lets this app save to personal storage")
    return Verdict(
        False,
        "save_to_unmanaged",
        "the protection policy forbids saving this government app's data to personal storage",
    )


def decide_screenshot(policy: AppPolicy | None) -> Verdict:
    if policy is None or policy.screenshots:
        return Verdict(True, "allowed", "screenshots are allowed for this app")
    return Verdict(False, "screenshots", "the protection policy forbids screenshots of this government app")


def decide_offline(policy: AppPolicy, *, last_checkin: dt.datetime, now: dt.datetime) -> Verdict:
    """The offline limits: counted from the last successful check-in (or enrollment)."""
    offline = now - last_checkin
    hours = f"{max(offline, dt.timedelta()).total_seconds() / 3600:.1f} h"
    if policy.offline_wipe_after is not None and offline >= policy.offline_wipe_after:
        return Verdict(
            False,
            "offline_wipe",
            f"the device has not checked in for {hours}, past the wipe limit of "
            f"{_human(policy.offline_wipe_after)}: this app's data is wiped",
            wipe=True,
        )
    if policy.offline_block_after is not None and offline >= policy.offline_block_after:
        return Verdict(
            False,
            "offline_blocked",
            f"the device has not checked in for {hours}, past the limit of "
            f"{_human(policy.offline_block_after)}: check in to open this app again",
        )
    return Verdict(True, "allowed", "within the offline limits")


def decide_open(policy: AppPolicy, pin: PinState, *, last_checkin: dt.datetime, now: dt.datetime) -> Verdict:
    """May the app show its data now: the offline limits first, then its PIN."""
    offline = decide_offline(policy, last_checkin=last_checkin, now=now)
    if not offline.allowed:
        return offline
    if not policy.pin_required:
        return Verdict(True, "allowed", "this app needs no PIN")
    if not pin.is_set:
        return Verdict(False, "pin_not_set", "this app needs a PIN: set one first (app pin set)")
    if pin.unlocked_at is None or not pin.unlocked_at <= now < pin.unlocked_at + PIN_SESSION:
        return Verdict(False, "pin_locked", "this app is locked: unlock it with its PIN")
    return Verdict(True, "allowed", "unlocked with the app's PIN")


def decide_pin_attempt(policy: AppPolicy, pin: PinState, *, correct: bool) -> Verdict:
    """The outcome of one PIN attempt; the caller counts failures and wipes when told to."""
    if not policy.pin_required:
        return Verdict(True, "allowed", "this app needs no PIN")
    if not pin.is_set:
        return Verdict(False, "pin_not_set", "this app has no PIN yet: set one first (app pin set)")
    if correct:
        return Verdict(True, "allowed", "the PIN is right: the app is unlocked")
    failures = pin.failures + 1
    limit = policy.pin_max_attempts
    if limit is not None and failures >= limit:
        return Verdict(
            False,
            "pin_attempts_exceeded",
            f"wrong PIN {failures} times in a row, the limit is {limit}: this app's data is wiped",
            wipe=True,
        )
    left = "" if limit is None else f"; {limit - failures} attempts left before the app's data is wiped"
    return Verdict(False, "pin_wrong", f"wrong PIN{left}")


def _whole(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyInvalid(f"{name} must be a whole number")
    return value


def _seconds(value: Any, name: str) -> dt.timedelta | None:
    seconds = _whole(value, name)
    if seconds is None:
        return None
    if not 0 < seconds <= MAX_OFFLINE.total_seconds():
        raise PolicyInvalid(f"{name} must be between one minute and 366 days")
    return dt.timedelta(seconds=seconds)


def _as_seconds(value: dt.timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _human(limit: dt.timedelta) -> str:
    hours = limit.total_seconds() / 3600
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} days"
