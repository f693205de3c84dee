"""admin and api-token commands."""

from __future__ import annotations

import sys

import click

from govmobile_client.cli.context import AdminContext, fail, json_option, pass_admin, tenant_option
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.models import AdminAccount, Role

# -- admin accounts ------------------------------------------------------------------------


@click.group()
def admin() -> None:
    """Admin accounts: platform admins, tenant admins and auditors."""


@admin.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="platform_admin: everything; tenant_admin: one tenant; auditor: read-only.",
)
@tenant_option("The tenant of a tenant admin or tenant auditor (slug or id).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@json_option
@pass_admin
def create_admin(
    admin: AdminContext, username: str, role: str, tenant: str | None, password_stdin: bool, as_json: bool
) -> None:
    """Add an admin account (at least 12 characters of password, asked twice)."""
    if role == Role.TENANT_ADMIN and tenant is None:
        fail("a tenant admin needs --tenant")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password for the new account", hide_input=True, confirmation_prompt=True, err=True
        )
    made = admin.client().admins.create(username, password, Role(role), tenant_id=admin.tenant_id(tenant))
    _show_admin(made, as_json)


@admin.command("list")
@json_option
@pass_admin
def list_admins(admin: AdminContext, as_json: bool) -> None:
    """Admin accounts you may see."""
    accounts = admin.client().admins.list()
    if as_json:
        emit_json(list(accounts))
        return
    table(
        ["USERNAME", "ROLE", "TENANT", "DISABLED", "TOTP", "LAST LOGIN", "ID"],
        (
            [a.username, a.role.value, a.tenant_id, a.disabled, a.totp_enabled, a.last_login_at, a.id]
            for a in accounts
        ),
        empty="no admin accounts",
    )


@admin.command("disable")
@click.argument("account_ref", metavar="ACCOUNT")
@json_option
@pass_admin
def disable_admin(admin: AdminContext, account_ref: str, as_json: bool) -> None:
    """Disable an account (username or id): its tokens stop working at once."""
    client = admin.client()
    _show_admin(client.admins.disable(client.admins.resolve(account_ref).id), as_json)


@admin.command("enable")
@click.argument("account_ref", metavar="ACCOUNT")
@json_option
@pass_admin
def enable_admin(admin: AdminContext, account_ref: str, as_json: bool) -> None:
    """Enable a disabled account again."""
    client = admin.client()
    _show_admin(client.admins.enable(client.admins.resolve(account_ref).id), as_json)


@admin.command("unlock")
@click.argument("account_ref", metavar="ACCOUNT")
@json_option
@pass_admin
def unlock_admin(admin: AdminContext, account_ref: str, as_json: bool) -> None:
    """Forget the account's failed logins, so that login throttling lifts at once."""
    client = admin.client()
    _show_admin(client.admins.unlock(client.admins.resolve(account_ref).id), as_json)


def _show_admin(account: AdminAccount, as_json: bool) -> None:
    if as_json:
        emit_json(account)
        return
    fields(
        [
            ("username", account.username),
            ("role", account.role.value),
            ("tenant", account.tenant_id),
            ("disabled", account.disabled),
            ("totp", account.totp_enabled),
            ("last login", account.last_login_at),
            ("id", account.id),
        ]
    )


# -- API tokens ----------------------------------------------------------------------------


@click.group("api-token")
def api_token() -> None:
    """Long-lived tokens for scripts (GOVMOBILE_ADMIN_TOKEN); they act as you."""


@api_token.command("create")
@click.argument("name")
@click.option("--ttl-days", type=click.IntRange(1, 366), default=90, show_default=True)
@json_option
@pass_admin
def create_api_token(admin: AdminContext, name: str, ttl_days: int, as_json: bool) -> None:
    """A new API token; its secret is printed only now."""
    issued = admin.client().api_tokens.create(name, ttl_days=ttl_days)
    if as_json:
        emit_json(issued)
        return
    fields([("id", issued.id), ("expires", issued.expires_at), ("token", issued.token)])
    click.echo("store the token now: it is not shown again", err=True)


@api_token.command("list")
@json_option
@pass_admin
def list_api_tokens(admin: AdminContext, as_json: bool) -> None:
    """Your tokens (sessions from login included), newest first."""
    tokens = admin.client().api_tokens.list()
    if as_json:
        emit_json(list(tokens))
        return
    table(
        ["ID", "KIND", "NAME", "CREATED", "EXPIRES", "REVOKED"],
        ([t.id, t.kind.value, t.name, t.created_at, t.expires_at, t.revoked_at] for t in tokens),
        empty="no tokens",
    )


@api_token.command("revoke")
@click.argument("token_id")
@pass_admin
def revoke_api_token(admin: AdminContext, token_id: str) -> None:
    """Revoke a token by id; scripts using it are refused from now on."""
    revoked = admin.client().api_tokens.revoke(token_id)
    click.echo(f"revoked token {revoked.id} ({revoked.name or revoked.kind.value})")
