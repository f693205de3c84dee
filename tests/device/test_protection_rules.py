"""The app protection rules, as tables of cases (pure functions: no files, no clock, no network)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govmobile.portal.protection import ProtectionPolicy
from govmobile_device.protection import (
    PIN_SESSION,
    AppPolicy,
    PinState,
    PolicyInvalid,
    decide_copy,
    decide_open,
    decide_pin_attempt,
    decide_save,
    decide_screenshot,
)

NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
DEFAULT = AppPolicy()
OPEN = AppPolicy(clipboard_to_unmanaged=True, save_to_unmanaged=True, screenshots=True)
PIN3 = AppPolicy(pin_required=True, pin_max_attempts=3)
OFFLINE = AppPolicy(offline_block_after=24 * H, offline_wipe_after=72 * H)


@pytest.mark.parametrize(
    ("source", "target_managed", "allowed", "code"),
    [
        (DEFAULT, False, False, "clipboard_to_unmanaged"),  # managed → personal: the default refuses
        (DEFAULT, True, True, "allowed"),  # managed → managed
        (OPEN, False, True, "allowed"),  # the policy allows personal apps
        (None, False, True, "allowed"),  # personal → personal: not governed
        (None, True, True, "allowed"),  # personal → managed: data may always come in
        (
            AppPolicy(save_to_unmanaged=True),
            False,
            False,
            "clipboard_to_unmanaged",
        ),  # one setting is not the other
    ],
)
def test_copy(source: AppPolicy | None, target_managed: bool, allowed: bool, code: str) -> None:
    verdict = decide_copy(source, target_managed=target_managed)
    assert (verdict.allowed, verdict.code, verdict.wipe) == (allowed, code, False)
    assert verdict.reason


@pytest.mark.parametrize(
    ("source", "destination_managed", "allowed", "code"),
    [
        (DEFAULT, False, False, "save_to_unmanaged"),
        (DEFAULT, True, True, "allowed"),
        (AppPolicy(save_to_unmanaged=True), False, True, "allowed"),
        (AppPolicy(clipboard_to_unmanaged=True), False, False, "save_to_unmanaged"),
        (None, False, True, "allowed"),
    ],
)
def test_save_as(source: AppPolicy | None, destination_managed: bool, allowed: bool, code: str) -> None:
    verdict = decide_save(source, destination_managed=destination_managed)
    assert (verdict.allowed, verdict.code) == (allowed, code)


@pytest.mark.parametrize(
    ("policy", "allowed"), [(DEFAULT, False), (AppPolicy(screenshots=True), True), (None, True)]
)
def test_screenshots(policy: AppPolicy | None, allowed: bool) -> None:
    verdict = decide_screenshot(policy)
    assert verdict.allowed is allowed
    assert verdict.code == ("allowed" if allowed else "screenshots")


@pytest.mark.parametrize(
    ("policy", "pin", "offline_for", "allowed", "code", "wipe"),
    [
        (DEFAULT, PinState(), 1000 * H, True, "allowed", False),  # no limits: any time offline
        (OFFLINE, PinState(), 23 * H, True, "allowed", False),
        (OFFLINE, PinState(), 24 * H, False, "offline_blocked", False),  # the limit itself blocks
        (OFFLINE, PinState(), 71 * H, False, "offline_blocked", False),
        (OFFLINE, PinState(), 72 * H, False, "offline_wipe", True),
        (OFFLINE, PinState(), 500 * H, False, "offline_wipe", True),
        (
            AppPolicy(offline_block_after=H),
            PinState(),
            10_000 * H,
            False,
            "offline_blocked",
            False,
        ),  # no wipe limit
        (OFFLINE, PinState(), -H, True, "allowed", False),  # a clock behind the last check-in
        (PIN3, PinState(), 0 * H, False, "pin_not_set", False),
        (PIN3, PinState(is_set=True), 0 * H, False, "pin_locked", False),
        (
            PIN3,
            PinState(is_set=True, unlocked_at=NOW - 5 * dt.timedelta(minutes=1)),
            0 * H,
            True,
            "allowed",
            False,
        ),
        (PIN3, PinState(is_set=True, unlocked_at=NOW - PIN_SESSION), 0 * H, False, "pin_locked", False),
        (
            PIN3,
            PinState(is_set=True, unlocked_at=NOW + H),
            0 * H,
            False,
            "pin_locked",
            False,
        ),  # from the future
        # Offline limits come before the PIN: an unlocked app is still blocked.
        (
            AppPolicy(pin_required=True, offline_block_after=H),
            PinState(is_set=True, unlocked_at=NOW),
            2 * H,
            False,
            "offline_blocked",
            False,
        ),
    ],
)
def test_open(
    policy: AppPolicy, pin: PinState, offline_for: dt.timedelta, allowed: bool, code: str, wipe: bool
) -> None:
    verdict = decide_open(policy, pin, last_checkin=NOW - offline_for, now=NOW)
    assert (verdict.allowed, verdict.code, verdict.wipe) == (allowed, code, wipe)


@pytest.mark.parametrize(
    ("policy", "pin", "correct", "allowed", "code", "wipe"),
    [
        (PIN3, PinState(is_set=True), True, True, "allowed", False),
        (PIN3, PinState(is_set=True, failures=2), True, True, "allowed", False),  # right on the last try
        (PIN3, PinState(is_set=True), False, False, "pin_wrong", False),
        (PIN3, PinState(is_set=True, failures=1), False, False, "pin_wrong", False),
        (PIN3, PinState(is_set=True, failures=2), False, False, "pin_attempts_exceeded", True),
        (PIN3, PinState(is_set=True, failures=7), False, False, "pin_attempts_exceeded", True),
        (AppPolicy(pin_required=True), PinState(is_set=True, failures=99), False, False, "pin_wrong", False),
        (PIN3, PinState(), False, False, "pin_not_set", False),
        (DEFAULT, PinState(), False, True, "allowed", False),  # no PIN asked for
    ],
)
def test_pin_attempts(
    policy: AppPolicy, pin: PinState, correct: bool, allowed: bool, code: str, wipe: bool
) -> None:
    verdict = decide_pin_attempt(policy, pin, correct=correct)
    assert (verdict.allowed, verdict.code, verdict.wipe) == (allowed, code, wipe)


def test_attempts_left_are_told() -> None:
    assert "2 attempts left" in decide_pin_attempt(PIN3, PinState(is_set=True), correct=False).reason


@pytest.mark.parametrize(
    "policy",
    [
        ProtectionPolicy(),
        ProtectionPolicy(clipboard_to_unmanaged=True, screenshots=True),
        ProtectionPolicy(
            pin_required=True,
            pin_max_attempts=5,
            offline_block_after=dt.timedelta(hours=12),
            offline_wipe_after=dt.timedelta(days=3),
        ),
    ],
)
def test_reads_what_the_portal_writes(policy: ProtectionPolicy) -> None:
    """The agent reads the portal's JSON form as the portal means it (a guard against drift)."""
    document = policy.to_document()
    device = AppPolicy.from_document(document)
    assert device.to_document() == document
    assert device.offline_wipe_after == policy.offline_wipe_after


@pytest.mark.parametrize(
    "document",
    [
        "yes",
        {"screenshots": "true"},
        {"clipboard_to_unmanaged": 1},
        {"share_everything": True},
        {"pin_max_attempts": 3},  # needs pin_required
        {"pin_required": True, "pin_max_attempts": 0},
        {"pin_required": True, "pin_max_attempts": True},
        {"offline_block_after_seconds": 10},
        {"offline_block_after_seconds": -5},
        {"offline_block_after_seconds": 10**30},
        {"offline_wipe_after_seconds": 3600},  # a wipe limit without a block limit
        {"offline_block_after_seconds": 7200, "offline_wipe_after_seconds": 3600},
    ],
)
def test_policies_that_cannot_be_enforced_as_written_are_refused(document: Any) -> None:
    with pytest.raises(PolicyInvalid):
        AppPolicy.from_document(document)
