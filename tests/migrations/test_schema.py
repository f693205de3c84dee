"""The migrations are the schema's only owner: they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from govmobile.core.database import Database
from govmobile.migrations.env_models import (  # importing it registers every table
    SCHEMA_ONLY_FOREIGN_KEYS,
    include_object,
)


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        # Types too: a model that says INTEGER where the table is BIGINT makes every comparison
        # cast its parameter to INTEGER on PostgreSQL (an audit cursor of 2**40 was a 500).
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "write a migration for these model changes"


def test_the_foreign_keys_the_models_leave_out_are_in_the_schema(database: Database) -> None:
    """The comparison above skips them, so a migration that dropped one would go unseen there."""
    inspector = inspect(database.engine)
    found = {
        (table, key["constrained_columns"][0], f"{key['referred_table']}.{key['referred_columns'][0]}")
        for table in {table for table, _, _ in SCHEMA_ONLY_FOREIGN_KEYS}
        for key in inspector.get_foreign_keys(table)
        if len(key["constrained_columns"]) == 1
    }
    assert found >= SCHEMA_ONLY_FOREIGN_KEYS


def test_migrations_are_a_single_line(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    from govmobile.migrations import alembic_config

    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"migrations branched: {heads}; merge them"
