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
    with pytest.raises(RuntimeError, match="rolled back"):
        _disable_everyone_and_roll_back(database)
    assert _generation(database) == before


def _disable_everyone_and_roll_back(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE person SET disabled = :on"), {"on": True})
        raise RuntimeError("rolled back")


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


def test_a_bulk_change_raises_it_at_least_once_and_on_postgresql_exactly_once(
    database: Database, platform: Admin, water: Department
) -> None:
    """PostgreSQL's triggers are per row: a change of many rows in one transaction writes the one
    row once (the migration's transaction-local mark), and the next transaction raises it again."""
    tenant_id = water.tenant_id
    for n in range(40):
        platform.ok(
            "POST",
            "/api/v1/people",
            json={"tenant_id": tenant_id, "username": f"bulk{n}", "display_name": f"B {n}"},
        )
    for _ in range(2):
        before = _generation(database)
        with database.engine.begin() as connection:
            changed = connection.execute(
                text("UPDATE person SET display_name = display_name || '.' WHERE tenant_id = :t"),
                {"t": tenant_id},
            )
            assert changed.rowcount > 40
        raised = _generation(database) - before
        if database.engine.dialect.name == "postgresql":
            assert raised == 1
        else:
            assert raised >= 1
