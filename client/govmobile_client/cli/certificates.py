"""cert commands: certificates the appliance CA issued."""

from __future__ import annotations

import datetime as dt

import click

from govmobile_client import CertificateFilter
from govmobile_client.cli.context import (
    AdminContext,
    confirm,
    json_option,
    pass_admin,
    tenant_option,
    yes_option,
)
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.cli.times import Moment
from govmobile_client.models import CertificateStatus

REASONS = (
    "unspecified, keyCompromise, caCompromise, affiliationChanged, superseded, "
    "cessationOfOperation, privilegeWithdrawn"
)


@click.group()
def cert() -> None:
    """Certificates: devices', services' and admins'."""


@cert.command("list")
@click.option("--serial", help="One serial number (hex).")
@click.option("--search", "--q", "q", help="Text in the subject.")
@click.option("--device", "device_id", help="Certificates of one device id.")
@tenant_option()
@click.option("--profile", type=click.Choice(["device", "service", "admin", "codesign"]))
@click.option("--status", type=click.Choice([s.value for s in CertificateStatus]))
@click.option("--expiring-before", type=Moment(ahead=True), help="A time, or a span from now (30d).")
@click.option(
    "--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="Certificates per page."
)
@click.option("--cursor", help="Start after this serial (the previous page's next cursor).")
@click.option("--all", "every_page", is_flag=True, help="Follow the cursor through every page.")
@json_option
@pass_admin
def list_certificates(
    admin: AdminContext,
    serial: str | None,
    q: str | None,
    device_id: str | None,
    tenant: str | None,
    profile: str | None,
    status: str | None,
    expiring_before: dt.datetime | None,
    limit: int,
    cursor: str | None,
    every_page: bool,
    as_json: bool,
) -> None:
    """Certificates you may see, ordered by serial."""
    client = admin.client()
    where = CertificateFilter(
        serial=serial,
        q=q,
        device_id=device_id,
        tenant_id=admin.tenant_id(tenant),
        profile=profile,
        status=CertificateStatus(status) if status else None,
        expiring_before=expiring_before,
    )
    if every_page:
        certificates = list(client.certificates.iterate(where, page_size=limit))
        next_cursor = None
    else:
        page = client.certificates.list(where, cursor=cursor, limit=limit)
        certificates, next_cursor = page.items, page.next_cursor
    if as_json:
        emit_json({"items": certificates, "next_cursor": next_cursor})
        return
    table(
        ["SERIAL", "PROFILE", "STATUS", "COMMON NAME", "NOT AFTER"],
        ([c.serial, c.profile, c.status.value, c.common_name, c.not_after] for c in certificates),
        empty="no certificates",
    )
    if next_cursor:
        click.echo(f"more certificates: add --cursor {next_cursor}, or --all", err=True)


@cert.command("show")
@click.argument("serial")
@click.option("--pem", is_flag=True, help="Print only the certificate, PEM.")
@json_option
@pass_admin
def show_certificate(admin: AdminContext, serial: str, pem: bool, as_json: bool) -> None:
    """One certificate by serial."""
    found = admin.client().certificates.show(serial)
    if as_json:
        emit_json(found)
        return
    if pem:
        click.echo(found.pem, nl=False)
        return
    fields(
        [
            ("serial", found.serial),
            ("status", found.status.value),
            ("profile", found.profile),
            ("subject", found.subject),
            ("device", found.device_id),
            ("tenant", found.tenant_id),
            ("sha256", found.sha256),
            ("not before", found.not_before),
            ("not after", found.not_after),
            ("revoked", found.revoked_at),
            ("reason", found.revocation_reason),
            ("renewed from", found.renewed_from),
        ]
    )


@cert.command("revoke")
@click.argument("serial")
@click.option("--reason", default="unspecified", show_default=True, help=f"RFC 5280 reason: {REASONS}.")
@yes_option
@json_option
@pass_admin
def revoke_certificate(admin: AdminContext, serial: str, reason: str, yes: bool, as_json: bool) -> None:
    """Revoke a certificate for good; the CRL is republished before this returns."""
    client = admin.client()
    found = client.certificates.show(serial)
    confirm(
        f"revoke {found.profile} certificate {found.serial} ({found.common_name})? This cannot be undone.",
        yes=yes,
    )
    revoked = client.certificates.revoke(found.serial, reason=reason)
    if as_json:
        emit_json(revoked)
        return
    click.echo(f"revoked {revoked.serial} ({revoked.reason}); CRL number {revoked.crl_number}")
