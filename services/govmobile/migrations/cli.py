"""``govmobile-db``: migrate the schema (the one-shot step before services start)."""

from __future__ import annotations

import sys

import click
from alembic import command
from pydantic_settings import SettingsConfigDict
from sqlalchemy.exc import OperationalError

from govmobile.core.errors import ConfigurationError
from govmobile.core.settings import ServiceSettings, load_settings
from govmobile.migrations import alembic_config
from govmobile.migrations import upgrade as upgrade_schema


class DatabaseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GOVMOBILE_DB_", extra="ignore")


@click.group()
def main() -> None:
    """GovMobile database schema."""


@main.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (GOVMOBILE_DB_DATABASE_URL names the database)."""
    try:
        settings = load_settings(DatabaseSettings)
        upgrade_schema(settings.database_url, revision)
    except ConfigurationError as error:
        click.echo(f"govmobile-db: {error}", err=True)
        sys.exit(2)
    except OperationalError as error:
        click.echo(f"govmobile-db: cannot reach the database: {error.orig}", err=True)
        sys.exit(2)
    click.echo(f"schema at {revision}")


@main.command()
def current() -> None:
    """Print the schema's current revision."""
    settings = load_settings(DatabaseSettings)
    command.current(alembic_config(settings.database_url))
