"""What the portal tells the gateway's nginx with each desired-state answer (docs/portal.md,
"Unchanged fetches at the gateway"): the device, the generation read first, and how long the
answer holds — never past the point where the portal signs a new document."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text

from govmobile.core.database import Database
from govmobile.portal.delivery import CLOCK_MARGIN
from govmobile.portal.desired_state import LIFETIME
from tests.support.ca import Clock
from tests.support.mdm import Department


def _header(response: Any) -> tuple[str, int, int]:
    device, generation, seconds = response.headers["GovMobile-Document-Cache"].split(" ")
    return device, int(generation), int(seconds)


def test_each_answer_names_its_device_and_generation_and_holds_until_the_next_signing(
    portal_device_factory: Any, water: Department, clock: Clock, database: Database
) -> None:
    device = portal_device_factory(water)
    first = device.desired_state()
    assert first.status_code == 200, first.text
    with database.engine.connect() as connection:
        now = int(connection.execute(text("SELECT value FROM desired_state_generation")).scalar_one())
    named, generation, seconds = _header(first)
    assert (named, generation) == (device.id, now)
    assert 0 < seconds <= (LIFETIME / 2 - CLOCK_MARGIN).total_seconds()

    clock.advance(dt.timedelta(days=1))
    again = device.desired_state(headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert _header(again)[2] <= seconds - 86_400

    # Past half the lifetime the portal signs anew, and the new answer holds afresh.
    clock.advance(LIFETIME / 2)
    renewed = device.desired_state(headers={"If-None-Match": first.headers["ETag"]})
    assert renewed.status_code == 200
    assert renewed.headers["ETag"] != first.headers["ETag"]
    assert _header(renewed)[2] > 0


def test_a_refused_fetch_tells_the_gateway_nothing(portal_device_factory: Any, water: Department) -> None:
    device = portal_device_factory(water)
    other = portal_device_factory(water)
    refused = device.desired_state(other.id)
    assert refused.status_code == 403
    assert "GovMobile-Document-Cache" not in refused.headers
