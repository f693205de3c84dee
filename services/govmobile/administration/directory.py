"""The directory: departments (tenants), the people in them and their groups.

Disabling a person or taking them out of a group can take access away from their devices.
Devices are a service's business (the MDM's), and this package imports no service: the service
passes in an ``AccessLost`` callback, which records the loss in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

from sqlmodel import Session, col, select

from govmobile.administration.changes import AuditedChanges
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow
from govmobile.core.directory import (
    Group,
    GroupCreate,
    Person,
    PersonCreate,
    PersonUpdate,
    add_member,
    create_group,
    create_person,
    get_group,
    get_person,
    groups_of,
    list_groups,
    list_people,
    members_of,
    remove_member,
    update_person,
)
from govmobile.core.tenancy import Tenant, TenantCreate, TenantUpdate, create_tenant, get_tenant, tenant_id_of


class AccessLost(Protocol):
    """Told, inside the change's transaction, that a person's access may have been taken away."""

    def __call__(self, session: Session, *, person_id: str, reason: str, now: dt.datetime) -> None: ...


class Directory:
    """Tenants, people and groups, each query confined to the caller's tenant."""

    def __init__(
        self, database: Database, *, access_lost: AccessLost, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.database = database
        self.access_lost = access_lost
        self.changes = AuditedChanges(database, clock)

    # -- tenants ----------------------------------------------------------------------------------

    def create_tenant(self, principal: Principal, data: TenantCreate) -> Tenant:
        """Add a department (platform admins)."""
        with self.changes.by(principal, Principal.require_platform_admin) as change:
            tenant = create_tenant(change.session, data)
            change.record(
                "tenant.created",
                f"tenant:{tenant.id}",
                tenant_id=tenant.id,
                details={"slug": tenant.slug, "max_devices": tenant.max_devices},
            )
            return tenant

    def list_tenants(self, principal: Principal) -> list[Tenant]:
        """Every department for a platform admin, the caller's own for anyone else."""
        with self.database.session() as session:
            statement = select(Tenant)
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(Tenant.id == scope)
            return list(session.exec(statement.order_by(col(Tenant.slug))).all())

    def get_tenant(self, principal: Principal, tenant: str) -> Tenant:
        """A department by id or slug, if in the caller's reach."""
        with self.database.session() as session:
            found = get_tenant(session, tenant)
            principal.require_tenant(found.id, "tenant")
            return found

    def update_tenant(self, principal: Principal, tenant: str, data: TenantUpdate) -> Tenant:
        """Rename a department or change its device quota (platform admins)."""
        with self.changes.by(principal, Principal.require_platform_admin) as change:
            found = get_tenant(change.session, tenant)
            for key, value in data.model_dump(exclude_unset=True).items():
                setattr(found, key, value)
            change.session.add(found)
            change.record(
                "tenant.updated",
                f"tenant:{found.id}",
                tenant_id=found.id,
                details=data.model_dump(exclude_unset=True),
            )
            return found

    # -- people -----------------------------------------------------------------------------------

    def create_person(self, principal: Principal, data: PersonCreate) -> Person:
        """Add a person to a department in the caller's reach."""
        with self.changes.by(principal) as change:
            data = data.model_copy(update={"tenant_id": tenant_id_of(change.session, data.tenant_id)})
            principal.require_tenant(data.tenant_id, "tenant")
            get_tenant(change.session, data.tenant_id)
            person = create_person(change.session, data)
            change.record(
                "person.created",
                f"person:{person.id}",
                tenant_id=person.tenant_id,
                details={"username": person.username},
            )
            return person

    def list_people(
        self, principal: Principal, *, tenant_id: str | None, text: str | None, limit: int, offset: int
    ) -> list[Person]:
        """People in reach, filtered by department and a text search."""
        with self.database.session() as session:
            return list_people(
                session,
                scope=principal.tenant_scope(),
                tenant_id=tenant_id_of(session, tenant_id),
                text=text,
                limit=limit,
                offset=offset,
            )

    def get_person(self, principal: Principal, person_id: str) -> tuple[Person, list[Group]]:
        """A person in reach and the groups they are in."""
        with self.database.session() as session:
            person = get_person(session, person_id, scope=principal.tenant_scope())
            return person, groups_of(session, person.id)

    def update_person(self, principal: Principal, person_id: str, data: PersonUpdate) -> Person:
        """Change a person; disabling one takes their devices' access away."""
        with self.changes.by(principal) as change:
            person = update_person(
                change.session, get_person(change.session, person_id, scope=principal.tenant_scope()), data
            )
            # ``is True``: an omitted field is pydantic's MISSING, which is truthy.
            if data.disabled is True:
                self.access_lost(
                    change.session, person_id=person.id, reason="person disabled", now=change.now
                )
            change.record(
                "person.updated",
                f"person:{person.id}",
                tenant_id=person.tenant_id,
                details=data.model_dump(exclude_unset=True),
            )
            return person

    # -- groups -----------------------------------------------------------------------------------

    def create_group(self, principal: Principal, data: GroupCreate) -> Group:
        """Add a group to a department in the caller's reach."""
        with self.changes.by(principal) as change:
            data = data.model_copy(update={"tenant_id": tenant_id_of(change.session, data.tenant_id)})
            principal.require_tenant(data.tenant_id, "tenant")
            get_tenant(change.session, data.tenant_id)
            group = create_group(change.session, data)
            change.record(
                "group.created", f"group:{group.id}", tenant_id=group.tenant_id, details={"name": group.name}
            )
            return group

    def list_groups(self, principal: Principal, *, tenant_id: str | None) -> list[tuple[Group, int]]:
        """Groups in reach with their member counts."""
        with self.database.session() as session:
            return list_groups(
                session, scope=principal.tenant_scope(), tenant_id=tenant_id_of(session, tenant_id)
            )

    def group_members(self, principal: Principal, group_id: str) -> tuple[Group, list[Person]]:
        """A group in reach and its members."""
        with self.database.session() as session:
            group = get_group(session, group_id, scope=principal.tenant_scope())
            return group, members_of(session, group)

    def add_member(self, principal: Principal, group_id: str, person_id: str) -> bool:
        """Put a person in a group of their own department; False if they were in it already."""
        with self.changes.by(principal) as change:
            group = get_group(change.session, group_id, scope=principal.tenant_scope())
            person = get_person(change.session, person_id, scope=group.tenant_id)
            added = add_member(change.session, group, person)
            if added:
                change.record(
                    "group.member_added",
                    f"group:{group.id}",
                    tenant_id=group.tenant_id,
                    details={"person_id": person.id},
                )
            return added

    def remove_member(self, principal: Principal, group_id: str, person_id: str) -> None:
        """Take a person out of a group, and the access the group gave their devices."""
        with self.changes.by(principal) as change:
            group = get_group(change.session, group_id, scope=principal.tenant_scope())
            remove_member(change.session, group, person_id)
            self.access_lost(change.session, person_id=person_id, reason="left a group", now=change.now)
            change.record(
                "group.member_removed",
                f"group:{group.id}",
                tenant_id=group.tenant_id,
                details={"person_id": person_id},
            )
