"""The check-in's two write paths agree: the Core SQL fast path (``heartbeat``) and the ORM
path (``check_in``) write the same device row and the same history for the same inputs.

Property-based: hypothesis draws a policy, the device's stored state and the posture it reports;
two identical devices check in, one through each path, on the test database (SQLite, or
PostgreSQL when configured). Only inputs the fast path takes are drawn (the stored compliance
matches the new one): anything else is the ORM path's alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from govmobile.ca.models import Certificate
from govmobile.core.database import Database
from govmobile.core.directory import PersonCreate, create_person
from govmobile.core.ids import new_id
from govmobile.core.tenancy import TenantCreate, create_tenant
from govmobile.mdm.admission import AdmissionMode, InstalledApp
from govmobile.mdm.checkin import CheckinOutcome, CheckinRequest, check_in, heartbeat
from govmobile.mdm.compliance import Location, Posture, evaluate
from govmobile.mdm.models import AccessChange, Device, DeviceCheckin, DeviceEvent, DeviceState, Policy
from govmobile.web.device_identity import PresentedCertificate

NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
APPS = ["gov.office", "gov.mail", "game.birds"]
SIGNERS = ["a1" * 32, "b2" * 32]

#: The device columns a check-in may write; the rest (ids, certificates) differ by construction.
COMPARED = [
    "tenant_id",
    "person_id",
    "model",
    "os_name",
    "os_version",
    "state",
    "compliant",
    "compliance_reasons",
    "noncompliant_since",
    "lost_mode",
    "lock_message",
    "posture",
    "last_location",
    "last_seen_at",
    "checkin_count",
    "revision",
]

locations = st.builds(
    Location,
    latitude=st.floats(min_value=-90, max_value=90),
    longitude=st.floats(min_value=-180, max_value=180),
    accuracy_m=st.none() | st.floats(min_value=0, max_value=5000),
)
postures = st.builds(
    Posture,
    os_name=st.sampled_from(["", "Android", "HarmonyOS"]),
    os_version=st.sampled_from(["", "9", "12", "14.0.1"]),
    storage_encrypted=st.booleans(),
    passcode_set=st.booleans(),
    rooted=st.booleans(),
    installed_apps=st.lists(st.sampled_from(APPS), unique=True),
    app_inventory=st.lists(
        st.builds(
            InstalledApp,
            package=st.sampled_from(APPS),
            version_code=st.integers(min_value=0, max_value=10),
            signer=st.sampled_from(SIGNERS),
        ),
        unique_by=lambda app: app.package,
    ),
    battery_percent=st.none() | st.integers(min_value=0, max_value=100),
    location=st.none() | locations,
    agent_version=st.sampled_from(["", "1.0", "1.1"]),
)
policies = st.builds(
    Policy,
    tenant_id=st.just(""),
    min_os_version=st.sampled_from([None, "10", "13"]),
    require_encryption=st.booleans(),
    require_passcode=st.booleans(),
    forbid_rooted=st.booleans(),
    app_admission_mode=st.sampled_from(list(AdmissionMode)),
    app_admission_packages=st.just(json.dumps(APPS[:2])),
    app_admission_signers=st.just(json.dumps(SIGNERS[:1])),
)


@pytest.fixture
def department(database: Database) -> tuple[str, str]:
    with database.transaction() as session:
        tenant = create_tenant(session, TenantCreate(slug="water", name="Water"))
        person = create_person(
            session, PersonCreate(tenant_id=tenant.id, username="inspector", display_name="Inspector")
        )
        return tenant.id, person.id


def _enrolled(
    database: Database, department: tuple[str, str], stored: dict[str, Any]
) -> PresentedCertificate:
    """A device in the drawn state, bound to a certificate the CA knows and has not revoked."""
    der = new_id().encode()
    sha256 = hashlib.sha256(der).hexdigest()
    serial = hashlib.sha256(sha256.encode()).hexdigest()[:32]
    with database.transaction() as session:
        session.add(
            Certificate(
                serial=serial,
                profile="device",
                subject="CN=device",
                common_name="device",
                sha256=sha256,
                not_before=NOW - dt.timedelta(days=1),
                not_after=NOW + dt.timedelta(days=30),
                issued_at=NOW - dt.timedelta(days=1),
                issued_by="test",
                pem="",
            )
        )
        session.add(
            Device(
                tenant_id=department[0],
                person_id=department[1],
                serial_number=serial,
                cert_sha256=sha256,
                cert_serial=serial,
                cert_not_after=NOW + dt.timedelta(days=30),
                **stored,
            )
        )
    return PresentedCertificate(der=der, sha256=sha256)


def _written(database: Database, presented: PresentedCertificate) -> dict[str, Any]:
    """Everything a check-in left behind for the device."""
    with database.session() as session:
        device = session.exec(select(Device).where(Device.cert_sha256 == presented.sha256)).one()
        history = session.exec(
            select(DeviceCheckin).where(DeviceCheckin.device_id == device.id).order_by(col(DeviceCheckin.id))
        ).all()
        events = session.exec(select(DeviceEvent).where(DeviceEvent.device_id == device.id)).all()
        access = session.exec(select(AccessChange).where(AccessChange.device_id == device.id)).all()
        return {
            "device": {name: getattr(device, name) for name in COMPARED},
            "history": [(h.at, h.compliant, h.reasons, h.posture) for h in history],
            "events": [(e.change, e.details) for e in events],
            "access_changes": [a.reason for a in access],
        }


def _seen(outcome: CheckinOutcome) -> tuple[Any, ...]:
    view = outcome.device
    return (
        view.state,
        view.lost_mode,
        view.lock_message,
        outcome.compliance,
        outcome.command,
        outcome.revoke,
    )


@settings(
    max_examples=100,
    # The same examples on every run (the project's tests are deterministic), and no example
    # database written into the checkout: a failure prints the example that reproduces it.
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), policy=policies, posture=postures)
def test_the_fast_path_and_the_orm_path_write_the_same(
    database: Database, department: tuple[str, str], data: st.DataObject, policy: Policy, posture: Posture
) -> None:
    policy.tenant_id = department[0]
    before = data.draw(st.one_of(st.just(posture), postures), label="stored posture")
    stored = {
        "state": data.draw(st.sampled_from([DeviceState.ACTIVE, DeviceState.LOCKED, DeviceState.LOST])),
        "lost_mode": data.draw(st.booleans(), label="lost mode"),
        "lock_message": data.draw(st.none() | st.just("Call the IT office"), label="lock message"),
        "os_name": before.os_name,
        "os_version": before.os_version,
        "posture": data.draw(st.just("{}") | st.just(before.model_dump_json()), label="stored JSON"),
        # The fast path takes only check-ins that leave the compliance as it was.
        "compliant": evaluate(policy, posture).compliant,
        "compliance_reasons": json.dumps(["stale reason"]),
        "last_location": data.draw(st.none() | st.just('{"latitude": 1.0, "longitude": 2.0}')),
        "last_seen_at": NOW - dt.timedelta(hours=data.draw(st.integers(min_value=1, max_value=500))),
        "checkin_count": data.draw(st.integers(min_value=1, max_value=10**6), label="check-ins"),
        "revision": 7,
    }
    request = CheckinRequest(posture=posture)
    fast, full = _enrolled(database, department, stored), _enrolled(database, department, stored)

    with database.transaction() as session:
        by_heartbeat = heartbeat(session.connection(), fast, request, policy_for=lambda _: policy, now=NOW)
    assert by_heartbeat is not None, "the fast path refused a check-in it should take"
    with database.transaction() as session:
        device = session.exec(select(Device).where(Device.cert_sha256 == full.sha256)).one()
        by_orm = check_in(session, device, full, request, policy=policy, now=NOW)

    assert _written(database, fast) == _written(database, full)
    assert _seen(by_heartbeat) == _seen(by_orm)
