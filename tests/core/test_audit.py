from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import col, select

from govmobile.core import audit
from govmobile.core.database import Database
from tests.support.audit import drop_protection


def _append(database: Database, count: int) -> None:
    for index in range(count):
        with database.transaction() as session:
            audit.record(
                session,
                actor="admin:alice",
                action="thing.done",
                target=f"thing:{index}",
                details={"n": index},
            )


def test_an_untouched_chain_verifies(database: Database) -> None:
    _append(database, 5)
    with database.session() as session:
        result = audit.verify_chain(session)
    assert result.ok
    assert result.events_checked == 5


def test_events_link_to_their_predecessor(database: Database) -> None:
    _append(database, 3)
    with database.session() as session:
        events = session.exec(select(audit.AuditEvent).order_by(col(audit.AuditEvent.id))).all()
    assert [e.id for e in events] == [1, 2, 3]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash


def test_update_and_delete_are_refused_by_the_database(database: Database) -> None:
    _append(database, 2)
    with pytest.raises(DatabaseError, match="append-only"), database.transaction() as session:
        session.connection().execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 1"))
    with pytest.raises(DatabaseError, match="append-only"), database.transaction() as session:
        session.connection().execute(text("DELETE FROM audit_event WHERE id = 2"))
    with database.session() as session:
        assert audit.verify_chain(session).ok


def test_an_altered_event_is_named(database: Database) -> None:
    _append(database, 5)
    drop_protection(database)
    with database.transaction() as session:
        session.connection().execute(
            text("UPDATE audit_event SET details = :d WHERE id = 3"), {"d": '{"n":99}'}
        )
    with database.session() as session:
        result = audit.verify_chain(session)
    assert not result.ok
    assert result.first_broken_id == 3
    assert "altered" in result.reason


def test_a_removed_event_is_named(database: Database) -> None:
    _append(database, 5)
    drop_protection(database)
    with database.transaction() as session:
        session.connection().execute(text("DELETE FROM audit_event WHERE id = 2"))
    with database.session() as session:
        result = audit.verify_chain(session)
    assert not result.ok
    assert result.first_broken_id == 2
    assert "missing" in result.reason


def test_a_truncated_tail_is_noticed(database: Database) -> None:
    _append(database, 4)
    drop_protection(database)
    with database.transaction() as session:
        session.connection().execute(text("DELETE FROM audit_event WHERE id = 4"))
    with database.session() as session:
        result = audit.verify_chain(session)
    assert not result.ok
    assert result.first_broken_id == 4


def test_an_event_rolled_back_with_its_transaction_leaves_no_gap(database: Database) -> None:
    _append(database, 1)

    def failing_action() -> None:
        with database.transaction() as session:
            audit.record(session, actor="system", action="will.fail")
            raise RuntimeError("the surrounding action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    _append(database, 1)
    with database.session() as session:
        result = audit.verify_chain(session)
    assert result.ok
    assert result.events_checked == 2


def test_event_hash_is_stable_across_time_zones() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=dt.UTC)
    elsewhere = moment.astimezone(dt.timezone(dt.timedelta(hours=8)))
    common = {
        "event_id": 1,
        "actor": "a",
        "tenant_id": None,
        "action": "x",
        "target": "",
        "details": "{}",
        "prev_hash": "0",
    }
    assert audit.event_hash(occurred_at=moment, **common) == audit.event_hash(occurred_at=elsewhere, **common)  # type: ignore[arg-type]


def test_a_batch_is_the_same_chain_as_one_event_at_a_time(database: Database) -> None:
    _append(database, 2)
    batch = [
        audit.NewEvent(
            actor="device:d1", action="portal.protection.denied", target=f"app:a{i}", details={"i": i}
        )
        for i in range(3)
    ]
    with database.transaction() as session:
        written = audit.record_many(session, batch)
        assert audit.record_many(session, []) == []
    _append(database, 1)
    with database.session() as session:
        assert audit.verify_chain(session).ok
        events = session.exec(select(audit.AuditEvent).order_by(col(audit.AuditEvent.id))).all()
    assert [e.id for e in written] == [3, 4, 5]
    assert [e.target for e in events] == ["thing:0", "thing:1", "app:a0", "app:a1", "app:a2", "thing:0"]
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
