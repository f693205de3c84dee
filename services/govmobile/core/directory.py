"""People and groups inside a tenant (department).

A person is a civil servant who carries devices; groups say which intranet apps and published
apps a person gets. Every function here is tenant-scoped: it takes the caller's scope and never
returns another tenant's rows (they look like rows that do not exist).
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import MISSING, ConfigDict, StrictBool, field_validator
from sqlalchemy import Column, UniqueConstraint, func, or_
from sqlmodel import Field, Session, SQLModel, col, select

from govmobile.core.database import UTCDateTime, utcnow
from govmobile.core.errors import Conflict, NotFound
from govmobile.core.ids import new_id

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{what} must be 1-100 letters, digits or . _ @ -, starting with a letter or digit")
    return value


# -- people --------------------------------------------------------------------------------


class PersonBase(SQLModel):
    #: The person's login name in the department's directory, unique inside the tenant.
    username: str = Field(max_length=100, schema_extra={"json_schema_extra": {"pattern": _NAME.pattern}})
    display_name: str = Field(max_length=200, min_length=1)
    email: str | None = Field(default=None, max_length=254)

    @field_validator("username")
    @classmethod
    def _username_shape(cls, value: str) -> str:
        return _check_name(value, "username")


class PersonCreate(PersonBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict

    tenant_id: str = Field(max_length=63, description="the department's id or slug")


class PersonUpdate(SQLModel):
    """Fields to change; omitted ones keep their value. ``email: null`` removes the address."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict

    display_name: str | MISSING = Field(default=MISSING, max_length=200, min_length=1)
    email: str | MISSING | None = Field(default=MISSING, max_length=254)
    disabled: StrictBool | MISSING = MISSING


class Person(PersonBase, table=True):
    __table_args__ = (UniqueConstraint("tenant_id", "username", name="uq_person_tenant_username"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=36)
    disabled: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PersonPublic(PersonBase):
    id: str
    tenant_id: str
    disabled: bool
    created_at: dt.datetime


# -- groups --------------------------------------------------------------------------------


class GroupBase(SQLModel):
    name: str = Field(max_length=100, schema_extra={"json_schema_extra": {"pattern": _NAME.pattern}})
    description: str = Field(default="", max_length=500)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        return _check_name(value, "group name")


class GroupCreate(GroupBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict

    tenant_id: str = Field(max_length=63, description="the department's id or slug")


class Group(GroupBase, table=True):
    __tablename__ = "person_group"  # "group" is an SQL keyword
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_group_tenant_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=36)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class GroupPublic(GroupBase):
    id: str
    tenant_id: str
    created_at: dt.datetime
    member_count: int = 0


class Membership(SQLModel, table=True):
    group_id: str = Field(foreign_key="person_group.id", primary_key=True, max_length=36)
    person_id: str = Field(foreign_key="person.id", primary_key=True, max_length=36, index=True)


# -- operations ----------------------------------------------------------------------------


def create_person(session: Session, data: PersonCreate) -> Person:
    """Add a person to a tenant; the username must be unused there."""
    taken = session.exec(
        select(Person).where(Person.tenant_id == data.tenant_id, Person.username == data.username)
    ).first()
    if taken is not None:
        raise Conflict(f"username {data.username!r} is already used in this tenant")
    person = Person.model_validate(data)
    session.add(person)
    session.flush()
    return person


def get_person(session: Session, person_id: str, *, scope: str | None) -> Person:
    """A person by id, inside the caller's scope (None: every tenant)."""
    person = session.get(Person, person_id)
    if person is None or (scope is not None and person.tenant_id != scope):
        raise NotFound(f"no person {person_id}")
    return person


def list_people(
    session: Session, *, scope: str | None, tenant_id: str | None, text: str | None, limit: int, offset: int
) -> list[Person]:
    statement = select(Person)
    if scope is not None:
        statement = statement.where(Person.tenant_id == scope)
    if tenant_id is not None:
        statement = statement.where(Person.tenant_id == tenant_id)
    if text:
        pattern = f"%{text.lower()}%"
        statement = statement.where(
            or_(func.lower(Person.username).like(pattern), func.lower(Person.display_name).like(pattern))
        )
    return list(session.exec(statement.order_by(col(Person.username)).offset(offset).limit(limit)).all())


def update_person(session: Session, person: Person, data: PersonUpdate) -> Person:
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(person, key, value)
    session.add(person)
    session.flush()
    return person


def create_group(session: Session, data: GroupCreate) -> Group:
    """Add a group to a tenant; the name must be unused there."""
    taken = session.exec(
        select(Group).where(Group.tenant_id == data.tenant_id, Group.name == data.name)
    ).first()
    if taken is not None:
        raise Conflict(f"a group named {data.name!r} already exists in this tenant")
    group = Group.model_validate(data)
    session.add(group)
    session.flush()
    return group


def get_group(session: Session, group_id: str, *, scope: str | None) -> Group:
    group = session.get(Group, group_id)
    if group is None or (scope is not None and group.tenant_id != scope):
        raise NotFound(f"no group {group_id}")
    return group


def list_groups(session: Session, *, scope: str | None, tenant_id: str | None) -> list[tuple[Group, int]]:
    counts = (
        select(Membership.group_id, func.count().label("members"))
        .group_by(col(Membership.group_id))
        .subquery()
    )
    statement = select(Group, func.coalesce(counts.c.members, 0)).outerjoin(
        counts, counts.c.group_id == Group.id
    )
    if scope is not None:
        statement = statement.where(Group.tenant_id == scope)
    if tenant_id is not None:
        statement = statement.where(Group.tenant_id == tenant_id)
    return [(group, int(count)) for group, count in session.exec(statement.order_by(col(Group.name))).all()]


def add_member(session: Session, group: Group, person: Person) -> bool:
    """Put a person in a group of the same tenant; False when already a member."""
    if group.tenant_id != person.tenant_id:
        raise NotFound(f"no person {person.id} in this group's tenant")
    if session.get(Membership, (group.id, person.id)) is not None:
        return False
    session.add(Membership(group_id=group.id, person_id=person.id))
    session.flush()
    return True


def remove_member(session: Session, group: Group, person_id: str) -> None:
    membership = session.get(Membership, (group.id, person_id))
    if membership is None:
        raise NotFound(f"person {person_id} is not a member of this group")
    session.delete(membership)
    session.flush()


def members_of(session: Session, group: Group) -> list[Person]:
    statement = (
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(Membership.group_id == group.id)
    )
    return list(session.exec(statement.order_by(col(Person.username))).all())


def groups_of(session: Session, person_id: str) -> list[Group]:
    """The groups a person belongs to (same tenant by construction)."""
    statement = (
        select(Group)
        .join(Membership, col(Membership.group_id) == Group.id)
        .where(Membership.person_id == person_id)
    )
    return list(session.exec(statement.order_by(col(Group.name))).all())
