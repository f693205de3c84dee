"""Reading the MDM's access-change feed: every entry once, even those that commit late."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert

from govmobile.core.database import Database
from govmobile.gateway.access_feed import AccessFeed, certificate_serials
from govmobile.gateway.dataplane.access_state import nginx_serial
from govmobile.mdm.models import AccessChange
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def add(database: Database, *numbers: int, device: str | None = "d1", person: str | None = None) -> None:
    with database.transaction() as session:
        session.connection().execute(
            insert(AccessChange.__table__),  # type: ignore[attr-defined]
            [
                {
                    "seq": n,
                    "device_id": device,
                    "person_id": person,
                    "at": dt.datetime.now(dt.UTC),
                    "reason": "test",
                }
                for n in numbers
            ],
        )


def read(feed: AccessFeed, database: Database) -> list[int]:
    with database.engine.connect() as connection:
        return [change.seq for change in feed.read(connection)]


def test_entries_are_read_once_and_the_first_read_starts_from_now(database: Database) -> None:
    add(database, 1, 2)
    feed = AccessFeed()
    assert read(feed, database) == []  # nginx starts with nothing cached: old entries do not matter
    add(database, 3, 4)
    assert read(feed, database) == [3, 4]
    assert read(feed, database) == []


def test_an_entry_that_commits_after_a_later_one_is_not_missed(database: Database) -> None:
    # On PostgreSQL, transaction A takes number 6 and transaction B number 7; B commits first.
    ticks = Ticks()
    feed = AccessFeed(patience=30, clock=ticks)
    add(database, 5)
    read(feed, database)
    add(database, 7)
    assert read(feed, database) == [7]
    assert feed.watching
    ticks.now = 10
    add(database, 6)
    assert read(feed, database) == [6]
    assert not feed.watching
    assert read(feed, database) == []


def test_a_gap_left_by_a_rollback_is_given_up_after_a_while(database: Database) -> None:
    ticks = Ticks()
    feed = AccessFeed(patience=30, clock=ticks)
    add(database, 1)
    read(feed, database)
    add(database, 3)
    assert read(feed, database) == [3]
    ticks.now = 31
    assert read(feed, database) == []
    assert not feed.watching


def test_numbers_handed_out_again_after_pruning_are_new_entries(database: Database) -> None:
    feed = AccessFeed()
    add(database, 1, 2, 3)
    read(feed, database)
    with database.transaction() as session:
        session.connection().execute(delete(AccessChange.__table__))  # type: ignore[attr-defined]
    assert read(feed, database) == []
    add(database, 1)
    assert read(feed, database) == [1]


def test_entries_name_the_certificates_of_their_devices(
    database: Database, mobile: ScriptedDevice, platform: Admin
) -> None:
    assert mobile.certificate is not None
    expected = {nginx_serial(mobile.certificate.serial_number)}
    person = platform.ok("GET", f"/api/v1/devices/{mobile.device_id}")["person_id"]
    feed = AccessFeed()
    read(feed, database)
    add(database, 1000, device=mobile.device_id)
    add(database, 1001, device=None, person=person)
    add(database, 1002, device="no-such-device")
    with database.engine.connect() as connection:
        changes = feed.read(connection)
        assert [c.seq for c in changes] == [1000, 1001, 1002]
        assert certificate_serials(connection, changes[:1]) == expected
        assert certificate_serials(connection, changes[1:2]) == expected
        assert certificate_serials(connection, changes[2:]) == set()
