"""The tablet's surfaces that app protection governs, simulated so that people and tests can drive them.

A real tablet enforces app protection in its OS (Android's work profile, an MDM SDK in the
app): the clipboard, the share sheet and "save as", screenshots, the app's PIN prompt, and the
check that the device has been in touch recently. The agent stands in for the tablet, so this
module plays those surfaces over the managed apps' data spaces (``sandbox.py``), and asks the
rules (``protection.py``) before anything moves. Every refusal, and every wipe the rules order,
becomes a protection event queued for the portal (``denials.py``).

Apps on the simulated tablet are of two kinds:

- *managed* apps, installed from the portal: they have a data space in the work container and
  a protection policy;
- *personal* apps, anything else the device profile lists as installed (``installed_apps``):
  their data lives in ``personal/<package>/`` in the state directory, in the clear and outside
  the container, so that a selective wipe, which destroys the container, leaves it alone.
  "Save as" to an unmanaged place writes to ``personal/downloads/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from govmobile_device.denials import DenialQueue, ProtectionEvent
from govmobile_device.errors import UsageError
from govmobile_device.files import private_directory, read_private, write_atomic
from govmobile_device.profile import DeviceProfile
from govmobile_device.protection import (
    Action,
    AppPolicy,
    Verdict,
    decide_copy,
    decide_open,
    decide_pin_attempt,
    decide_save,
    decide_screenshot,
)
from govmobile_device.sandbox import PACKAGE, AppSpaces
from govmobile_device.state import FileStore

#: "Save as" to this place goes to personal storage (unmanaged).
PERSONAL_STORAGE = "personal"
CLIPBOARD_FILE = "clipboard.txt"


class Profiles(Protocol):
    def load(self) -> DeviceProfile: ...

    def save(self, profile: DeviceProfile) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A verdict, and what the action produced when it was allowed (a file's bytes)."""

    verdict: Verdict
    data: bytes | None = None


class SimulatedTablet:
    """Clipboard, share / save as, screenshots, app PIN and app files, under each app's policy."""

    def __init__(
        self,
        spaces: AppSpaces,
        profile: Profiles,
        denials: DenialQueue,
        personal_dir: Path,
        *,
        last_checkin: Callable[[], dt.datetime],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.spaces = spaces
        self.profile = profile
        self.denials = denials
        self.personal_dir = personal_dir
        self.last_checkin = last_checkin
        self.clock = clock

    # -- what is installed -------------------------------------------------------------------------

    def is_managed(self, package: str) -> bool:
        return PACKAGE.fullmatch(package) is not None and self.spaces.has_space(package)

    def install_personal(self, package: str) -> None:
        """Install a personal app (the person's own, from any store): the profile lists it."""
        if self.is_managed(_package(package)):
            raise UsageError(f"{package} is a managed app on this device")
        profile = self.profile.load()
        if package not in profile.installed_apps:
            profile.installed_apps.append(package)
            self.profile.save(profile)

    def personal_files(self, package: str) -> dict[str, bytes]:
        directory = self.personal_dir / _package(package)
        if not directory.is_dir():
            return {}
        return {p.name: read_private(p) for p in sorted(directory.iterdir()) if p.is_file()}

    # -- the surfaces --------------------------------------------------------------------------------

    def copy(self, source: str, target: str, text: str) -> Verdict:
        """Copy ``text`` in ``source`` and paste it into ``target`` (the clipboard, in one step)."""
        for package in (source, target):
            _package(package)  # a name that could not be reported is refused before anything happens
        self._require_installed(source)
        self._require_installed(target)
        policy = self.spaces.policy(source)
        if policy is not None:
            opened = self._may_open(source, policy, Action.COPY)
            if not opened.allowed:
                return opened
        target_managed = self.is_managed(target)
        verdict = decide_copy(policy, target_managed=target_managed)
        if not verdict.allowed:
            return self._refused(source, Action.COPY, verdict, destination=target)
        if target_managed:
            self.spaces.put(target, CLIPBOARD_FILE, text.encode(), now=self.clock())
        else:
            self._write_personal(target, CLIPBOARD_FILE, text.encode())
        return verdict

    def save_as(self, package: str, name: str, destination: str) -> Verdict:
        """Save the app's file ``name`` to another managed app's space, or to personal storage."""
        if destination != PERSONAL_STORAGE:
            _package(destination)
        self._require_installed(package)
        policy = self._managed_policy(package)
        opened = self._may_open(package, policy, Action.SAVE_AS)
        if not opened.allowed:
            return opened
        destination_managed = destination != PERSONAL_STORAGE and self.is_managed(destination)
        if destination != PERSONAL_STORAGE:
            self._require_installed(destination)
        verdict = decide_save(policy, destination_managed=destination_managed)
        if not verdict.allowed:
            return self._refused(package, Action.SAVE_AS, verdict, destination=destination)
        data = self.spaces.get(package, name)
        if destination_managed:
            self.spaces.put(destination, name, data, now=self.clock())
        else:
            where = "downloads" if destination == PERSONAL_STORAGE else destination
            self._write_personal(where, _leaf(name), data)
        return verdict

    def screenshot(self, package: str) -> Verdict:
        """Capture the screen while ``package`` shows."""
        self._require_installed(package)
        policy = self.spaces.policy(package)
        if policy is not None:
            opened = self._may_open(package, policy, Action.SCREENSHOT)
            if not opened.allowed:
                return opened
        verdict = decide_screenshot(policy)
        if not verdict.allowed:
            return self._refused(package, Action.SCREENSHOT, verdict)
        return verdict

    def set_pin(self, package: str, pin: str) -> Verdict:
        """Choose the app's PIN; changing a set one needs the app unlocked first."""
        policy = self._managed_policy(package)
        state = self.spaces.pin_state(package)
        if state.is_set:
            opened = decide_open(policy, state, last_checkin=self.last_checkin(), now=self.clock())
            if not opened.allowed:
                return self._refused(package, Action.UNLOCK, opened)
        self.spaces.set_pin(package, pin)
        return Verdict(True, "allowed", "the app's PIN is set")

    def unlock(self, package: str, pin: str) -> Verdict:
        """One PIN attempt: unlocks, counts a failure, or wipes the app's data at the limit."""
        policy = self._managed_policy(package)
        state = self.spaces.pin_state(package)
        correct = state.is_set and self.spaces.pin_matches(package, pin)
        verdict = decide_pin_attempt(policy, state, correct=correct)
        if verdict.allowed:
            if policy.pin_required:
                self.spaces.record_pin_attempt(package, correct=True, now=self.clock())
            return verdict
        if verdict.code == "pin_wrong":
            self.spaces.record_pin_attempt(package, correct=False, now=self.clock())
        return self._refused(package, Action.UNLOCK, verdict)

    def open(self, package: str) -> Verdict:
        """May the app show its data now (offline limits, PIN)?"""
        return self._may_open(package, self._managed_policy(package), Action.OPEN)

    def write_file(self, package: str, name: str, data: bytes) -> Verdict:
        """The app stores a file in its own space (when it may open)."""
        verdict = self.open(package)
        if verdict.allowed:
            self.spaces.put(package, name, data, now=self.clock())
        return verdict

    def read_file(self, package: str, name: str) -> Answer:
        verdict = self.open(package)
        return Answer(verdict, self.spaces.get(package, name) if verdict.allowed else None)

    # -- inside --------------------------------------------------------------------------------------

    def _may_open(self, package: str, policy: AppPolicy, action: Action) -> Verdict:
        verdict = decide_open(
            policy, self.spaces.pin_state(package), last_checkin=self.last_checkin(), now=self.clock()
        )
        if verdict.allowed:
            return verdict
        return self._refused(package, action, verdict)

    def _refused(
        self, package: str, action: Action, verdict: Verdict, *, destination: str | None = None
    ) -> Verdict:
        """Carry out a wipe the verdict orders, and queue the event for the portal."""
        if verdict.wipe:
            self.spaces.wipe_data(package, now=self.clock())
        self.denials.add(
            ProtectionEvent(
                package=package,
                action=action.value,
                outcome="data_wiped" if verdict.wipe else "denied",
                code=verdict.code,
                reason=verdict.reason,
                occurred_at=self.clock(),
                destination=destination,
            )
        )
        return verdict

    def _managed_policy(self, package: str) -> AppPolicy:
        policy = self.spaces.policy(_package(package))
        if policy is None:
            raise UsageError(f"{package} is not a managed app on this device")
        return policy

    def _require_installed(self, package: str) -> None:
        if self.is_managed(package):
            return
        if package not in self.profile.load().installed_apps:
            raise UsageError(
                f"{package} is not installed on this device (personal apps are the profile's installed_apps)"
            )

    def _write_personal(self, package: str, name: str, data: bytes) -> None:
        place = package if package == "downloads" else _package(package)
        directory = private_directory(self.personal_dir / place)
        write_atomic(directory / name, data)


class SpaceManagedApps:
    """The managed apps as their data spaces show them, until the installer's records exist.

    Seam 2 of issue 12: the portal-agent's installed-app records will be the list of managed
    apps and their removal; this stands in for them with what this side knows: an app is managed
    when the installer opened a data space for it, and removing it takes it off the profile's
    installed apps, as ``remove_app`` does."""

    def __init__(self, spaces: AppSpaces, profile: Profiles) -> None:
        self.spaces = spaces
        self.profile = profile

    def managed_packages(self) -> list[str]:
        return self.spaces.packages()

    def remove_managed_app(self, package: str) -> None:
        profile = self.profile.load()
        if package in profile.installed_apps:
            profile.installed_apps = [a for a in profile.installed_apps if a != package]
            self.profile.save(profile)


class InstallerSpaces:
    """The installer's data spaces (``installer.DataSpaces``): a managed app's space is opened when
    it is installed, destroyed with its key when it is removed, and given its policy from each
    verified desired-state document."""

    provisioned = True

    def __init__(self, spaces: Callable[[], AppSpaces], clock: Callable[[], dt.datetime]) -> None:
        # Opened when used: the work container exists only once the device is enrolled.
        self.spaces = spaces
        self.clock = clock

    def open_space(self, package: str) -> None:
        self.spaces().open_space(package, now=self.clock())

    def remove_space(self, package: str) -> None:
        self.spaces().remove_space(package)

    def apply_protection(self, entries: Iterable[Mapping[str, Any]]) -> object:
        return self.spaces().apply_protection(entries)


@dataclass
class DeviceProtection:
    """App protection for one device's state directory: its spaces, its events, its tablet."""

    store: FileStore
    profile: Profiles
    clock: Callable[[], dt.datetime]

    def spaces(self) -> AppSpaces:
        return AppSpaces(self.store.container())

    def denials(self) -> DenialQueue:
        return DenialQueue.in_state(self.store.directory)

    def installer_spaces(self) -> InstallerSpaces:
        return InstallerSpaces(self.spaces, self.clock)

    def managed_apps(self) -> SpaceManagedApps:
        return SpaceManagedApps(self.spaces(), self.profile)

    def tablet(self) -> SimulatedTablet:
        return SimulatedTablet(
            self.spaces(),
            self.profile,
            self.denials(),
            self.store.directory / "personal",
            last_checkin=self._last_checkin,
            clock=self.clock,
        )

    def _last_checkin(self) -> dt.datetime:
        """The last successful check-in, or the enrollment when there was none yet."""
        state = self.store.load_state()
        if state.last_checkin_at is not None:
            return state.last_checkin_at
        return self.store.load_identity().enrolled_at


def _package(package: str) -> str:
    if not PACKAGE.fullmatch(package) or len(package) > 255:
        raise UsageError(f"{package[:80]!r} is not an Android package name (like gov.water.inspect)")
    return package


def _leaf(name: str) -> str:
    leaf = name.replace("\\", "/").rsplit("/", 1)[-1]
    if leaf in ("", ".", ".."):
        raise UsageError(f"cannot save {name[:80]!r} under that name")
    return leaf
