"""Tenants: the government departments that share one appliance.

Every row of tenant data carries ``tenant_id``; every query that returns it is scoped by the
caller's tenant in the query layer (see ``govmobile.core.accounts.Principal.tenant_scope``).
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import MISSING, ConfigDict, StrictInt, field_validator
from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel, select

from govmobile.core.database import UTCDateTime, utcnow
from govmobile.core.errors import Conflict, NotFound
from govmobile.core.ids import new_id

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class TenantBase(SQLModel):
    #: Short stable name used in URLs and certificates, e.g. ``water-resources``.
    slug: str = Field(
        index=True, unique=True, max_length=63, schema_extra={"json_schema_extra": {"pattern": _SLUG.pattern}}
    )
    name: str = Field(max_length=200, min_length=1)
    #: Most devices the department may enroll; ``None`` means no limit.
    max_devices: StrictInt | None = Field(default=None, ge=0, le=10**9)

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                "slug must be 1-63 lower-case letters, digits or hyphens, "
                "not starting or ending with a hyphen"
            )
        return value


class TenantCreate(TenantBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict


class TenantUpdate(SQLModel):
    """Fields to change; omitted ones keep their value. ``max_devices: null`` removes the limit."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict

    name: str | MISSING = Field(default=MISSING, max_length=200, min_length=1)
    max_devices: StrictInt | MISSING | None = Field(default=MISSING, ge=0, le=10**9)


class Tenant(TenantBase, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class TenantPublic(TenantBase):
    id: str
    created_at: dt.datetime


def create_tenant(session: Session, data: TenantCreate) -> Tenant:
    """Create a department; its slug must be unused."""
    if session.exec(select(Tenant).where(Tenant.slug == data.slug)).first() is not None:
        raise Conflict(f"a tenant with slug {data.slug!r} already exists; choose another slug")
    tenant = Tenant.model_validate(data)
    session.add(tenant)
    session.flush()
    return tenant


def tenant_id_of(session: Session, tenant_id_or_slug: str | None) -> str | None:
    """The id of a tenant named by id or slug (None stays None); NotFound when there is none."""
    return None if tenant_id_or_slug is None else get_tenant(session, tenant_id_or_slug).id


def get_tenant(session: Session, tenant_id_or_slug: str) -> Tenant:
    """Find a department by id or slug."""
    tenant = session.get(Tenant, tenant_id_or_slug)
    if tenant is None:
        tenant = session.exec(select(Tenant).where(Tenant.slug == tenant_id_or_slug)).first()
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id_or_slug!r}")
    return tenant
