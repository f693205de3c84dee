"""``govmobile-portal``: serve the app portal, re-sign its TUF metadata now, or (on the controller)
keep its offline TUF root."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


@main.command("keep-root")
@click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The controller's directory for the portal's root (secrets/<deployment>/portal).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The root key's passphrase; needed only to make or renew the root.",
)
def keep_root(directory: Path, passphrase_file: Path | None) -> None:
    """On the controller: make the portal's TUF root the first time, renew it past half its
    lifetime, otherwise change nothing (prints made, renewed or kept)."""
    from govmobile.core.database import utcnow
    from govmobile.portal.root_keeping import keep_root as keep

    with _clear_errors():
        passphrase = (
            passphrase_file.read_bytes().strip() if passphrase_file and passphrase_file.exists() else None
        )
        state = keep(directory, passphrase, now=utcnow())
        click.echo(f"{state.change} root version {state.version}, which expires {state.expires.isoformat()}")


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
