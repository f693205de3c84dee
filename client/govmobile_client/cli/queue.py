"""command commands: queue, list, show and cancel device commands, alone or in bulk."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from govmobile_client import BulkTarget
from govmobile_client.cli.context import (
    AdminContext,
    confirm,
    fail,
    json_option,
    pass_admin,
    tenant_option,
    yes_option,
)
from govmobile_client.cli.output import emit_json, fields, table, when
from govmobile_client.models import Command, CommandType, DeviceState

#: Commands that destroy data on the device: asked about before they are queued.
DESTRUCTIVE = {CommandType.WIPE, CommandType.SELECTIVE_WIPE}

COMMAND_TYPES = click.Choice([t.value for t in CommandType])


def payload_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What a command carries; the server checks which fields each type takes."""
    for option in reversed(
        [
            click.option("--message", help="lock, lost_mode_on: text on the lock screen."),
            click.option("--phone", help="lock, lost_mode_on: a number to call."),
            click.option("--text", help="message: the message to show."),
            click.option("--app-id", help="install_app, remove_app: the app's id."),
            click.option("--app-version", help="install_app: a version to install."),
            click.option("--payload", "payload_json", help="The whole payload as a JSON object."),
            click.option(
                "--deadline-hours",
                type=click.IntRange(1, 90 * 24),
                help="Expire the command if not delivered within this time.",
            ),
        ]
    ):
        command = option(command)
    return command


def build_payload(
    payload_json: str | None,
    message: str | None,
    phone: str | None,
    text: str | None,
    app_id: str | None,
    app_version: str | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if payload_json:
        try:
            parsed = json.loads(payload_json)
        except ValueError:
            fail("--payload is not valid JSON")
        if not isinstance(parsed, dict):
            fail('--payload must be a JSON object, e.g. \'{"text": "hello"}\'')
        payload.update(parsed)
    named = {"message": message, "phone": phone, "text": text, "app_id": app_id, "version": app_version}
    payload.update({key: value for key, value in named.items() if value is not None})
    return payload


@click.group()
def command() -> None:
    """Device commands (lock, wipe, locate, message, ...)."""


@command.command("send")
@click.argument("device_id")
@click.argument("kind", metavar="TYPE", type=COMMAND_TYPES)
@payload_options
@yes_option
@json_option
@pass_admin
def send_command(
    admin: AdminContext,
    device_id: str,
    kind: str,
    message: str | None,
    phone: str | None,
    text: str | None,
    app_id: str | None,
    app_version: str | None,
    payload_json: str | None,
    deadline_hours: int | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Queue a command for one device; it is woken and pulls it at its next check-in."""
    command_type = CommandType(kind)
    payload = build_payload(payload_json, message, phone, text, app_id, app_version)
    client = admin.client()
    if command_type in DESTRUCTIVE:
        found = client.devices.show(device_id)
        confirm(
            f"{command_type.value} {found.serial_number} ({found.id})? This destroys data on it.", yes=yes
        )
    queued = client.commands.send(device_id, command_type, payload, deadline_hours=deadline_hours)
    if as_json:
        emit_json(queued)
        return
    click.echo(
        f"queued {queued.type.value} {queued.id} for device {queued.device_id} (until {when(queued.deadline)})"
    )


@command.command("list")
@click.argument("device_id")
@json_option
@pass_admin
def list_commands(admin: AdminContext, device_id: str, as_json: bool) -> None:
    """A device's latest commands, newest first."""
    commands = admin.client().commands.list(device_id)
    if as_json:
        emit_json(list(commands))
        return
    table(
        ["ID", "TYPE", "STATE", "CREATED", "BY", "DEADLINE", "CLOSED BECAUSE"],
        (
            [c.id, c.type.value, c.state.value, c.created_at, c.created_by, c.deadline, c.closed_reason]
            for c in commands
        ),
        empty="no commands",
    )


@command.command("show")
@click.argument("command_id")
@json_option
@pass_admin
def show_command(admin: AdminContext, command_id: str, as_json: bool) -> None:
    """A command and the device's result."""
    _show_command(admin.client().commands.show(command_id), as_json)


@command.command("cancel")
@click.argument("command_id")
@json_option
@pass_admin
def cancel_command(admin: AdminContext, command_id: str, as_json: bool) -> None:
    """Withdraw a command the device has not acknowledged yet."""
    cancelled = admin.client().commands.cancel(command_id)
    if as_json:
        emit_json(cancelled)
        return
    click.echo(f"cancelled {cancelled.type.value} {cancelled.id}")


@command.command("bulk")
@click.argument("kind", metavar="TYPE", type=COMMAND_TYPES)
@tenant_option()
@click.option("--group", "-g", "group_ref", help="Devices of the group's members (name or id).")
@click.option("--state", type=click.Choice([s.value for s in DeviceState]))
@click.option("--compliant/--noncompliant", default=None)
@payload_options
@click.option("--dry-run", is_flag=True, help="Only count the devices it would reach.")
@yes_option
@json_option
@pass_admin
def bulk_command(
    admin: AdminContext,
    kind: str,
    tenant: str | None,
    group_ref: str | None,
    state: str | None,
    compliant: bool | None,
    message: str | None,
    phone: str | None,
    text: str | None,
    app_id: str | None,
    app_version: str | None,
    payload_json: str | None,
    deadline_hours: int | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Send a command to every device of a group or filter: preview, confirm, send."""
    command_type = CommandType(kind)
    payload = build_payload(payload_json, message, phone, text, app_id, app_version)
    client = admin.client()
    tenant_id = admin.tenant_id(tenant)
    target = BulkTarget(
        tenant_id=tenant_id,
        group_id=client.groups.resolve(group_ref, tenant_id=tenant_id).id if group_ref else None,
        state=DeviceState(state) if state else None,
        compliant=compliant,
    )
    count = client.commands.preview_bulk(target, command_type, payload)
    if dry_run or count == 0:
        if as_json:
            emit_json({"count": count, "bulk_id": None, "sent": False})
        else:
            click.echo(f"{command_type.value} would reach {_devices(count)}; nothing was sent")
        return
    warning = " This destroys data on them." if command_type in DESTRUCTIVE else ""
    confirm(f"send {command_type.value} to {_devices(count)}?{warning}", yes=yes)
    outcome = client.commands.send_bulk(
        target, command_type, payload, expected_count=count, deadline_hours=deadline_hours
    )
    if as_json:
        emit_json(outcome)
        return
    click.echo(f"queued {command_type.value} for {_devices(outcome.count)} (bulk {outcome.bulk_id})")


def _devices(count: int) -> str:
    return f"{count} device" if count == 1 else f"{count} devices"


def _show_command(found: Command, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    pairs: list[tuple[str, object]] = [
        ("id", found.id),
        ("type", found.type.value),
        ("payload", found.payload),
        ("state", found.state.value),
        ("device", found.device_id),
        ("created", found.created_at),
        ("created by", found.created_by),
        ("deadline", found.deadline),
        ("sent", found.sent_at),
        ("closed", found.closed_at),
        ("closed because", found.closed_reason),
        ("bulk", found.bulk_id),
    ]
    if found.result is not None:
        pairs += [
            ("result", found.result.status),
            ("result received", found.result.received_at),
            ("result details", found.result.result),
        ]
    fields(pairs)
