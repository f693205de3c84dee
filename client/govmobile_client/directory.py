"""Tenants (departments), the people in them, and their groups."""

from __future__ import annotations

from collections.abc import Sequence

from govmobile_client.changes import PersonChange, TenantChange
from govmobile_client.connection import Connection, segment
from govmobile_client.errors import AmbiguousReference, NotFound, missing
from govmobile_client.models import Group, GroupDetail, Person, PersonDetail, Tenant

#: The most people the API returns in one list call.
PEOPLE_PAGE_LIMIT = 500


class Tenants:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, slug: str, name: str, *, max_devices: int | None = None) -> Tenant:
        """Add a department (platform admins)."""
        body = {"slug": slug, "name": name, "max_devices": max_devices}
        return self._connection.call(Tenant, "POST", "/api/v1/tenants", body=body)

    def list(self) -> Sequence[Tenant]:
        return self._connection.call_list(Tenant, "GET", "/api/v1/tenants")

    def show(self, tenant: str) -> Tenant:
        """A department by id or slug."""
        return self._connection.call(Tenant, "GET", f"/api/v1/tenants/{segment(tenant)}")

    def update(self, tenant: str, change: TenantChange) -> Tenant:
        return self._connection.call(
            Tenant, "PATCH", f"/api/v1/tenants/{segment(tenant)}", body=change.body()
        )


class People:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, tenant_id: str, username: str, display_name: str, *, email: str | None = None) -> Person:
        body = {"tenant_id": tenant_id, "username": username, "display_name": display_name, "email": email}
        return self._connection.call(Person, "POST", "/api/v1/people", body=body)

    def list(
        self,
        *,
        tenant_id: str | None = None,
        q: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Person]:
        """People you may see, by username; ``q`` matches username or display name."""
        params = {"tenant_id": tenant_id, "q": q, "limit": limit, "offset": offset}
        return self._connection.call_list(Person, "GET", "/api/v1/people", params=params)

    def show(self, person_id: str) -> PersonDetail:
        """A person with the groups they belong to."""
        return self._connection.call(PersonDetail, "GET", f"/api/v1/people/{segment(person_id)}")

    def update(self, person_id: str, change: PersonChange) -> Person:
        return self._connection.call(
            Person, "PATCH", f"/api/v1/people/{segment(person_id)}", body=change.body()
        )

    def resolve(self, reference: str, *, tenant_id: str | None = None) -> Person:
        """A person by username (within ``tenant_id`` when given) or by id."""
        # q also matches display names and parts of usernames: keep exact usernames only.
        found = [
            p
            for p in self.list(tenant_id=tenant_id, q=reference[:100], limit=PEOPLE_PAGE_LIMIT)
            if p.username == reference
        ]
        if len(found) > 1:
            raise AmbiguousReference(
                f"username {reference!r} exists in {len(found)} tenants; name the tenant, or use the person's id"
            )
        if found:
            return found[0]
        try:
            person = self.show(reference)
        except NotFound:
            raise missing(_nobody(reference, tenant_id)) from None
        if tenant_id is not None and person.tenant_id != tenant_id:
            raise missing(_nobody(reference, tenant_id))
        return person


class Groups:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, tenant_id: str, name: str, *, description: str = "") -> Group:
        body = {"tenant_id": tenant_id, "name": name, "description": description}
        return self._connection.call(Group, "POST", "/api/v1/groups", body=body)

    def list(self, *, tenant_id: str | None = None) -> Sequence[Group]:
        return self._connection.call_list(Group, "GET", "/api/v1/groups", params={"tenant_id": tenant_id})

    def show(self, group_id: str) -> GroupDetail:
        """A group with its members."""
        return self._connection.call(GroupDetail, "GET", f"/api/v1/groups/{segment(group_id)}")

    def add_member(self, group_id: str, person_id: str) -> None:
        """Put a person of the group's tenant in the group (no change when already a member)."""
        self._connection.call_empty("PUT", f"/api/v1/groups/{segment(group_id)}/members/{segment(person_id)}")

    def remove_member(self, group_id: str, person_id: str) -> None:
        self._connection.call_empty(
            "DELETE", f"/api/v1/groups/{segment(group_id)}/members/{segment(person_id)}"
        )

    def resolve(self, reference: str, *, tenant_id: str | None = None) -> Group:
        """A group by name (within ``tenant_id`` when given) or by id."""
        groups = self.list(tenant_id=tenant_id)
        by_id = [g for g in groups if g.id == reference]
        if by_id:
            return by_id[0]
        named = [g for g in groups if g.name == reference]
        if len(named) > 1:
            raise AmbiguousReference(
                f"group name {reference!r} exists in {len(named)} tenants; name the tenant, or use the group's id"
            )
        if not named:
            where = " in this tenant" if tenant_id else ""
            raise missing(f"no group {reference!r}{where}")
        return named[0]


def _nobody(reference: str, tenant_id: str | None) -> str:
    return f"no person {reference!r}" + (" in this tenant" if tenant_id else "")
