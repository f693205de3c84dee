"""``govmobile-portal``: serve the app portal, or re-sign its TUF metadata now."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from govmobile.core.errors import ConfigurationError, GovMobileError
from govmobile.core.settings import load_settings
from govmobile.portal.settings import PortalSettings


@click.group()
def main() -> None:
    """GovMobile app portal."""


@main.command()
def serve() -> None:
    """Run the portal's HTTP service (configured by GOVMOBILE_PORTAL_* environment variables)."""
    from govmobile.web.server import run

    with _clear_errors():
        run("govmobile.portal.app:app_from_environment", load_settings(PortalSettings))


@main.command("refresh-metadata")
def refresh_metadata() -> None:
    """Re-sign the online TUF roles past half their lifetime (the service's job does this too)."""
    from govmobile.core.database import utcnow
    from govmobile.portal.trust import PortalKeys, RepositoryKeeper

    with _clear_errors():
        settings = load_settings(PortalSettings)
        keeper = RepositoryKeeper(
            settings.repository_dir, PortalKeys.load(settings.keys_dir), utcnow, root_file=settings.root_file
        )
        signed = keeper.refresh()
        click.echo(f"re-signed: {', '.join(signed)}" if signed else "nothing was due")


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Configuration and domain errors end the command with their message, not a traceback."""
    try:
        yield
    except GovMobileError as error:
        click.echo(f"govmobile-portal: {error.public_message}", err=True)
        sys.exit(2)
    except (ConfigurationError, OSError, ValueError) as error:
        click.echo(f"govmobile-portal: {error}", err=True)
        sys.exit(2)
