"""tenant, person and group commands."""

from __future__ import annotations

import click

from govmobile_client import PersonChange, TenantChange
from govmobile_client.cli.context import AdminContext, fail, json_option, pass_admin, tenant_option
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.models import Group, GroupDetail, Person, PersonDetail, Tenant

# -- tenants -------------------------------------------------------------------------------


@click.group()
def tenant() -> None:
    """Departments sharing the appliance."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Full name, e.g. 'Water Resources'.")
@click.option("--max-devices", type=click.IntRange(min=0), help="Most devices it may enroll.")
@json_option
@pass_admin
def create_tenant(admin: AdminContext, slug: str, name: str, max_devices: int | None, as_json: bool) -> None:
    """Add a department (platform admins). SLUG is short and stable: water-resources."""
    _show_tenant(admin.client().tenants.create(slug, name, max_devices=max_devices), as_json)


@tenant.command("list")
@json_option
@pass_admin
def list_tenants(admin: AdminContext, as_json: bool) -> None:
    """The departments you may see."""
    tenants = admin.client().tenants.list()
    if as_json:
        emit_json(list(tenants))
        return
    table(
        ["SLUG", "NAME", "MAX DEVICES", "ID"],
        ([t.slug, t.name, t.max_devices, t.id] for t in tenants),
        empty="no tenants",
    )


@tenant.command("show")
@click.argument("tenant_ref", metavar="TENANT")
@json_option
@pass_admin
def show_tenant(admin: AdminContext, tenant_ref: str, as_json: bool) -> None:
    """One department, by slug or id."""
    _show_tenant(admin.tenant(tenant_ref), as_json)


@tenant.command("update")
@click.argument("tenant_ref", metavar="TENANT")
@click.option("--name", help="New full name.")
@click.option("--max-devices", type=click.IntRange(min=0), help="New device limit.")
@click.option("--unlimited", is_flag=True, help="Remove the device limit.")
@json_option
@pass_admin
def update_tenant(
    admin: AdminContext,
    tenant_ref: str,
    name: str | None,
    max_devices: int | None,
    unlimited: bool,
    as_json: bool,
) -> None:
    """Rename a department or change its device limit (platform admins)."""
    if unlimited and max_devices is not None:
        fail("--max-devices and --unlimited contradict each other")
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = name
    if max_devices is not None or unlimited:
        values["max_devices"] = max_devices
    if not values:
        fail("nothing to change: give --name, --max-devices or --unlimited")
    _show_tenant(admin.client().tenants.update(tenant_ref, TenantChange.model_validate(values)), as_json)


def _show_tenant(found: Tenant, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    fields(
        [
            ("slug", found.slug),
            ("name", found.name),
            ("max devices", found.max_devices if found.max_devices is not None else "no limit"),
            ("id", found.id),
            ("created", found.created_at),
        ]
    )


# -- people --------------------------------------------------------------------------------


@click.group()
def person() -> None:
    """People (civil servants) who carry devices."""


@person.command("create")
@click.argument("username")
@tenant_option(required=True)
@click.option("--name", "display_name", required=True, help="Display name, e.g. 'Ana Silva'.")
@click.option("--email")
@json_option
@pass_admin
def create_person(
    admin: AdminContext, username: str, tenant: str, display_name: str, email: str | None, as_json: bool
) -> None:
    """Add a person to a department; USERNAME is their name in its directory."""
    made = admin.client().people.create(admin.tenant(tenant).id, username, display_name, email=email)
    _show_person(made, as_json)


@person.command("list")
@tenant_option()
@click.option("--search", "--q", "q", help="Text in the username or display name.")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@json_option
@pass_admin
def list_people(
    admin: AdminContext, tenant: str | None, q: str | None, limit: int, offset: int, as_json: bool
) -> None:
    """People you may see, by username."""
    people = admin.client().people.list(tenant_id=admin.tenant_id(tenant), q=q, limit=limit, offset=offset)
    if as_json:
        emit_json(list(people))
        return
    table(
        ["USERNAME", "NAME", "EMAIL", "DISABLED", "TENANT", "ID"],
        ([p.username, p.display_name, p.email, p.disabled, p.tenant_id, p.id] for p in people),
        empty="no people",
    )


@person.command("show")
@click.argument("person_ref", metavar="PERSON")
@tenant_option("Tenant of the username (slug or id).")
@json_option
@pass_admin
def show_person(admin: AdminContext, person_ref: str, tenant: str | None, as_json: bool) -> None:
    """A person, by username or id, with their groups."""
    _show_person(admin.client().people.show(admin.person(person_ref, tenant).id), as_json)


@person.command("update")
@click.argument("person_ref", metavar="PERSON")
@tenant_option("Tenant of the username (slug or id).")
@click.option("--name", "display_name", help="New display name.")
@click.option("--email", help="New email address ('' removes it).")
@click.option("--disable/--enable", "disabled", default=None, help="A disabled person gets no new devices.")
@json_option
@pass_admin
def update_person(
    admin: AdminContext,
    person_ref: str,
    tenant: str | None,
    display_name: str | None,
    email: str | None,
    disabled: bool | None,
    as_json: bool,
) -> None:
    """Change a person's name, email, or disable them."""
    values: dict[str, object] = {}
    if display_name is not None:
        values["display_name"] = display_name
    if email is not None:
        values["email"] = email or None
    if disabled is not None:
        values["disabled"] = disabled
    if not values:
        fail("nothing to change: give --name, --email, --disable or --enable")
    found = admin.person(person_ref, tenant)
    _show_person(admin.client().people.update(found.id, PersonChange.model_validate(values)), as_json)


def _show_person(found: Person, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    pairs: list[tuple[str, object]] = [
        ("username", found.username),
        ("name", found.display_name),
        ("email", found.email),
        ("disabled", found.disabled),
        ("tenant", found.tenant_id),
        ("id", found.id),
        ("created", found.created_at),
    ]
    if isinstance(found, PersonDetail):
        pairs.append(("groups", [g.name for g in found.groups]))
    fields(pairs)


# -- groups --------------------------------------------------------------------------------


@click.group()
def group() -> None:
    """Groups of people: they decide which apps a person gets."""


@group.command("create")
@click.argument("name")
@tenant_option(required=True)
@click.option("--description", default="")
@json_option
@pass_admin
def create_group(admin: AdminContext, name: str, tenant: str, description: str, as_json: bool) -> None:
    """Add a group to a department."""
    _show_group(admin.client().groups.create(admin.tenant(tenant).id, name, description=description), as_json)


@group.command("list")
@tenant_option()
@json_option
@pass_admin
def list_groups(admin: AdminContext, tenant: str | None, as_json: bool) -> None:
    """Groups you may see, by name."""
    groups = admin.client().groups.list(tenant_id=admin.tenant_id(tenant))
    if as_json:
        emit_json(list(groups))
        return
    table(
        ["NAME", "MEMBERS", "DESCRIPTION", "TENANT", "ID"],
        ([g.name, g.member_count, g.description, g.tenant_id, g.id] for g in groups),
        empty="no groups",
    )


@group.command("show")
@click.argument("group_ref", metavar="GROUP")
@tenant_option("Tenant of the group name (slug or id).")
@json_option
@pass_admin
def show_group(admin: AdminContext, group_ref: str, tenant: str | None, as_json: bool) -> None:
    """A group, by name or id, with its members."""
    _show_group(admin.client().groups.show(admin.group(group_ref, tenant).id), as_json)


@group.command("add-member")
@click.argument("group_ref", metavar="GROUP")
@click.argument("person_ref", metavar="PERSON")
@tenant_option("Tenant of the names (slug or id).")
@pass_admin
def add_member(admin: AdminContext, group_ref: str, person_ref: str, tenant: str | None) -> None:
    """Put a person (username or id) in a group (name or id)."""
    found = admin.group(group_ref, tenant)
    member = admin.person(person_ref, found.tenant_id)
    admin.client().groups.add_member(found.id, member.id)
    click.echo(f"{member.username} is a member of {found.name}")


@group.command("remove-member")
@click.argument("group_ref", metavar="GROUP")
@click.argument("person_ref", metavar="PERSON")
@tenant_option("Tenant of the names (slug or id).")
@pass_admin
def remove_member(admin: AdminContext, group_ref: str, person_ref: str, tenant: str | None) -> None:
    """Take a person out of a group."""
    found = admin.group(group_ref, tenant)
    member = admin.person(person_ref, found.tenant_id)
    admin.client().groups.remove_member(found.id, member.id)
    click.echo(f"{member.username} is no longer a member of {found.name}")


def _show_group(found: Group, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    fields(
        [
            ("name", found.name),
            ("description", found.description or None),
            ("members", found.member_count),
            ("tenant", found.tenant_id),
            ("id", found.id),
        ]
    )
    if isinstance(found, GroupDetail) and found.members:
        click.echo()
        table(
            ["USERNAME", "NAME", "ID"], ([p.username, p.display_name, p.id] for p in found.members), empty=""
        )
