"""People who lose access through the directory reach the gateway's access feed.

Administration imports no service: the MDM passes its ``access_lost`` in. These tests prove the
seam is wired, through the admin API, in the same transaction as the change."""

from __future__ import annotations

from sqlmodel import col, select

from govmobile.core.database import Database
from govmobile.mdm.models import AccessChange
from tests.support.mdm import Admin, Department


def _feed(database: Database) -> list[tuple[str | None, str | None, str]]:
    with database.session() as session:
        rows = session.exec(select(AccessChange).order_by(col(AccessChange.seq))).all()
        return [(row.device_id, row.person_id, row.reason) for row in rows]


def test_disabling_a_person_takes_their_access_away(
    platform: Admin, water: Department, database: Database
) -> None:
    platform.ok("PATCH", f"/api/v1/people/{water.person_id}", json={"display_name": "Renamed"})
    assert _feed(database) == []  # only a loss of access is fed to the gateway
    platform.ok("PATCH", f"/api/v1/people/{water.person_id}", json={"disabled": True})
    assert _feed(database) == [(None, water.person_id, "person disabled")]


def test_leaving_a_group_takes_its_access_away(
    platform: Admin, water: Department, database: Database
) -> None:
    platform.ok("PUT", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    assert _feed(database) == []
    platform.ok("DELETE", f"/api/v1/groups/{water.group_id}/members/{water.person_id}")
    assert _feed(database) == [(None, water.person_id, "left a group")]


def test_a_refused_change_feeds_nothing(platform: Admin, water: Department, database: Database) -> None:
    response = platform("PATCH", "/api/v1/people/no-such-person", json={"disabled": True})
    assert response.status_code == 404
    assert _feed(database) == []
