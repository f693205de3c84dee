"""The fleet in figures (``/api/v1/overview/...``): counted right, per department, and a
department admin never counts another department's devices or commands, whatever they ask."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from govmobile.mdm.admission import Admission, AdmissionMode, InstalledApp
from govmobile.mdm.compliance import REASON_PATTERNS, Posture, evaluate, offline_reason
from govmobile.mdm.models import Policy
from tests.mdm.test_queue import queue
from tests.support.admins import make_admin
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department, new_token


def enrolled_device(admin: Admin, department: Department, device_factory: Any) -> ScriptedDevice:
    device: ScriptedDevice = device_factory()
    response = device.enroll(new_token(admin, department))
    assert response.status_code == 200, response.text
    return device


@pytest.fixture
def fleet(platform: Admin, water: Department, fire: Department, device_factory: Any) -> dict[str, Any]:
    """Water: a compliant device, one without encryption or passcode, one not checked in yet.
    Fire: one compliant device with a queued lock."""
    good = enrolled_device(platform, water, device_factory)
    assert good.checkin().status_code == 200
    bad = enrolled_device(platform, water, device_factory)
    bad.posture.update(storage_encrypted=False, passcode_set=False)
    assert bad.checkin().status_code == 200
    silent = enrolled_device(platform, water, device_factory)
    fire_device = enrolled_device(platform, fire, device_factory)
    assert fire_device.checkin().status_code == 200
    queue(platform, fire_device, "lock", message="returned to the office")
    return {"good": good, "bad": bad, "silent": silent, "fire": fire_device}


def test_devices_are_counted_by_state_compliance_reasons_and_last_check_in(
    platform: Admin, fleet: dict[str, Any], clock: Clock
) -> None:
    everything = platform.ok("GET", "/api/v1/overview/devices")
    assert everything["total"] == 4
    assert everything["by_state"] == {
        "enrolled": 1, "active": 3, "locked": 0, "lost": 0, "wiped": 0, "retired": 0,
    }  # fmt: skip

    water = platform.ok("GET", "/api/v1/overview/devices", params={"tenant_id": "water"})
    assert (water["total"], water["in_service"]) == (3, 3)
    assert (water["compliant"], water["noncompliant"], water["unknown"]) == (1, 1, 1)
    assert water["reasons"] == {
        "os_version": 0, "not_encrypted": 1, "no_passcode": 1, "rooted": 0, "app_admission": 0, "offline": 0,
    }  # fmt: skip
    assert water["other_reasons"] == 0
    assert water["last_seen"] == {
        "under_1_hour": 2, "under_1_day": 0, "under_7_days": 0, "older": 0, "never": 1,
    }  # fmt: skip

    clock.advance(dt.timedelta(hours=2))
    fleet["good"].checkin()
    later = platform.ok("GET", "/api/v1/overview/devices", params={"tenant_id": "water"})["last_seen"]
    assert (later["under_1_hour"], later["under_1_day"], later["never"]) == (1, 1, 1)
    clock.advance(dt.timedelta(days=3))
    later = platform.ok("GET", "/api/v1/overview/devices", params={"tenant_id": "water"})["last_seen"]
    assert (later["under_1_day"], later["under_7_days"], later["older"]) == (0, 2, 0)
    clock.advance(dt.timedelta(days=5))
    later = platform.ok("GET", "/api/v1/overview/devices", params={"tenant_id": "water"})["last_seen"]
    assert (later["under_7_days"], later["older"]) == (0, 2)


def test_retired_devices_count_by_state_but_not_in_service(platform: Admin, fleet: dict[str, Any]) -> None:
    platform.ok("POST", f"/api/v1/devices/{fleet['bad'].device_id}/retire")
    water = platform.ok("GET", "/api/v1/overview/devices", params={"tenant_id": "water"})
    assert (water["total"], water["in_service"], water["by_state"]["retired"]) == (3, 2, 1)
    assert water["noncompliant"] == 0
    assert water["reasons"]["no_passcode"] == 0


def test_enrollments_are_counted_per_day_of_the_site_time_zone(
    platform: Admin, water: Department, device_factory: Any, clock: Clock
) -> None:
    # 23:30 in Shanghai (UTC+8) is 15:30 UTC: the device enrolls "today" there, whatever UTC says.
    clock.now = dt.datetime(2027, 3, 9, 15, 30, tzinfo=dt.UTC)
    enrolled_device(platform, water, device_factory)
    clock.now = dt.datetime(2027, 3, 9, 16, 30, tzinfo=dt.UTC)  # 00:30 on the 10th in Shanghai
    enrolled_device(platform, water, device_factory)
    enrolled_device(platform, water, device_factory)
    params: dict[str, Any] = {"days": 3, "time_zone": "Asia/Shanghai", "tenant_id": water.tenant_id}
    answer = platform.ok("GET", "/api/v1/overview/enrollments", params=params)
    assert answer["time_zone"] == "Asia/Shanghai"
    assert answer["days"] == [
        {"day": "2027-03-08", "count": 0},
        {"day": "2027-03-09", "count": 1},
        {"day": "2027-03-10", "count": 2},
    ]
    in_utc = platform.ok("GET", "/api/v1/overview/enrollments", params={**params, "time_zone": "UTC"})
    assert in_utc["days"][-1] == {"day": "2027-03-09", "count": 3}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, 400, "invalid_time_zone"),
        ({"time_zone": "../../../etc/passwd"}, 400, "invalid_time_zone"),
        ({"time_zone": "x" * 65}, 422, None),
        ({"days": 0}, 422, None),
        ({"days": 1}, 200, None),
        ({"days": 367}, 422, None),
        ({"tenant_id": "nowhere"}, 404, None),
        ({"tenant_id": "x" * 64}, 422, None),
    ],
)
def test_a_bad_question_gets_a_clear_refusal(
    platform: Admin, params: dict[str, Any], status: int, code: str | None
) -> None:
    response = platform("GET", "/api/v1/overview/enrollments", params=params)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"] == code


def test_commands_pending_and_failed_are_counted_by_type_and_state(
    platform: Admin, fleet: dict[str, Any], clock: Clock
) -> None:
    good: ScriptedDevice = fleet["good"]
    failing = queue(platform, good, "message", text="hello")
    queue(platform, good, "locate")
    response = good.checkin()
    assert response.json()["command"]["id"] == failing  # sent, not yet answered
    good.checkin(results=[{"command_id": failing, "status": "error", "error": "no screen"}])

    water = platform.ok("GET", "/api/v1/overview/commands", params={"tenant_id": "water"})
    pending = {(row["type"], row["state"]): row["count"] for row in water["pending"]}
    assert pending == {("locate", "sent"): 1}
    assert water["failed"] == [{"type": "message", "state": "error", "count": 1}]
    everything = platform.ok("GET", "/api/v1/overview/commands")
    assert {(row["type"], row["state"]) for row in everything["pending"]} == {
        ("locate", "sent"),
        ("lock", "queued"),
    }

    clock.advance(dt.timedelta(days=8))
    week = platform.ok("GET", "/api/v1/overview/commands", params={"tenant_id": "water"})
    assert week["failed"] == []
    month = platform.ok("GET", "/api/v1/overview/commands", params={"tenant_id": "water", "failed_days": 30})
    assert month["failed"] == [{"type": "message", "state": "error", "count": 1}]


@pytest.mark.parametrize("figure", ["devices", "enrollments", "commands"])
def test_a_department_admin_counts_only_their_department(
    platform: Admin, fleet: dict[str, Any], fire: Department, database: Database, figure: str
) -> None:
    water_id = platform.ok("GET", "/api/v1/tenants/water")["id"]
    water_admin = Admin(platform.client, make_admin(database, Role.TENANT_ADMIN, water_id))
    path = f"/api/v1/overview/{figure}"
    own = water_admin.ok("GET", path)
    assert own == water_admin.ok("GET", path, params={"tenant_id": "water"})
    assert own == platform.ok("GET", path, params={"tenant_id": water_id})
    if figure == "devices":
        assert own["total"] == 3
    if figure == "commands":
        assert own["pending"] == []  # the fire department's lock is not counted
    for other in ("fire", fire.tenant_id, "no-such-department"):
        refused = water_admin("GET", path, params={"tenant_id": other})
        assert refused.status_code == 404, refused.text
        assert "fire" not in refused.text.lower() or other == "fire"
    anonymous = platform.client.get(path)
    assert anonymous.status_code == 401


def test_every_reason_the_mdm_writes_has_exactly_one_kind() -> None:
    """The LIKE patterns follow the sentences of compliance and admission: each sentence any
    rule writes is counted under one kind, and a drifting sentence fails here."""
    policy = Policy(
        tenant_id="t",
        min_os_version="14",
        app_admission_mode=AdmissionMode.ALLOWLIST,
        app_admission_packages='["cn.gov.ok"]',
        app_admission_signers="[]",
        max_offline_hours=24,
    )
    posture = Posture(
        os_version="12 storage",
        storage_encrypted=False,
        passcode_set=False,
        rooted=True,
        installed_apps=["cn.gov.bad"],
    )
    reasons = list(evaluate(policy, posture).reasons)
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    offline = offline_reason(policy, now - dt.timedelta(hours=50), now)
    assert offline is not None
    reasons.append(offline)
    inventory = [InstalledApp(package=f"cn.gov.app{n}", version_code=1, signer="a" * 64) for n in range(12)]
    reasons += Admission(AdmissionMode.ALLOWLIST, frozenset(), frozenset()).reasons([], inventory)
    reasons += Admission(AdmissionMode.BLOCKLIST, frozenset({"cn.gov.bad"}), frozenset()).reasons(
        ["cn.gov.bad"], []
    )
    assert len(reasons) > 8
    for reason in reasons:
        kinds = [
            kind for kind, patterns in REASON_PATTERNS.items() if any(_like(p, reason) for p in patterns)
        ]
        assert len(kinds) == 1, (reason, kinds)


def _like(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("%")), text, re.S) is not None
