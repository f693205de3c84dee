"""The gateway's table: routes to intranet apps (the gateway is its only writer)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from typing import Annotated

from pydantic import ConfigDict, StrictBool, StrictInt, field_validator, model_validator
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from govmobile.core.database import EnumText, UTCDateTime, utcnow
from govmobile.core.ids import new_id

_ROUTE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_HOST = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


class IdentityMode(enum.StrEnum):
    """How the gateway tells an upstream app who is calling."""

    ASSERTION = "assertion"  # a signed JWT in GovMobile-Assertion only
    ASSERTION_AND_HEADERS = "assertion_and_headers"  # plus plain headers for legacy apps


class RouteBase(SQLModel):
    #: Used in the path (``/apps/<name>/``) and as the assertion's audience.
    name: str = Field(max_length=32, unique=True, index=True)
    description: str = Field(default="", max_length=200)
    #: Route by host name instead of path: requests for this host go to the upstream.
    host: str | None = Field(default=None, max_length=253)
    upstream_url: str = Field(max_length=500)
    #: PEM of the CA that signs an HTTPS upstream's certificate (None: the system trust store).
    upstream_ca_pem: str | None = Field(default=None, sa_column=Column(Text))
    #: JSON lists: the tenants (ids) and groups (names) admitted. Empty groups: any person of the tenants.
    allowed_tenants: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    allowed_groups: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    require_compliance: bool = True
    identity_mode: IdentityMode = Field(default=IdentityMode.ASSERTION, sa_type=EnumText(IdentityMode, 32))
    user_header: str = Field(
        default="X-Remote-User",
        max_length=64,
        schema_extra={"json_schema_extra": {"pattern": _HEADER.pattern}},
    )
    groups_header: str = Field(
        default="X-Remote-Groups",
        max_length=64,
        schema_extra={"json_schema_extra": {"pattern": _HEADER.pattern}},
    )
    #: Requests per second per device (bursts of twice that are queued, more are refused).
    rate_limit: int = Field(default=20, ge=1, le=10000)
    websocket: bool = False
    connect_timeout_seconds: int = Field(default=5, ge=1, le=60)
    read_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    enabled: bool = True


class Route(RouteBase, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_by: str = Field(default="system", max_length=200)


TenantRef = Annotated[str, Field(min_length=1, max_length=63)]
GroupName = Annotated[str, Field(min_length=1, max_length=100)]


class RouteWrite(SQLModel):
    """What an admin sends; validated here, stored as a Route."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # SQLModel types it as its own TypedDict

    name: str = Field(max_length=32, schema_extra={"json_schema_extra": {"pattern": _ROUTE_NAME.pattern}})
    description: str = Field(default="", max_length=200)
    host: str | None = Field(default=None, max_length=253)
    upstream_url: str = Field(max_length=500)
    upstream_ca_pem: str | None = Field(default=None, max_length=64 * 1024)
    allowed_tenants: list[TenantRef] = Field(
        max_length=100,
        schema_extra={"json_schema_extra": {"minItems": 1}},  # the validator says why
    )
    allowed_groups: list[GroupName] = Field(default=[], max_length=100)
    require_compliance: StrictBool = True
    identity_mode: IdentityMode = IdentityMode.ASSERTION
    user_header: str = Field(
        default="X-Remote-User",
        max_length=64,
        schema_extra={"json_schema_extra": {"pattern": _HEADER.pattern}},
    )
    groups_header: str = Field(
        default="X-Remote-Groups",
        max_length=64,
        schema_extra={"json_schema_extra": {"pattern": _HEADER.pattern}},
    )
    rate_limit: StrictInt = Field(default=20, ge=1, le=10000)
    websocket: StrictBool = False
    connect_timeout_seconds: StrictInt = Field(default=5, ge=1, le=60)
    read_timeout_seconds: StrictInt = Field(default=60, ge=1, le=3600)
    enabled: StrictBool = True
    #: On replace: the version you read. A route changed since is not overwritten (409).
    version: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ROUTE_NAME.match(value):
            raise ValueError("name must be 1-32 lower-case letters, digits or hyphens")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value.lower()):
            raise ValueError("host must be a fully qualified DNS name such as oa.water.gov.example")
        return value.lower() if value else None

    @field_validator("upstream_url")
    @classmethod
    def _upstream(cls, value: str) -> str:
        if not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?$", value):
            raise ValueError("upstream_url must be http(s)://host[:port][/path] without query or credentials")
        return value.rstrip("/")

    @field_validator("user_header", "groups_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER.match(value) or value.lower().startswith(("govmobile-", "client-cert")):
            raise ValueError(
                "header names are letters, digits and hyphens, and may not impersonate GovMobile's own"
            )
        return value

    @field_validator("allowed_tenants")
    @classmethod
    def _tenants(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a route must admit at least one tenant")
        return sorted(set(value))

    @model_validator(mode="after")
    def _ca_only_for_https(self) -> RouteWrite:
        if self.upstream_ca_pem and not self.upstream_url.startswith("https://"):
            raise ValueError("upstream_ca_pem applies only to an https:// upstream")
        return self


class RoutePublic(SQLModel):
    id: str
    name: str
    description: str
    host: str | None
    upstream_url: str
    upstream_ca_configured: bool
    allowed_tenants: list[str]
    allowed_groups: list[str]
    require_compliance: bool
    identity_mode: IdentityMode
    user_header: str
    groups_header: str
    rate_limit: int
    websocket: bool
    connect_timeout_seconds: int
    read_timeout_seconds: int
    enabled: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str
    #: ``live``, ``pending`` (the data plane has not picked it up yet), ``disabled``, or
    #: ``unavailable: <why>`` when the gateway had to leave it out (an unresolvable upstream).
    data_plane: str

    @classmethod
    def of(cls, route: Route, *, data_plane: str) -> RoutePublic:
        data = route.model_dump(exclude={"upstream_ca_pem", "allowed_tenants", "allowed_groups"})
        return cls(
            **data,
            data_plane=data_plane,
            upstream_ca_configured=route.upstream_ca_pem is not None,
            allowed_tenants=json.loads(route.allowed_tenants),
            allowed_groups=json.loads(route.allowed_groups),
        )
