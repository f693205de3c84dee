"""``govmobile-gateway``: run the control plane (which runs nginx)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from govmobile.core.errors import ConfigurationError, GovMobileError
from govmobile.core.settings import load_settings
from govmobile.gateway.settings import GatewaySettings


@click.group()
def main() -> None:
    """GovMobile secure access gateway."""


@main.command()
def run() -> None:
    """Run the control plane and the nginx data plane (configured by GOVMOBILE_GATEWAY_*)."""
    from govmobile.web.server import run as serve

    with _clear_errors():
        settings = load_settings(GatewaySettings)
        if settings.workers != 1:
            raise ConfigurationError(
                "the gateway control plane runs exactly one worker (it owns the nginx process)"
            )
        serve("govmobile.gateway.app:app_from_environment", settings)


@contextmanager
def _clear_errors() -> Iterator[None]:
    try:
        yield
    except GovMobileError as error:
        click.echo(f"govmobile-gateway: {error.public_message}", err=True)
        sys.exit(2)
    except (ConfigurationError, OSError, ValueError) as error:
        click.echo(f"govmobile-gateway: {error}", err=True)
        sys.exit(2)
