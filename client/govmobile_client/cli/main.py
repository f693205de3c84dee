"""``govmobile-admin``: the root command and its groups."""

from __future__ import annotations

import os

import click

from govmobile_client.cli.accounts import admin, api_token
from govmobile_client.cli.apps import app
from govmobile_client.cli.audit import audit
from govmobile_client.cli.certificates import cert
from govmobile_client.cli.context import AdminContext, AdminGroup
from govmobile_client.cli.devices import device
from govmobile_client.cli.directory import group, person, tenant
from govmobile_client.cli.enrollment import token
from govmobile_client.cli.policies import policy
from govmobile_client.cli.queue import command
from govmobile_client.cli.routes import route
from govmobile_client.cli.sessions import login, logout, whoami
from govmobile_client.cli.totp import totp
from govmobile_client.version import __version__


@click.group(
    cls=AdminGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="govmobile-admin")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Administer a GovMobile appliance over its admin API.

    Start with `govmobile-admin login --server https://127.0.0.1:8443 --ca-file root.crt`.
    Scripts set GOVMOBILE_ADMIN_SERVER, GOVMOBILE_ADMIN_CA_FILE and GOVMOBILE_ADMIN_TOKEN
    (an API token) instead, and add --json to read the answers.

    Exit codes: 0 done; 1 the appliance could not be reached or failed; 2 refused or wrong
    (usage, not allowed, not found, conflict); 3 the audit chain is broken.
    """
    admin_context = AdminContext(os.environ)
    ctx.obj = admin_context
    ctx.call_on_close(admin_context.close)


for _command in (
    login,
    logout,
    whoami,
    totp,
    tenant,
    person,
    group,
    admin,
    api_token,
    token,
    device,
    command,
    policy,
    audit,
    cert,
    route,
    app,
):
    cli.add_command(_command)


def main() -> None:
    """The console script."""
    cli(prog_name="govmobile-admin")
