"""login, logout, whoami."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from govmobile_client import GovMobileClient
from govmobile_client.cli import config
from govmobile_client.cli.context import AdminContext, Unreachable, fail, json_option, pass_admin
from govmobile_client.cli.output import emit_json, fields, when
from govmobile_client.errors import ClientError, Unauthenticated


@click.command()
@click.option("--server", "-s", help="Base URL of the management listener, e.g. https://127.0.0.1:8443.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The appliance's root CA certificate (PEM), to verify the server with.",
)
@click.option("--username", "-u", help="Admin username (asked when missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--totp", "ask_totp", is_flag=True, help="Ask for a one-time code (accounts with TOTP).")
@click.option("--totp-code", help="The one-time code from the authenticator app.")
@pass_admin
def login(
    admin: AdminContext,
    server: str | None,
    ca_file: Path | None,
    username: str | None,
    password_stdin: bool,
    ask_totp: bool,
    totp_code: str | None,
) -> None:
    """Log in and keep the session (8 hours by default) for the next commands."""
    stored = admin.stored()
    target = config.resolve(admin.environ, stored)
    server = server or target.server
    if server is None:
        fail("which server? Pass --server https://127.0.0.1:8443 (the management listener)")
    ca_file = ca_file or target.ca_file
    if not username:
        username = str(click.prompt("Username", default=stored.username if stored else None, err=True))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: stdin held no password")
    else:
        password = click.prompt("Password", hide_input=True, err=True)
    if ask_totp and not totp_code:
        totp_code = click.prompt("One-time code", err=True)
    absolute_ca = ca_file.resolve() if ca_file else None
    with GovMobileClient(server, ca_file=absolute_ca) as client:
        issued = client.auth.login(username, password, totp_code)
        me = client.auth.me()
        base_url = client.base_url
    config.save(
        admin.config_file,
        config.StoredSession(
            server=base_url,
            ca_file=absolute_ca,
            username=me.username,
            token=issued.token,
            token_id=issued.id,
            expires_at=issued.expires_at,
        ),
    )
    click.echo(
        f"logged in to {base_url} as {me.username} ({me.role.value}); "
        f"the session ends {when(issued.expires_at)}"
    )
    if admin.environ.get(config.TOKEN_ENV):
        click.echo(f"note: {config.TOKEN_ENV} is set and is used instead of this session", err=True)


@click.command()
@pass_admin
def logout(admin: AdminContext) -> None:
    """End the stored session, on the server and here."""
    if admin.environ.get(config.TOKEN_ENV):
        fail(
            f"{config.TOKEN_ENV} is set: logout ends only sessions from `govmobile-admin login`; "
            "revoke an API token with `govmobile-admin api-token revoke`"
        )
    stored = admin.stored()
    if stored is None or stored.token is None:
        click.echo("not logged in")
        return
    forget = stored.model_copy(update={"token": None, "token_id": None, "expires_at": None})
    try:
        with GovMobileClient(stored.server, token=stored.token, ca_file=stored.ca_file) as client:
            client.auth.logout()
    except Unauthenticated:
        pass  # expired or revoked already: forgetting it here is all that is left to do
    except ClientError as exc:
        config.save(admin.config_file, forget)
        raise Unreachable(
            f"forgot the session here, but could not end it on the server ({exc.message}); "
            "it expires on its own"
        ) from exc
    config.save(admin.config_file, forget)
    click.echo(f"logged out of {stored.server}")


@click.command()
@json_option
@pass_admin
def whoami(admin: AdminContext, as_json: bool) -> None:
    """Who the current token belongs to, on which server."""
    target = admin.target()
    client = admin.client()
    me = client.auth.me()
    tenant = admin.tenant(me.tenant_id).slug if me.tenant_id else None
    expires = (
        target.stored.expires_at
        if target.token_source is config.TokenSource.LOGIN and target.stored
        else None
    )
    if as_json:
        emit_json(
            {
                **me.model_dump(mode="json"),
                "tenant_slug": tenant,
                "server": client.base_url,
                "token_source": target.token_source,
                "session_expires_at": expires.isoformat() if expires else None,
            }
        )
        return
    fields(
        [
            ("server", client.base_url),
            ("username", me.username),
            ("role", me.role.value),
            ("tenant", tenant),
            (
                "token",
                f"from {config.TOKEN_ENV}"
                if target.token_source is config.TokenSource.ENVIRONMENT
                else "session from login",
            ),
            ("session ends", expires),
        ]
    )
