"""Which apps a device should have: one pure function over the assignments that reach it.

An assignment gives one app to a target — a department, a group, a person or one device — with an
intent (``required``: installed without asking; ``available``: offered in the catalogue;
``uninstall``: removed), a track (pilot or production), exclusions, an app configuration and a
protection policy. A device is reached by its department, its person's groups, its person and
itself. The rules, as Intune and Android Enterprise admins know them:

1. **Exclusions first.** An assignment whose exclusions match the device does not reach it at all.
2. **The most specific target wins**, whatever its intent: device over person over group over
   department. Only the assignments at the most specific level that reaches the device count.
3. **Instructions beat offers.** At that level ``required`` beats ``available``, and so does
   ``uninstall`` (removing is an instruction too; offering is not).
4. **Contradictory instructions are a conflict**: ``required`` and ``uninstall`` at the same level
   are reported, with the assignments on each side, and the app is left as it is on the device.
   The portal does not guess which admin meant it. Two winning assignments that give *different*
   app configurations are a conflict for the same reason: configurations cannot be merged.
5. Among the winning assignments, **pilot beats production** (being in any pilot group enrols the
   device in the pilot), the **strictest protection policy** applies (see ``protection``), and an
   app is **removed when it is no longer assigned** if any winning assignment says so.

Resolution is a pure function so that it can be tested with a table and with properties, and
re-run lazily at check-in or for every affected device after a change. ``AssignmentIndex`` makes
the second case cheap: a device's candidate assignments are found by its few targets, not by
scanning them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from govmobile.portal.errors import InvalidAssignment
from govmobile.portal.manifest import check_package_id
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import Track

#: App configuration values: what Android's managed configurations can carry.
ConfigValue = str | int | bool
MAX_CONFIG_ENTRIES = 64
MAX_CONFIG_TEXT = 4096


class Intent(StrEnum):
    REQUIRED = "required"
    AVAILABLE = "available"
    UNINSTALL = "uninstall"


class TargetKind(IntEnum):
    """Who an assignment is for; a higher value is more specific."""

    DEPARTMENT = 0
    GROUP = 1
    PERSON = 2
    DEVICE = 3


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    id: str


@dataclass(frozen=True, eq=False)
class Assignment:
    """One app given to one target. ``id`` names it in conflicts and audit."""

    id: str
    package: str
    target: Target
    intent: Intent
    track: Track = Track.PRODUCTION
    exclusions: frozenset[Target] = frozenset()
    config: Mapping[str, ConfigValue] = field(default_factory=dict)
    protection: ProtectionPolicy | None = None
    remove_when_unassigned: bool = True

    def __post_init__(self) -> None:
        check_package_id(self.package)
        if any(excluded.kind < self.target.kind for excluded in self.exclusions):
            # Excluding a group from a device assignment could never apply: say so at once.
            raise InvalidAssignment("an exclusion must be at least as specific as the assignment's target")
        check_config(self.config)


def check_config(config: Mapping[str, Any]) -> None:
    """App configuration: a flat map of names to strings, whole numbers or booleans, of bounded size."""
    if len(config) > MAX_CONFIG_ENTRIES:
        raise InvalidAssignment(f"an app configuration has at most {MAX_CONFIG_ENTRIES} entries")
    for key, value in config.items():
        if not isinstance(key, str) or not key or len(key) > 128:
            raise InvalidAssignment("app configuration names are non-empty text of at most 128 characters")
        if not isinstance(value, str | int | bool) or (
            isinstance(value, str) and len(value) > MAX_CONFIG_TEXT
        ):
            raise InvalidAssignment(
                f"the app configuration value of {key!r} must be text, a whole number or a boolean"
            )


@dataclass(frozen=True)
class DeviceContext:
    """The device as resolution sees it: what targets reach it."""

    device_id: str
    department_id: str
    person_id: str | None = None
    group_ids: frozenset[str] = frozenset()

    def targets(self) -> frozenset[Target]:
        found = {Target(TargetKind.DEPARTMENT, self.department_id), Target(TargetKind.DEVICE, self.device_id)}
        if self.person_id is not None:
            found.add(Target(TargetKind.PERSON, self.person_id))
        found.update(Target(TargetKind.GROUP, group) for group in self.group_ids)
        return frozenset(found)


@dataclass(frozen=True)
class DesiredApp:
    package: str
    intent: Intent
    #: For required and available apps; None for uninstall.
    track: Track | None
    config: Mapping[str, ConfigValue]
    protection: ProtectionPolicy | None
    remove_when_unassigned: bool
    #: The winning assignments, by id (sorted), for audit and the admin's "why".
    assignment_ids: tuple[str, ...]


@dataclass(frozen=True)
class AssignmentConflict:
    package: str
    level: TargetKind
    reason: str
    assignment_ids: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    apps: dict[str, DesiredApp]
    conflicts: dict[str, AssignmentConflict]


def resolve_desired_apps(
    device: DeviceContext, assignments: Iterable[Assignment], department_policy: ProtectionPolicy
) -> Resolution:
    """The apps ``device`` should have, and the conflicts it has, from the assignments given.

    Assignments that do not reach the device are ignored, so the caller may pass more than the
    device's own (all of the department's, or an index's candidates).
    """
    targets = device.targets()
    by_package: dict[str, list[Assignment]] = defaultdict(list)
    for assignment in assignments:
        if assignment.target in targets and not (assignment.exclusions & targets):
            by_package[assignment.package].append(assignment)
    apps: dict[str, DesiredApp] = {}
    conflicts: dict[str, AssignmentConflict] = {}
    for package, reaching in by_package.items():
        outcome = _resolve_one(package, reaching, department_policy)
        if isinstance(outcome, AssignmentConflict):
            conflicts[package] = outcome
        else:
            apps[package] = outcome
    return Resolution(apps, conflicts)


def _resolve_one(
    package: str, reaching: list[Assignment], department_policy: ProtectionPolicy
) -> DesiredApp | AssignmentConflict:
    if len(reaching) == 1:  # most apps reach a device once: the rules below then reduce to this
        return _desired(package, reaching[0].intent, reaching, department_policy)
    level = max(a.target.kind for a in reaching)
    winners = [a for a in reaching if a.target.kind == level]
    by_intent: dict[Intent, list[Assignment]] = defaultdict(list)
    for assignment in winners:
        by_intent[assignment.intent].append(assignment)
    if by_intent[Intent.REQUIRED] and by_intent[Intent.UNINSTALL]:
        return AssignmentConflict(
            package,
            level,
            f"required and uninstall at the same level ({level.name.lower()})",
            _ids(by_intent[Intent.REQUIRED] + by_intent[Intent.UNINSTALL]),
        )
    for intent in (Intent.REQUIRED, Intent.UNINSTALL, Intent.AVAILABLE):
        chosen = by_intent[intent]
        if chosen:
            break
    if intent is not Intent.UNINSTALL and len({tuple(sorted(a.config.items())) for a in chosen}) > 1:
        return AssignmentConflict(
            package,
            level,
            f"different app configurations at the same level ({level.name.lower()})",
            _ids(chosen),
        )
    return _desired(package, intent, chosen, department_policy)


def _desired(
    package: str, intent: Intent, chosen: list[Assignment], department_policy: ProtectionPolicy
) -> DesiredApp:
    """The app as the winning assignments (one intent, one configuration) give it."""
    remove = any(a.remove_when_unassigned for a in chosen)
    if intent is Intent.UNINSTALL:
        return DesiredApp(package, intent, None, {}, None, remove, _ids(chosen))
    protection = chosen[0].protection or department_policy
    for assignment in chosen[1:]:
        protection = protection.strictest(assignment.protection or department_policy)
    track = Track.PILOT if any(a.track is Track.PILOT for a in chosen) else Track.PRODUCTION
    return DesiredApp(package, intent, track, dict(chosen[0].config), protection, remove, _ids(chosen))


def _ids(assignments: Iterable[Assignment]) -> tuple[str, ...]:
    return tuple(sorted(a.id for a in assignments))


class AssignmentIndex:
    """Assignments by target, so that a device's candidates are found from its few targets."""

    def __init__(self, assignments: Iterable[Assignment] = ()) -> None:
        self._by_target: dict[Target, list[Assignment]] = defaultdict(list)
        for assignment in assignments:
            self.add(assignment)

    def add(self, assignment: Assignment) -> None:
        self._by_target[assignment.target].append(assignment)

    def remove(self, assignment_id: str) -> None:
        for target, listed in self._by_target.items():
            self._by_target[target] = [a for a in listed if a.id != assignment_id]

    def candidates(self, device: DeviceContext) -> list[Assignment]:
        found: list[Assignment] = []
        for target in device.targets():
            found.extend(self._by_target.get(target, ()))
        return found

    def resolve(self, device: DeviceContext, department_policy: ProtectionPolicy) -> Resolution:
        return resolve_desired_apps(device, self.candidates(device), department_policy)
