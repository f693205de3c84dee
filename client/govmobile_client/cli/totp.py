"""totp commands: one-time codes (RFC 6238) for your own login."""

from __future__ import annotations

import click

from govmobile_client import GovMobileClient
from govmobile_client.cli.context import AdminContext, fail, json_option, pass_admin
from govmobile_client.cli.output import emit_json, fields, qr_code
from govmobile_client.errors import Conflict, InvalidRequest

_CONFIRM_LATER = "confirm it with `govmobile-admin totp enable --code <code>`"


@click.group()
def totp() -> None:
    """One-time codes from an authenticator app, asked at every login once on."""


@totp.command("enable")
@click.option(
    "--code",
    help="Confirm the enrollment a previous `totp enable` started with this code, "
    "without starting another (for scripts).",
)
@click.option("--no-qr", is_flag=True, help="Do not draw the QR code.")
@json_option
@pass_admin
def enable_totp(admin: AdminContext, code: str | None, no_qr: bool, as_json: bool) -> None:
    """Turn on one-time codes for your account: scan the QR code, then type a code.

    Until a code confirms it, nothing changes at login. Running it again on an account with
    codes replaces the key once confirmed. With --json it prints {provisioning_uri} and stops;
    confirm with --code.
    """
    client = admin.client()
    if code is not None:
        _confirm(client, code)
        return
    started = client.auth.start_totp()
    if as_json:
        emit_json(started)
        return
    fields([("provisioning uri", started.provisioning_uri)])
    if not no_qr:
        click.echo()
        click.echo(qr_code(started.provisioning_uri), nl=False)
    click.echo("scan the code (or enter the URI) in an authenticator app", err=True)
    try:
        typed = str(click.prompt("One-time code", err=True))
    except click.Abort:
        click.echo(err=True)  # end the unanswered prompt's line
        fail(f"no code was typed, so one-time codes are not on yet; {_CONFIRM_LATER}")
    _confirm(client, typed)


def _confirm(client: GovMobileClient, code: str) -> None:
    try:
        client.auth.confirm_totp(code.replace(" ", "").strip())  # "123 456" as some apps show it
    except Conflict as exc:
        if exc.code != "no_pending_totp":
            raise
        fail(
            "no enrollment is waiting for a code: run `govmobile-admin totp enable` first, scan, then confirm"
        )
    except InvalidRequest as exc:
        fail(f"{exc.message}; one-time codes are not on yet, {_CONFIRM_LATER}")
    username = client.auth.me().username
    click.echo(f"one-time codes are on for {username}: log in with --totp (or --totp-code) from now on")
