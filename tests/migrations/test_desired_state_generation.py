"""The desired-state generation (migration 0011) is raised by the database itself: every table a
document is resolved from keeps its triggers (a later migration that rebuilds a table on SQLite
drops them), a change raises the generation in its own transaction, and what cannot change a
document leaves it alone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from govmobile.core.database import Database
from tests.support.mdm import Admin, Department

#: Copied from migration 0011 on purpose: the test says what must hold, the migration what is done.
WATCHED = {
    "device": ("update", "delete"),
    "certificate": ("update", "delete"),
    "tenant": ("insert", "update", "delete"),
    "person": ("insert", "update", "delete"),
    "person_group": ("insert", "update", "delete"),
    "membership": ("insert", "update", "delete"),
    "portal_app": ("insert", "update", "delete"),
    "portal_release": ("insert", "update", "delete"),
    "portal_assignment": ("insert", "update", "delete"),
    "portal_review_policy": ("insert", "update", "delete"),
    "route": ("insert", "update", "delete"),
    "policy": ("insert", "update", "delete"),
    "portal_installation": ("insert", "update", "delete"),
}


def _triggers(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        if database.engine.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return {str(name) for name in connection.execute(text(query)).scalars()}


def _generation(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT value FROM desired_state_generation")).scalar_one())


def test_every_watched_table_has_its_triggers(database: Database) -> None:
    expected = {f"gm_ds_{table}_{event}" for table, events in WATCHED.items() for event in events}
    assert expected <= _triggers(database)


def test_a_change_raises_the_generation_once_committed_and_a_rollback_does_not(
    database: Database, platform: Admin, water: Department
) -> None:
    before = _generation(database)
    platform.ok("PATCH", f"/api/v1/people/{water.person_id}", json={"display_name": "Renamed"})
    assert _generation(database) > before
    before = _generation(database)
    with pytest.raises(RuntimeError), database.engine.begin() as connection:
        connection.execute(text("UPDATE person SET disabled = :on"), {"on": True})
        raise RuntimeError("rolled back")
    assert _generation(database) == before


def test_device_columns_no_document_reads_leave_the_generation_alone(
    database: Database, enrolled: object
) -> None:
    with database.engine.begin() as connection:
        device = connection.execute(text("SELECT id FROM device")).first()
        assert device is not None
    before = _generation(database)
    with database.engine.begin() as connection:
        # What every check-in writes.
        connection.execute(
            text("UPDATE device SET checkin_count = checkin_count + 1, posture = '{}' WHERE id = :id"),
            {"id": device.id},
        )
        # Named but unchanged.
        connection.execute(text("UPDATE device SET state = state WHERE id = :id"), {"id": device.id})
    assert _generation(database) == before
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE device SET state = 'locked' WHERE id = :id"), {"id": device.id})
    assert _generation(database) == before + 1
