"""``govmobile-mdm``: serve the MDM, create the first platform admin, run maintenance."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from govmobile.core.database import Database
from govmobile.core.errors import ConfigurationError, GovMobileError
from govmobile.core.settings import load_settings
from govmobile.mdm.settings import MdmSettings


@click.group()
def main() -> None:
    """GovMobile mobile device management."""


@main.command()
def serve() -> None:
    """Run the MDM's HTTP service (configured by GOVMOBILE_MDM_* environment variables)."""
    from govmobile.web.server import run

    with _clear_errors():
        run("govmobile.mdm.app:app_from_environment", load_settings(MdmSettings))


@main.command("bootstrap-admin")
@click.option("--username", default=None, help="default: GOVMOBILE_MDM_BOOTSTRAP_ADMIN_USERNAME (admin)")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="default: GOVMOBILE_MDM_BOOTSTRAP_ADMIN_PASSWORD_FILE",
)
def bootstrap_admin(username: str | None, password_file: Path | None) -> None:
    """Create the first platform admin from a deployment secret (does nothing if it exists)."""
    from govmobile.administration.accounts import AdminAccounts

    with _clear_errors():
        settings = load_settings(MdmSettings)
        source = password_file or settings.bootstrap_admin_password_file
        if source is None:
            raise ConfigurationError("give --password-file or GOVMOBILE_MDM_BOOTSTRAP_ADMIN_PASSWORD_FILE")
        password = source.read_text().strip()
        name = username or settings.bootstrap_admin_username
        created = AdminAccounts(Database(settings.database_url)).bootstrap_platform_admin(name, password)
        click.echo(f"platform admin {name!r} {'created' if created else 'already exists'}")


@main.command("unlock-admin")
@click.argument("username")
@click.option(
    "--source",
    default=None,
    metavar="ADDRESS",
    help="also forget the failed logins from this address (a throttled office NAT, say)",
)
def unlock_admin(username: str, source: str | None) -> None:
    """Let an admin kept out by login throttling log in again at once.

    For an operator with a shell on the appliance, when no other admin can unlock the account
    through the API (the platform admin itself is kept out). Forgets USERNAME's failed logins
    from every address; recorded in the audit log as done by `operator`.
    """
    from govmobile.administration.accounts import AdminAccounts

    with _clear_errors():
        settings = load_settings(MdmSettings)
        forgotten = AdminAccounts(Database(settings.database_url)).unlock_login(
            username, source=source, actor="operator"
        )
        click.echo(f"{username}: {forgotten} failed login(s) forgotten; logging in works again")


@main.command()
def maintenance() -> None:
    """Run one maintenance pass now (the service runs them on its own every minute)."""
    from govmobile.mdm.app import build_signer
    from govmobile.mdm.jobs import Maintenance

    with _clear_errors():
        settings = load_settings(MdmSettings)
        report = Maintenance(Database(settings.database_url), build_signer(settings)).run_once()
        click.echo(report)


@contextmanager
def _clear_errors() -> Iterator[None]:
    try:
        yield
    except GovMobileError as error:
        click.echo(f"govmobile-mdm: {error.public_message}", err=True)
        sys.exit(2)
    except (ConfigurationError, OSError, ValueError) as error:
        click.echo(f"govmobile-mdm: {error}", err=True)
        sys.exit(2)
