"""The migrations are the schema's only owner: they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import govmobile.migrations.env_models  # noqa: F401 - registers every table
from govmobile.core.database import Database


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        # Types too: a model that says INTEGER where the table is BIGINT makes every comparison
        # cast its parameter to INTEGER on PostgreSQL (an audit cursor of 2**40 was a 500).
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "write a migration for these model changes"


def test_migrations_are_a_single_line(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    from govmobile.migrations import alembic_config

    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"migrations branched: {heads}; merge them"
