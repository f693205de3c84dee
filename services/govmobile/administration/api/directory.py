"""Tenants (departments), people and groups."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from govmobile.administration.directory import Directory
from govmobile.core.accounts import Principal
from govmobile.core.directory import GroupCreate, GroupPublic, PersonCreate, PersonPublic, PersonUpdate
from govmobile.core.tenancy import TenantCreate, TenantPublic, TenantUpdate
from govmobile.web.openapi import errors
from govmobile.web.params import IdPath, TenantPath, TenantQuery


class PersonDetail(PersonPublic):
    groups: list[GroupPublic]


class GroupDetail(GroupPublic):
    members: list[PersonPublic]


def directory_router(directory: Directory, authenticate: Callable[..., Principal]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["tenants, people and groups"])

    @router.post("/tenants", response_model=TenantPublic, status_code=201, responses=errors(403, 409))
    def create_tenant(body: TenantCreate, admin: Annotated[Principal, Depends(authenticate)]) -> TenantPublic:
        """Add a department (platform admins)."""
        return TenantPublic.model_validate(directory.create_tenant(admin, body), from_attributes=True)

    @router.get("/tenants", response_model=list[TenantPublic])
    def list_tenants(admin: Annotated[Principal, Depends(authenticate)]) -> list[TenantPublic]:
        return [TenantPublic.model_validate(t, from_attributes=True) for t in directory.list_tenants(admin)]

    @router.get("/tenants/{tenant}", response_model=TenantPublic, responses=errors(404))
    def get_tenant(tenant: TenantPath, admin: Annotated[Principal, Depends(authenticate)]) -> TenantPublic:
        """A department by id or slug."""
        return TenantPublic.model_validate(directory.get_tenant(admin, tenant), from_attributes=True)

    @router.patch("/tenants/{tenant}", response_model=TenantPublic, responses=errors(403, 404))
    def update_tenant(
        tenant: TenantPath, body: TenantUpdate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> TenantPublic:
        return TenantPublic.model_validate(directory.update_tenant(admin, tenant, body), from_attributes=True)

    @router.post("/people", response_model=PersonPublic, status_code=201, responses=errors(403, 404, 409))
    def create_person(body: PersonCreate, admin: Annotated[Principal, Depends(authenticate)]) -> PersonPublic:
        return PersonPublic.model_validate(directory.create_person(admin, body), from_attributes=True)

    @router.get("/people", response_model=list[PersonPublic], responses=errors(404))
    def list_people(
        admin: Annotated[Principal, Depends(authenticate)],
        tenant_id: TenantQuery = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> list[PersonPublic]:
        people = directory.list_people(admin, tenant_id=tenant_id, text=q, limit=limit, offset=offset)
        return [PersonPublic.model_validate(p, from_attributes=True) for p in people]

    @router.get("/people/{person_id}", response_model=PersonDetail, responses=errors(404))
    def get_person(person_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> PersonDetail:
        person, groups = directory.get_person(admin, person_id)
        return PersonDetail(
            **PersonPublic.model_validate(person, from_attributes=True).model_dump(),
            groups=[GroupPublic.model_validate(g, from_attributes=True) for g in groups],
        )

    @router.patch("/people/{person_id}", response_model=PersonPublic, responses=errors(403, 404))
    def update_person(
        person_id: IdPath, body: PersonUpdate, admin: Annotated[Principal, Depends(authenticate)]
    ) -> PersonPublic:
        return PersonPublic.model_validate(
            directory.update_person(admin, person_id, body), from_attributes=True
        )

    @router.post("/groups", response_model=GroupPublic, status_code=201, responses=errors(403, 404, 409))
    def create_group(body: GroupCreate, admin: Annotated[Principal, Depends(authenticate)]) -> GroupPublic:
        return GroupPublic.model_validate(directory.create_group(admin, body), from_attributes=True)

    @router.get("/groups", response_model=list[GroupPublic], responses=errors(404))
    def list_groups(
        admin: Annotated[Principal, Depends(authenticate)], tenant_id: TenantQuery = None
    ) -> list[GroupPublic]:
        return [
            GroupPublic(
                **GroupPublic.model_validate(g, from_attributes=True).model_dump(exclude={"member_count"}),
                member_count=n,
            )
            for g, n in directory.list_groups(admin, tenant_id=tenant_id)
        ]

    @router.get("/groups/{group_id}", response_model=GroupDetail, responses=errors(404))
    def get_group(group_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]) -> GroupDetail:
        group, members = directory.group_members(admin, group_id)
        return GroupDetail(
            **GroupPublic.model_validate(group, from_attributes=True).model_dump(exclude={"member_count"}),
            member_count=len(members),
            members=[PersonPublic.model_validate(p, from_attributes=True) for p in members],
        )

    @router.put("/groups/{group_id}/members/{person_id}", status_code=204, responses=errors(403, 404))
    def add_member(
        group_id: IdPath, person_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> Response:
        directory.add_member(admin, group_id, person_id)
        return Response(status_code=204)

    @router.delete("/groups/{group_id}/members/{person_id}", status_code=204, responses=errors(403, 404))
    def remove_member(
        group_id: IdPath, person_id: IdPath, admin: Annotated[Principal, Depends(authenticate)]
    ) -> Response:
        directory.remove_member(admin, group_id, person_id)
        return Response(status_code=204)

    return router
