"""Periodic maintenance: offline compliance, lock after N days, expiry, revocation reconciliation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlmodel import col, select

from govmobile.core.database import Database
from govmobile.mdm.jobs import Maintenance
from govmobile.mdm.lifecycle import access_lost
from govmobile.mdm.models import AccessChange
from tests.mdm.test_queue import queue
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department


def maintenance(mdm_app: Any) -> Maintenance:
    return mdm_app.state.maintenance  # type: ignore[no-any-return]


def test_a_device_offline_too_long_becomes_noncompliant(
    platform: Admin, water: Department, enrolled: ScriptedDevice, clock: Clock, mdm_app: Any
) -> None:
    platform.ok("PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json={"max_offline_hours": 72})
    enrolled.checkin()
    clock.advance(dt.timedelta(hours=71))
    assert maintenance(mdm_app).run_once().offline == 0
    clock.advance(dt.timedelta(hours=2))
    assert maintenance(mdm_app).run_once().offline == 1
    detail = platform.ok("GET", f"/api/v1/devices/{enrolled.device_id}")
    assert detail["compliant"] is False
    assert detail["compliance_reasons"] == ["offline for 73 h, longer than the allowed 72 h"]
    assert maintenance(mdm_app).run_once().offline == 0  # already marked
    assert enrolled.checkin().json()["device"]["compliant"] is True  # back online and healthy


def test_long_noncompliance_queues_a_lock(
    platform: Admin, water: Department, enrolled: ScriptedDevice, clock: Clock, mdm_app: Any
) -> None:
    platform.ok(
        "PATCH", f"/api/v1/tenants/{water.tenant_id}/policy", json={"lock_after_noncompliant_days": 3}
    )
    enrolled.posture["storage_encrypted"] = False
    enrolled.checkin()
    clock.advance(dt.timedelta(days=2))
    assert maintenance(mdm_app).run_once().locked == 0
    clock.advance(dt.timedelta(days=2))
    assert maintenance(mdm_app).run_once().locked == 1
    assert maintenance(mdm_app).run_once().locked == 0  # one pending lock is enough
    command = enrolled.checkin().json()["command"]
    assert command["type"] == "lock"
    assert "not compliant for more than 3 days" in command["payload"]["message"]


def test_overdue_commands_expire_in_the_background(
    platform: Admin, enrolled: ScriptedDevice, clock: Clock, mdm_app: Any
) -> None:
    enrolled.checkin()
    command = queue(platform, enrolled, "locate")
    clock.advance(dt.timedelta(days=2))
    assert maintenance(mdm_app).run_once().expired == 1
    assert platform.ok("GET", f"/api/v1/commands/{command}")["state"] == "expired"


def test_unbound_device_certificates_are_revoked(
    platform: Admin,
    enrolled: ScriptedDevice,
    clock: Clock,
    mdm_app: Any,
    signer: Any,
    water: Department,
    ca_url: str,
) -> None:
    # A certificate the CA issued for this MDM but that no device is bound to (as after a
    # revocation call that failed while the CA was unreachable).
    from tests.support.pki import csr_pem

    orphan = signer.sign_device(csr_pem(), device_id=enrolled.device_id, tenant_id=water.tenant_id)
    clock.advance(dt.timedelta(minutes=11))
    report = maintenance(mdm_app).run_once()
    assert report.revoked == 1
    on_ca = httpx.get(
        f"{ca_url}/api/v1/certificates/{orphan.serial}", headers={"Authorization": f"Bearer {platform.token}"}
    ).json()
    assert on_ca["status"] == "revoked"
    assert enrolled.checkin().status_code == 200  # the bound certificate is untouched


def test_the_access_change_feed_keeps_its_newest_entry(
    mdm_app: Any, platform: Admin, enrolled: ScriptedDevice, clock: Clock, database: Database
) -> None:
    # The gateway remembers the newest number it read. Were the newest entry pruned, SQLite would
    # hand its number out again, and the next access change would look already seen.
    enrolled.checkin()
    platform.ok("POST", f"/api/v1/devices/{enrolled.device_id}/commands", json={"type": "lock"})
    platform.ok("POST", f"/api/v1/devices/{enrolled.device_id}/commands", json={"type": "wipe"})
    with database.session() as session:
        numbers = list(session.exec(select(AccessChange.seq).order_by(col(AccessChange.seq))).all())
    assert len(numbers) >= 2
    clock.advance(dt.timedelta(days=2))
    maintenance(mdm_app).run_once()
    with database.session() as session:
        assert list(session.exec(select(AccessChange.seq)).all()) == [numbers[-1]]
        access_lost(session, device=None, person_id="someone", reason="test", now=clock())
        session.commit()
        assert max(session.exec(select(AccessChange.seq)).all()) == numbers[-1] + 1
