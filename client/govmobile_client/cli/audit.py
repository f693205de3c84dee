"""audit commands: read the log and verify its hash chain."""

from __future__ import annotations

import datetime as dt

import click

from govmobile_client import AuditFilter
from govmobile_client.cli.context import (
    AdminContext,
    AuditChainBroken,
    json_option,
    pass_admin,
    tenant_option,
)
from govmobile_client.cli.output import cell, emit_json, fields, table
from govmobile_client.cli.times import Moment

DETAILS_WIDTH = 60


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("list")
@click.option("--action", help="Exactly this action, e.g. device.enrolled or command.queued.")
@click.option("--actor", help="Exactly this actor, e.g. admin:alice (a bare name means admin:<name>).")
@tenant_option()
@click.option("--since", type=Moment(ahead=False), help="Only since this time, or for this long (24h, 7d).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Events per page.")
@click.option("--cursor", type=click.IntRange(min=1), help="Only events older than this id.")
@click.option("--all", "every_page", is_flag=True, help="Follow the cursor through every page.")
@json_option
@pass_admin
def list_events(
    admin: AdminContext,
    action: str | None,
    actor: str | None,
    tenant: str | None,
    since: dt.datetime | None,
    limit: int,
    cursor: int | None,
    every_page: bool,
    as_json: bool,
) -> None:
    """Audit events, newest first."""
    if actor is not None and ":" not in actor:
        actor = f"admin:{actor}"
    client = admin.client()
    where = AuditFilter(action=action, actor=actor, tenant_id=admin.tenant_id(tenant), since=since)
    if every_page:
        events = list(client.audit.iterate(where, page_size=limit))
        next_cursor = None
    else:
        page = client.audit.list(where, cursor=cursor, limit=limit)
        events, next_cursor = page.items, page.next_cursor
    if as_json:
        emit_json({"items": events, "next_cursor": next_cursor})
        return
    table(
        ["ID", "WHEN", "ACTOR", "ACTION", "TARGET", "DETAILS"],
        ([e.id, e.occurred_at, e.actor, e.action, e.target, _short(cell(e.details))] for e in events),
        empty="no audit events",
    )
    if next_cursor:
        click.echo(f"older events: add --cursor {next_cursor}, or --all", err=True)


@audit.command("verify")
@json_option
@pass_admin
def verify(admin: AdminContext, as_json: bool) -> None:
    """Recompute the hash chain; exit code 3 when it is broken."""
    result = admin.client().audit.verify()
    if as_json:
        emit_json(result)
    elif result.ok:
        click.echo(f"audit chain intact: {result.events_checked} events checked")
    else:
        fields(
            [
                ("audit chain", "BROKEN"),
                ("first broken event", result.first_broken_id),
                ("reason", result.reason),
                ("events checked", result.events_checked),
            ]
        )
    if not result.ok:
        raise AuditChainBroken(
            f"the audit chain is broken at event {result.first_broken_id}: {result.reason}"
        )


def _short(text: str) -> str:
    return text if len(text) <= DETAILS_WIDTH else text[: DETAILS_WIDTH - 1] + "…"
