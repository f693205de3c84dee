"""The audit log and the CA's certificates, both behind the one management address."""

from __future__ import annotations

import datetime as dt

import pytest

from govmobile.core.database import Database
from govmobile_client import AuditFilter, CertificateFilter, GovMobileClient
from govmobile_client.errors import NotFound, PermissionDenied
from govmobile_client.models import CertificateStatus
from tests.client.management import Appliance
from tests.support.audit import break_audit_chain
from tests.support.client import make_login
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Admin, Department


def test_audit_events_page_newest_first(client: GovMobileClient) -> None:
    for slug in ("a1", "a2", "a3"):
        client.tenants.create(slug, slug.upper())
    created = AuditFilter(action="tenant.created")
    page = client.audit.list(created, limit=2)
    assert [e.details["slug"] for e in page.items] == ["a3", "a2"]
    assert page.next_cursor == page.items[-1].id
    assert [e.details["slug"] for e in client.audit.iterate(created, page_size=1)] == ["a3", "a2", "a1"]
    assert {e.actor for e in client.audit.iterate(created)} == {"admin:root-admin"}
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert list(client.audit.iterate(AuditFilter(since=later))) == []
    with pytest.raises(ValueError, match="time zone"):
        client.audit.list(AuditFilter(since=dt.datetime(2030, 1, 1)))  # naive on purpose


def test_audit_verification_names_the_broken_link(client: GovMobileClient, database: Database) -> None:
    client.tenants.create("a1", "A1")
    intact = client.audit.verify()
    assert intact.ok
    assert intact.events_checked >= 1
    broken_id = break_audit_chain(database)
    broken = client.audit.verify()
    assert not broken.ok
    assert broken.first_broken_id == broken_id


def test_certificates_come_from_the_ca(client: GovMobileClient, enrolled: ScriptedDevice) -> None:
    assert enrolled.certificate is not None
    serial = format(enrolled.certificate.serial_number, "x")
    mine = list(client.certificates.iterate(CertificateFilter(device_id=enrolled.device_id)))
    assert [c.status for c in mine] == [CertificateStatus.VALID]
    found = client.certificates.show(mine[0].serial)
    assert found.serial.lstrip("0") == serial.lstrip("0")
    assert found.pem.startswith("-----BEGIN CERTIFICATE-----")
    revoked = client.certificates.revoke(found.serial, reason="keyCompromise")
    assert revoked.reason == "keyCompromise"
    assert client.certificates.show(found.serial).status is CertificateStatus.REVOKED
    valid_devices = CertificateFilter(status=CertificateStatus.VALID, profile="device")
    assert list(client.certificates.iterate(valid_devices)) == []


def test_certificates_are_tenant_scoped_and_read_only_for_auditors(
    appliance: Appliance, platform: Admin, water: Department, fire: Department, enrolled: ScriptedDevice
) -> None:
    fire_lead = make_login(platform, "tenant_admin", fire.tenant_id)
    auditor = make_login(platform, "auditor", water.tenant_id)
    serial = next(iter(_serials(appliance, auditor.username, auditor.password)))
    with GovMobileClient(appliance.url, ca_file=appliance.ca_file) as other:
        other.auth.login(fire_lead.username, fire_lead.password)
        assert list(other.certificates.iterate()) == []
        with pytest.raises(NotFound):
            other.certificates.show(serial)
    with GovMobileClient(appliance.url, ca_file=appliance.ca_file) as reader:
        reader.auth.login(auditor.username, auditor.password)
        with pytest.raises(PermissionDenied, match="read-only"):
            reader.certificates.revoke(serial)


def _serials(appliance: Appliance, username: str, password: str) -> list[str]:
    with GovMobileClient(appliance.url, ca_file=appliance.ca_file) as reader:
        reader.auth.login(username, password)
        return [c.serial for c in reader.certificates.iterate()]
