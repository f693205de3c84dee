"""Tenants, people and groups through the client, and finding them by name."""

from __future__ import annotations

import pytest

from govmobile_client import GovMobileClient, PersonChange, TenantChange
from govmobile_client.errors import AmbiguousReference, Conflict, NotFound


def test_tenants_by_slug_or_id(client: GovMobileClient) -> None:
    made = client.tenants.create("roads", "Roads Agency", max_devices=10)
    assert client.tenants.show("roads").id == made.id
    assert client.tenants.show(made.id).slug == "roads"
    assert [t.slug for t in client.tenants.list()] == ["roads"]
    renamed = client.tenants.update("roads", TenantChange(name="Roads and Bridges"))
    assert (renamed.name, renamed.max_devices) == ("Roads and Bridges", 10)
    assert client.tenants.update(made.id, TenantChange(max_devices=None)).max_devices is None
    with pytest.raises(Conflict, match="already exists"):
        client.tenants.create("roads", "Again")
    with pytest.raises(NotFound, match="no tenant 'ports'"):
        client.tenants.show("ports")


def test_people_are_found_by_username_within_a_tenant(client: GovMobileClient) -> None:
    water = client.tenants.create("water", "Water").id
    fire = client.tenants.create("fire", "Fire").id
    ana = client.people.create(water, "ana", "Ana Inspector", email="ana@water.example")
    client.people.create(water, "anabel", "Anabel Clerk")
    fire_ana = client.people.create(fire, "ana", "Ana Firefighter")
    assert client.people.resolve("ana", tenant_id=water).id == ana.id
    assert client.people.resolve("ana", tenant_id=fire).id == fire_ana.id
    assert client.people.resolve(ana.id).username == "ana"
    with pytest.raises(AmbiguousReference, match="exists in 2 tenants"):
        client.people.resolve("ana")
    with pytest.raises(NotFound, match=r"no person '[0-9a-f-]+' in this tenant"):
        client.people.resolve(ana.id, tenant_id=fire)
    with pytest.raises(NotFound, match="no person 'bob'"):
        client.people.resolve("bob", tenant_id=water)
    assert [p.username for p in client.people.list(tenant_id=water)] == ["ana", "anabel"]
    assert [p.username for p in client.people.list(q="clerk")] == ["anabel"]
    changed = client.people.update(ana.id, PersonChange(disabled=True, email=None))
    assert changed.disabled
    assert changed.email is None
    assert changed.display_name == "Ana Inspector"


def test_groups_and_members(client: GovMobileClient) -> None:
    water = client.tenants.create("water", "Water").id
    ana = client.people.create(water, "ana", "Ana Inspector")
    group = client.groups.create(water, "field-staff", description="inspectors on the road")
    client.groups.add_member(group.id, ana.id)
    client.groups.add_member(group.id, ana.id)  # already a member: no change, no error
    detail = client.groups.show(group.id)
    assert [m.username for m in detail.members] == ["ana"]
    assert detail.member_count == 1
    assert [g.name for g in client.people.show(ana.id).groups] == ["field-staff"]
    assert client.groups.resolve("field-staff", tenant_id=water).id == group.id
    assert client.groups.resolve(group.id).name == "field-staff"
    assert [(g.name, g.member_count) for g in client.groups.list(tenant_id=water)] == [("field-staff", 1)]
    client.groups.remove_member(group.id, ana.id)
    assert client.groups.show(group.id).members == []
    with pytest.raises(NotFound, match="not a member"):
        client.groups.remove_member(group.id, ana.id)
    with pytest.raises(NotFound, match="no group 'office' in this tenant"):
        client.groups.resolve("office", tenant_id=water)
