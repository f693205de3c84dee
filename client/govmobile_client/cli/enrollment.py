"""token commands: enrollment tokens, shown as a QR code for the device to scan."""

from __future__ import annotations

import click

from govmobile_client.cli.context import AdminContext, fail, json_option, pass_admin, tenant_option
from govmobile_client.cli.output import emit_json, fields, qr_code, table
from govmobile_client.models import EnrollmentToken


@click.group()
def token() -> None:
    """Enrollment tokens: one person's device joins the appliance with one."""


@token.command("create")
@tenant_option(required=True)
@click.option(
    "--person",
    "-p",
    "person_ref",
    help="Username in the tenant, or person id (with --device: default the device's person).",
)
@click.option("--group", "-g", "group_ref", help="A group (name or id) the person joins on enrollment.")
@click.option(
    "--device",
    "device_id",
    help="Make a re-enrollment token for this device (id): it enrolls that device again, and no other.",
)
@click.option("--ttl-hours", type=click.IntRange(1, 720), default=24, show_default=True)
@click.option(
    "--uses", type=click.IntRange(1, 1000), default=1, show_default=True, help="Devices it may enroll."
)
@click.option("--no-qr", is_flag=True, help="Do not draw the QR code.")
@json_option
@pass_admin
def create_token(
    admin: AdminContext,
    tenant: str,
    person_ref: str | None,
    group_ref: str | None,
    device_id: str | None,
    ttl_hours: int,
    uses: int,
    no_qr: bool,
    as_json: bool,
) -> None:
    """A token for a person's device; the secret and QR code are shown only now.

    A device already enrolled (known by its serial number) can be enrolled again only with a
    token for its own person, or with a re-enrollment token made for it with --device.
    """
    if person_ref is None and device_id is None:
        fail("name the person (--person), or the device to enroll again (--device)")
    client = admin.client()
    tenant_id = admin.tenant(tenant).id
    if person_ref is not None:
        holder = client.people.resolve(person_ref, tenant_id=tenant_id)
    else:
        assert device_id is not None
        holder = client.people.show(client.devices.show(device_id).person_id)
    group_id = client.groups.resolve(group_ref, tenant_id=tenant_id).id if group_ref else None
    issued = client.enrollment_tokens.create(
        tenant_id, holder.id, group_id=group_id, device_id=device_id, ttl_hours=ttl_hours, max_uses=uses
    )
    if as_json:
        emit_json(issued)
        return
    fields(
        [
            ("id", issued.id),
            ("person", f"{holder.username} ({holder.display_name})"),
            *([("device", device_id)] if device_id else []),
            ("token", issued.token),
            ("expires", issued.expires_at),
            ("uses", issued.max_uses),
            ("qr payload", issued.qr_payload),
        ]
    )
    if not no_qr:
        click.echo()
        click.echo(qr_code(issued.qr_payload), nl=False)
    click.echo("the token is not shown again; scan the code with the GovMobile agent to enroll", err=True)


@token.command("list")
@tenant_option()
@json_option
@pass_admin
def list_tokens(admin: AdminContext, tenant: str | None, as_json: bool) -> None:
    """Enrollment tokens you may see, with their status (never their secret)."""
    tokens = admin.client().enrollment_tokens.list(tenant_id=admin.tenant_id(tenant))
    if as_json:
        emit_json(list(tokens))
        return
    table(
        ["ID", "STATUS", "USES", "EXPIRES", "PERSON", "GROUP", "CREATED BY"],
        (
            [t.id, t.status, f"{t.uses}/{t.max_uses}", t.expires_at, t.person_id, t.group_id, t.created_by]
            for t in tokens
        ),
        empty="no enrollment tokens",
    )


@token.command("show")
@click.argument("token_id")
@json_option
@pass_admin
def show_token(admin: AdminContext, token_id: str, as_json: bool) -> None:
    """One enrollment token by id."""
    _show_token(admin.client().enrollment_tokens.show(token_id), as_json)


@token.command("revoke")
@click.argument("token_id")
@json_option
@pass_admin
def revoke_token(admin: AdminContext, token_id: str, as_json: bool) -> None:
    """Revoke an unused enrollment token; a device presenting it is refused."""
    _show_token(admin.client().enrollment_tokens.revoke(token_id), as_json)


def _show_token(found: EnrollmentToken, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    fields(
        [
            ("id", found.id),
            ("status", found.status),
            ("uses", f"{found.uses}/{found.max_uses}"),
            ("expires", found.expires_at),
            ("revoked", found.revoked_at),
            ("tenant", found.tenant_id),
            ("person", found.person_id),
            ("group", found.group_id),
            ("device", found.device_id),
            ("created", found.created_at),
            ("created by", found.created_by),
        ]
    )
