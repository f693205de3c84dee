"""device commands: the inventory, one device in detail, retirement."""

from __future__ import annotations

import click

from govmobile_client import DeviceFilter
from govmobile_client.cli.context import (
    AdminContext,
    confirm,
    json_option,
    pass_admin,
    tenant_option,
    yes_option,
)
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.models import Device, DeviceState

DEVICE_COLUMNS = ["ID", "SERIAL", "MODEL", "OS", "STATE", "COMPLIANT", "LAST SEEN"]


def device_row(found: Device) -> list[object]:
    os_text = f"{found.os_name} {found.os_version}".strip() or None
    return [
        found.id,
        found.serial_number,
        found.model or None,
        os_text,
        found.state.value,
        found.compliant,
        found.last_seen_at,
    ]


@click.group()
def device() -> None:
    """Enrolled devices."""


@device.command("list")
@tenant_option()
@click.option("--state", type=click.Choice([s.value for s in DeviceState]))
@click.option(
    "--compliant/--noncompliant", default=None, help="Only compliant, or only non-compliant, devices."
)
@click.option("--group", "-g", "group_ref", help="Devices of the group's members (name or id).")
@click.option("--person", "-p", "person_ref", help="Devices of one person (username or id).")
@click.option("--search", "--q", "q", help="Text in the serial number, model, or person's name.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="Devices per page.")
@click.option("--cursor", help="Start after this device id (the previous page's next cursor).")
@click.option("--all", "every_page", is_flag=True, help="Follow the cursor through every page.")
@json_option
@pass_admin
def list_devices(
    admin: AdminContext,
    tenant: str | None,
    state: str | None,
    compliant: bool | None,
    group_ref: str | None,
    person_ref: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
    every_page: bool,
    as_json: bool,
) -> None:
    """Devices you may see, ordered by id, one page at a time (or --all)."""
    client = admin.client()
    tenant_id = admin.tenant_id(tenant)
    where = DeviceFilter(
        tenant_id=tenant_id,
        state=DeviceState(state) if state else None,
        compliant=compliant,
        group_id=client.groups.resolve(group_ref, tenant_id=tenant_id).id if group_ref else None,
        person_id=client.people.resolve(person_ref, tenant_id=tenant_id).id if person_ref else None,
        q=q,
    )
    if every_page:
        devices = list(client.devices.iterate(where, page_size=limit))
        next_cursor = None
    else:
        page = client.devices.list(where, cursor=cursor, limit=limit)
        devices, next_cursor = page.items, page.next_cursor
    if as_json:
        emit_json({"items": devices, "next_cursor": next_cursor})
        return
    table(DEVICE_COLUMNS, (device_row(d) for d in devices), empty="no devices")
    if next_cursor:
        click.echo(f"more devices: add --cursor {next_cursor}, or --all", err=True)


@device.command("show")
@click.argument("device_id")
@json_option
@pass_admin
def show_device(admin: AdminContext, device_id: str, as_json: bool) -> None:
    """A device with its pending actions, history and recent check-ins."""
    found = admin.client().devices.show(device_id)
    if as_json:
        emit_json(found)
        return
    fields(
        [
            ("id", found.id),
            ("serial", found.serial_number),
            ("model", found.model or None),
            ("os", f"{found.os_name} {found.os_version}".strip() or None),
            ("state", found.state.value),
            ("pending", found.pending_actions),
            ("compliant", found.compliant),
            ("reasons", found.compliance_reasons),
            ("non-compliant since", found.noncompliant_since),
            ("lost mode", found.lost_mode),
            ("lock message", found.lock_message),
            ("location", found.last_location),
            ("last seen", found.last_seen_at),
            ("enrolled", found.enrolled_at),
            ("tenant", found.tenant_id),
            ("person", found.person_id),
            ("hardware ids", found.hardware_ids),
            ("certificate", found.cert_serial),
            ("certificate ends", found.cert_not_after),
            ("work data wiped", found.work_container_wiped_at),
        ]
    )
    click.echo("\nhistory (newest first):")
    table(
        ["WHEN", "ACTOR", "CHANGE", "DETAILS"],
        ([e.at, e.actor, e.change, e.details] for e in found.history[:10]),
        empty="  none",
    )
    click.echo("\nrecent check-ins:")
    table(
        ["WHEN", "COMPLIANT", "REASONS"],
        ([c.at, c.compliant, c.reasons] for c in found.recent_checkins[:5]),
        empty="  none",
    )


@device.command("retire")
@click.argument("device_id")
@yes_option
@json_option
@pass_admin
def retire_device(admin: AdminContext, device_id: str, yes: bool, as_json: bool) -> None:
    """Take a device out of service: its queue is cleared and its certificate revoked."""
    client = admin.client()
    found = client.devices.show(device_id)
    confirm(f"retire {found.serial_number} ({found.model or 'device'} {found.id}) for good?", yes=yes)
    retired = client.devices.retire(found.id)
    if as_json:
        emit_json(retired)
        return
    click.echo(f"retired {retired.serial_number} ({retired.id}); its certificate is revoked")
