"""Assignments: which department, group, person or device gets which app, and what a device gets.

An assignment belongs to one department. Its app must be the department's or the platform's, and
its target and exclusions must be the department's own: a department admin cannot reach another
department's groups, people or devices, nor learn that they exist (they are 'not found').
What a device should have is ``assignments.resolve_desired_apps`` over its department's
assignments, here given the device's groups from the directory and the live releases.

A web app reaches a device only if an assignment gives it (presence on the home screen) *and* the
gateway route of its live entry admits the device's department and its person's groups (who may
open it at all; ``web_entry``). The route is the one source of truth for the second: an assignment
whose target the route admits none of is refused when it is made (``route_not_found``,
``group_not_admitted``); one that reaches people the route does not admit (a department-wide
assignment on a route restricted to some groups, or a route changed later) is kept, and the
devices the route does not admit are left out, each reported with its reason in the admin's view
(``DeviceApps.unavailable``), never silently.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from govmobile.administration.changes import AuditedChanges
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.directory import Group, Membership, Person
from govmobile.core.errors import InvalidInput, NotFound
from govmobile.portal.assignments import (
    Assignment,
    ConfigValue,
    DeviceContext,
    Intent,
    Resolution,
    Target,
    TargetKind,
    resolve_desired_apps,
)
from govmobile.portal.catalogue import (
    department_rules,
    release_histories,
    release_history,
    require_department,
    visible_app,
)
from govmobile.portal.errors import RouteRefused
from govmobile.portal.models import AppKind, PortalApp, PortalAssignment, PortalDeviceState
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.readers import devices
from govmobile.portal.releases import Release, ReleaseState, Track, live_releases
from govmobile.portal.web_apps import route_admission, route_admissions
from govmobile.portal.web_entry import Refusal, person_refusal, route_refusal

_KINDS = {kind.name.lower(): kind for kind in TargetKind}


@dataclass(frozen=True)
class AssignmentSpec:
    app_id: str
    target_kind: str
    target_id: str
    intent: Intent
    tenant_id: str | None = None
    track: Track = Track.PRODUCTION
    exclusions: tuple[tuple[str, str], ...] = ()
    config: Mapping[str, ConfigValue] = field(default_factory=dict)
    protection: Mapping[str, Any] | None = None
    remove_when_unassigned: bool = True


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    tenant_id: str
    person_id: str | None
    state: str


@dataclass(frozen=True)
class DeviceApps:
    """A device's resolved apps and conflicts, the releases live for it, and its last document."""

    device: DeviceRecord
    resolution: Resolution
    live: dict[tuple[str, Track], Release]
    sequence: int | None = None
    issued_at: dt.datetime | None = None
    #: Web apps assigned to the device that its route does not let it open, and why.
    unavailable: Mapping[str, Refusal] = field(default_factory=dict)


class Targeting:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.changes = AuditedChanges(database, clock)

    def assign(self, principal: Principal, spec: AssignmentSpec) -> PortalAssignment:
        with self.changes.by(principal) as change:
            session = change.session
            scope = principal.tenant_scope()
            if scope is not None and spec.tenant_id not in (None, scope):
                raise NotFound("no such department")
            department = scope or spec.tenant_id
            if department is None:
                raise InvalidInput("name the department (tenant_id) the assignment belongs to")
            principal.require_tenant(department, "department")
            require_department(session, department)
            app = visible_app(session, principal, spec.app_id)
            if app.tenant_id not in (None, department):
                raise NotFound(f"no app {spec.app_id}")
            target = _target(session, department, spec.target_kind, spec.target_id)
            if app.kind is AppKind.WEB and spec.intent is not Intent.UNINSTALL:
                _check_route_admits(session, app, department, target)
            exclusions = frozenset(_target(session, department, kind, id_) for kind, id_ in spec.exclusions)
            protection = ProtectionPolicy.from_document(dict(spec.protection)) if spec.protection else None
            row = PortalAssignment(
                tenant_id=department,
                app_id=app.id,
                package=app.package,
                target_kind=target.kind.name.lower(),
                target_id=target.id,
                intent=spec.intent,
                track=spec.track,
                exclusions=json.dumps(sorted([e.kind.name.lower(), e.id] for e in exclusions)),
                config=json.dumps(dict(spec.config), sort_keys=True),
                protection=json.dumps(protection.to_document()) if protection else None,
                remove_when_unassigned=spec.remove_when_unassigned,
                created_at=change.now,
                created_by=change.actor,
            )
            to_assignment(row)  # the domain's rules (exclusion specificity, configuration) refuse here
            session.add(row)
            session.flush()
            change.record(
                "portal.assignment.created",
                row.id,
                tenant_id=department,
                details={
                    "package": row.package,
                    "target": f"{row.target_kind}:{row.target_id}",
                    "intent": row.intent,
                    "track": row.track,
                },
            )
        return row

    def unassign(self, principal: Principal, assignment_id: str) -> None:
        with self.changes.by(principal) as change:
            row = change.session.get(PortalAssignment, assignment_id)
            if row is None or not principal.can_see_tenant(row.tenant_id):
                raise NotFound(f"no assignment {assignment_id}")
            change.session.delete(row)
            change.record(
                "portal.assignment.removed",
                row.id,
                tenant_id=row.tenant_id,
                details={"package": row.package, "target": f"{row.target_kind}:{row.target_id}"},
            )

    def assignments(self, principal: Principal, app_id: str | None = None) -> list[PortalAssignment]:
        with self.database.session() as session:
            statement = select(PortalAssignment).order_by(col(PortalAssignment.created_at))
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(PortalAssignment.tenant_id == scope)
            if app_id is not None:
                visible_app(session, principal, app_id)
                statement = statement.where(PortalAssignment.app_id == app_id)
            return list(session.exec(statement).all())

    def device_apps(self, principal: Principal, device_id: str) -> DeviceApps:
        """What a device should have and why, for the admin's status view."""
        with self.database.session() as session:
            device = device_record(session, device_id)
            if device is None or not principal.can_see_tenant(device.tenant_id):
                raise NotFound(f"no device {device_id}")
            apps = resolve_device(session, device)
            state = session.get(PortalDeviceState, device.id)
            if state is None:
                return apps
            return replace(apps, sequence=state.sequence, issued_at=state.issued_at)


def device_record(session: Session, device_id: str) -> DeviceRecord | None:
    row = (
        session.connection()
        .execute(
            core_select(devices.c.id, devices.c.tenant_id, devices.c.person_id, devices.c.state).where(
                devices.c.id == device_id
            )
        )
        .first()
    )
    return None if row is None else DeviceRecord(row.id, row.tenant_id, row.person_id, row.state)


def resolve_device(session: Session, device: DeviceRecord) -> DeviceApps:
    """The device's apps from its department's assignments, its person's groups and the live releases."""
    groups: dict[str, str] = {}
    if device.person_id is not None:
        found = session.exec(
            select(Group.id, Group.name)
            .join(Membership, col(Membership.group_id) == col(Group.id))
            .where(Membership.person_id == device.person_id)
        ).all()
        groups = {str(group_id): str(name) for group_id, name in found}
    context = DeviceContext(device.id, device.tenant_id, device.person_id, frozenset(groups))
    rows = session.exec(
        select(PortalAssignment).where(
            PortalAssignment.tenant_id == device.tenant_id, _targeting(context.targets())
        )
    ).all()
    rules = department_rules(session, device.tenant_id)
    resolution = resolve_desired_apps(context, [to_assignment(row) for row in rows], rules.protection)
    live = live_releases(release_histories(session, resolution.apps))
    unavailable = _not_admitted(session, device, frozenset(groups.values()), resolution, live)
    if unavailable:
        kept = {p: app for p, app in resolution.apps.items() if p not in unavailable}
        resolution = Resolution(kept, resolution.conflicts)
    return DeviceApps(device, resolution, live, unavailable=unavailable)


def _not_admitted(
    session: Session,
    device: DeviceRecord,
    group_names: frozenset[str],
    resolution: Resolution,
    live: Mapping[tuple[str, Track], Release],
) -> dict[str, Refusal]:
    """The web apps offered by assignment whose route does not admit this device, and why."""
    entries = {}
    for package, app in resolution.apps.items():
        release = live.get((package, app.track)) if app.track is not None else None
        if release is not None and release.web is not None:
            entries[package] = release.web
    if not entries:
        return {}
    routes = route_admissions(session, [entry.route for entry in entries.values()])
    refused = {}
    for package, entry in entries.items():
        refusal = person_refusal(routes.get(entry.route), entry.route, device.tenant_id, group_names)
        if refusal is not None:
            refused[package] = refusal
    return refused


def _check_route_admits(session: Session, app: PortalApp, department: str, target: Target) -> None:
    """Refuse an assignment of a web app to a target its route admits none of (early and clear;
    resolution checks each device again against the route as it is then)."""
    # The entry devices get now (the newest published), else the one on its way (newest draft).
    history = [r for r in release_history(session, app.id) if r.web is not None]
    current = [r for r in history if r.state is ReleaseState.PUBLISHED] or [
        r for r in history if r.state is not ReleaseState.RETIRED
    ]
    entry = current[0].web if current else None
    if entry is None:
        return  # no entry yet: each device is checked when one is published
    route = route_admission(session, entry.route)
    refusal = route_refusal(route, entry.route, department)
    if refusal is None and route is not None and route.groups:
        names: set[str] = set()
        if target.kind is TargetKind.GROUP:
            group = session.get(Group, target.id)
            names = {group.name} if group is not None else set()
        elif target.kind in (TargetKind.PERSON, TargetKind.DEVICE):
            person_id = target.id
            if target.kind is TargetKind.DEVICE:
                device = device_record(session, target.id)
                person_id = device.person_id if device is not None and device.person_id else ""
            names = set(
                session.exec(
                    select(Group.name)
                    .join(Membership, col(Membership.group_id) == col(Group.id))
                    .where(Membership.person_id == person_id)
                ).all()
            )
        if target.kind is not TargetKind.DEPARTMENT and not names & route.groups:
            refusal = Refusal(
                "group_not_admitted",
                f"the gateway route {entry.route!r} does not admit this {target.kind.name.lower()}: "
                f"it admits only the groups {', '.join(sorted(route.groups))}",
            )
    if refusal is not None:
        raise RouteRefused(
            f"{app.package} cannot be assigned here: {refusal.reason}; change the route's admission "
            "on the gateway (the one place that says who may open it) or assign to people it admits",
            code=refusal.code,
        )


def _targeting(targets: frozenset[Target]) -> ColumnElement[bool]:
    """Assignments whose target is one of ``targets``. Only these can reach the device (the
    resolution ignores the others; exclusions apply to these), so a fetch reads these and not
    all of the department's, one per targeted group, person or device: a fetch's cost then no
    longer grows with the department (docs/benchmarks.md, App portal). By id alone, one cheap
    clause: the ids are UUIDs of different tables, and the resolution checks the kind anyway."""
    return col(PortalAssignment.target_id).in_(sorted({target.id for target in targets}))


def to_assignment(row: PortalAssignment) -> Assignment:
    return Assignment(
        id=row.id,
        package=row.package,
        target=Target(_KINDS[row.target_kind], row.target_id),
        intent=row.intent,
        track=row.track,
        exclusions=frozenset(Target(_KINDS[kind], id_) for kind, id_ in json.loads(row.exclusions)),
        config=json.loads(row.config),
        protection=ProtectionPolicy.from_document(json.loads(row.protection)) if row.protection else None,
        remove_when_unassigned=row.remove_when_unassigned,
    )


def _target(session: Session, department: str, kind_name: str, target_id: str) -> Target:
    """A target of the department; another department's (or none) is 'not found'."""
    kind = _KINDS.get(kind_name)
    if kind is None:
        raise InvalidInput(f"a target is one of {', '.join(_KINDS)}", code="invalid_assignment")
    found: str | None
    if kind is TargetKind.DEPARTMENT:
        found = target_id if target_id == department else None
    elif kind is TargetKind.GROUP:
        group = session.get(Group, target_id)
        found = group.tenant_id if group is not None else None
    elif kind is TargetKind.PERSON:
        person = session.get(Person, target_id)
        found = person.tenant_id if person is not None else None
    else:
        device = device_record(session, target_id)
        found = device.tenant_id if device is not None else None
    if found != department:
        raise NotFound(f"no {kind_name} {target_id} in this department")
    return Target(kind, target_id)
